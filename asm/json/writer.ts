// One flow record (the core's 224-byte layout, asm/flowrecord.ts) → one
// Zeek-style JSON line. The Wasm twin of what sensor/flows/zeek-record.ts
// writes through objects: same fields, same order, same bytes (compared
// record by record in test/flow-json.test.ts), about ten times faster.
import {
  HISTORY_MAX, R_ACTION, R_CONN_STATE, R_DIRECTION, R_END_REASON, R_FLAGS, R_HISTORY, R_HISTORY_LEN, R_INNER_VLAN,
  R_IP_VERSION, R_LAST_TS, R_MISSED_BYTES, R_ORIG_BYTES, R_ORIG_H, R_ORIG_IP_BYTES, R_ORIG_MAC, R_ORIG_P, R_ORIG_PKTS,
  R_ORIG_TCP_FLAGS, R_ORIG_WIRE_BYTES, R_PROTO, R_RECORDS, R_REPORTER, R_RESP_BYTES, R_RESP_H, R_RESP_IP_BYTES, R_RESP_MAC,
  R_RESP_P, R_RESP_PKTS, R_RESP_TCP_FLAGS, R_RESP_WIRE_BYTES, R_SAMPLING, R_SERIAL, R_SOURCE, R_SOURCE_FLAGS, R_TS,
  R_TUNNEL_ID, R_TUNNEL_TYPE, R_VLAN, RF_FLIPPED, RF_HAS_MAC, RF_INTERIM, SF_DEDUPED, SF_LATE, SF_PAIRED,
} from "../flowrecord";
import { putCommunityId, putUid } from "./ids";
import { isLocal } from "../localnets";
import { lit, putLit } from "./literals";
import { putBytes, putCount, putIPv4, putIPv6, putMac, putTime, putU32 } from "./out";
import { jsRound } from "../jsnum";
import {
  F_ACTION, F_CONN_STATE, F_DIRECTION, F_END_REASON, F_PROTO, F_SOURCE, F_TUNNEL, reporterLen, reporterPtr, service, text, textLen,
} from "./tables";

/** Longest line without the reporter name; callers keep this plus the name's length free. */
export const MAX_LINE_BASE: i32 = 1400;

// Field names with their punctuation, in the byte table (literals.ts).
const L_TS = lit('{"ts":');
const L_UID = lit(',"uid":"');
const L_ID_ORIG_H = lit(',"id.orig_h":"');
const L_ID_ORIG_P = lit(',"id.orig_p":');
const L_ID_RESP_H = lit(',"id.resp_h":"');
const L_ID_RESP_P = lit(',"id.resp_p":');
const L_PROTO = lit(',"proto":');
const L_UNKNOWN_TRANSPORT = lit('"unknown_transport"');
const L_SERVICE = lit(',"service":');
const L_DURATION = lit(',"duration":');
const L_ORIG_BYTES = lit(',"orig_bytes":');
const L_RESP_BYTES = lit(',"resp_bytes":');
const L_CONN_STATE = lit(',"conn_state":');
const L_MISSED_BYTES = lit(',"missed_bytes":');
const L_HISTORY = lit(',"history":"');
const L_ORIG_PKTS = lit(',"orig_pkts":');
const L_ORIG_IP_BYTES = lit(',"orig_ip_bytes":');
const L_RESP_PKTS = lit(',"resp_pkts":');
const L_RESP_IP_BYTES = lit(',"resp_ip_bytes":');
const L_IP_PROTO = lit(',"ip_proto":');
const L_COMMUNITY_ID = lit(',"community_id":"');
const L_VLAN = lit(',"vlan":');
const L_INNER_VLAN = lit(',"inner_vlan":');
const L_ORIG_L2_ADDR = lit(',"orig_l2_addr":"');
const L_RESP_L2_ADDR = lit(',"resp_l2_addr":"');
const L_TUNNEL_TYPE = lit(',"tunnel_type":');
const L_TUNNEL_ID = lit(',"tunnel_id":');
const L_ORIG_WIRE_BYTES = lit(',"orig_wire_bytes":');
const L_RESP_WIRE_BYTES = lit(',"resp_wire_bytes":');
const L_INTERIM_TRUE = lit(',"interim":true');
const L_END_REASON = lit(',"end_reason":');
const L_SOURCE = lit(',"source":');
const L_REPORTER = lit(',"reporter":"');
const L_ACTION = lit(',"action":');
const L_DIRECTION = lit(',"direction":');
const L_SAMPLING = lit(',"sampling":');
const L_SOURCE_RECORDS = lit(',"source_records":');
const L_ORIG_TCP_FLAGS = lit(',"orig_tcp_flags":');
const L_RESP_TCP_FLAGS = lit(',"resp_tcp_flags":');
const L_PAIRED_TRUE = lit(',"paired":true');
const L_DEDUPED_TRUE = lit(',"deduped":true');
const L_LATE_TRUE = lit(',"late":true');
const L_LOCAL_ORIG_TRUE = lit(',"local_orig":true');
const L_LOCAL_ORIG_FALSE = lit(',"local_orig":false');
const L_LOCAL_RESP_TRUE = lit(',"local_resp":true');
const L_LOCAL_RESP_FALSE = lit(',"local_resp":false');

const NO_VLAN: u32 = 0xffff;
const CS_OTH: u32 = 12;
const END_FLUSHED: u32 = 3;

/** A string value: the slot's text in quotes. */
@inline function putText(p: usize, slot: usize): usize {
  store<u8>(p++, 0x22);
  p = putBytes(p, slot + 1, textLen(slot));
  store<u8>(p, 0x22);
  return p + 1;
}

/** Text of (family, code), else of (family, fallback). */
@inline function textOr(family: u32, code: u32, fallback: u32): usize {
  const s = text(family, code);
  return s != 0 ? s : text(family, fallback);
}

/** The record at r as one JSON line ending in "\n" at p; returns the position after it. */
export function writeRecord(p: usize, r: usize, seed: u32, scratch: usize): usize {
  const proto = <u32>load<u8>(r + R_PROTO);
  const v6 = load<u8>(r + R_IP_VERSION) == 6;
  const protoText = text(F_PROTO, proto);
  const hasPorts = protoText != 0;
  const ts = load<f64>(r + R_TS);
  const lastTs = load<f64>(r + R_LAST_TS);
  const origP = <u32>load<u16>(r + R_ORIG_P);
  const respP = <u32>load<u16>(r + R_RESP_P);
  const source = <u32>load<u8>(r + R_SOURCE);
  const flags = <u32>load<u8>(r + R_FLAGS);

  p = putLit(p, L_TS); p = putTime(p, ts, scratch);
  p = putLit(p, L_UID); p = putUid(p, load<f64>(r + R_SERIAL), ts, 0, jsRound(ts * 1e6)); store<u8>(p++, 0x22);
  p = putLit(p, L_ID_ORIG_H); p = v6 ? putIPv6(p, r + R_ORIG_H) : putIPv4(p, r + R_ORIG_H); store<u8>(p++, 0x22);
  p = putLit(p, L_ID_ORIG_P); p = putU32(p, hasPorts ? origP : 0);
  p = putLit(p, L_ID_RESP_H); p = v6 ? putIPv6(p, r + R_RESP_H) : putIPv4(p, r + R_RESP_H); store<u8>(p++, 0x22);
  p = putLit(p, L_ID_RESP_P); p = putU32(p, hasPorts ? respP : 0);
  p = putLit(p, L_PROTO);
  p = hasPorts ? putText(p, protoText) : putLit(p, L_UNKNOWN_TRANSPORT);
  const svc = service(proto, respP);
  if (svc != 0) { p = putLit(p, L_SERVICE); p = putText(p, svc); }
  const duration = lastTs - ts;
  if (duration > 0) {
    p = putLit(p, L_DURATION); p = putTime(p, duration, scratch);
    const ob = load<f64>(r + R_ORIG_BYTES), rb = load<f64>(r + R_RESP_BYTES);
    // flow-record sources without payload counts say -1: Zeek's unset field
    if (ob >= 0) { p = putLit(p, L_ORIG_BYTES); p = putCount(p, ob); }
    if (rb >= 0) { p = putLit(p, L_RESP_BYTES); p = putCount(p, rb); }
  }
  p = putLit(p, L_CONN_STATE); p = putText(p, textOr(F_CONN_STATE, load<u8>(r + R_CONN_STATE), CS_OTH));
  p = putLit(p, isLocal(r + R_ORIG_H) ? L_LOCAL_ORIG_TRUE : L_LOCAL_ORIG_FALSE);
  p = putLit(p, isLocal(r + R_RESP_H) ? L_LOCAL_RESP_TRUE : L_LOCAL_RESP_FALSE);
  p = putLit(p, L_MISSED_BYTES); p = putCount(p, load<f64>(r + R_MISSED_BYTES));
  p = putLit(p, L_HISTORY);
  let hl = <usize>load<u8>(r + R_HISTORY_LEN);
  if (hl > <usize>HISTORY_MAX) hl = <usize>HISTORY_MAX;
  if ((flags & RF_FLIPPED) != 0 && !(hl > 0 && load<u8>(r + R_HISTORY) == 0x5e)) store<u8>(p++, 0x5e); // '^'
  p = putBytes(p, r + R_HISTORY, hl);
  store<u8>(p++, 0x22);
  p = putLit(p, L_ORIG_PKTS); p = putCount(p, load<f64>(r + R_ORIG_PKTS));
  p = putLit(p, L_ORIG_IP_BYTES); p = putCount(p, load<f64>(r + R_ORIG_IP_BYTES));
  p = putLit(p, L_RESP_PKTS); p = putCount(p, load<f64>(r + R_RESP_PKTS));
  p = putLit(p, L_RESP_IP_BYTES); p = putCount(p, load<f64>(r + R_RESP_IP_BYTES));
  p = putLit(p, L_IP_PROTO); p = putU32(p, proto);
  p = putLit(p, L_COMMUNITY_ID);
  const n = v6 ? 16 : 4;
  p = putCommunityId(p, r + R_ORIG_H + <usize>(16 - n), r + R_RESP_H + <usize>(16 - n), n, proto, origP, respP, hasPorts, seed);
  store<u8>(p++, 0x22);
  const vlan = <u32>load<u16>(r + R_VLAN);
  if (vlan != NO_VLAN) { p = putLit(p, L_VLAN); p = putU32(p, vlan); }
  const inner = <u32>load<u16>(r + R_INNER_VLAN);
  if (inner != NO_VLAN) { p = putLit(p, L_INNER_VLAN); p = putU32(p, inner); }
  if ((flags & RF_HAS_MAC) != 0) {
    p = putLit(p, L_ORIG_L2_ADDR); p = putMac(p, r + R_ORIG_MAC); store<u8>(p++, 0x22);
    p = putLit(p, L_RESP_L2_ADDR); p = putMac(p, r + R_RESP_MAC); store<u8>(p++, 0x22);
  }
  const tunnel = <u32>load<u8>(r + R_TUNNEL_TYPE);
  if (tunnel != 0) {
    p = putLit(p, L_TUNNEL_TYPE);
    const t = text(F_TUNNEL, tunnel);
    if (t != 0) p = putText(p, t);
    else { store<u8>(p++, 0x22); p = putU32(p, tunnel); store<u8>(p++, 0x22); }
    p = putLit(p, L_TUNNEL_ID); p = putU32(p, load<u32>(r + R_TUNNEL_ID));
  }
  if (source == 0) {
    p = putLit(p, L_ORIG_WIRE_BYTES); p = putCount(p, load<f64>(r + R_ORIG_WIRE_BYTES));
    p = putLit(p, L_RESP_WIRE_BYTES); p = putCount(p, load<f64>(r + R_RESP_WIRE_BYTES));
  }
  if ((flags & RF_INTERIM) != 0) p = putLit(p, L_INTERIM_TRUE);
  p = putLit(p, L_END_REASON); p = putText(p, textOr(F_END_REASON, load<u8>(r + R_END_REASON), END_FLUSHED));
  if (source != 0) p = writeSource(p, r, source);
  store<u8>(p, 0x7d); store<u8>(p + 1, 10); // }\n
  return p + 2;
}

/** Fields of records from flow-record sources, after Zeek's. */
function writeSource(p: usize, r: usize, source: u32): usize {
  p = putLit(p, L_SOURCE); p = putText(p, textOr(F_SOURCE, source, 0));
  const rep = load<u32>(r + R_REPORTER);
  const rl = reporterLen(rep);
  if (rl > 0) {
    p = putLit(p, L_REPORTER); p = putBytes(p, reporterPtr(rep), rl); store<u8>(p++, 0x22);
  }
  const action = <u32>load<u8>(r + R_ACTION);
  // a code without a name is left out, as the readable path leaves it out
  const actionText = action != 0 ? text(F_ACTION, action) : 0;
  if (actionText != 0) { p = putLit(p, L_ACTION); p = putText(p, actionText); }
  const dir = <u32>load<u8>(r + R_DIRECTION);
  const dirText = dir != 0 ? text(F_DIRECTION, dir) : 0;
  if (dirText != 0) { p = putLit(p, L_DIRECTION); p = putText(p, dirText); }
  const sampling = load<u32>(r + R_SAMPLING);
  if (sampling > 1) { p = putLit(p, L_SAMPLING); p = putU32(p, sampling); }
  const records = load<u32>(r + R_RECORDS);
  if (records > 0) { p = putLit(p, L_SOURCE_RECORDS); p = putU32(p, records); } // 0: sampled packets (sFlow)
  const origFlags = <u32>load<u8>(r + R_ORIG_TCP_FLAGS), respFlags = <u32>load<u8>(r + R_RESP_TCP_FLAGS);
  if (load<u8>(r + R_PROTO) == 6 && (origFlags | respFlags) != 0) {
    p = putLit(p, L_ORIG_TCP_FLAGS); p = putU32(p, origFlags);
    p = putLit(p, L_RESP_TCP_FLAGS); p = putU32(p, respFlags);
  }
  const sf = <u32>load<u8>(r + R_SOURCE_FLAGS);
  if ((sf & SF_PAIRED) != 0) p = putLit(p, L_PAIRED_TRUE);
  if ((sf & SF_DEDUPED) != 0) p = putLit(p, L_DEDUPED_TRUE);
  if ((sf & SF_LATE) != 0) p = putLit(p, L_LATE_TRUE);
  return p;
}

