// NetFlow v9 / IPFIX data records decoded in the core: the data set's bytes
// are copied in once, the template's actions (compiled by JavaScript,
// sensor/netflow/templates.ts) drive a walk over its fixed-length records,
// and each record becomes a flow event written straight into the event
// region — no JavaScript object, property or call per record.
//
// This is an accelerator, not a second decoder: templates, options data,
// sampler tables, held sets, sequence accounting and every error stay in
// JavaScript, which hands over only what this file can finish alone — a
// fixed-length flow template without packet sections — together with what
// the record needs from its set and domain (export time, uptime, sampling
// state, reporter id). A record it cannot finish (no address) stops it, and
// JavaScript decodes that one record with the full decoder (its counters, its
// report) before resuming here. test/netflow-core.test.ts checks that both
// give identical events.
//
// Arithmetic follows the JavaScript decoder step by step — counters as f64
// (hi·2^32 + lo), masks applied as JavaScript's ToInt32 does, the same order
// of operations in the time derivations — so the events are bit-identical.
import { be16, be32, reserve } from "./bytes";
import { jsRound, toU32 } from "./jsnum";
import { beginEvent, eventSlot, eventsCapacity } from "./flowevents";
import {
  R_ACTION, R_DIRECTION, R_IP_VERSION, R_ORIG_H, R_ORIG_IP_BYTES, R_ORIG_P, R_ORIG_PKTS, R_ORIG_TCP_FLAGS,
  R_PROTO, R_RESP_H, R_RESP_IP_BYTES, R_RESP_P, R_RESP_PKTS, R_RESP_TCP_FLAGS, R_SAMPLING, R_SOURCE_FLAGS,
  R_VLAN, SF_BIDIR, MAX_COUNT,
} from "./flowrecord";

// Field actions: the numbering of sensor/netflow/templates.ts (K).
const K_SRC_V4: u32 = 1, K_DST_V4: u32 = 2, K_SRC_V6: u32 = 3, K_DST_V6: u32 = 4;
const K_SRC_PORT: u32 = 5, K_DST_PORT: u32 = 6, K_PROTO: u32 = 7, K_TCP_FLAGS: u32 = 8;
const K_BYTES: u32 = 9, K_PKTS: u32 = 10, K_BYTES_TOTAL: u32 = 11, K_PKTS_TOTAL: u32 = 12, K_OUT_BYTES: u32 = 13, K_OUT_PKTS: u32 = 14;
const K_INIT_BYTES: u32 = 15, K_RESP_BYTES: u32 = 16, K_INIT_PKTS: u32 = 17, K_RESP_PKTS: u32 = 18;
const K_REV_BYTES: u32 = 19, K_REV_PKTS: u32 = 20, K_REV_BYTES_TOTAL: u32 = 21, K_REV_PKTS_TOTAL: u32 = 22, K_REV_TCP_FLAGS: u32 = 23;
const K_FIRST_UPTIME: u32 = 24, K_LAST_UPTIME: u32 = 25;
const K_START_S: u32 = 26, K_END_S: u32 = 27, K_START_MS: u32 = 28, K_END_MS: u32 = 29, K_START_NTP: u32 = 30, K_END_NTP: u32 = 31;
const K_START_DELTA_US: u32 = 32, K_END_DELTA_US: u32 = 33, K_SYS_INIT_MS: u32 = 34, K_DURATION_MS: u32 = 35, K_DURATION_US: u32 = 36;
const K_ICMP_TC: u32 = 37, K_ICMP_TYPE: u32 = 38, K_ICMP_CODE: u32 = 39;
const K_DIRECTION: u32 = 40, K_VLAN: u32 = 41;
const K_SAMPLING_INTERVAL: u32 = 42, K_SAMPLER_RANDOM_INTERVAL: u32 = 43, K_SAMPLER_ID: u32 = 44, K_SELECTOR_ALGO: u32 = 45;
const K_PKT_INTERVAL: u32 = 46, K_PKT_SPACE: u32 = 47, K_SAMPLING_SIZE: u32 = 48, K_SAMPLING_POPULATION: u32 = 49;
const K_FWD_STATUS: u32 = 50, K_FW_EVENT: u32 = 51, K_IN_IF: u32 = 52, K_OUT_IF: u32 = 53;
const K_FRAME_SECTION: u32 = 54, K_IP_SECTION: u32 = 55, K_FRAME_SIZE: u32 = 56, K_SAMPLING_PROB: u32 = 57;
const K_LAST: u32 = 57;

const NTP_EPOCH: f64 = 2208988800;
const MAX_SAMPLING: f64 = 4294967295;
const TWO32: f64 = 4294967296;

// A data set is at most 65535 bytes (its length is a u16), plus slack so
// the last record's 8-byte reads stay inside the region.
const SET_BYTES: i32 = 65536 + 16;
// One action per kind at most (the compiler keeps the first field of each).
const MAX_OPS: i32 = 64;
const MAX_SAMPLERS: i32 = 16;

// Status of nfDecode.
export const NF_DONE: i32 = 0;        // every whole record of the range decoded
export const NF_BATCH_FULL: i32 = 1;  // the event region is full: JS hands it to the merger, then calls again
export const NF_NEEDS_JS: i32 = 2;    // the record at nfPos() is for the JavaScript decoder

let setBuf: usize = 0;
let opKinds: usize = 0;   // u8 per action
let opOffs: usize = 0;    // u32 per action: offset in the record
let opLens: usize = 0;    // u32 per action: field length
let samplers: usize = 0;  // (f64 id, f64 rate) per sampler of the domain
let nOps: i32 = 0;
let recLen: i32 = 0;
let nSamplers: i32 = 0;

// the set's and domain's values (nfSetContext)
let exportTime: f64 = 0;
let uptime: f64 = -1;
let domSysInit: f64 = -1;
let domDefaultRate: f64 = 0;
let reporter: u32 = 0;
let source: u8 = 0;

let pos: i32 = 0;
let pendingOut: i32 = 0;
let taken: i32 = 0;

const V6_TMP = memory.data(32); // src, dst of the record being decoded

export function nfInit(): bool {
  setBuf = reserve(<usize>SET_BYTES);
  opKinds = reserve(<usize>MAX_OPS);
  opOffs = reserve(<usize>MAX_OPS * 4);
  opLens = reserve(<usize>MAX_OPS * 4);
  samplers = reserve(<usize>MAX_SAMPLERS * 16);
  return setBuf != 0 && opKinds != 0 && opOffs != 0 && opLens != 0 && samplers != 0;
}

export function nfSetRegion(): usize { return setBuf; }
export function nfSetCapacity(): i32 { return SET_BYTES - 16; }
export function nfOpKinds(): usize { return opKinds; }
export function nfOpOffs(): usize { return opOffs; }
export function nfOpLens(): usize { return opLens; }
export function nfSamplers(): usize { return samplers; }
export function nfMaxOps(): i32 { return MAX_OPS; }
export function nfMaxSamplers(): i32 { return MAX_SAMPLERS; }

/**
 * The template's n actions are at nfOpKinds/nfOpOffs/nfOpLens; records are
 * `length` bytes. Returns 0, or -1 when the program is not one this file
 * can run (then nothing is decoded here: JS keeps the template).
 */
export function nfSetProgram(n: i32, length: i32): i32 {
  nOps = 0; recLen = 0;
  if (n < 0 || n > MAX_OPS || length <= 0 || length > SET_BYTES - 16) return -1;
  for (let i = 0; i < n; i++) {
    const k = <u32>load<u8>(opKinds + <usize>i);
    const o = load<i32>(opOffs + <usize>(i * 4)), l = load<i32>(opLens + <usize>(i * 4));
    if (k == 0 || k > K_LAST || k == K_FRAME_SECTION || k == K_IP_SECTION) return -1;
    if (o < 0 || l < 0 || o + l > length) return -1;
    // the widths the template compiler gives each action (kindOf)
    if ((k == K_SRC_V4 || k == K_DST_V4) && l != 4) return -1;
    if ((k == K_SRC_V6 || k == K_DST_V6) && l != 16) return -1;
    if ((k == K_START_NTP || k == K_END_NTP) && l != 8) return -1;
    if (k == K_ICMP_TC && l != 2) return -1;
    if (k == K_SAMPLING_PROB && l != 4 && l != 8) return -1;
    if (l < 1 || l > 16) return -1;
  }
  nOps = n; recLen = length;
  return 0;
}

/** Values of the set (export time s, v9 uptime ms or -1) and its domain; nSamp (id, rate) pairs at nfSamplers. */
export function nfSetContext(exportT: f64, up: f64, sysInitMs: f64, defaultRate: f64, rep: i32, src: i32, nSamp: i32): void {
  exportTime = exportT; uptime = up; domSysInit = sysInitMs; domDefaultRate = defaultRate;
  reporter = <u32>rep; source = <u8>src;
  nSamplers = nSamp < 0 ? 0 : nSamp > MAX_SAMPLERS ? MAX_SAMPLERS : nSamp;
}

export function nfPos(): i32 { return pos; }
export function nfPending(): i32 { return pendingOut; }
export function nfTaken(): i32 { return taken; }

// ------------------------------------------------------ the JS semantics ---

/** Big-endian unsigned of 1…8 bytes as JavaScript's rd/readUint computes it (f64). */
function rd(p: usize, len: u32): f64 {
  if (len == 4) return <f64>be32(p);
  if (len == 8) return <f64>be32(p) * TWO32 + <f64>be32(p + 4);
  if (len == 2) return <f64>be16(p);
  if (len == 1) return <f64>load<u8>(p);
  if (len == 3) return <f64>((be16(p) << 8) | <u32>load<u8>(p + 2));
  if (len >= 5 && len <= 7) {
    let v: f64 = 0;
    for (let i: u32 = 0; i < len; i++) v = v * 256 + <f64>load<u8>(p + <usize>i);
    return v;
  }
  return 0;
}

/** wrapDiff32(a, b) = (a - b) | 0 */
@inline function wrapDiff32(a: f64, b: f64): f64 { return <f64><i32>toU32(a - b); }

/**
 * Decode whole records of set[start, end) into event slots from `pending`.
 * Returns NF_DONE (nfPos() = after the last whole record), NF_BATCH_FULL
 * (ingest the region, call again from nfPos() with pending 0) or
 * NF_NEEDS_JS (JS decodes the record at nfPos(), then calls again after it).
 */
export function nfDecode(start: i32, end: i32, pending: i32): i32 {
  taken = 0;
  pendingOut = pending;
  pos = start;
  if (recLen <= 0 || start < 0 || end < start || end > SET_BYTES - 16 || pending < 0) return NF_NEEDS_JS;
  const cap = eventsCapacity();
  let k = pending;
  let p = start;
  let status = NF_DONE;
  while (end - p >= recLen) {
    if (k >= cap) { status = NF_BATCH_FULL; break; }
    if (!decodeRecord(setBuf + <usize>p, eventSlot(k))) { status = NF_NEEDS_JS; break; }
    k++;
    taken++;
    p += recLen;
  }
  pos = p;
  pendingOut = k;
  return status;
}

/** One record at q into the event at r (as applyOps + finishRecord + encodeFlowEvent); false: JS takes it. */
function decodeRecord(q: usize, r: usize): bool {
  // the record's values (Rec, and the FlowEvent fields applyOps sets)
  let bytes: f64 = -1, pkts: f64 = -1, bytesT: f64 = -1, pktsT: f64 = -1, outBytes: f64 = -1, outPkts: f64 = -1;
  let initBytes: f64 = -1, initPkts: f64 = -1, respBytes: f64 = -1, respPkts: f64 = -1;
  let revBytes: f64 = -1, revPkts: f64 = -1, revBytesT: f64 = -1, revPktsT: f64 = -1;
  let rev = false;
  let firstUp: f64 = -1, lastUp: f64 = -1;
  let startAbs: f64 = -1, endAbs: f64 = -1, startDelta: f64 = -1, endDelta: f64 = -1, sysInit: f64 = -1, durMs: f64 = -1;
  let icmpTC: i32 = -1, icmpType: i32 = -1, icmpCode: i32 = -1;
  let samplingInterval: f64 = 0, rndInterval: f64 = 0, samplerId: f64 = -1, selAlgo: f64 = 0;
  let pktInterval: f64 = 0, pktSpace: f64 = -1, sampSize: f64 = 0, sampPop: f64 = 0, sampProb: f64 = 0;
  let fwd: i32 = -1, fwEvent: f64 = -1;
  let src4: i64 = -1, dst4: i64 = -1;
  let v6: u32 = 0, fam: u32 = 0;
  let srcPort: u32 = 0, dstPort: u32 = 0, proto: u32 = 0, tcpFlags: u32 = 0, revTcpFlags: u32 = 0;
  let direction: u8 = 0;
  let vlan: u32 = 0xffff;

  for (let i = 0; i < nOps; i++) {
    const o = q + <usize>load<u32>(opOffs + <usize>(i << 2));
    const len = load<u32>(opLens + <usize>(i << 2));
    switch (<u32>load<u8>(opKinds + <usize>i)) {
      case K_SRC_V4: src4 = <i64>be32(o); if (fam == 0) fam = 4; break;
      case K_DST_V4: dst4 = <i64>be32(o); if (fam == 0) fam = 4; break;
      case K_SRC_V6: store<u64>(V6_TMP, load<u64>(o)); store<u64>(V6_TMP + 8, load<u64>(o + 8)); v6 |= 1; if (fam == 0) fam = 6; break;
      case K_DST_V6: store<u64>(V6_TMP + 16, load<u64>(o)); store<u64>(V6_TMP + 24, load<u64>(o + 8)); v6 |= 2; if (fam == 0) fam = 6; break;
      case K_SRC_PORT: srcPort = toU32(rd(o, len)) & 0xffff; break;
      case K_DST_PORT: dstPort = toU32(rd(o, len)) & 0xffff; break;
      case K_PROTO: proto = toU32(rd(o, len)) & 0xff; break;
      case K_TCP_FLAGS: tcpFlags = toU32(rd(o, len)) & 0xff; break;
      case K_BYTES: bytes = rd(o, len); break;
      case K_PKTS: pkts = rd(o, len); break;
      case K_BYTES_TOTAL: bytesT = rd(o, len); break;
      case K_PKTS_TOTAL: pktsT = rd(o, len); break;
      case K_OUT_BYTES: outBytes = rd(o, len); break;
      case K_OUT_PKTS: outPkts = rd(o, len); break;
      case K_INIT_BYTES: initBytes = rd(o, len); break;
      case K_INIT_PKTS: initPkts = rd(o, len); break;
      case K_RESP_BYTES: respBytes = rd(o, len); rev = true; break;
      case K_RESP_PKTS: respPkts = rd(o, len); rev = true; break;
      case K_REV_BYTES: revBytes = rd(o, len); rev = true; break;
      case K_REV_PKTS: revPkts = rd(o, len); rev = true; break;
      case K_REV_BYTES_TOTAL: revBytesT = rd(o, len); rev = true; break;
      case K_REV_PKTS_TOTAL: revPktsT = rd(o, len); rev = true; break;
      case K_REV_TCP_FLAGS: revTcpFlags = toU32(rd(o, len)) & 0xff; break;
      case K_FIRST_UPTIME: firstUp = rd(o, len); break;
      case K_LAST_UPTIME: lastUp = rd(o, len); break;
      case K_START_S: startAbs = rd(o, len); break;
      case K_END_S: endAbs = rd(o, len); break;
      case K_START_MS: startAbs = rd(o, len) / 1000; break;
      case K_END_MS: endAbs = rd(o, len) / 1000; break;
      case K_START_NTP: startAbs = <f64>be32(o) - NTP_EPOCH + <f64>be32(o + 4) / TWO32; break;
      case K_END_NTP: endAbs = <f64>be32(o) - NTP_EPOCH + <f64>be32(o + 4) / TWO32; break;
      case K_START_DELTA_US: startDelta = rd(o, len); break;
      case K_END_DELTA_US: endDelta = rd(o, len); break;
      case K_SYS_INIT_MS: sysInit = rd(o, len); break;
      case K_DURATION_MS: durMs = rd(o, len); break;
      case K_DURATION_US: durMs = rd(o, len) / 1000; break;
      case K_ICMP_TC: icmpTC = <i32>be16(o); break;
      case K_ICMP_TYPE: icmpType = <i32>(toU32(rd(o, len)) & 0xff); break;
      case K_ICMP_CODE: icmpCode = <i32>(toU32(rd(o, len)) & 0xff); break;
      case K_DIRECTION: {
        const d = rd(o, len);
        direction = d == 0 ? 1 : d == 1 ? 2 : 0;
        break;
      }
      case K_VLAN: {
        const v = toU32(rd(o, len)) & 0xffff;
        if (v > 0 && v < 4095 && vlan == 0xffff) vlan = v;
        break;
      }
      case K_SAMPLING_INTERVAL: samplingInterval = rd(o, len); break;
      case K_SAMPLER_RANDOM_INTERVAL: rndInterval = rd(o, len); break;
      case K_SAMPLER_ID: samplerId = rd(o, len); break;
      case K_SELECTOR_ALGO: selAlgo = rd(o, len); break;
      case K_PKT_INTERVAL: pktInterval = rd(o, len); break;
      case K_PKT_SPACE: pktSpace = rd(o, len); break;
      case K_SAMPLING_SIZE: sampSize = rd(o, len); break;
      case K_SAMPLING_POPULATION: sampPop = rd(o, len); break;
      case K_SAMPLING_PROB: sampProb = len == 8 ? reinterpret<f64>(bswap<u64>(load<u64>(o))) : <f64>reinterpret<f32>(be32(o)); break;
      case K_FWD_STATUS: fwd = <i32>(toU32(rd(o, len)) & 0xff); break;
      case K_FW_EVENT: fwEvent = rd(o, len); break;
      default: break; // IN_IF, OUT_IF, FRAME_SIZE: only packet sections use them
    }
  }

  // ---- finishRecord ----
  if (fam == 0) return false; // no address: JS counts and reports it
  // sampling: stated by the record, else its sampler's, else the domain's (Rec.statedRate)
  let rate: f64 = 0;
  if (samplingInterval > 0) rate = samplingInterval;
  else if (rndInterval > 0) rate = rndInterval;
  else if (sampPop > 0 && sampSize > 0 && selAlgo != 1) rate = sampPop / sampSize;
  else if (pktInterval > 0 && pktSpace >= 0) rate = (pktInterval + pktSpace) / pktInterval;
  else if (pktInterval > 1) rate = pktInterval;
  else if (sampProb > 0 && sampProb <= 1) rate = 1 / sampProb;
  if (rate == 0 && samplerId >= 0) {
    for (let i = 0; i < nSamplers; i++) {
      const s = samplers + <usize>(i << 4);
      if (load<f64>(s) == samplerId) { rate = load<f64>(s + 8); break; }
    }
  }
  if (rate == 0) rate = domDefaultRate;
  rate = rate >= 1 ? Math.min(jsRound(rate), MAX_SAMPLING) : 1;

  // addresses (pickAddresses): with both families, the one filled in wins
  const has4 = src4 >= 0 || dst4 >= 0;
  const has6 = v6 != 0;
  let use6 = has6;
  if (has4 && has6) {
    const nz4 = src4 > 0 || dst4 > 0;
    const nz6 = ((v6 & 1) != 0 && (load<u64>(V6_TMP) | load<u64>(V6_TMP + 8)) != 0) ||
                ((v6 & 2) != 0 && (load<u64>(V6_TMP + 16) | load<u64>(V6_TMP + 24)) != 0);
    use6 = nz4 == nz6 ? fam == 6 : nz6;
  }

  const pk = pkts >= 0 ? pkts : pktsT >= 0 ? pktsT : initPkts >= 0 ? initPkts : outPkts >= 0 ? outPkts : 0;
  const by = bytes >= 0 ? bytes : bytesT >= 0 ? bytesT : initBytes >= 0 ? initBytes : outBytes >= 0 ? outBytes : 0;
  let rp: f64 = 0, rb: f64 = 0;
  if (rev) {
    rp = (revPkts >= 0 ? revPkts : revPktsT >= 0 ? revPktsT : respPkts >= 0 ? respPkts : 0) * rate;
    rb = (revBytes >= 0 ? revBytes : revBytesT >= 0 ? revBytesT : respBytes >= 0 ? respBytes : 0) * rate;
  }

  if (proto == 1 || proto == 58) {
    if (icmpTC >= 0 && icmpTC != 0) { srcPort = <u32>icmpTC >> 8; dstPort = <u32>icmpTC & 0xff; }
    else if (icmpType >= 0) { srcPort = <u32>icmpType; dstPort = icmpCode >= 0 ? <u32>icmpCode : 0; }
    else if (srcPort == 0 && dstPort != 0) { srcPort = dstPort >> 8; dstPort &= 0xff; }
  }
  if (proto != 6) { tcpFlags = 0; revTcpFlags = 0; }

  let action: u8 = 0;
  if (fwEvent == 3) action = 2;
  else if (fwd >= 0) {
    const st = <u32>fwd >> 6;
    action = st == 2 ? 2 : st == 1 || st == 3 ? 1 : 0;
  }

  // times: absolute, else relative to export, else uptime-relative, else the export time
  let start: f64 = startAbs >= 0 ? startAbs : startDelta >= 0 ? exportTime - startDelta / 1e6 : NaN;
  let end: f64 = endAbs >= 0 ? endAbs : endDelta >= 0 ? exportTime - endDelta / 1e6 : NaN;
  if (isNaN(start) || isNaN(end)) {
    if (uptime >= 0) {
      if (isNaN(start) && firstUp >= 0) start = exportTime - wrapDiff32(uptime, firstUp) / 1000;
      if (isNaN(end) && lastUp >= 0) end = exportTime - wrapDiff32(uptime, lastUp) / 1000;
    } else {
      const init = sysInit > 0 ? sysInit : domSysInit;
      if (init > 0) {
        if (isNaN(start) && firstUp >= 0) start = (init + firstUp) / 1000;
        if (isNaN(end) && lastUp >= 0) end = (init + lastUp) / 1000;
      }
    }
  }
  if (durMs >= 0) {
    if (!isNaN(start) && isNaN(end)) end = start + durMs / 1000;
    else if (!isNaN(end) && isNaN(start)) start = end - durMs / 1000;
  }
  if (isNaN(start)) start = isNaN(end) ? exportTime : end;
  if (isNaN(end)) end = start;
  if (end < start) { const t = start; start = end; end = t; }
  if (!isFinite(start) || !isFinite(end)) return false; // JS rejects it with its reason
  const opk = pk * rate, oby = by * rate;
  if (!(opk <= MAX_COUNT && oby <= MAX_COUNT && rp <= MAX_COUNT && rb <= MAX_COUNT)) return false; // likewise

  // ---- the event (encodeFlowEvent) ----
  beginEvent(r, start, end, source, reporter);
  store<f64>(r + R_ORIG_IP_BYTES, oby);
  store<f64>(r + R_RESP_IP_BYTES, rb);
  store<f64>(r + R_ORIG_PKTS, opk);
  store<f64>(r + R_RESP_PKTS, rp);
  if (use6) {
    if ((v6 & 1) != 0) { store<u64>(r + R_ORIG_H, load<u64>(V6_TMP)); store<u64>(r + R_ORIG_H + 8, load<u64>(V6_TMP + 8)); }
    if ((v6 & 2) != 0) { store<u64>(r + R_RESP_H, load<u64>(V6_TMP + 16)); store<u64>(r + R_RESP_H + 8, load<u64>(V6_TMP + 24)); }
    store<u8>(r + R_IP_VERSION, 6);
  } else {
    store<u32>(r + R_ORIG_H + 8, 0xffff0000);
    store<u32>(r + R_ORIG_H + 12, bswap<u32>(src4 >= 0 ? <u32>src4 : 0));
    store<u32>(r + R_RESP_H + 8, 0xffff0000);
    store<u32>(r + R_RESP_H + 12, bswap<u32>(dst4 >= 0 ? <u32>dst4 : 0));
    store<u8>(r + R_IP_VERSION, 4);
  }
  store<u16>(r + R_ORIG_P, <u16>srcPort);
  store<u16>(r + R_RESP_P, <u16>dstPort);
  store<u8>(r + R_PROTO, <u8>proto);
  store<u16>(r + R_VLAN, <u16>vlan);
  store<u8>(r + R_ACTION, action);
  store<u8>(r + R_DIRECTION, direction);
  store<u32>(r + R_SAMPLING, <u32>rate);
  store<u8>(r + R_ORIG_TCP_FLAGS, <u8>tcpFlags);
  store<u8>(r + R_RESP_TCP_FLAGS, <u8>revTcpFlags);
  store<u8>(r + R_SOURCE_FLAGS, rev ? SF_BIDIR : 0);
  return true;
}
