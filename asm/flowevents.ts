// Flow events → flow records. Flow-record sources (cloud flow logs, NetFlow/
// IPFIX, Zeek conn.log) hand the core one event per source record, in the
// flow record layout (flowrecord.ts) with orig = the record's source. Here
// they become the same flow records the packet path writes:
//
//   * merged: records of one flow — successive aggregation intervals, and
//     the two directions of a unidirectional source (VPC logs, NetFlow) —
//     join into one bidirectional flow while they follow each other within
//     `gap` seconds;
//   * deduplicated: a flow between two monitored interfaces is reported by
//     both (AWS per ENI, GCP by the SRC and the DEST VM). Per direction only
//     the first reporter's records are counted; another reporter's copy
//     widens the time span and is counted as deduplicated;
//   * ordered within a lateness window: a flow is written once the event
//     clock (the latest record end seen, minus `lateness`) has passed its
//     last record by `gap`. Records still arriving after their flow was
//     written are late: written on their own, flagged and counted — never
//     dropped.
//
// Bounded: a fixed table of pending flows; when full the least recently
// updated flow is written early (counted). Allocation-free after init.
import {
  REC_SIZE, R_TS, R_LAST_TS, R_ORIG_BYTES, R_RESP_BYTES, R_ORIG_IP_BYTES, R_RESP_IP_BYTES, R_ORIG_PKTS, R_RESP_PKTS,
  R_SERIAL, R_ORIG_H, R_RESP_H, R_ORIG_P, R_RESP_P, R_PROTO, R_IP_VERSION, R_CONN_STATE, R_FLAGS, R_VLAN,
  R_END_REASON, R_ACTION, R_DIRECTION, R_REPORTER, R_SAMPLING, R_ORIG_TCP_FLAGS, R_RESP_TCP_FLAGS, R_SOURCE_FLAGS,
  R_RECORDS, R_REPORTER_2, R_INNER_VLAN, R_SOURCE, R_ORIG_WIRE_BYTES, R_RESP_WIRE_BYTES, R_MISSED_BYTES, R_ORIG_MAC, R_TUNNEL_TYPE, MAX_COUNT,
  CS_S0, CS_S1, CS_SF, CS_REJ, CS_S2, CS_S3, CS_RSTO, CS_RSTR, CS_SHR, CS_OTH,
  RF_INTERIM, RF_FLIPPED, SF_BIDIR, SF_PAIRED, SF_DEDUPED, SF_LATE, SF_STATED, SF_NO_ICMP_TYPE,
  END_INACTIVE, END_EVICTED, END_FLUSHED, END_ACTIVE_TIMEOUT,
} from "./flowrecord";
import {
  C_EVENTS_IN, C_EVENTS_MERGED, C_EVENTS_DEDUPED, C_EVENTS_LATE, C_EVENT_FLOWS_EVICTED, C_EVENT_FLOWS_ACTIVE,
  E_BAD_EVENT, C_EVENT_FLOWS_PAIRED, C_EVENT_FLOWS,
} from "./counters";
import { count, inputError, setCounter, setRecordOffset } from "./stats";
import { copyWords, reserve, zeroWords } from "./bytes";
import { takeOutputSlot, outputRoom, takeSerial } from "./flows";
import { hashKey, likelyTcpServerPort, likelyUdpServerPort, icmpCounterpart, icmpIsReply } from "./flowkey";
import { interimDue, periodsElapsed } from "./interims";

// A pending flow: the record being built (orig = the first event's source),
// then bookkeeping.
const ENTRY: usize = 256;
const M_HASH: usize = 224;     // u32
const M_NEXT: usize = 228;     // u32 LRU list (by last update)
const M_PREV: usize = 232;     // u32
const M_REP0: usize = 236;     // u32 reporter counted for orig → resp (0: none yet)
const M_REP1: usize = 240;     // u32 reporter counted for resp → orig
const M_INTERIMS: usize = 244; // u32 interim records written
const M_SEEN: usize = 248;     // u8 bit 0: orig → resp seen, bit 1: resp → orig seen
const NIL: u32 = 0xFFFFFFFF;

let slab: usize = 0;
let table: usize = 0;       // u64 slots: entry index + 1 (low word, 0 = empty), key hash (high word)
let capacity: u32 = 0;
let tmask: u32 = 0;
let bump: u32 = 0;
let freeHead: u32 = NIL;
let active: u32 = 0;
let lruHead: u32 = NIL;
let lruTail: u32 = NIL;
let evIn: usize = 0;
let evInCap: i32 = 0;

let maxEnd: f64 = -Infinity;
let lateness: f64 = 600;
let gap: f64 = 120;
let activeTimeout: f64 = 1800;

/** Pending-flow capacity and the event input region (events per batch). */
export function eventsInit(cap: i32, inputEvents: i32): bool {
  let c: u32 = 16;
  while (c < <u32>cap && c < (1 << 22)) c <<= 1;
  if (inputEvents < 1) inputEvents = 1;
  slab = reserve(<usize>c * ENTRY);
  if (slab == 0) return false;
  // Twice the entries in slots, each with its key's hash: probing and
  // backward-shift deletion read only this table (1 MiB at 64 k flows, in
  // cache), never the 256-byte entries of the flows they pass over.
  table = reserve(<usize>c << 4);
  if (table == 0) return false;
  evIn = reserve(<usize>inputEvents * <usize>REC_SIZE);
  if (evIn == 0) return false;
  capacity = c;
  tmask = (c << 1) - 1;
  evInCap = inputEvents;
  bump = 0; freeHead = NIL; active = 0; lruHead = NIL; lruTail = NIL;
  maxEnd = -Infinity;
  return true;
}

/** Seconds: how late records may arrive, the idle gap that ends a flow, interim records for longer flows. */
export function configureEvents(late: f64, idleGap: f64, active_: f64): void {
  lateness = late >= 0 ? late : 0;
  gap = idleGap >= 0 ? idleGap : 0;
  activeTimeout = active_ > 0 ? active_ : Infinity;
}

export function eventsPtr(): usize { return evIn; }
export function eventsCapacity(): i32 { return evInCap; }
/** Address of event slot k of the input region (the AWS line parser and the NetFlow decoder write there). */
@inline export function eventSlot(k: i32): usize { return evIn + <usize>k * <usize>REC_SIZE; }

/**
 * Start the event at r as encodeFlowEvent (sensor/flowlogs/flow-event.ts)
 * starts every source record: zeroed, its times, payload bytes unknown (-1),
 * conn_state OTH, no VLANs, one source record of `source` from `reporter`.
 * The decoders in the core then store what their record says.
 */
@inline export function beginEvent(r: usize, start: f64, end: f64, source: u8, reporter: u32): void {
  zeroWords(r, <usize>REC_SIZE);
  store<f64>(r + R_TS, start);
  store<f64>(r + R_LAST_TS, end);
  store<f64>(r + R_ORIG_BYTES, -1);
  store<f64>(r + R_RESP_BYTES, -1);
  store<u8>(r + R_CONN_STATE, CS_OTH);
  store<u16>(r + R_VLAN, 0xffff);
  store<u16>(r + R_INNER_VLAN, 0xffff);
  store<u8>(r + R_SOURCE, source);
  store<u32>(r + R_REPORTER, reporter);
  store<u32>(r + R_RECORDS, 1);
}

// @ts-ignore: decorator
@inline function ent(i: u32): usize { return slab + (<usize>i) * ENTRY; }

function lruUnlink(i: u32, e: usize): void {
  const p = load<u32>(e + M_PREV), n = load<u32>(e + M_NEXT);
  if (p == NIL) lruHead = n; else store<u32>(ent(p) + M_NEXT, n);
  if (n == NIL) lruTail = p; else store<u32>(ent(n) + M_PREV, p);
}

function lruAppend(i: u32, e: usize): void {
  store<u32>(e + M_PREV, lruTail);
  store<u32>(e + M_NEXT, NIL);
  if (lruTail == NIL) lruHead = i; else store<u32>(ent(lruTail) + M_NEXT, i);
  lruTail = i;
}

/**
 * Hash of an event's key, the same for both directions: the endpoints in
 * canonical order (lower address, then port, first), then flowkey's hashKey
 * as the packet path uses it.
 */
function keyHash(r: usize): u32 {
  const a0 = load<u64>(r + R_ORIG_H), a1 = load<u64>(r + R_ORIG_H + 8);
  const b0 = load<u64>(r + R_RESP_H), b1 = load<u64>(r + R_RESP_H + 8);
  const pa = <u32>load<u16>(r + R_ORIG_P), pb = <u32>load<u16>(r + R_RESP_P);
  const misc = (<u32>load<u8>(r + R_PROTO) << 16) | <u32>load<u16>(r + R_VLAN);
  const aFirst = a0 != b0 ? a0 < b0 : a1 != b1 ? a1 < b1 : pa <= pb;
  return aFirst ? hashKey(a0, a1, b0, b1, pa | (pb << 16), misc, 0) : hashKey(b0, b1, a0, a1, pb | (pa << 16), misc, 0);
}

/** Does entry e hold the flow of event r? Returns 0 (no), 1 (same direction), 2 (reverse). */
function sameFlow(e: usize, r: usize): i32 {
  if (load<u8>(e + R_PROTO) != load<u8>(r + R_PROTO) || load<u16>(e + R_VLAN) != load<u16>(r + R_VLAN)) return 0;
  const eo0 = load<u64>(e + R_ORIG_H), eo1 = load<u64>(e + R_ORIG_H + 8), er0 = load<u64>(e + R_RESP_H), er1 = load<u64>(e + R_RESP_H + 8);
  const ro0 = load<u64>(r + R_ORIG_H), ro1 = load<u64>(r + R_ORIG_H + 8), rr0 = load<u64>(r + R_RESP_H), rr1 = load<u64>(r + R_RESP_H + 8);
  const ep = load<u32>(e + R_ORIG_P), rp = load<u32>(r + R_ORIG_P); // both ports at once (orig low, resp high)
  if (eo0 == ro0 && eo1 == ro1 && er0 == rr0 && er1 == rr1 && ep == rp) return 1;
  if (eo0 == rr0 && eo1 == rr1 && er0 == ro0 && er1 == ro1 && ep == ((rp >> 16) | (rp << 16))) return 2;
  return 0;
}

/** Direction of the last successful lookup: 1 same as the entry, 2 reversed (sameFlow). */
let foundDir: i32 = 0;

function lookup(r: usize, h: u32): u32 {
  let s = h & tmask;
  while (true) {
    const v = load<u64>(table + (<usize>s << 3));
    if (v == 0) return NIL;
    if (<u32>(v >> 32) == h) {
      const i = <u32>v - 1;
      const d = sameFlow(ent(i), r);
      if (d != 0) { foundDir = d; return i; }
    }
    s = (s + 1) & tmask;
  }
}

function tableInsert(i: u32, h: u32): void {
  let s = h & tmask;
  while (load<u64>(table + (<usize>s << 3)) != 0) s = (s + 1) & tmask;
  store<u64>(table + (<usize>s << 3), (<u64>h << 32) | <u64>(i + 1));
}

/** Backward-shift deletion (as flows.ts). */
function tableRemove(i: u32, e: usize): void {
  let s = load<u32>(e + M_HASH) & tmask;
  while (<u32>load<u64>(table + (<usize>s << 3)) != i + 1) s = (s + 1) & tmask;
  let hole = s, j = s;
  while (true) {
    j = (j + 1) & tmask;
    const v = load<u64>(table + (<usize>j << 3));
    if (v == 0) break;
    const home = <u32>(v >> 32) & tmask;
    const stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) { store<u64>(table + (<usize>hole << 3), v); hole = j; }
  }
  store<u64>(table + (<usize>hole << 3), 0);
}

function allocEntry(): u32 {
  if (freeHead != NIL) { const i = freeHead; freeHead = load<u32>(ent(i) + M_NEXT); return i; }
  return bump++;
}

/** Remove entry i from the table and lists, back to the free list. */
function release(i: u32, e: usize): void {
  tableRemove(i, e);
  lruUnlink(i, e);
  store<u32>(e + M_NEXT, freeHead);
  freeHead = i;
  active--;
  setCounter(C_EVENT_FLOWS_ACTIVE, <f64>active);
}

/** Start a pending flow from event r (orig = its source). */
function create(r: usize, h: u32): void {
  if (active >= capacity) {
    const v = lruHead;
    const ve = ent(v);
    emit(ve, END_EVICTED, false);
    count(C_EVENT_FLOWS_EVICTED);
    release(v, ve);
  }
  const i = allocEntry();
  const e = ent(i);
  copyWords(e, r, <usize>REC_SIZE);
  store<f64>(e + R_SERIAL, takeSerial());
  store<u32>(e + M_HASH, h);
  store<u32>(e + M_REP0, load<u32>(r + R_REPORTER));
  const bidir = (load<u8>(r + R_SOURCE_FLAGS) & SF_BIDIR) != 0;
  store<u32>(e + M_REP1, bidir ? load<u32>(r + R_REPORTER) : 0);
  store<u32>(e + M_INTERIMS, 0);
  store<u8>(e + M_SEEN, bidir ? 3 : 1);
  tableInsert(i, h);
  lruAppend(i, e);
  active++;
  setCounter(C_EVENT_FLOWS_ACTIVE, <f64>active);
}

// @ts-ignore: decorator
@inline function addF(p: usize, v: f64): void { store<f64>(p, load<f64>(p) + v); }

/** Payload counts: -1 (unknown) is contagious. */
function addPayload(p: usize, v: f64): void {
  const cur = load<f64>(p);
  store<f64>(p, cur < 0 || v < 0 ? -1 : cur + v);
}

/** Add event r's counts for its direction `from` (0: r's orig is e's orig) into side `to` of e. */
function addSide(e: usize, r: usize, fromResp: bool, toResp: bool): void {
  const pk = fromResp ? R_RESP_PKTS : R_ORIG_PKTS;
  const ib = fromResp ? R_RESP_IP_BYTES : R_ORIG_IP_BYTES;
  const pb = fromResp ? R_RESP_BYTES : R_ORIG_BYTES;
  const fl = fromResp ? R_RESP_TCP_FLAGS : R_ORIG_TCP_FLAGS;
  addF(e + (toResp ? R_RESP_PKTS : R_ORIG_PKTS), load<f64>(r + pk));
  addF(e + (toResp ? R_RESP_IP_BYTES : R_ORIG_IP_BYTES), load<f64>(r + ib));
  addPayload(e + (toResp ? R_RESP_BYTES : R_ORIG_BYTES), load<f64>(r + pb));
  const tf = e + (toResp ? R_RESP_TCP_FLAGS : R_ORIG_TCP_FLAGS);
  store<u8>(tf, load<u8>(tf) | load<u8>(r + fl));
}

/** Merge event r into pending flow e; `rev`: r's orig is e's responder. */
function merge(e: usize, r: usize, rev: bool): void {
  const rep = load<u32>(r + R_REPORTER);
  const bidir = (load<u8>(r + R_SOURCE_FLAGS) & SF_BIDIR) != 0;
  let counted = false, deduped = false;
  // r's orig → resp direction lands on e's side `rev`; its reverse (bidir) on the other.
  const parts = bidir ? 2 : 1;
  for (let part = 0; part < parts; part++) {
    const toResp = (part == 1) != rev; // part 0: r's orig → resp lands on e's orig side unless reversed
    const repSlot = e + (toResp ? M_REP1 : M_REP0);
    const have = load<u32>(repSlot);
    if (have == 0 || have == rep) {
      if (have == 0) store<u32>(repSlot, rep);
      addSide(e, r, part == 1, toResp);
      store<u8>(e + M_SEEN, load<u8>(e + M_SEEN) | (toResp ? 2 : 1));
      counted = true;
    } else {
      deduped = true;
      if (load<u32>(e + R_REPORTER_2) == 0) store<u32>(e + R_REPORTER_2, rep);
    }
  }
  if (deduped) {
    count(C_EVENTS_DEDUPED);
    store<u8>(e + R_SOURCE_FLAGS, load<u8>(e + R_SOURCE_FLAGS) | SF_DEDUPED);
  }
  if (counted) {
    count(C_EVENTS_MERGED);
    store<u32>(e + R_RECORDS, load<u32>(e + R_RECORDS) + 1);
    if (rep != load<u32>(e + R_REPORTER) && load<u32>(e + R_REPORTER_2) == 0) store<u32>(e + R_REPORTER_2, rep);
  }
  // Time span, action, sampling and stated state from every copy.
  const ts = load<f64>(r + R_TS), last = load<f64>(r + R_LAST_TS);
  if (ts < load<f64>(e + R_TS)) store<f64>(e + R_TS, ts);
  if (last > load<f64>(e + R_LAST_TS)) store<f64>(e + R_LAST_TS, last);
  const act = load<u8>(r + R_ACTION);
  if (act == 2 || load<u8>(e + R_ACTION) == 0) store<u8>(e + R_ACTION, act); // a reject anywhere is kept
  if (load<u8>(e + R_DIRECTION) == 0) store<u8>(e + R_DIRECTION, load<u8>(r + R_DIRECTION));
  if (load<u32>(r + R_SAMPLING) > load<u32>(e + R_SAMPLING)) store<u32>(e + R_SAMPLING, load<u32>(r + R_SAMPLING));
  if ((load<u8>(r + R_SOURCE_FLAGS) & SF_STATED) != 0 && counted) {
    store<u8>(e + R_CONN_STATE, load<u8>(r + R_CONN_STATE));
    store<u8>(e + R_SOURCE_FLAGS, load<u8>(e + R_SOURCE_FLAGS) | SF_STATED);
  }
}

/**
 * Which side opened the flow, for sources that do not say (unidirectional
 * records): a side whose TCP flags show a SYN without ACK (AWS reports the
 * server's as SYN-ACK), else the side NOT on a likely server port.
 */
function shouldFlip(e: usize): bool {
  if ((load<u8>(e + R_SOURCE_FLAGS) & (SF_BIDIR | SF_STATED)) != 0) return false;
  const proto = <u32>load<u8>(e + R_PROTO);
  if (proto == 1 || proto == 58) {
    // without a type (AWS, Azure, GCP) nothing tells the sides apart: the first record's source opened it
    if ((load<u8>(e + R_SOURCE_FLAGS) & SF_NO_ICMP_TYPE) != 0) return false;
    return icmpIsReply(<u32>load<u16>(e + R_ORIG_P), proto == 58);
  }
  if (proto == 6) {
    const ofl = <u32>load<u8>(e + R_ORIG_TCP_FLAGS), rfl = <u32>load<u8>(e + R_RESP_TCP_FLAGS);
    const oOpen = (ofl & 0x12) == 0x02, rOpen = (rfl & 0x12) == 0x02;
    if (oOpen != rOpen) return rOpen;
  }
  if (proto != 6 && proto != 17) return false;
  const op = <u32>load<u16>(e + R_ORIG_P), rp = <u32>load<u16>(e + R_RESP_P);
  const os = proto == 6 ? likelyTcpServerPort(op) : likelyUdpServerPort(op);
  const rs = proto == 6 ? likelyTcpServerPort(rp) : likelyUdpServerPort(rp);
  if (os != rs) return os;
  // neither or both well known: the lower, privileged port is the server's
  return op < 1024 && rp >= 1024;
}

function swapF(a: usize, b: usize): void { const t = load<f64>(a); store<f64>(a, load<f64>(b)); store<f64>(b, t); }
function swap64(a: usize, b: usize): void { const t = load<u64>(a); store<u64>(a, load<u64>(b)); store<u64>(b, t); }

/** conn_state from what a flow record can know: TCP flags per direction and which directions carried packets. */
function derivedState(r: usize): u8 {
  const proto = <u32>load<u8>(r + R_PROTO);
  const oa = load<f64>(r + R_ORIG_PKTS) > 0, ra = load<f64>(r + R_RESP_PKTS) > 0;
  if (proto == 6) {
    const ofl = <u32>load<u8>(r + R_ORIG_TCP_FLAGS), rfl = <u32>load<u8>(r + R_RESP_TCP_FLAGS);
    if ((ofl | rfl) == 0 || (ofl & 0x02) == 0) return CS_OTH; // no flags, or no opening SYN seen
    if (!ra || rfl == 0) return CS_S0;
    if ((rfl & 0x02) == 0) return (rfl & 0x04) != 0 ? CS_REJ : CS_OTH;
    // established (the responder's SYN answered)
    if ((ofl & 0x04) != 0) return CS_RSTO;
    if ((rfl & 0x04) != 0) return CS_RSTR;
    const ofin = (ofl & 0x01) != 0, rfin = (rfl & 0x01) != 0;
    if (ofin && rfin) return CS_SF;
    if (ofin) return CS_S2;
    if (rfin) return CS_S3;
    return CS_S1;
  }
  if (proto == 17) {
    if (oa) return ra ? CS_SF : CS_S0;
    return ra ? CS_SHR : CS_OTH;
  }
  return CS_OTH;
}

/** Write pending flow e to the output (caller checked room). */
function emit(e: usize, reason: u8, interim: bool): void {
  const o = takeOutputSlot();
  if (o == 0) return;
  copyWords(o, e, <usize>REC_SIZE);
  finish(o, load<u8>(e + M_SEEN) == 3, reason, interim);
}

/** Fields decided when a record is written: originator, pairing, conn_state, flags. */
function finish(o: usize, bothSeen: bool, reason: u8, interim: bool): void {
  count(C_EVENT_FLOWS);
  // each event's counts are at most MAX_COUNT; their sums saturate there
  for (let f = R_ORIG_BYTES; f <= R_RESP_PKTS; f += 8) {
    if (load<f64>(o + <usize>f) > MAX_COUNT) store<f64>(o + <usize>f, MAX_COUNT);
  }
  let rfl: u8 = interim ? RF_INTERIM : 0;
  if (shouldFlip(o)) {
    swap64(o + R_ORIG_H, o + R_RESP_H); swap64(o + R_ORIG_H + 8, o + R_RESP_H + 8);
    const p = load<u16>(o + R_ORIG_P); store<u16>(o + R_ORIG_P, load<u16>(o + R_RESP_P)); store<u16>(o + R_RESP_P, p);
    swapF(o + R_ORIG_PKTS, o + R_RESP_PKTS); swapF(o + R_ORIG_IP_BYTES, o + R_RESP_IP_BYTES); swapF(o + R_ORIG_BYTES, o + R_RESP_BYTES);
    const f = load<u8>(o + R_ORIG_TCP_FLAGS); store<u8>(o + R_ORIG_TCP_FLAGS, load<u8>(o + R_RESP_TCP_FLAGS)); store<u8>(o + R_RESP_TCP_FLAGS, f);
    rfl |= RF_FLIPPED;
  }
  let sf = load<u8>(o + R_SOURCE_FLAGS);
  if (bothSeen && (sf & SF_BIDIR) == 0) { sf |= SF_PAIRED; count(C_EVENT_FLOWS_PAIRED); }
  store<u8>(o + R_SOURCE_FLAGS, sf);
  if ((sf & SF_STATED) == 0) store<u8>(o + R_CONN_STATE, derivedState(o));
  store<u8>(o + R_FLAGS, rfl);
  store<u8>(o + R_END_REASON, reason);
  // Fields only packets have: zero (the JSON leaves the wire bytes out for flow sources).
  store<f64>(o + R_ORIG_WIRE_BYTES, 0); store<f64>(o + R_RESP_WIRE_BYTES, 0); store<f64>(o + R_MISSED_BYTES, 0);
}

/** Pending flows whose last record is `gap` behind the event clock are written. False: output full. */
function sweep(): bool {
  const w = maxEnd - lateness;
  while (lruHead != NIL) {
    const i = lruHead;
    const e = ent(i);
    if (load<f64>(e + R_LAST_TS) + gap >= w) break;
    if (outputRoom() < 1) return false;
    emit(e, END_INACTIVE, false);
    release(i, e);
  }
  return true;
}

/** Is the event sane? (The JS encoders validate too; this keeps the core safe from any caller.) */
function valid(r: usize): bool {
  const v = load<u8>(r + R_IP_VERSION);
  if (v != 4 && v != 6) return false;
  const ts = load<f64>(r + R_TS), last = load<f64>(r + R_LAST_TS);
  if (!(ts == ts) || !(last == last) || !isFinite(ts) || !isFinite(last) || last < ts) return false;
  const a = load<f64>(r + R_ORIG_PKTS), b = load<f64>(r + R_RESP_PKTS), c = load<f64>(r + R_ORIG_IP_BYTES), d = load<f64>(r + R_RESP_IP_BYTES);
  if (!(a >= 0 && a <= MAX_COUNT) || !(b >= 0 && b <= MAX_COUNT) || !(c >= 0 && c <= MAX_COUNT) || !(d >= 0 && d <= MAX_COUNT)) return false;
  return true;
}

/**
 * Merge events [start, start + n) of the event region. Returns how many were
 * taken; fewer than n when the output region filled (drain it and call again
 * with the rest).
 */
export function ingestEvents(start: i32, n: i32): i32 {
  if (capacity == 0 || start < 0 || n < 0 || start + n > evInCap) return 0;
  for (let k = 0; k < n; k++) {
    // the most this event can write: a gap-ended flow, an eviction, a late record, an interim
    if (outputRoom() < 4) return k;
    const r = evIn + <usize>(start + k) * <usize>REC_SIZE;
    count(C_EVENTS_IN);
    if (!valid(r)) { setRecordOffset(<f64>(start + k)); inputError(E_BAD_EVENT); continue; }
    // fields the core owns
    store<u8>(r + R_FLAGS, 0);
    store<u8>(r + R_SOURCE_FLAGS, load<u8>(r + R_SOURCE_FLAGS) & (SF_BIDIR | SF_STATED | SF_NO_ICMP_TYPE));
    store<u32>(r + R_REPORTER_2, 0);
    if (load<u32>(r + R_RECORDS) == 0) store<u32>(r + R_RECORDS, 1);
    store<u8>(r + R_TUNNEL_TYPE, 0);
    store<u64>(r + R_ORIG_MAC, 0); store<u32>(r + R_ORIG_MAC + 8, 0); // both MACs
    // ICMP as the packet path keys it (Zeek, Community ID): "ports" are the
    // type and its counterpart type, so a request and its reply are one flow.
    const proto = <u32>load<u8>(r + R_PROTO);
    if ((proto == 1 || proto == 58) && (load<u8>(r + R_SOURCE_FLAGS) & SF_NO_ICMP_TYPE) == 0) {
      const cp = icmpCounterpart(<u32>load<u16>(r + R_ORIG_P), proto == 58);
      if (cp >= 0) store<u16>(r + R_RESP_P, <u16>cp);
    }
    const ts = load<f64>(r + R_TS), last = load<f64>(r + R_LAST_TS);
    const h = keyHash(r);
    let i = lookup(r, h);
    if (i != NIL) {
      const e = ent(i);
      if (ts > load<f64>(e + R_LAST_TS) + gap) {
        // the same 5-tuple again after an idle gap: a new flow
        emit(e, END_INACTIVE, false);
        release(i, e);
        i = NIL;
      } else {
        merge(e, r, foundDir == 2);
        if (i != lruTail) { lruUnlink(i, e); lruAppend(i, e); }
        interimCheck(e);
      }
    }
    if (i == NIL) {
      if (last + gap < maxEnd - lateness) {
        // its flow would already have been written: on its own, flagged
        store<f64>(r + R_SERIAL, takeSerial());
        store<u8>(r + R_SOURCE_FLAGS, load<u8>(r + R_SOURCE_FLAGS) | SF_LATE);
        const o = takeOutputSlot();
        if (o != 0) { copyWords(o, r, <usize>REC_SIZE); finish(o, false, END_INACTIVE, false); }
        count(C_EVENTS_LATE);
      } else {
        create(r, h);
      }
    }
    if (last > maxEnd) maxEnd = last;
    if (!sweep()) return k + 1;
  }
  return n;
}

/** Long flows write an interim record every activeTimeout seconds of their span (as the packet path). */
function interimCheck(e: usize): void {
  const k = load<u32>(e + M_INTERIMS);
  const first = load<f64>(e + R_TS);
  const last = load<f64>(e + R_LAST_TS);
  if (!interimDue(first, last, activeTimeout, k)) return;
  emit(e, END_ACTIVE_TIMEOUT, true);
  store<u32>(e + M_INTERIMS, periodsElapsed(first, last, activeTimeout, k));
}

/** End of input: write every pending flow. False when the output filled first (drain, call again). */
export function eventsFlush(): bool {
  while (lruHead != NIL) {
    if (outputRoom() < 1) return false;
    const i = lruHead;
    const e = ent(i);
    emit(e, END_FLUSHED, false);
    release(i, e);
  }
  return true;
}

/**
 * Live operation: move the event clock to `now` (wall time) when no newer
 * records arrive, so quiet flows are still written. Never moves it back.
 * False when the output filled (drain, call again).
 */
export function advanceEventClock(now: f64): bool {
  if (capacity == 0) return true;
  if (now > maxEnd) maxEnd = now;
  return sweep();
}

/** The newest record end seen (or set by advanceEventClock); -Infinity before any. */
export function eventClock(): f64 { return maxEnd; }

/** Pending flows (for status). */
export function eventFlowsPending(): i32 { return <i32>active; }
