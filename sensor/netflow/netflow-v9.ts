// NetFlow v9 (RFC 3954): a 20-byte header, then FlowSets — 0 templates,
// 1 options templates, ≥ 256 data. Templates are cached per (exporter,
// source id); data before its template is held (bounded) and decoded when it
// arrives. Record times are sysUptime-relative (FIRST/LAST_SWITCHED 22/21),
// converted with the header's uptime and unix seconds across uptime wrap.
import { SOURCE, type FlowEvent } from '../flowlogs/flow-event.ts';
import type { DecodeContext } from './common.ts';
import { decodeDataSet, FieldList, installTemplate, readFieldList, SetContext, type TemplateStore } from './templates.ts';

export const V9_HEADER = 20;

const sc = new SetContext();
const fields = new FieldList(64);

/**
 * Decode one NetFlow v9 datagram (`u8` starts at the version field). Flow
 * records go to ctx.sink; returns the number of data records seen (flow and
 * options records).
 */
export function decodeNetflowV9(u8: Uint8Array, exporter: string, receivedAt: number, ctx: DecodeContext, store: TemplateStore, ev: FlowEvent): number {
  const len = u8.length;
  if (len < V9_HEADER) {
    ctx.reject('truncated_datagram', exporter, `NetFlow v9 datagram of ${len} bytes is shorter than its 20-byte header`, 0);
    return 0;
  }
  const dv = new DataView(u8.buffer, u8.byteOffset, len);
  const uptime = dv.getUint32(4);
  const secs = dv.getUint32(8);
  const seq = dv.getUint32(12);
  const sourceId = dv.getUint32(16);
  const dom = store.domain(exporter, 9, sourceId);
  sc.source = SOURCE.netflow_v9;
  sc.ipfix = false;
  sc.exportTime = secs;
  sc.uptime = uptime;
  sc.receivedAt = receivedAt;
  // The v9 sequence counts export packets.
  dom.seq.check(seq, 1, ctx.stats, false);

  const maxFields = ctx.limits.fieldsPerTemplate;
  let records = 0;
  let p = V9_HEADER;
  while (len - p >= 4) {
    const setId = dv.getUint16(p);
    const setLen = dv.getUint16(p + 2);
    if (setLen < 4 || p + setLen > len) {
      // Zero padding after the last FlowSet (some exporters pad datagrams) is not an error.
      let zero = true;
      for (let i = p; i < len; i++) if (u8[i] !== 0) { zero = false; break; }
      if (!zero) ctx.reject('bad_set_length', exporter, `FlowSet ${setId} length ${setLen} at offset ${p} (datagram ${len} bytes)`, p);
      break;
    }
    const end = p + setLen;
    let q = p + 4;
    if (setId === 0) {
      while (end - q >= 4) {
        const id = dv.getUint16(q), count = dv.getUint16(q + 2);
        if (id === 0 && count === 0) break; // padding
        if (id < 256) { ctx.reject('bad_template', exporter, `template id ${id} < 256`, q); break; }
        if (count === 0) { ctx.reject('bad_template', exporter, `template ${id} has no fields`, q); break; }
        if (count > maxFields) { ctx.reject('bad_template', exporter, `template ${id} has ${count} fields (limit ${maxFields})`, q); break; }
        const recEnd = readFieldList(dv, q + 4, end, count, false, fields);
        if (recEnd < 0) { ctx.reject('bad_template', exporter, `template ${id} (${count} fields) overruns its FlowSet`, q); break; }
        installTemplate(store, dom, id, false, false, 0, fields, u8, q, recEnd, sc, ctx, ev);
        q = recEnd;
      }
    } else if (setId === 1) {
      while (end - q >= 6) {
        const id = dv.getUint16(q), scopeLen = dv.getUint16(q + 2), optLen = dv.getUint16(q + 4);
        if (id === 0 && scopeLen === 0 && optLen === 0) break; // padding
        if (id < 256) { ctx.reject('bad_template', exporter, `options template id ${id} < 256`, q); break; }
        if (scopeLen % 4 !== 0 || optLen % 4 !== 0 || scopeLen + optLen === 0) {
          ctx.reject('bad_template', exporter, `options template ${id}: scope length ${scopeLen}, option length ${optLen}`, q);
          break;
        }
        const nScope = scopeLen / 4, count = nScope + optLen / 4;
        if (count > maxFields) { ctx.reject('bad_template', exporter, `options template ${id} has ${count} fields (limit ${maxFields})`, q); break; }
        const recEnd = readFieldList(dv, q + 6, end, count, false, fields);
        if (recEnd < 0) { ctx.reject('bad_template', exporter, `options template ${id} overruns its FlowSet`, q); break; }
        installTemplate(store, dom, id, true, false, nScope, fields, u8, q, recEnd, sc, ctx, ev);
        q = recEnd;
      }
    } else if (setId >= 256) {
      const tpl = dom.templates.get(setId);
      if (tpl === undefined) store.hold(dom, setId, u8, q, end, sc);
      else records += decodeDataSet(u8, dv, q, end, tpl, dom, sc, ctx, ev);
    }
    // FlowSet ids 2-255 are reserved: skipped by length.
    p = end;
  }
  return records;
}

