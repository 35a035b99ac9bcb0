// Bidirectional flow table with Zeek conn.log semantics.
//
// Storage (all allocated once in flowsInit(), never after):
//   slab    capacity x ENTRY_SIZE (256 B, 64-byte aligned: 4 cache lines)
//           entries, plus a parallel `cold` array of 40 B per entry (serial,
//           first time, interface, inner VLAN, MACs: touched only at creation
//           and when the record is written); layout in flowentry.ts.
//           Entries are handed out by a bump index, then recycled through a
//           free list (E_NEXT), so init does not touch the whole slab.
//   table   2 x capacity u32 slots, open addressing with linear probing, no
//           tombstones (deletion by backward shift). A slot holds
//           (hash & ~idxMask) | (entry index + 1): the upper hash bits act as a
//           tag, so a probe touches an entry only when the tag matches.
//           Load factor <= 0.5.
//   output  outputRecords x REC_SIZE records (flowrecord.ts), drained by JS.
//   Memory per flow: 256 B entry + 40 B cold + 8 B table = 304 B.
//
// Per packet (accountPacket): build the canonical key in locals, one hash,
// a short probe, then counters / Zeek TCP state (tcpstate.ts) / history
// (history.ts) on the one entry. No allocation, no strings.
//
// Roles (who is the originator), as Zeek decides them:
//   * the sender of the first packet, except
//   * TCP first packet without SYN, or SYN-ACK: flipped when its source port
//     is a likely server port and its destination port is not (if both are,
//     flipped only for a non-SYN packet whose source port is the lower one):
//     TCPAnalyzer::WantConnection. Zeek deliberately does NOT flip every
//     SYN-ACK (stealth SYN-ACK scans), and neither do we by default;
//     setFlipSynAck(true) flips every first-packet SYN-ACK instead;
//   * TCP SYN from the responder after an originator SYN-ACK (the two were
//     captured in reverse order): flipped mid-connection (UpdateInactiveState);
//   * UDP: flipped when the source port is a likely server port and the
//     destination port is not (UDPAnalyzer::WantConnection);
//   * ICMP / other: never flipped.
//   Flips add '^' to the history and set RF_FLIPPED. likely_server_ports is
//   the default set of Zeek's base scripts (flowkey.ts).
//
// Expiry on the capture clock, O(1) per flow. The clock is the latest packet
// time seen (flowsReady/accountPacket advance it, never backwards); expiry
// compares clock times only (E_START, E_TOUCH), while records carry the
// packets' own timestamps. Seven intrusive doubly-linked lists, each entry on
// exactly one:
//   L_TCP, L_UDP, L_ICMP, L_OTHER   inactivity (tcp 300 s, udp 60 s, icmp 60 s,
//                                   unknown_ip 60 s). Ordered by last activity
//                                   *lazily*: a packet only updates E_TOUCH;
//                                   when a head comes due, the sweep re-files it
//                                   at the tail if it has been active since.
//                                   This avoids relinking (3 cache lines) per
//                                   packet; each flow is re-filed at most once
//                                   per timeout period.
//   L_DNS                           UDP flows whose responder port is a DNS
//                                   port (53, 137, 5353, 5355): Zeek's DNS
//                                   analyzer removes them when a check every
//                                   dns_session_timeout (10 s) since the start
//                                   finds them idle for >= 9 s.
//   L_ATTEMPT                       TCP originator SYN unanswered: removed
//                                   tcp_attempt_delay (5 s) after the first SYN
//                                   (Zeek's AttemptTimer), state S0.
//   L_CLOSED                        TCP closed: FIN both ways, RST, or a FIN
//                                   with a silent peer (Zeek's close_complete),
//                                   removed tcp_close_delay (5 s) after the last
//                                   activity before the close. Also a RST after
//                                   a FIN (Zeek's reset timer / ExpireTimer).
//   Lookups check the found entry's real deadline, so a packet arriving after
//   a flow's timeout always starts a new flow, however late the sweep runs.
//   The attempt and reset delays use the configured close delay (Zeek's
//   defaults for all three are 5 s).
//
// Active timeout: a flow older than activeTimeout (default 1800 s) emits an
// interim record (RF_INTERIM, END_ACTIVE_TIMEOUT, counts cumulative since its
// start, same serial) with its first packet at or after start + k x
// activeTimeout (k = 1, 2, ...); checked per packet.
//
// Port reuse (Zeek's IsReuse): a SYN without ACK on a TCP flow that has closed
// on either side, or whose sequence number differs from the flow's initial
// one, ends the old flow (END_REUSED) and starts a new one.
//
// Table pressure: when the table is full, a flow is evicted (END_EVICTED):
// the head of L_CLOSED if any (its record is already final), otherwise the
// least recently active among the list heads. An insertion whose probe
// sequence exceeds MAX_PROBE also evicts the least recently active entry of
// that cluster. At most 2 records are written per accountPacket() call.
//
// Not implemented (see tcpstate.ts): content gaps ('G') and missed_bytes
// (always 0), bad checksums ('C'), Zeek's partial-close timer, the 'X'
// (analyzer) history letter. Non-first fragments of a TCP segment are counted
// (pkts, bytes) but do not run the TCP state machine.
import {
  pkt_ts, pkt_wire_len, pkt_interface, pkt_ip_version, pkt_proto, pkt_sport, pkt_dport, pkt_has_ports,
  pkt_ip_len, pkt_payload_len, pkt_tcp_flags, pkt_tcp_seq, pkt_tcp_ack, pkt_tcp_window,
  pkt_vlan, pkt_inner_vlan, pkt_tunnel_type, pkt_tunnel_id, pkt_has_mac, pkt_is_later_fragment, pkt_source, pkt_sampling,
  pkt_extra_pkts, pkt_extra_ip_bytes, pkt_extra_wire_bytes, pkt_extra_payload, pkt_payload_at, pkt_payload_cap,
  pkt_src, pkt_dst, pkt_src_mac, pkt_dst_mac,
} from "./packet";
import { count, setCounter } from "./stats";
import { learnOutputCleared } from "./learn/learner";
import { logConn, logDns, logReady, logRoom } from "./learn/learn-log";
import {
  C_FLOWS_CREATED, C_FLOWS_EXPIRED, C_FLOWS_CLOSED, C_FLOWS_EVICTED, C_FLOWS_FLUSHED, C_INTERIM_RECORDS,
  C_FLOW_RECORDS, C_FLOWS_ACTIVE, C_FLOWS_REUSED, C_FLOW_RECORDS_DROPPED, C_FLOWS_FLIPPED, C_FLOW_LONG_PROBES,
} from "./counters";
import {
  REC_SIZE, R_TS, R_LAST_TS, R_ORIG_BYTES, R_RESP_BYTES, R_ORIG_IP_BYTES, R_RESP_IP_BYTES, R_ORIG_WIRE_BYTES,
  R_RESP_WIRE_BYTES, R_ORIG_PKTS, R_RESP_PKTS, R_SERIAL, R_MISSED_BYTES, R_ORIG_H, R_RESP_H, R_ORIG_P, R_RESP_P,
  R_PROTO, R_IP_VERSION, R_CONN_STATE, R_FLAGS, R_VLAN, R_INNER_VLAN, R_TUNNEL_ID, R_TUNNEL_TYPE, R_HISTORY_LEN,
  R_ORIG_MAC, R_RESP_MAC, R_HISTORY, R_INTERFACE, R_END_REASON, R_SOURCE, R_SAMPLING, R_REPORTER,
  CS_SF, CS_S0, CS_SHR, CS_OTH, RF_INTERIM, RF_HAS_MAC, RF_FLIPPED,
  END_INACTIVE, END_CLOSED, END_EVICTED, END_FLUSHED, END_ACTIVE_TIMEOUT, END_REUSED,
} from "./flowrecord";
import {
  ENTRY_SIZE, ENTRY_SHIFT, COLD_SIZE, C_SERIAL, C_FIRST_TS, C_IFACE, C_INNER_VLAN, C_MAC_A, C_MAC_B, C_SOURCE, C_SAMPLING, E_ADDR_A, E_ADDR_B, E_PORT_A, E_PORT_B, E_PORTS, E_MISC, E_VLAN, E_PROTO, E_TUNB, E_TUNID, E_HASH,
  E_PREV, E_NEXT, E_DEADLINE, E_LAST_TS, E_START, E_TOUCH, E_LIST, E_HIST_LEN,
  E_FLAGS, E_IPVER, E_KIND, E_HISTORY, E_INTERIMS, E_SIDE_A, SIDE_SIZE,
  S_PKTS, S_IP_BYTES, S_WIRE_BYTES, S_PAYLOAD,
  KB_NO_PORTS, KB_ONE_WAY, F_ORIG_B, F_FLIPPED, F_HAS_MAC, F_CLOSE_SCHED, F_ATTEMPT,
  K_TCP, K_UDP, K_ICMP, K_OTHER, L_UDP, L_DNS, L_ATTEMPT, L_CLOSED, L_TCP, NUM_LISTS, L_NONE, NIL,
} from "./flowentry";
import { icmpCounterpart, hashKey, initLikelyServerPorts, likelyTcpServerPort, likelyUdpServerPort } from "./flowkey";
import { addHistory, checkHistoryRaw, HIST_ORIG_DATA_PKT, HIST_RESP_DATA_PKT } from "./history";
import { tcpPacket, tcpIsReuse, tcpSize, tcpConnState, tcpIsAttempt, tcpResetAfterClose, ACT_FLIP, ACT_ARM_ATTEMPT, ACT_CLOSE } from "./tcpstate";
import { interimDue, periodsElapsed } from "./interims";
import { zeroWords } from "./bytes";

/** Output slots flowsReady() keeps free for the next accountPacket() (which writes at most 2). */
const RESERVE: i32 = 4;
/** Probe length beyond which an insertion evicts from its cluster. */
const MAX_PROBE: u32 = 64;
/** Largest table: the slab must fit one stub-runtime block (< 1 GiB): 2^21 x 256 B = 512 MiB. */
const MAX_CAPACITY: u32 = 1 << 21;
const MIN_OUTPUT: i32 = 8;

// Zeek defaults (scripts/base/init-bare.zeek).
const DEF_TCP: f64 = 300;      // tcp_inactivity_timeout
const DEF_UDP: f64 = 60;       // udp_inactivity_timeout
const DEF_ICMP: f64 = 60;      // icmp_inactivity_timeout
const DEF_OTHER: f64 = 60;     // unknown_ip_inactivity_timeout
const DEF_CLOSE: f64 = 5;      // tcp_close_delay (= tcp_attempt_delay = tcp_reset_delay)
const DEF_ACTIVE: f64 = 1800;  // active timeout for interim records (not a Zeek setting)
const DNS_SESSION_TIMEOUT: f64 = 10; // dns_session_timeout (fixed)

// ---- state ----
let slab: usize = 0;
let cold: usize = 0;
let capacity: u32 = 0;
let slabCapacity: u32 = 0;   // allocated entries (>= capacity on re-init)
let table: usize = 0;
let tmask: u32 = 0;          // table slots - 1
let idxMask: u32 = 0;        // low bits of a slot: entry index + 1
let bump: u32 = 0;           // entries never used yet start here
let freeHead: u32 = NIL;
let active: u32 = 0;

let outBase: usize = 0;
let outCap: i32 = 0;
let outAlloc: i32 = 0;
let outCount: i32 = 0;

let clock: f64 = -Infinity;  // capture clock: the latest time seen, never backwards
let nextSweep: f64 = Infinity;
let serialNext: f64 = 1;

let tClose: f64 = DEF_CLOSE;
let flipSynAck = false;
let tActive: f64 = DEF_ACTIVE;
/** Inactivity timeout per lazy list (L_TCP .. L_OTHER; L_DNS uses L_UDP's as a cap), f64 each. */
const TIMEOUTS: usize = memory.data(40, 8);
/** Per list: head u32, tail u32. */
const LISTS: usize = memory.data(<i32>NUM_LISTS * 8, 8);

// ---- small helpers ----

// @ts-ignore: decorator
@inline function ent(i: u32): usize { return slab + (<usize>i << ENTRY_SHIFT); }

/** The cold part of the entry at address e. */
// @ts-ignore: decorator
@inline function coldOf(e: usize): usize { return cold + ((e - slab) >> ENTRY_SHIFT) * COLD_SIZE; }

// @ts-ignore: decorator
@inline function timeoutOf(list: u32): f64 { return load<f64>(TIMEOUTS + (<usize>list << 3)); }

/** When an entry on lazy list l really expires: last activity + timeout. */
// @ts-ignore: decorator
@inline function lazyDeadline(e: usize, l: u32): f64 {
  const last = load<f64>(e + E_TOUCH);
  if (l != <u32>L_DNS) return last + timeoutOf(l);
  // DNS_Analyzer::ExpireTimer: checks at first + 10 k (k >= 1), removes once idle >= 9 s.
  const first = load<f64>(e + E_START);
  let k = Math.ceil((last + (DNS_SESSION_TIMEOUT - 1) - first) / DNS_SESSION_TIMEOUT);
  if (k < 1) k = 1;
  return min(first + DNS_SESSION_TIMEOUT * k, last + timeoutOf(L_UDP));
}

/** The time at which an entry really expires. */
// @ts-ignore: decorator
@inline function realDeadline(e: usize): f64 {
  const l = <u32>load<u8>(e + E_LIST);
  return l < <u32>L_ATTEMPT ? lazyDeadline(e, l) : load<f64>(e + E_DEADLINE);
}

/** Ports Zeek's DNS analyzer is registered for (DNS::ports, UDP). */
// @ts-ignore: decorator
@inline function isDnsPort(p: u32): bool { return p == 53 || p == 137 || p == 5353 || p == 5355; }

// @ts-ignore: decorator
@inline function sideOf(e: usize, side: u32): usize { return e + E_SIDE_A + <usize>side * SIDE_SIZE; }

// @ts-ignore: decorator
@inline function origSide(e: usize): u32 { return <u32>(load<u8>(e + E_FLAGS) & F_ORIG_B); }

function listAppend(l: u32, i: u32, e: usize, deadline: f64): void {
  store<f64>(e + E_DEADLINE, deadline);
  store<u8>(e + E_LIST, <u8>l);
  const lp = LISTS + (<usize>l << 3);
  const tail = load<u32>(lp + 4);
  store<u32>(e + E_PREV, tail);
  store<u32>(e + E_NEXT, NIL);
  if (tail == NIL) store<u32>(lp, i);
  else store<u32>(ent(tail) + E_NEXT, i);
  store<u32>(lp + 4, i);
  if (deadline < nextSweep) nextSweep = deadline;
}

function listUnlink(e: usize): void {
  const l = <u32>load<u8>(e + E_LIST);
  if (l == <u32>L_NONE) return;
  const lp = LISTS + (<usize>l << 3);
  const prev = load<u32>(e + E_PREV);
  const next = load<u32>(e + E_NEXT);
  if (prev == NIL) store<u32>(lp, next);
  else store<u32>(ent(prev) + E_NEXT, next);
  if (next == NIL) store<u32>(lp + 4, prev);
  else store<u32>(ent(next) + E_PREV, prev);
  store<u8>(e + E_LIST, L_NONE);
}

// @ts-ignore: decorator
@inline function listMove(l: u32, i: u32, e: usize, deadline: f64): void {
  listUnlink(e);
  listAppend(l, i, e, deadline);
}

/** Remove entry i from the hash table (backward-shift deletion). */
function tableRemove(i: u32, e: usize): void {
  const want = i + 1;
  let s = load<u32>(e + E_HASH) & tmask;
  while ((load<u32>(table + (<usize>s << 2)) & idxMask) != want) s = (s + 1) & tmask;
  let hole = s;
  let j = s;
  while (true) {
    j = (j + 1) & tmask;
    const v = load<u32>(table + (<usize>j << 2));
    if (v == 0) break;
    const home = load<u32>(ent((v & idxMask) - 1) + E_HASH) & tmask;
    // Move v into the hole unless its home lies cyclically in (hole, j].
    const stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) {
      store<u32>(table + (<usize>hole << 2), v);
      hole = j;
    }
  }
  store<u32>(table + (<usize>hole << 2), 0);
}

/** Unlink, unhash and free entry i. */
function removeEntry(i: u32, e: usize): void {
  listUnlink(e);
  tableRemove(i, e);
  store<u32>(e + E_NEXT, freeHead);
  freeHead = i;
  active--;
  setCounter(C_FLOWS_ACTIVE, <f64>active);
}

// ---- records ----

// @ts-ignore: decorator
@inline function copy16(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst + 8, load<u64>(src + 8));
}

// @ts-ignore: decorator
@inline function copyMac(dst: usize, src: usize): void {
  store<u32>(dst, load<u32>(src));
  store<u16>(dst + 4, load<u16>(src + 4));
}

function connState(e: usize, O: usize, R: usize): u8 {
  const kind = load<u8>(e + E_KIND);
  if (kind == K_TCP) return tcpConnState(e, O, R);
  if (kind == K_UDP) {
    const oa = load<u64>(O + S_PKTS) != 0;
    const ra = load<u64>(R + S_PKTS) != 0;
    if (oa) return ra ? CS_SF : CS_S0;
    return ra ? CS_SHR : CS_OTH;
  }
  return CS_OTH;
}

function writeRecord(e: usize, reason: u8, interim: bool): void {
  if (outCount >= outCap) { count(C_FLOW_RECORDS_DROPPED); return; }
  const r = outBase + <usize>outCount * <usize>REC_SIZE;
  outCount++;
  count(C_FLOW_RECORDS);

  const fl = load<u8>(e + E_FLAGS);
  const os = <u32>(fl & F_ORIG_B);
  const O = sideOf(e, os);
  const R = sideOf(e, os ^ 1);
  const kind = load<u8>(e + E_KIND);

  const k = coldOf(e);
  store<f64>(r + R_TS, load<f64>(k + C_FIRST_TS));
  store<f64>(r + R_LAST_TS, load<f64>(e + E_LAST_TS));
  if (kind == K_TCP) {
    store<f64>(r + R_ORIG_BYTES, <f64>tcpSize(O, R));
    store<f64>(r + R_RESP_BYTES, <f64>tcpSize(R, O));
  } else {
    store<f64>(r + R_ORIG_BYTES, <f64>load<u64>(O + S_PAYLOAD));
    store<f64>(r + R_RESP_BYTES, <f64>load<u64>(R + S_PAYLOAD));
  }
  store<f64>(r + R_ORIG_IP_BYTES, <f64>load<u64>(O + S_IP_BYTES));
  store<f64>(r + R_RESP_IP_BYTES, <f64>load<u64>(R + S_IP_BYTES));
  store<f64>(r + R_ORIG_WIRE_BYTES, <f64>load<u64>(O + S_WIRE_BYTES));
  store<f64>(r + R_RESP_WIRE_BYTES, <f64>load<u64>(R + S_WIRE_BYTES));
  store<f64>(r + R_ORIG_PKTS, <f64>load<u64>(O + S_PKTS));
  store<f64>(r + R_RESP_PKTS, <f64>load<u64>(R + S_PKTS));
  store<f64>(r + R_SERIAL, load<f64>(k + C_SERIAL));
  store<f64>(r + R_MISSED_BYTES, 0);
  // Side A or B of the canonical key is the originator (os); the other responds.
  const ob = os != 0;
  copy16(r + R_ORIG_H, e + (ob ? E_ADDR_B : E_ADDR_A));
  copy16(r + R_RESP_H, e + (ob ? E_ADDR_A : E_ADDR_B));
  store<u16>(r + R_ORIG_P, load<u16>(e + (ob ? E_PORT_B : E_PORT_A)));
  store<u16>(r + R_RESP_P, load<u16>(e + (ob ? E_PORT_A : E_PORT_B)));
  copyMac(r + R_ORIG_MAC, k + (ob ? C_MAC_B : C_MAC_A));
  copyMac(r + R_RESP_MAC, k + (ob ? C_MAC_A : C_MAC_B));
  store<u8>(r + R_PROTO, load<u8>(e + E_PROTO));
  store<u8>(r + R_IP_VERSION, load<u8>(e + E_IPVER));
  store<u8>(r + R_CONN_STATE, connState(e, O, R));
  let rf: u8 = 0;
  if (interim) rf |= RF_INTERIM;
  if (fl & F_HAS_MAC) rf |= RF_HAS_MAC;
  if (fl & F_FLIPPED) rf |= RF_FLIPPED;
  store<u8>(r + R_FLAGS, rf);
  store<u16>(r + R_VLAN, load<u16>(e + E_VLAN));
  store<u16>(r + R_INNER_VLAN, load<u16>(k + C_INNER_VLAN));
  store<u32>(r + R_TUNNEL_ID, load<u32>(e + E_TUNID));
  store<u8>(r + R_TUNNEL_TYPE, load<u8>(e + E_TUNB) & 0x0F);
  store<u8>(r + R_HISTORY_LEN, load<u8>(e + E_HIST_LEN));
  // 24 history bytes (zero past the length: the entry is zeroed at creation)
  store<u64>(r + R_HISTORY, load<u64>(e + E_HISTORY));
  store<u64>(r + R_HISTORY + 8, load<u64>(e + E_HISTORY + 8));
  store<u64>(r + R_HISTORY + 16, load<u64>(e + E_HISTORY + 16));
  store<u32>(r + R_INTERFACE, load<u32>(k + C_IFACE));
  store<u16>(r + R_RESP_MAC + 6, 0);
  store<u8>(r + R_END_REASON, reason);
  // source fields (189..223): zero on packet-path records
  store<u8>(r + R_END_REASON + 1, 0);
  store<u16>(r + R_END_REASON + 2, 0);
  // the rest (R_REPORTER..) as word stores: memory.fill is a call out of the Wasm code, once per record
  zeroWords(r + <usize>R_REPORTER, <usize>(REC_SIZE - R_REPORTER));
  // frames from sFlow samples: say so, with their sampling (counts are already scaled)
  const source = load<u8>(k + C_SOURCE);
  if (source != 0) {
    store<u8>(r + R_SOURCE, source);
    store<u32>(r + R_SAMPLING, load<u32>(k + C_SAMPLING));
  }
}

/** Write the final record of entry i and free it. */
function endFlow(i: u32, e: usize, reason: u8, counter: i32): void {
  writeRecord(e, reason, false);
  count(counter);
  removeEntry(i, e);
}

// ---- eviction ----

/**
 * Bring the head of a lazy list up to date: a head that has been active
 * since it was filed is re-filed at the tail (bounded work).
 */
function refreshHead(l: u32): u32 {
  const lp = LISTS + (<usize>l << 3);
  for (let n = 0; n < 8; n++) {
    const h = load<u32>(lp);
    if (h == NIL) return NIL;
    const e = ent(h);
    const real = lazyDeadline(e, l);
    if (real <= load<f64>(e + E_DEADLINE) || load<u32>(e + E_NEXT) == NIL) return h;
    listMove(l, h, e, real);
  }
  return load<u32>(lp);
}

/** Table full: end one flow. Prefers a closed TCP flow, else the least recently active list head. */
function evictOne(): void {
  let victim = load<u32>(LISTS + (<usize>L_CLOSED << 3));
  if (victim == NIL) {
    let best = Infinity;
    for (let l: u32 = 0; l < <u32>NUM_LISTS; l++) {
      const h = l < <u32>L_ATTEMPT ? refreshHead(l) : load<u32>(LISTS + (<usize>l << 3));
      if (h == NIL) continue;
      const t = load<f64>(ent(h) + E_TOUCH);
      if (victim == NIL || t < best) { best = t; victim = h; }
    }
  }
  if (victim == NIL) return; // cannot happen when the table is full
  endFlow(victim, ent(victim), END_EVICTED, C_FLOWS_EVICTED);
}

/** A probe ran longer than MAX_PROBE from `home`: evict the least recently active entry of those slots. */
function evictFromCluster(home: u32): void {
  let victim: u32 = NIL;
  let best = Infinity;
  let s = home;
  for (let n: u32 = 0; n < MAX_PROBE; n++) {
    const v = load<u32>(table + (<usize>s << 2));
    if (v != 0) {
      const i = (v & idxMask) - 1;
      const t = load<f64>(ent(i) + E_TOUCH);
      if (victim == NIL || t < best) { best = t; victim = i; }
    }
    s = (s + 1) & tmask;
  }
  if (victim != NIL) endFlow(victim, ent(victim), END_EVICTED, C_FLOWS_EVICTED);
}

// ---- flow creation ----

/**
 * (Re)initialise entry e (key and hash already in place) for a flow whose
 * first packet is the current one, sent from side `src`.
 */
function initEntry(e: usize, src: u32, kind: u8, ts: f64, now: f64): void {
  memory.fill(e + E_PREV, 0, ENTRY_SIZE - E_PREV);
  const k = coldOf(e);
  memory.fill(k, 0, COLD_SIZE);
  store<u8>(e + E_LIST, L_NONE);
  store<f64>(k + C_FIRST_TS, ts);
  store<f64>(e + E_LAST_TS, ts);
  store<f64>(e + E_START, now);
  store<f64>(e + E_TOUCH, now);
  store<f64>(k + C_SERIAL, serialNext);
  serialNext += 1;
  store<u32>(k + C_IFACE, pkt_interface);
  store<u16>(k + C_INNER_VLAN, pkt_inner_vlan);
  store<u8>(k + C_SOURCE, pkt_source);
  store<u32>(k + C_SAMPLING, pkt_sampling);
  store<u8>(e + E_IPVER, pkt_ip_version);
  store<u8>(e + E_KIND, kind);
  let fl: u8 = <u8>src; // originator = sender of the first packet
  if (pkt_has_mac) {
    fl |= F_HAS_MAC;
    // Zeek: orig_l2_addr = first packet's source MAC, resp_l2_addr = its destination MAC.
    copyMac(k + C_MAC_A + <usize>src * 6, pkt_src_mac);
    copyMac(k + C_MAC_A + <usize>(src ^ 1) * 6, pkt_dst_mac);
  }
  // Zeek's WantConnection() role flip.
  let flip = false;
  if (kind == K_TCP) {
    const f = <u32>pkt_tcp_flags;
    if ((f & 0x02) == 0 || (f & 0x10) != 0) { // no SYN, or SYN-ACK: partial connection
      const sp = <u32>pkt_sport, dp = <u32>pkt_dport;
      if (likelyTcpServerPort(sp)) flip = likelyTcpServerPort(dp) ? ((f & 0x02) == 0 && sp < dp) : true;
      if (flipSynAck && (f & 0x12) == 0x12) flip = true;
    }
  } else if (kind == K_UDP) {
    flip = likelyUdpServerPort(<u32>pkt_sport) && !likelyUdpServerPort(<u32>pkt_dport);
  }
  store<u8>(e + E_FLAGS, fl);
  if (flip) flipRoles(e);
  count(C_FLOWS_CREATED);
}

/** Zeek's Connection::FlipRoles(): swap originator and responder, history '^'. */
function flipRoles(e: usize): void {
  store<u8>(e + E_FLAGS, (load<u8>(e + E_FLAGS) ^ F_ORIG_B) | F_FLIPPED);
  addHistory(e, 0x5E /* ^ */);
  count(C_FLOWS_FLIPPED);
}

function allocEntry(): u32 {
  if (freeHead != NIL) {
    const i = freeHead;
    freeHead = load<u32>(ent(i) + E_NEXT);
    return i;
  }
  return bump++;
}

// ---- public API ----

/**
 * Allocate the flow table (capacity rounded up to a power of two, at most
 * 2^21) and the output region. Returns false if that much memory cannot be had.
 */
export function flowsInit(cap: i32, outputRecords: i32): bool {
  let c: u32 = 16;
  while (c < <u32>max(cap, 1)) {
    c <<= 1;
    if (c > MAX_CAPACITY) return false;
  }
  const outRecs = max(outputRecords, MIN_OUTPUT);
  if (slab == 0 || c > slabCapacity || outRecs > outAlloc) {
    const slabBytes = (<usize>c << ENTRY_SHIFT) + 64; // + alignment to a cache line
    const coldBytes = <usize>c * COLD_SIZE;
    const tableBytes = <usize>c << 3;
    const outBytes = <usize>outRecs * <usize>REC_SIZE;
    if (outBytes >= (1 << 30)) return false;
    // Grow memory up front so that heap.alloc() never has to: the stub
    // runtime traps when it cannot grow. heap.alloc(0) reveals where the bump
    // allocator stands (16 bytes wasted, once). Fresh pages are zero.
    const probe = heap.alloc(0);
    const end = <u64>probe + <u64>slabBytes + <u64>coldBytes + <u64>tableBytes + <u64>outBytes + 4 * 64;
    if (end > 0xFFFF0000) return false;
    const pages = <i32>((end + 0xFFFF) >> 16);
    const have = memory.size();
    if (pages > have && memory.grow(pages - have) < 0) return false;
    slab = (heap.alloc(slabBytes) + 63) & ~<usize>63;
    cold = heap.alloc(coldBytes);
    table = heap.alloc(tableBytes);
    outBase = heap.alloc(outBytes);
    slabCapacity = c;
    outAlloc = outRecs;
  }
  capacity = c;
  outCap = outRecs;
  tmask = (c << 1) - 1;
  let bits: u32 = 1;
  while ((<u32>1 << bits) <= c) bits++;
  idxMask = (<u32>1 << bits) - 1; // holds entry index + 1 (<= c)
  memory.fill(table, 0, <usize>c << 3);
  bump = 0;
  freeHead = NIL;
  active = 0;
  outCount = 0;
  clock = -Infinity;
  nextSweep = Infinity;
  serialNext = 1;
  for (let l: u32 = 0; l < <u32>NUM_LISTS; l++) {
    store<u32>(LISTS + (<usize>l << 3), NIL);
    store<u32>(LISTS + (<usize>l << 3) + 4, NIL);
  }
  configureFlows(0, 0, 0, 0, 0, 0);
  initLikelyServerPorts();
  setCounter(C_FLOWS_ACTIVE, 0);
  return true;
}

/**
 * Timeouts in seconds of capture time. A value that is not > 0 (0, negative,
 * NaN) selects the default: tcp 300, udp 60, icmp 60, other 60 (Zeek's
 * *_inactivity_timeout), close delay 5 (Zeek's tcp_close_delay, also used as
 * tcp_attempt_delay and tcp_reset_delay), active timeout 1800. Pass Infinity
 * to disable one (e.g. the active timeout).
 */
export function configureFlows(tcpInactivity: f64, udpInactivity: f64, icmpInactivity: f64, otherInactivity: f64, tcpCloseDelay: f64, activeTimeout: f64): void {
  store<f64>(TIMEOUTS, tcpInactivity > 0 ? tcpInactivity : DEF_TCP);
  store<f64>(TIMEOUTS + 8, udpInactivity > 0 ? udpInactivity : DEF_UDP);
  store<f64>(TIMEOUTS + 16, icmpInactivity > 0 ? icmpInactivity : DEF_ICMP);
  store<f64>(TIMEOUTS + 24, otherInactivity > 0 ? otherInactivity : DEF_OTHER);
  tClose = tcpCloseDelay > 0 ? tcpCloseDelay : DEF_CLOSE;
  tActive = activeTimeout > 0 ? activeTimeout : DEF_ACTIVE;
}

/**
 * Opt-in departure from Zeek: treat the sender of a first-packet SYN-ACK as
 * the responder whatever its ports (Zeek only does so when the source port is
 * a likely server port, to keep SYN-ACK scans attributed to the scanner).
 * Not exported by index.ts yet.
 */
export function setFlipSynAck(v: bool): void { flipSynAck = v; }

/** Expire due flows of every list; false when the output ran low (call again after draining). */
function sweep(now: f64): bool {
  for (let l: u32 = 0; l < <u32>NUM_LISTS; l++) {
    const lp = LISTS + (<usize>l << 3);
    const lazy = l < <u32>L_ATTEMPT;
    while (true) {
      const h = load<u32>(lp);
      if (h == NIL) break;
      const e = ent(h);
      const filed = load<f64>(e + E_DEADLINE);
      if (filed > now) break;
      const real = lazy ? lazyDeadline(e, l) : filed;
      if (real > now) { listMove(l, h, e, real); continue; } // active since filed: re-file
      if (outCap - outCount <= RESERVE) return false;
      if (l == <u32>L_CLOSED) endFlow(h, e, END_CLOSED, C_FLOWS_CLOSED);
      else endFlow(h, e, END_INACTIVE, C_FLOWS_EXPIRED);
    }
  }
  let nx = Infinity;
  for (let l: u32 = 0; l < <u32>NUM_LISTS; l++) {
    const h = load<u32>(LISTS + (<usize>l << 3));
    if (h != NIL) {
      const d = load<f64>(ent(h) + E_DEADLINE);
      if (d < nx) nx = d;
    }
  }
  nextSweep = nx;
  return true;
}

/**
 * Advance the capture clock to `now` (never backwards) and write every flow
 * that has timed out. Returns false when fewer than RESERVE output slots are
 * free (the caller stops, JS drains, and the next call resumes the sweep).
 */
export function flowsReady(now: f64): bool {
  if (now > clock) clock = now;
  if (capacity == 0) return true;
  if (clock >= nextSweep) {
    if (!sweep(clock)) return false;
  }
  // each packet can start one connection and carry one DNS message for the learning log
  return outCap - outCount >= RESERVE && logRoom();
}

/** A connection began at e (a new entry): the learning log hears of it now, not when it ends. */
function started(e: usize, ts: f64): void {
  if (!logReady()) return;
  const ob = origSide(e) != 0;
  const pA = <u32>load<u16>(e + E_PORT_A), pB = <u32>load<u16>(e + E_PORT_B);
  logConn(ts, e + (ob ? E_ADDR_B : E_ADDR_A), e + (ob ? E_ADDR_A : E_ADDR_B), ob ? pB : pA, ob ? pA : pB, <u32>load<u8>(e + E_PROTO), load<f64>(coldOf(e) + C_SERIAL));
}

/** Account the packet described by the packet.ts globals to its flow. */
export function accountPacket(): void {
  if (capacity == 0) return;
  const ts = pkt_ts;
  if (ts > clock) clock = ts;
  const now = clock;

  // ---- canonical key ----
  const proto = <u32>pkt_proto;
  let p1: u32 = 0, p2: u32 = 0;
  let kind: u8 = K_OTHER;
  let tunb = <u32>pkt_tunnel_type & 0x0F;
  if (pkt_has_ports) {
    p1 = <u32>pkt_sport;
    p2 = <u32>pkt_dport;
    if (proto == 6) kind = K_TCP;
    else if (proto == 17) kind = K_UDP;
    else if (proto == 1 || proto == 58) {
      kind = K_ICMP;
      const cp = icmpCounterpart(p1, proto == 58);
      if (cp < 0) tunb |= KB_ONE_WAY; else p2 = <u32>cp;
    }
  } else {
    tunb |= KB_NO_PORTS;
  }
  const s0 = load<u64>(pkt_src), s1 = load<u64>(pkt_src + 8);
  const d0 = load<u64>(pkt_dst), d1 = load<u64>(pkt_dst + 8);
  let src: u32 = 0; // side of the sender: 0 = A
  if ((tunb & KB_ONE_WAY) == 0) {
    if (d0 < s0 || (d0 == s0 && (d1 < s1 || (d1 == s1 && p2 < p1)))) src = 1;
  }
  let a0 = s0, a1 = s1, b0 = d0, b1 = d1;
  let ports = p1 | (p2 << 16);
  if (src != 0) { a0 = d0; a1 = d1; b0 = s0; b1 = s1; ports = p2 | (p1 << 16); }
  const misc = <u32>pkt_vlan | (proto << 16) | (tunb << 24);
  const tun = pkt_tunnel_id;
  const h = hashKey(a0, a1, b0, b1, ports, misc, tun);

  // ---- lookup ----
  const tagMask = ~idxMask;
  let slot = h & tmask;
  let dist: u32 = 0;
  let idx: u32 = NIL;
  while (true) {
    const v = load<u32>(table + (<usize>slot << 2));
    if (v == 0) break;
    if (((v ^ h) & tagMask) == 0) {
      const i = (v & idxMask) - 1;
      const c = ent(i);
      if (load<u64>(c) == a0 && load<u64>(c + 8) == a1 && load<u64>(c + 16) == b0 && load<u64>(c + 24) == b1 &&
          load<u32>(c + E_PORTS) == ports && load<u32>(c + E_MISC) == misc && load<u32>(c + E_TUNID) == tun) {
        idx = i;
        break;
      }
    }
    slot = (slot + 1) & tmask;
    dist++;
  }

  let e: usize;
  if (idx != NIL) {
    e = ent(idx);
    if (realDeadline(e) <= now) {
      // Timed out (the sweep has not got to it yet): end it, start anew.
      const closed = load<u8>(e + E_LIST) == L_CLOSED;
      writeRecord(e, closed ? END_CLOSED : END_INACTIVE, false);
      count(closed ? C_FLOWS_CLOSED : C_FLOWS_EXPIRED);
      listUnlink(e);
      initEntry(e, src, kind, ts, now);
      started(e, ts);
    } else if (kind == K_TCP && (pkt_tcp_flags & 0x02) != 0 && !pkt_is_later_fragment) {
      const os = origSide(e);
      if (tcpIsReuse(sideOf(e, os), sideOf(e, os ^ 1), <u32>pkt_tcp_flags, pkt_tcp_seq)) {
        writeRecord(e, END_REUSED, false);
        count(C_FLOWS_REUSED);
        listUnlink(e);
        initEntry(e, src, kind, ts, now);
        started(e, ts);
      }
    }
  } else {
    // ---- new flow ----
    if (active >= capacity) { evictOne(); dist = MAX_PROBE + 1; }
    if (dist >= MAX_PROBE) {
      // Re-probe (an eviction may have shifted slots); a long cluster costs one eviction.
      const home = h & tmask;
      slot = home;
      dist = 0;
      while (load<u32>(table + (<usize>slot << 2)) != 0) { slot = (slot + 1) & tmask; dist++; }
      if (dist >= MAX_PROBE) {
        count(C_FLOW_LONG_PROBES);
        evictFromCluster(home);
        slot = home;
        while (load<u32>(table + (<usize>slot << 2)) != 0) slot = (slot + 1) & tmask;
      }
    }
    idx = allocEntry();
    e = ent(idx);
    store<u64>(e, a0); store<u64>(e + 8, a1); store<u64>(e + 16, b0); store<u64>(e + 24, b1);
    store<u32>(e + E_PORTS, ports);
    store<u32>(e + E_MISC, misc);
    store<u32>(e + E_TUNID, tun);
    store<u32>(e + E_HASH, h);
    store<u32>(table + (<usize>slot << 2), (h & tagMask) | (idx + 1));
    active++;
    setCounter(C_FLOWS_ACTIVE, <f64>active);
    initEntry(e, src, kind, ts, now);
    started(e, ts);
  }

  // ---- account ----
  const S = sideOf(e, src);
  const xp = <u64>pkt_extra_pkts;
  store<u64>(S + S_PKTS, load<u64>(S + S_PKTS) + 1 + xp);
  store<u64>(S + S_IP_BYTES, load<u64>(S + S_IP_BYTES) + <u64>pkt_ip_len + <u64>pkt_extra_ip_bytes);
  store<u64>(S + S_WIRE_BYTES, load<u64>(S + S_WIRE_BYTES) + <u64>pkt_wire_len + <u64>pkt_extra_wire_bytes);
  store<f64>(e + E_TOUCH, now);
  const isOrig = origSide(e) == src;

  if (kind == K_TCP) {
    if (!pkt_is_later_fragment) {
      const P = sideOf(e, src ^ 1);
      const act = tcpPacket(e, S, P, isOrig, ts, <u32>pkt_tcp_flags, pkt_tcp_seq, pkt_tcp_ack, pkt_payload_len, <u32>pkt_tcp_window);
      if (act != 0) {
        if (act & ACT_FLIP) flipRoles(e);
        if (act & ACT_ARM_ATTEMPT) {
          store<u8>(e + E_FLAGS, load<u8>(e + E_FLAGS) | F_ATTEMPT);
          listMove(L_ATTEMPT, idx, e, now + tClose);
        }
        if (act & ACT_CLOSE) scheduleClose(idx, e, now + tClose); // Zeek: LastTime() + tcp_close_delay
      }
      const fl = load<u8>(e + E_FLAGS);
      if ((fl & F_CLOSE_SCHED) == 0) {
        if (tcpResetAfterClose(S, P)) {
          scheduleClose(idx, e, now + tClose);
        } else if ((fl & F_ATTEMPT) != 0) {
          const os = origSide(e);
          if (!tcpIsAttempt(sideOf(e, os), sideOf(e, os ^ 1))) {
            // answered: an ordinary connection now
            store<u8>(e + E_FLAGS, fl & ~F_ATTEMPT);
            listMove(L_TCP, idx, e, now + timeoutOf(L_TCP));
          }
        }
      }
    } else if (ts > load<f64>(e + E_LAST_TS)) {
      store<f64>(e + E_LAST_TS, ts);
    }
    if (load<u8>(e + E_LIST) == L_NONE) listAppend(L_TCP, idx, e, now + timeoutOf(L_TCP));
  } else {
    store<u64>(S + S_PAYLOAD, load<u64>(S + S_PAYLOAD) + <u64>pkt_payload_len + <u64>pkt_extra_payload);
    if (kind == K_UDP) {
      if (isOrig) checkHistoryRaw(e, HIST_ORIG_DATA_PKT, 0x44 /* D */);
      else checkHistoryRaw(e, HIST_RESP_DATA_PKT, 0x64 /* d */);
    }
    if (ts > load<f64>(e + E_LAST_TS)) store<f64>(e + E_LAST_TS, ts);
    if (load<u8>(e + E_LIST) == L_NONE) {
      let l = <u32>kind;
      if (kind == K_UDP && isDnsPort(<u32>load<u16>(e + E_PORT_A + (<usize>(origSide(e) ^ 1) << 1)))) l = L_DNS;
      listAppend(l, idx, e, lazyDeadline(e, l));
    }
  }

  // ---- DNS: what the device asks (for the learning log; the payload's captured bytes).
  // An answer counts only if the other side of the flow has sent something
  // (its question): a spoofed answer from outside starts a flow of its own. ----
  if (pkt_payload_cap != 0 && (p1 == 53 || p2 == 53) && logReady()) {
    logDns(ts, pkt_src, pkt_dst, <u32>pkt_sport, <u32>pkt_dport, proto, pkt_payload_at, pkt_payload_cap, load<f64>(coldOf(e) + C_SERIAL), load<f64>(e + E_START), load<u64>(sideOf(e, src ^ 1) + S_PKTS) != 0);
  }

  // ---- active timeout: interim record ----
  const k = load<u32>(e + E_INTERIMS);
  if (interimDue(load<f64>(e + E_START), now, tActive, k)) {
    writeRecord(e, END_ACTIVE_TIMEOUT, true);
    count(C_INTERIM_RECORDS);
    // next one at the first multiple of the active timeout after now
    store<u32>(e + E_INTERIMS, periodsElapsed(load<f64>(e + E_START), now, tActive, k));
  }
}

/** Start (or restart) the close delay of a TCP flow: it ends at `deadline`. */
function scheduleClose(i: u32, e: usize, deadline: f64): void {
  store<u8>(e + E_FLAGS, (load<u8>(e + E_FLAGS) | F_CLOSE_SCHED) & ~F_ATTEMPT);
  listMove(L_CLOSED, i, e, deadline);
}

/**
 * End of input: write every open flow (END_FLUSHED). Returns false when the
 * output filled first; drain and call again to continue.
 */
export function flushAll(): bool {
  if (capacity == 0) return true;
  for (let l: u32 = 0; l < <u32>NUM_LISTS; l++) {
    const lp = LISTS + (<usize>l << 3);
    while (true) {
      const h = load<u32>(lp);
      if (h == NIL) break;
      if (outCount >= outCap) return false;
      endFlow(h, ent(h), END_FLUSHED, C_FLOWS_FLUSHED);
    }
  }
  nextSweep = Infinity;
  return true;
}

/**
 * A slot for one record in the output region (counted as a flow record), or
 * 0 when it is full. For the other record writer, flowevents.ts.
 */
export function takeOutputSlot(): usize {
  if (outCount >= outCap) return 0;
  const r = outBase + <usize>outCount * <usize>REC_SIZE;
  outCount++;
  count(C_FLOW_RECORDS);
  return r;
}

/** Free output slots. */
export function outputRoom(): i32 { return outCap - outCount; }

/** Next flow serial number: shared with flowevents.ts so uids stay unique across both. */
export function takeSerial(): f64 {
  const s = serialNext;
  serialNext += 1;
  return s;
}

export function outputPtr(): usize { return outBase; }
export function outputCount(): i32 { return outCount; }
export function outputCapacity(): i32 { return outCap; }
export function outputClear(): void { outCount = 0; learnOutputCleared(); }

/** Flows currently in the table. */
export function flowsActive(): i32 { return <i32>active; }

