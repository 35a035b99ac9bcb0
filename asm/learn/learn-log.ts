// The learning log: what the packet path has for the learner, written down
// in packet order instead of learned on the spot.
//
// The packet path hears of a connection at its first packet (CONN) and of a
// DNS message at its packet; the learner hears of finished flows from the
// output region (END). Learning all three in one place, at the pull (before
// the output region is drained), lets the same learning run either here
// (learnOutput: replay this log, then the records) or in a detection thread
// with a core of its own: JS copies this log and the output records to it,
// and it replays them in the same order, so both give the same breaches.
// The packet path then pays a 64-byte append per connection instead of the
// learning itself (1–2 µs of table lookups per connection, memory-bound).
//
// A DNS question is not logged (its answer carries it; counted here).
//
// Entries, 8-byte aligned:
//   CONN  u32 kind, u32 bytes, f64 ts, f64 serial, orig 16, resp 16, u16 oPort, u16 rPort, u8 proto (64 bytes)
//   DNS   u32 kind, u32 bytes, f64 ts, f64 serial, src 16, dst 16, u16 sport, u16 dport, u8 proto, u8 asked,
//         u32 payload bytes (at 68), f64 flowTs (at 72), payload (at 80), padded to 8
// flowsReady keeps LOG_RESERVE bytes free, room for one packet's entries:
// a full log stops the feed like a full output region does.

import { copyWords, reserve } from "../bytes";
import { count } from "../stats";
import { C_DNS_QUERIES, C_LEARN_LOG_DROPPED } from "../counters";
import { isQuestion, learnDnsPacket } from "./dns-learner";
import { learnStart, observationRoom } from "./learner";

const K_CONN: u32 = 1;
const K_DNS: u32 = 2;
const CONN_BYTES: usize = 64;
const DNS_HEAD: usize = 80;
/** Payload bytes a DNS entry keeps at most: every captured byte of an IP packet (its payload length is a u16). */
const DNS_MAX_PAYLOAD: usize = 65536;
/** Free bytes flowsReady keeps for the next packet: a CONN and a DNS entry with the largest payload. */
export const LOG_RESERVE: usize = CONN_BYTES + DNS_HEAD + DNS_MAX_PAYLOAD + 8;

let base: usize = 0;
let cap: usize = 0;
let used: usize = 0;
/** Replay position: learnOutput resumes here after JS drained a full observation region. */
let replayed: usize = 0;

/** Reserve the log (once). False when memory cannot grow that far. */
export function logInit(bytes: i32): bool {
  if (base != 0) return true;
  const least: usize = 4 * LOG_RESERVE;
  const size: usize = bytes > 0 && <usize>bytes > least ? <usize>bytes : least;
  base = reserve(size + 8);
  if (base == 0) return false;
  cap = size;
  used = 0; replayed = 0;
  return true;
}

/** The packet path writes to the log (learning here or in a detection thread). */
@inline export function logReady(): bool { return base != 0; }
/** Room for the next packet's entries (always, with no log). */
export function logRoom(): bool { return base == 0 || cap - used >= LOG_RESERVE; }
export function logPtr(): usize { return base; }
export function logUsed(): i32 { return <i32>used; }
export function logCapacity(): i32 { return <i32>cap; }
/** Forget the log (its entries were shipped to a detection thread). */
export function logClear(): void { used = 0; replayed = 0; }
/** JS copied `n` bytes of another core's log to logPtr(): replay them next. False if they cannot be (too long, misaligned). */
export function logLoaded(n: i32): bool {
  if (n < 0 || <usize>n > cap || (n & 7) != 0) return false;
  used = <usize>n; replayed = 0;
  return true;
}

/** The first 60 bytes every entry shares: kind, size, time, flow serial, the two addresses and ports. */
@inline function head(e: usize, kind: u32, bytes: usize, ts: f64, serial: f64, a: usize, b: usize, pa: u32, pb: u32): void {
  store<u32>(e, kind);
  store<u32>(e + 4, <u32>bytes);
  store<f64>(e + 8, ts);
  store<f64>(e + 16, serial);
  copyWords(e + 24, a, 16);
  copyWords(e + 40, b, 16);
  store<u16>(e + 56, <u16>pa);
  store<u16>(e + 58, <u16>pb);
}

export function logConn(ts: f64, o: usize, r: usize, oPort: u32, rPort: u32, proto: u32, serial: f64): void {
  if (cap - used < CONN_BYTES) { count(C_LEARN_LOG_DROPPED); return; } // (flowsReady keeps LOG_RESERVE: a bug if counted)
  const e = base + used;
  head(e, K_CONN, CONN_BYTES, ts, serial, o, r, oPort, rPort);
  store<u32>(e + 60, proto);
  used += CONN_BYTES;
}

export function logDns(ts: f64, src: usize, dst: usize, sport: u32, dport: u32, proto: u32, at: usize, len: u32, serial: f64, flowTs: f64, asked: bool): void {
  if (isQuestion(at, len, proto)) { count(C_DNS_QUERIES); return; } // the learner would count it and go on
  const n = <usize>len < DNS_MAX_PAYLOAD ? <usize>len : DNS_MAX_PAYLOAD;
  const bytes = (DNS_HEAD + n + 7) & ~<usize>7;
  if (cap - used < bytes) { count(C_LEARN_LOG_DROPPED); return; } // (flowsReady keeps LOG_RESERVE: a bug if counted)
  const e = base + used;
  head(e, K_DNS, bytes, ts, serial, src, dst, sport, dport);
  store<u8>(e + 60, <u8>proto);
  store<u8>(e + 61, asked ? 1 : 0);
  store<u32>(e + 64, <u32>n);
  store<f64>(e + 72, flowTs);
  memory.copy(e + DNS_HEAD, at, n);
  used += bytes;
}

/**
 * Learn the log's entries from where the last call stopped. True when all
 * are learned (the log is then empty), false when the observation region
 * filled first: JS drains it and calls again. A malformed entry (only a
 * foreign log copied in by JS could hold one) ends the replay, counted
 * (C_LEARN_LOG_DROPPED): the records after the log are still learned.
 */
export function logReplay(): bool {
  while (replayed < used) {
    if (!observationRoom(2)) return false;
    const e = base + replayed;
    const kind = load<u32>(e);
    const bytes = <usize>load<u32>(e + 4);
    if (bytes < CONN_BYTES || (bytes & 7) != 0 || bytes > used - replayed) { count(C_LEARN_LOG_DROPPED); break; }
    replayed += bytes;
    if (kind == K_CONN) {
      learnStart(load<f64>(e + 8), e + 24, e + 40, <u32>load<u16>(e + 56), <u32>load<u16>(e + 58), load<u32>(e + 60), load<f64>(e + 16));
    } else if (kind == K_DNS) {
      const n = load<u32>(e + 64);
      if (DNS_HEAD + <usize>n > bytes) { count(C_LEARN_LOG_DROPPED); break; }
      learnDnsPacket(load<f64>(e + 8), e + 24, e + 40, <u32>load<u16>(e + 56), <u32>load<u16>(e + 58), <u32>load<u8>(e + 60),
        e + DNS_HEAD, n, load<f64>(e + 16), load<f64>(e + 72), load<u8>(e + 61) != 0);
    } else { count(C_LEARN_LOG_DROPPED); break; }
  }
  used = 0; replayed = 0;
  return true;
}
