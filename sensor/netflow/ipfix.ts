// IPFIX (RFC 7011): a 16-byte message header, then sets — 2 templates,
// 3 options templates, ≥ 256 data. Field specifiers may carry an enterprise
// number (RFC 5103 reverse PEN 29305 → biflow counters; others skipped by
// length); length 65535 marks variable-length fields. A template record with
// field count 0 withdraws that template (template id = set id: all of them).
// The header sequence counts data records, so gaps are lost records.
import { SOURCE, type FlowEvent } from '../flowlogs/flow-event.ts';
import type { DecodeContext } from './common.ts';
import { decodeDataSet, FieldList, installTemplate, readFieldList, SetContext, type TemplateStore } from './templates.ts';

export const IPFIX_HEADER = 16;

const sc = new SetContext();
const fields = new FieldList(64);

/**
 * Decode one IPFIX message (`u8` starts at the version field). Flow records go
 * to ctx.sink; returns the number of data records seen (flow and options).
 */
export function decodeIpfix(u8: Uint8Array, exporter: string, receivedAt: number, ctx: DecodeContext, store: TemplateStore, ev: FlowEvent): number {
  let len = u8.length;
  if (len < IPFIX_HEADER) {
    ctx.reject('truncated_datagram', exporter, `IPFIX message of ${len} bytes is shorter than its 16-byte header`, 0);
    return 0;
  }
  const dv = new DataView(u8.buffer, u8.byteOffset, len);
  const msgLen = dv.getUint16(2);
  if (msgLen < IPFIX_HEADER) {
    ctx.reject('bad_header', exporter, `IPFIX message length ${msgLen} < 16`, 2);
    return 0;
  }
  if (msgLen > len) {
    ctx.reject('truncated_datagram', exporter, `IPFIX message length ${msgLen} exceeds the ${len}-byte datagram`, len);
  } else {
    len = msgLen;
  }
  const exportTime = dv.getUint32(4);
  const seq = dv.getUint32(8);
  const domainId = dv.getUint32(12);
  const dom = store.domain(exporter, 10, domainId);
  sc.source = SOURCE.ipfix;
  sc.ipfix = true;
  sc.exportTime = exportTime;
  sc.uptime = -1;
  sc.receivedAt = receivedAt;

  const maxFields = ctx.limits.fieldsPerTemplate;
  let records = 0;
  let complete = true;
  let p = IPFIX_HEADER;
  while (len - p >= 4) {
    const setId = dv.getUint16(p);
    const setLen = dv.getUint16(p + 2);
    if (setLen < 4 || p + setLen > len) {
      ctx.reject('bad_set_length', exporter, `set ${setId} length ${setLen} at offset ${p} (message ${len} bytes)`, p);
      complete = false;
      break;
    }
    const end = p + setLen;
    let q = p + 4;
    if (setId === 2 || setId === 3) {
      const options = setId === 3;
      while (end - q >= 4) {
        const id = dv.getUint16(q), count = dv.getUint16(q + 2);
        if (count === 0) {
          if (id === setId) store.withdraw(dom, 0, options ? 'options' : 'data');
          else if (id >= 256) store.withdraw(dom, id, null);
          else if (id === 0) break; // padding
          else { ctx.reject('bad_template', exporter, `withdrawal of template id ${id} < 256`, q); break; }
          q += 4;
          continue;
        }
        if (id < 256) { ctx.reject('bad_template', exporter, `template id ${id} < 256`, q); break; }
        if (count > maxFields) { ctx.reject('bad_template', exporter, `template ${id} has ${count} fields (limit ${maxFields})`, q); break; }
        let scope = 0, fq = q + 4;
        if (options) {
          if (end - q < 6) { ctx.reject('bad_template', exporter, `options template ${id} cut short`, q); break; }
          scope = dv.getUint16(q + 4);
          fq = q + 6;
          if (scope === 0 || scope > count) { ctx.reject('bad_template', exporter, `options template ${id}: scope field count ${scope} of ${count}`, q); break; }
        }
        const recEnd = readFieldList(dv, fq, end, count, true, fields);
        if (recEnd < 0) { ctx.reject('bad_template', exporter, `template ${id} (${count} fields) overruns its set`, q); break; }
        installTemplate(store, dom, id, options, true, scope, fields, u8, q, recEnd, sc, ctx, ev);
        q = recEnd;
      }
    } else if (setId >= 256) {
      const tpl = dom.templates.get(setId);
      if (tpl === undefined) { store.hold(dom, setId, u8, q, end, sc); complete = false; }
      else records += decodeDataSet(u8, dv, q, end, tpl, dom, sc, ctx, ev);
    }
    // set ids 0, 1 (v9 ids, not IPFIX) and 4-255 (reserved): skipped by length
    p = end;
  }
  // The sequence counts data records sent before this message; when a set
  // could not be counted, the next check is skipped.
  dom.seq.check(seq, complete ? records : -1, ctx.stats, true);
  return records;
}
