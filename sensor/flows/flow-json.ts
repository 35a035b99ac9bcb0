// Raw flow record (the core's bytes) → one JSON line, written byte by byte
// into the caller's buffer. This is the writer thread's per-flow path: it
// must produce exactly what flowRecordJson(toFlowRecord(decodeRawFlow(…)))
// produces (test/flow-json.test.ts compares them over real captures) at a
// fraction of the cost — no RawFlow/FlowRecord objects, no strings per field
// (measured: ~6 µs per flow the object way, most of it allocation and GC,
// which on a 2-core machine held the whole run back at its end).
import { CONN_STATES, END_REASONS, HISTORY_MAX, NO_VLAN, R, RF_FLIPPED, RF_HAS_MAC, RF_INTERIM, TUNNEL_TYPES } from '../core/flow-record.ts';
import { ACTIONS, DIRECTIONS, SF_DEDUPED, SF_LATE, SF_PAIRED, SOURCES } from '../flowlogs/flow-event.ts';
import { communityIdDigest, writeCommunityId } from './community-id.ts';
import { formatIPv6 } from './ip-address.ts';
import type { LocalNets } from './local-nets.ts';
import { serviceForPort } from './services.ts';
import { writeFlowUid } from './uid.ts';

export interface FlowJsonContext {
  localNets: LocalNets;
  communityIdSeed?: number;
  /** names of the reporter ids flow-record sources put on records */
  reporterName?: (id: number) => string;
}

/** Longest line the writer can produce, plus the reporter name (callers keep this much room). */
export const MAX_LINE_BYTES = 1536;

const enc = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const PROTO_NAMES = new Map<number, Uint8Array>([[6, enc('tcp')], [17, enc('udp')], [1, enc('icmp')], [58, enc('icmp')], [132, enc('sctp')]]);
const UNKNOWN_TRANSPORT = enc('unknown_transport');
const CONN_STATE_BYTES = CONN_STATES.map(enc);
const END_REASON_BYTES = END_REASONS.map(enc);
const SOURCE_BYTES = SOURCES.map(enc);
const ACTION_BYTES = ACTIONS.map(enc);
const DIRECTION_BYTES = DIRECTIONS.map(enc);
const TUNNEL_BYTES = TUNNEL_TYPES.map(enc);
const TRUE = enc('true'), FALSE = enc('false');
const HEX = enc('0123456789abcdef');

// Field names with their punctuation: `,"name":` (strings add their own quotes).
const K = {
  ts: enc('{"ts":'), uid: enc(',"uid":'), origH: enc(',"id.orig_h":'), origP: enc(',"id.orig_p":'),
  respH: enc(',"id.resp_h":'), respP: enc(',"id.resp_p":'), proto: enc(',"proto":'), service: enc(',"service":'),
  duration: enc(',"duration":'), origBytes: enc(',"orig_bytes":'), respBytes: enc(',"resp_bytes":'),
  connState: enc(',"conn_state":'), localOrig: enc(',"local_orig":'), localResp: enc(',"local_resp":'),
  missed: enc(',"missed_bytes":'), history: enc(',"history":'), origPkts: enc(',"orig_pkts":'), origIpBytes: enc(',"orig_ip_bytes":'),
  respPkts: enc(',"resp_pkts":'), respIpBytes: enc(',"resp_ip_bytes":'), ipProto: enc(',"ip_proto":'), communityId: enc(',"community_id":'),
  vlan: enc(',"vlan":'), innerVlan: enc(',"inner_vlan":'), origL2: enc(',"orig_l2_addr":'), respL2: enc(',"resp_l2_addr":'),
  tunnelType: enc(',"tunnel_type":'), tunnelId: enc(',"tunnel_id":'), origWire: enc(',"orig_wire_bytes":'), respWire: enc(',"resp_wire_bytes":'),
  interim: enc(',"interim":true'), endReason: enc(',"end_reason":'),
  source: enc(',"source":'), reporter: enc(',"reporter":'), action: enc(',"action":'), direction: enc(',"direction":'),
  sampling: enc(',"sampling":'), records: enc(',"source_records":'), origFlags: enc(',"orig_tcp_flags":'), respFlags: enc(',"resp_tcp_flags":'),
  paired: enc(',"paired":true'), deduped: enc(',"deduped":true'), late: enc(',"late":true'),
};
const Q = 0x22;

const serviceBytes = new Map<string, Uint8Array>();

export class FlowJsonWriter {
  private readonly seed: number;
  constructor(private readonly ctx: FlowJsonContext) {
    this.seed = ctx.communityIdSeed ?? 0;
  }

  /** Write the record at rec[off…] as one line ending in "\n" at out[pos]; returns the new position. */
  write(rec: Uint8Array, dv: DataView, off: number, out: Uint8Array, pos: number): number {
    const proto = rec[off + R.PROTO]!;
    const v6 = rec[off + R.IP_VERSION] === 6;
    const protoName = PROTO_NAMES.get(proto);
    const hasPorts = protoName !== undefined;
    const ts = dv.getFloat64(off + R.TS, true);
    const lastTs = dv.getFloat64(off + R.LAST_TS, true);
    const origP = dv.getUint16(off + R.ORIG_P, true);
    const respP = dv.getUint16(off + R.RESP_P, true);
    const source = rec[off + R.SOURCE]!;

    pos = put(out, pos, K.ts); pos = putTime(out, pos, ts);
    pos = put(out, pos, K.uid); out[pos++] = Q; pos = writeFlowUid(out, pos, dv.getFloat64(off + R.SERIAL, true), ts); out[pos++] = Q;
    pos = put(out, pos, K.origH); out[pos++] = Q; pos = putAddr(out, pos, rec, off + R.ORIG_H, v6); out[pos++] = Q;
    pos = put(out, pos, K.origP); pos = putUint(out, pos, hasPorts ? origP : 0);
    pos = put(out, pos, K.respH); out[pos++] = Q; pos = putAddr(out, pos, rec, off + R.RESP_H, v6); out[pos++] = Q;
    pos = put(out, pos, K.respP); pos = putUint(out, pos, hasPorts ? respP : 0);
    pos = put(out, pos, K.proto); pos = putStr(out, pos, protoName ?? UNKNOWN_TRANSPORT);
    const service = serviceForPort(proto, respP);
    if (service !== undefined) {
      let sb = serviceBytes.get(service);
      if (!sb) { sb = enc(service); serviceBytes.set(service, sb); }
      pos = put(out, pos, K.service); pos = putStr(out, pos, sb);
    }
    const duration = lastTs - ts;
    if (duration > 0) {
      pos = put(out, pos, K.duration); pos = putTime(out, pos, duration);
      const ob = dv.getFloat64(off + R.ORIG_BYTES, true), rb = dv.getFloat64(off + R.RESP_BYTES, true);
      // flow-record sources without payload counts say -1: Zeek's unset field
      if (ob >= 0) { pos = put(out, pos, K.origBytes); pos = putUint(out, pos, ob); }
      if (rb >= 0) { pos = put(out, pos, K.respBytes); pos = putUint(out, pos, rb); }
    }
    pos = put(out, pos, K.connState); pos = putStr(out, pos, CONN_STATE_BYTES[rec[off + R.CONN_STATE]!] ?? CONN_STATE_BYTES[12]!);
    pos = put(out, pos, K.localOrig); pos = put(out, pos, this.ctx.localNets.containsAt(rec, off + R.ORIG_H) ? TRUE : FALSE);
    pos = put(out, pos, K.localResp); pos = put(out, pos, this.ctx.localNets.containsAt(rec, off + R.RESP_H) ? TRUE : FALSE);
    pos = put(out, pos, K.missed); pos = putUint(out, pos, dv.getFloat64(off + R.MISSED_BYTES, true));
    pos = put(out, pos, K.history); out[pos++] = Q;
    const flags = rec[off + R.FLAGS]!;
    const hl = Math.min(rec[off + R.HISTORY_LEN]!, HISTORY_MAX);
    if ((flags & RF_FLIPPED) !== 0 && !(hl > 0 && rec[off + R.HISTORY] === 0x5e)) out[pos++] = 0x5e; // '^'
    for (let i = 0; i < hl; i++) out[pos++] = rec[off + R.HISTORY + i]!;
    out[pos++] = Q;
    pos = put(out, pos, K.origPkts); pos = putUint(out, pos, dv.getFloat64(off + R.ORIG_PKTS, true));
    pos = put(out, pos, K.origIpBytes); pos = putUint(out, pos, dv.getFloat64(off + R.ORIG_IP_BYTES, true));
    pos = put(out, pos, K.respPkts); pos = putUint(out, pos, dv.getFloat64(off + R.RESP_PKTS, true));
    pos = put(out, pos, K.respIpBytes); pos = putUint(out, pos, dv.getFloat64(off + R.RESP_IP_BYTES, true));
    pos = put(out, pos, K.ipProto); pos = putUint(out, pos, proto);
    pos = put(out, pos, K.communityId); out[pos++] = Q;
    const n = v6 ? 16 : 4, skip = 16 - n;
    pos = writeCommunityId(out, pos, communityIdDigest(rec, off + R.ORIG_H + skip, off + R.RESP_H + skip, n, proto, origP, respP, this.seed));
    out[pos++] = Q;
    const vlan = dv.getUint16(off + R.VLAN, true);
    if (vlan !== NO_VLAN) { pos = put(out, pos, K.vlan); pos = putUint(out, pos, vlan); }
    const inner = dv.getUint16(off + R.INNER_VLAN, true);
    if (inner !== NO_VLAN) { pos = put(out, pos, K.innerVlan); pos = putUint(out, pos, inner); }
    if ((flags & RF_HAS_MAC) !== 0) {
      pos = put(out, pos, K.origL2); out[pos++] = Q; pos = putMac(out, pos, rec, off + R.ORIG_MAC); out[pos++] = Q;
      pos = put(out, pos, K.respL2); out[pos++] = Q; pos = putMac(out, pos, rec, off + R.RESP_MAC); out[pos++] = Q;
    }
    const tunnel = rec[off + R.TUNNEL_TYPE]!;
    if (tunnel !== 0) {
      pos = put(out, pos, K.tunnelType);
      const tb = TUNNEL_BYTES[tunnel];
      if (tb) pos = putStr(out, pos, tb); else { out[pos++] = Q; pos = putUint(out, pos, tunnel); out[pos++] = Q; }
      pos = put(out, pos, K.tunnelId); pos = putUint(out, pos, dv.getUint32(off + R.TUNNEL_ID, true));
    }
    if (source === 0) {
      pos = put(out, pos, K.origWire); pos = putUint(out, pos, dv.getFloat64(off + R.ORIG_WIRE_BYTES, true));
      pos = put(out, pos, K.respWire); pos = putUint(out, pos, dv.getFloat64(off + R.RESP_WIRE_BYTES, true));
    }
    if ((flags & RF_INTERIM) !== 0) pos = put(out, pos, K.interim);
    pos = put(out, pos, K.endReason); pos = putStr(out, pos, END_REASON_BYTES[rec[off + R.END_REASON]!] ?? END_REASON_BYTES[3]!);
    if (source !== 0) pos = this.writeSource(rec, dv, off, out, pos, source);
    out[pos++] = 0x7d; out[pos++] = 10; // }\n
    return pos;
  }

  /** Fields of records from flow-record sources, after Zeek's. */
  private writeSource(rec: Uint8Array, dv: DataView, off: number, out: Uint8Array, pos: number, source: number): number {
    pos = put(out, pos, K.source); pos = putStr(out, pos, SOURCE_BYTES[source] ?? SOURCE_BYTES[0]!);
    const rep = this.ctx.reporterName?.(dv.getUint32(off + R.REPORTER, true)) ?? '';
    if (rep !== '') { pos = put(out, pos, K.reporter); out[pos++] = Q; pos = putJsonString(out, pos, rep); out[pos++] = Q; }
    const action = rec[off + R.ACTION]!;
    if (action !== 0) { pos = put(out, pos, K.action); pos = putStr(out, pos, ACTION_BYTES[action] ?? ACTION_BYTES[0]!); }
    const dir = rec[off + R.DIRECTION]!;
    if (dir !== 0) { pos = put(out, pos, K.direction); pos = putStr(out, pos, DIRECTION_BYTES[dir] ?? DIRECTION_BYTES[0]!); }
    const sampling = dv.getUint32(off + R.SAMPLING, true);
    if (sampling > 1) { pos = put(out, pos, K.sampling); pos = putUint(out, pos, sampling); }
    const records = dv.getUint32(off + R.RECORDS, true);
    if (records > 0) { pos = put(out, pos, K.records); pos = putUint(out, pos, records); } // 0: sampled packets (sFlow)
    const of = rec[off + R.ORIG_TCP_FLAGS]!, rf = rec[off + R.RESP_TCP_FLAGS]!;
    if (rec[off + R.PROTO] === 6 && (of | rf) !== 0) {
      pos = put(out, pos, K.origFlags); pos = putUint(out, pos, of);
      pos = put(out, pos, K.respFlags); pos = putUint(out, pos, rf);
    }
    const sf = rec[off + R.SOURCE_FLAGS]!;
    if (sf & SF_PAIRED) pos = put(out, pos, K.paired);
    if (sf & SF_DEDUPED) pos = put(out, pos, K.deduped);
    if (sf & SF_LATE) pos = put(out, pos, K.late);
    return pos;
  }
}

function putStr(out: Uint8Array, pos: number, b: Uint8Array): number {
  out[pos++] = Q;
  for (let i = 0; i < b.length; i++) out[pos + i] = b[i]!;
  pos += b.length;
  out[pos++] = Q;
  return pos;
}

function put(out: Uint8Array, pos: number, b: Uint8Array): number {
  const n = b.length;
  if (n > 12) { out.set(b, pos); return pos + n; }
  for (let i = 0; i < n; i++) out[pos + i] = b[i]!;
  return pos + n;
}

const DIGITS = new Uint8Array(20);

/** A non-negative integer (< 2^53) in decimal. */
function putUint(out: Uint8Array, pos: number, n: number): number {
  if (n < 10) { out[pos] = 48 + n; return pos + 1; }
  let k = 0;
  if (n < 2147483648) {
    let v = n | 0;
    while (v > 0) { const q = (v / 10) | 0; DIGITS[k++] = 48 + v - q * 10; v = q; }
  } else {
    let v = n;
    while (v > 0) { const q = Math.floor(v / 10); DIGITS[k++] = 48 + v - q * 10; v = q; }
  }
  while (k > 0) out[pos++] = DIGITS[--k]!;
  return pos;
}

/** Seconds with exactly six decimals, as zeekTime in zeek-record.ts. */
function putTime(out: Uint8Array, pos: number, x: number): number {
  const us = Math.round(x * 1e6);
  const sec = Math.floor(us / 1e6);
  const frac = us - sec * 1e6;
  if (sec < 0 || !Number.isFinite(us)) return putAscii(out, pos, `${sec}.${String(frac).padStart(6, '0')}`);
  pos = putUint(out, pos, sec);
  out[pos++] = 0x2e;
  let f = frac;
  for (let i = 5; i >= 0; i--) { const q = Math.floor(f / 10); out[pos + i] = 48 + f - q * 10; f = q; }
  return pos + 6;
}

function putAscii(out: Uint8Array, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i) & 0xff;
  return pos;
}

function putAddr(out: Uint8Array, pos: number, rec: Uint8Array, at: number, v6: boolean): number {
  if (!v6) {
    pos = putUint(out, pos, rec[at + 12]!); out[pos++] = 0x2e;
    pos = putUint(out, pos, rec[at + 13]!); out[pos++] = 0x2e;
    pos = putUint(out, pos, rec[at + 14]!); out[pos++] = 0x2e;
    return putUint(out, pos, rec[at + 15]!);
  }
  return putAscii(out, pos, formatIPv6(rec, at));
}

function putMac(out: Uint8Array, pos: number, rec: Uint8Array, at: number): number {
  for (let i = 0; i < 6; i++) {
    if (i) out[pos++] = 0x3a;
    const b = rec[at + i]!;
    out[pos++] = HEX[b >> 4]!; out[pos++] = HEX[b & 15]!;
  }
  return pos;
}

/** A string from outside (reporter names) as JSON string content, escaped to ASCII (as zeek-record.ts asciiJson), at most 256 characters. */
function putJsonString(out: Uint8Array, pos: number, s: string): number {
  const n = Math.min(s.length, 256);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) { out[pos++] = 0x5c; out[pos++] = c; }
    else if (c < 0x20 || c > 0x7e) pos = putAscii(out, pos, c < 0x20 ? JSON.stringify(String.fromCharCode(c)).slice(1, -1) : '\\u' + c.toString(16).padStart(4, '0'));
    else out[pos++] = c;
  }
  return pos;
}
