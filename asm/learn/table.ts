// A fixed-capacity hash table of fixed-size entries stored inline, keyed by
// the first `keyBytes` bytes of each entry (a multiple of 8). The learning
// tables (devices, endpoints, pairs, channels) are all of this shape.
//
// It never deletes. When a key's probe window (PROBE slots from its home) is
// full, the window's least valuable entry is overwritten and counted as an
// eviction: probe chains never break (no tombstones), memory never grows
// (a scan of a /16 evicts, it cannot exhaust memory). Least valuable: the
// one seen longest ago, where an entry never seen again a minute or more
// after it was made counts as ONE_SHOT_MINUTES older than it is. A flood of one-time keys
// (spoofed SYN sources, the targets of a sweep) then mostly replaces its own
// kind, and a device's learned history survives it unless that history has
// been idle for longer than a day more than the flood's oldest key.
//
// A table starts small and doubles (rehashing in place, through a scratch
// region shared by all tables) while more than half full, up to its
// capacity: memory is reserved for the capacity at start (no memory.grow
// later, so no JS view of the core's memory detaches), but only the pages of
// the active part are ever touched. Measured on the 2 M-packet bench capture
// (250 hosts): spreading 78 k entries over the whole 57 MiB cost 21 k page
// faults and a cache and TLB miss per probe; growing keeps them in what is used.
// Growth waits for a safe point (tablesGrow(), at the start of each learned
// event): entry addresses a caller holds stay valid through the event.
//
// Entry layout: [key][f64 first seen][f64 last seen][payload]. Beside the
// entries, one u32 per slot: bit 31 set (never 0), bit 30 "seen again a minute
// or more after it was made" (ESTABLISHED), bits 16–29 the key's hash
// tag, and the minute it was last seen (low 16 bits, capture minutes mod
// 2^16); 0 is an empty slot. Probing reads those 16 words — one or two cache lines —
// and touches an entry only when its tag matches, and eviction picks the
// window's least recently seen slot from the same words. (Measured on 2 M
// AWS records with detection on: probing the entries themselves, 248 bytes
// apart for devices, cost 18% of the run in cache misses.) Times are capture
// seconds since the epoch; a record at time 0 is stored at 1e-9 (stamp()).

import { copyWords, reserve, zeroWords } from "../bytes";
import { count } from "../stats";

const PROBE: u32 = 16;
/** Tag word bits: the hash tag (with bit 31), and the entry was seen again after the minute it was made. */
const TAG_BITS: u32 = 0xBFFF0000;
const ESTABLISHED: u32 = 0x40000000;
/**
 * How much older than it is a one-time entry counts when choosing what to
 * evict: a day. An established entry idle for less than a day longer than
 * the window's oldest one-time entry is kept.
 */
const ONE_SHOT_MINUTES: u32 = 1440;
/** Seconds after it was made that an entry seen again is established. */
const ESTABLISH_S: f64 = 60;
/**
 * Below its capacity a table probes further before it evicts: a run of 16
 * occupied slots is common enough at half load (measured: 17 evictions
 * among 23 k channels) and growing is the answer there, not forgetting.
 */
const LONG_PROBE: u32 = 64;
/** Slots a table starts with (or its capacity, if smaller). */
const INITIAL: u32 = 1024;

/** Some table is more than half full and may double (tablesGrow() does it). */
export let growPending = false;
/** The scratch region a growing table copies its entries through, and its size (reserved once, after every init). */
let scratch: usize = 0;
let scratchNeed: usize = 0;
let scratchBytes: usize = 0;
/** Every table init() set up, for tablesGrow(). */
const all = new StaticArray<Table | null>(16);
let tableCount = 0;
export const T_FIRST: usize = 0; // offsets after the key
export const T_LAST: usize = 8;
export const T_HEADER: usize = 16;

/** Whether the latest upsert() created (or took over) its entry. */
export let tableCreated = false;

/** The hash's tag word: bits 16–29 of the hash, with the top bit set so a used slot is never 0 (bit 30 is ESTABLISHED). */
@inline function tagOf(h: u32): u32 { return (h | 0x80000000) & TAG_BITS; }
/** Capture minutes mod 2^16 (wraps every 45 days; ages are taken mod 2^16). */
@inline function minuteOf(now: f64): u32 { return <u32>(<u64>(now / 60) & 0xFFFF); }

export class Table {
  base: usize = 0;
  /** u32 per slot: tag | minute last seen (0: empty) */
  tags: usize = 0;
  /** active slots − 1 (a power of two − 1), and the capacity's */
  mask: u32 = 0;
  maxMask: u32 = 0;
  private wantsGrow: bool = false;
  entryBytes: usize = 0;
  keyBytes: usize = 0;
  /** entries in use (saturates at capacity) */
  used: u32 = 0;
  /** counters.ts index counted once per eviction */
  evictionCounter: i32 = 0;
  /** the newest minute any entry was seen (ages are taken from it: records arrive out of order) */
  private latest: u32 = 0;
  /** the entry the latest find/upsert returned, and its slot (touch() usually follows) */
  private lastEntry: usize = 0;
  private lastSlot: u32 = 0;

  /** capacity is rounded up to a power of two; false when memory cannot grow. */
  init(capacity: u32, keyBytes: usize, payloadBytes: usize, evictionCounter: i32): bool {
    this.evictionCounter = evictionCounter;
    let cap: u32 = 16;
    while (cap < capacity && cap < (1 << 28)) cap <<= 1;
    this.keyBytes = keyBytes;
    this.entryBytes = (keyBytes + T_HEADER + payloadBytes + 7) & ~<usize>7;
    const bytes = <u64>cap * <u64>this.entryBytes;
    if (bytes > 0x7FFF0000) return false;
    this.tags = reserve(<usize>cap << 2);
    if (this.tags == 0) return false;
    this.base = reserve(<usize>bytes);
    if (this.base == 0) return false;
    this.maxMask = cap - 1;
    this.mask = (cap < INITIAL ? cap : INITIAL) - 1;
    this.used = 0;
    // doubling to the capacity copies at most half of it through the scratch
    const need = (<usize>cap >> 1) * (this.entryBytes + 4);
    if (need > scratchNeed) scratchNeed = need;
    if (tableCount < all.length) all[tableCount++] = this;
    return true;
  }

  /** Slots probed from a key's home: further while the table can still grow. */
  @inline probeLimit(): u32 { return this.mask < this.maxMask ? LONG_PROBE : PROBE; }
  @inline wantsGrowth(): bool { return this.wantsGrow; }
  @inline capacity(): u32 { return this.maxMask + 1; }
  /** capacity, entry size, entries in use and active slots as four u32 at out (table statistics for JS) */
  stats(out: usize): void {
    store<u32>(out, this.base == 0 ? 0 : this.maxMask + 1);
    store<u32>(out + 4, <u32>this.entryBytes);
    store<u32>(out + 8, this.used);
    store<u32>(out + 12, this.base == 0 ? 0 : this.mask + 1);
  }

  /**
   * Double the active slots: every entry is copied to the scratch region and
   * inserted again by its hash under the wider mask (the tag words, with the
   * minutes last seen, go with them). Entry addresses change: only at a safe
   * point (tablesGrow()).
   */
  grow(): void {
    this.wantsGrow = false;
    if (this.mask >= this.maxMask) return;
    const n = this.mask + 1;
    const eb = this.entryBytes;
    if ((<usize>n) * (eb + 4) > scratchBytes) return; // (cannot happen: the scratch is sized for half the capacity)
    const stags = scratch, sents = scratch + (<usize>n << 2);
    memory.copy(stags, this.tags, <usize>n << 2);
    memory.copy(sents, this.base, <usize>n * eb);
    memory.fill(this.tags, 0, <usize>n << 2);
    this.mask = (n << 1) - 1;
    const kb = this.keyBytes;
    for (let j: u32 = 0; j < n; j++) {
      const t = load<u32>(stags + (<usize>j << 2));
      if (t == 0) continue;
      const src = sents + <usize>j * eb;
      // about a quarter full now: an empty slot is near; a full window (vanishingly rare) loses its home slot's entry
      const home = hashBytes(src, kb) & this.mask;
      let i = home;
      const limit = this.probeLimit();
      let p: u32 = 0;
      while (p < limit && load<u32>(this.tags + (<usize>i << 2)) != 0) { i = (i + 1) & this.mask; p++; }
      if (p == limit) { i = home; count(this.evictionCounter); this.used--; }
      copyWords(this.at(i), src, eb);
      store<u32>(this.tags + (<usize>i << 2), t);
    }
    this.lastEntry = 0;
    if (this.used > ((this.mask + 1) >> 1) && this.mask < this.maxMask) { this.wantsGrow = true; growPending = true; }
  }
  @inline at(i: u32): usize { return this.base + <usize>i * this.entryBytes; }
  /** Is slot i in use? (reads the tag words only: iterating never maps untouched entry pages) */
  @inline occupied(i: u32): bool { return load<u32>(this.tags + (<usize>i << 2)) != 0; }
  /** When entry e was first / last seen. */
  @inline first(e: usize): f64 { return load<f64>(e + this.keyBytes + T_FIRST); }
  @inline last(e: usize): f64 { return load<f64>(e + this.keyBytes + T_LAST); }
  /** First seen at t (an entry standing for something that began before it was made). */
  @inline setFirst(e: usize, t: f64): void { store<f64>(e + this.keyBytes + T_FIRST, stamp(t)); }
  /** Seen at `now` (last seen never goes back: records arrive up to the lateness window out of order). */
  touch(e: usize, now: f64): void {
    if (!(now > this.last(e))) return;
    store<f64>(e + this.keyBytes + T_LAST, stamp(now));
    const i = e == this.lastEntry ? this.lastSlot : <u32>((e - this.base) / this.entryBytes);
    const w = this.tags + (<usize>i << 2);
    const m = minuteOf(now);
    let word = (load<u32>(w) & 0xFFFF0000) | m;
    // seen again a minute or more after it was made: not a one-time key. (Not "in another minute":
    // a probe's start and end straddle a minute boundary one time in sixty, and those few would
    // pile up as established and push out real history — measured: 40 of 40 devices lost.)
    if ((word & ESTABLISHED) == 0 && now - this.first(e) >= ESTABLISH_S) word |= ESTABLISHED;
    store<u32>(w, word);
    this.advance(m);
  }

  /** Move the table's newest minute on to m if m is later (mod 2^16, within half the circle). */
  @inline private advance(m: u32): void {
    const d = (m - this.latest) & 0xFFFF;
    if (d != 0 && d < 0x8000) this.latest = m;
  }
  /** Where entry e's payload starts. */
  @inline payload(e: usize): usize { return e + this.keyBytes + T_HEADER; }

  /** The entry for the key at k, or 0. */
  find(k: usize): usize {
    const kb = this.keyBytes;
    const h = hashBytes(k, kb);
    const tag = tagOf(h);
    let i = h & this.mask;
    const limit = this.probeLimit();
    for (let n: u32 = 0; n < limit; n++) {
      const t = load<u32>(this.tags + (<usize>i << 2));
      if (t == 0) return 0;
      if ((t & TAG_BITS) == tag) {
        const e = this.at(i);
        if (keyEquals(e, k, kb)) { this.lastEntry = e; this.lastSlot = i; return e; }
      }
      i = (i + 1) & this.mask;
    }
    return 0;
  }

  /**
   * The entry for the key at k, created if absent (payload zeroed, first and
   * last seen = now). tableCreated says which. Never fails.
   */
  upsert(k: usize, now: f64): usize {
    const kb = this.keyBytes;
    const h = hashBytes(k, kb);
    const tag = tagOf(h);
    this.advance(minuteOf(now));
    // ages from the newest minute seen, not from now: an entry touched after
    // `now` (a late record) is young, not 2^16 minutes old
    const minute = this.latest;
    let i = h & this.mask;
    let oldest: u32 = i;
    let oldestAge: u32 = 0;
    const limit = this.probeLimit();
    for (let n: u32 = 0; n < limit; n++) {
      const t = load<u32>(this.tags + (<usize>i << 2));
      if (t == 0) {
        this.used++;
        if (this.used > ((this.mask + 1) >> 1) && this.mask < this.maxMask && !this.wantsGrow) { this.wantsGrow = true; growPending = true; }
        return this.claim(i, k, now, tag);
      }
      if ((t & TAG_BITS) == tag) {
        const e = this.at(i);
        if (keyEquals(e, k, kb)) { tableCreated = false; this.lastEntry = e; this.lastSlot = i; return e; }
      }
      let age = (minute - t) & 0xFFFF;
      if (age >= 0x8000) age = 0; // seen after the newest minute known (cannot happen once advance() saw it): young
      if ((t & ESTABLISHED) == 0) age += ONE_SHOT_MINUTES;
      if (age > oldestAge) { oldestAge = age; oldest = i; }
      i = (i + 1) & this.mask;
    }
    count(this.evictionCounter);
    return this.claim(oldest, k, now, tag);
  }

  private claim(i: u32, k: usize, now: f64, tag: u32): usize {
    const kb = this.keyBytes;
    const e = this.at(i);
    zeroWords(e + kb, this.entryBytes - kb);
    copyWords(e, k, kb);
    const t = stamp(now);
    store<f64>(e + kb + T_FIRST, t);
    store<f64>(e + kb + T_LAST, t);
    store<u32>(this.tags + (<usize>i << 2), tag | minuteOf(now));
    tableCreated = true;
    this.lastEntry = e;
    this.lastSlot = i;
    return e;
  }
}

/** Reserve the scratch region growing tables copy through: once, after every table's init(). */
export function tablesReserveScratch(): bool {
  if (scratchNeed <= scratchBytes) return true;
  const at = reserve(scratchNeed);
  if (at == 0) return false;
  scratch = at;
  scratchBytes = scratchNeed;
  return true;
}

/** Double the tables more than half full. At a safe point only: no entry address may be held across it. */
export function tablesGrow(): void {
  if (!growPending) return;
  growPending = false;
  for (let i = 0; i < tableCount; i++) {
    const t = all[i]!;
    if (t.wantsGrowth()) t.grow();
  }
}

/** A time usable as "occupied" (never 0). */
@inline export function stamp(t: f64): f64 { return t > 0 ? t : 1e-9; }

@inline function keyEquals(e: usize, k: usize, kb: usize): bool {
  for (let o: usize = 0; o < kb; o += 8) if (load<u64>(e + o) != load<u64>(k + o)) return false;
  return true;
}

/** Hash of n bytes at k (a multiple of 8): the table hashes a key itself, so growth rehashes it the same way. */
function hashBytes(k: usize, n: usize): u32 {
  let h: u64 = 0x9E3779B97F4A7C15;
  for (let o: usize = 0; o < n; o += 8) {
    h = (h ^ load<u64>(k + o)) * 0xBF58476D1CE4E5B9;
    h ^= h >> 31;
  }
  h *= 0x94D049BB133111EB;
  return <u32>(h ^ (h >> 32));
}
