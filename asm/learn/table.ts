// A fixed-capacity hash table of fixed-size entries stored inline, keyed by
// the first `keyBytes` bytes of each entry (a multiple of 8). The learning
// tables (devices, endpoints, pairs, channels) are all of this shape.
//
// It never deletes. When a key's probe window (PROBE slots from its home) is
// full, the entry in the window seen longest ago is overwritten and counted
// as an eviction: probe chains never break (no tombstones), memory never
// grows, and what is forgotten first is what was seen least recently —
// the behaviour a pattern-of-life table wants under a flood of new keys
// (a scan of a /16 evicts old channels, it cannot exhaust memory).
//
// Entry layout: [key][f64 first seen][f64 last seen][payload]; an entry is
// empty while its first-seen time is 0 (times are capture seconds since the
// epoch; a record at time 0 is stored at 1e-9 instead, see stamp()).

import { copyWords, reserve, zeroWords } from "../bytes";
import { count } from "../stats";

const PROBE: u32 = 16;
export const T_FIRST: usize = 0; // offsets after the key
export const T_LAST: usize = 8;
export const T_HEADER: usize = 16;

/** Whether the latest upsert() created (or took over) its entry. */
export let tableCreated = false;

export class Table {
  base: usize = 0;
  mask: u32 = 0;
  entryBytes: usize = 0;
  keyBytes: usize = 0;
  /** entries in use (saturates at capacity) */
  used: u32 = 0;
  /** counters.ts index counted once per eviction */
  evictionCounter: i32 = 0;

  /** capacity is rounded up to a power of two; false when memory cannot grow. */
  init(capacity: u32, keyBytes: usize, payloadBytes: usize, evictionCounter: i32): bool {
    this.evictionCounter = evictionCounter;
    let cap: u32 = 16;
    while (cap < capacity && cap < (1 << 28)) cap <<= 1;
    this.keyBytes = keyBytes;
    this.entryBytes = (keyBytes + T_HEADER + payloadBytes + 7) & ~<usize>7;
    const bytes = <u64>cap * <u64>this.entryBytes;
    if (bytes > 0x7FFF0000) return false;
    this.base = reserve(<usize>bytes);
    if (this.base == 0) return false;
    this.mask = cap - 1;
    this.used = 0;
    return true;
  }

  @inline capacity(): u32 { return this.mask + 1; }
  /** capacity, entry size and entries in use as three u32 at out (table statistics for JS) */
  stats(out: usize): void {
    store<u32>(out, this.base == 0 ? 0 : this.mask + 1);
    store<u32>(out + 4, <u32>this.entryBytes);
    store<u32>(out + 8, this.used);
    store<u32>(out + 12, 0);
  }
  @inline at(i: u32): usize { return this.base + <usize>i * this.entryBytes; }
  /** When entry e was first / last seen (first = 0: the slot is empty). */
  @inline first(e: usize): f64 { return load<f64>(e + this.keyBytes + T_FIRST); }
  @inline last(e: usize): f64 { return load<f64>(e + this.keyBytes + T_LAST); }
  /** Seen at `now` (last seen never goes back: records arrive up to the lateness window out of order). */
  @inline touch(e: usize, now: f64): void {
    if (now > this.last(e)) store<f64>(e + this.keyBytes + T_LAST, stamp(now));
  }
  /** Where entry e's payload starts. */
  @inline payload(e: usize): usize { return e + this.keyBytes + T_HEADER; }

  /** The entry for the key at k (hash h), or 0. */
  find(k: usize, h: u32): usize {
    const kb = this.keyBytes;
    let i = h & this.mask;
    for (let n: u32 = 0; n < PROBE; n++) {
      const e = this.at(i);
      if (load<f64>(e + kb + T_FIRST) == 0) return 0;
      if (keyEquals(e, k, kb)) return e;
      i = (i + 1) & this.mask;
    }
    return 0;
  }

  /**
   * The entry for the key at k, created if absent (payload zeroed, first and
   * last seen = now). tableCreated says which. Never fails.
   */
  upsert(k: usize, h: u32, now: f64): usize {
    const kb = this.keyBytes;
    let i = h & this.mask;
    let oldest: usize = 0;
    let oldestT = Infinity;
    for (let n: u32 = 0; n < PROBE; n++) {
      const e = this.at(i);
      const first = load<f64>(e + kb + T_FIRST);
      if (first == 0) { this.used++; return this.claim(e, k, now); }
      if (keyEquals(e, k, kb)) { tableCreated = false; return e; }
      const last = load<f64>(e + kb + T_LAST);
      if (last < oldestT) { oldestT = last; oldest = e; }
      i = (i + 1) & this.mask;
    }
    count(this.evictionCounter);
    return this.claim(oldest, k, now);
  }

  private claim(e: usize, k: usize, now: f64): usize {
    const kb = this.keyBytes;
    zeroWords(e + kb, this.entryBytes - kb);
    copyWords(e, k, kb);
    const t = stamp(now);
    store<f64>(e + kb + T_FIRST, t);
    store<f64>(e + kb + T_LAST, t);
    tableCreated = true;
    return e;
  }
}

/** A time usable as "occupied" (never 0). */
@inline export function stamp(t: f64): f64 { return t > 0 ? t : 1e-9; }

@inline function keyEquals(e: usize, k: usize, kb: usize): bool {
  for (let o: usize = 0; o < kb; o += 8) if (load<u64>(e + o) != load<u64>(k + o)) return false;
  return true;
}

/** Hash of n bytes at k (a multiple of 8). */
export function hashBytes(k: usize, n: usize): u32 {
  let h: u64 = 0x9E3779B97F4A7C15;
  for (let o: usize = 0; o < n; o += 8) {
    h = (h ^ load<u64>(k + o)) * 0xBF58476D1CE4E5B9;
    h ^= h >> 31;
  }
  h *= 0x94D049BB133111EB;
  return <u32>(h ^ (h >> 32));
}
