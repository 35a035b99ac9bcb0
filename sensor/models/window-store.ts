// One model's windows, in flat typed arrays: an open-addressing table keyed
// by the raw words of the device address (and the peer's, and the port, as
// the model groups), holding each window's buckets, its evidence ring and
// its peak. Nothing is allocated per observation and no window is a
// JS object: under a flood of new keys the Map of window objects it
// replaces spent most of its time in garbage collection (measured on
// 200 k observations of random hosts: 4.5 µs each, a third of it GC).
//
// The table starts small and doubles while more than half full, up to the
// power of two at or above 1.25 × maxKeys (so never more than 80% full, and
// a probe always ends at an empty slot). It keeps exactly up to maxKeys
// windows: past that, a new key first forgets the window touched least
// recently among the PROBE slots from its home (removed with a backward
// shift, so no probe chain breaks), counted. Memory is bounded by maxKeys.
// (Measured: a table only as large as maxKeys, which evicted in place when
// 16 slots were full, forgot windows from 61% of maxKeys on.)
//
// A slot holds the key's hash, when it was touched and the index of its
// window in a slab of windows (keys, buckets, evidence); the slab's free
// windows are a stack. A backward shift then moves three numbers a slot,
// not a 0.5 KB window: past maxKeys under a flood of new keys, moving whole
// windows cost 0.4–0.6 s of a 6.5 s run on 2 M IPFIX records of random
// hosts. Callers hold a window by its slab index, which nothing moves.

import { loadFields, saveFields, SavedSettingsError } from './saved-fields.ts';

export const BUCKETS = 12;
export const EVIDENCE = 5;
/** device address (4 words), peer address (4), port (1) */
export const KEY_WORDS = 9;
const PROBE = 16;
const INITIAL = 256;

// Numbers per slot.
const N_SUMS = 0;                  // [0, 12): each bucket's sum
const N_IDS = BUCKETS;             // [12, 24): the bucket number each holds
const N_EV = 2 * BUCKETS;          // evidence ring, EV_FIELDS each
const EV_FIELDS = 5;        // bucket, serial, flow ts, device port | peer port << 16, proto | originator << 8
const N_NEWEST = N_EV + EVIDENCE * EV_FIELDS;
const N_PEAK = N_NEWEST + 1;
const N_PERIOD = N_NEWEST + 2;
const N_EV_HEAD = N_NEWEST + 3;
const N_EV_COUNT = N_NEWEST + 4;
const NUMS = N_NEWEST + 5;

/**
 * Bytes one window may take at most: its key, numbers and evidence peers in
 * the slab, its free-stack entry, and up to 2.5 slots (hash, touch tick,
 * window index) — the table is at least 1.25 × maxKeys, a power of two.
 * (--memory counts this per window: sensor/pipeline/memory-budget.ts.)
 */
export const WINDOW_BYTES = KEY_WORDS * 4 + NUMS * 8 + EVIDENCE * 4 * 4 + 4 + 2.5 * (4 + 8 + 4);

/** A flow kept as a window's evidence; peer: its address as 4 big-endian words. */
export interface EvidenceFlow { serial: number; flowTs: number; devPort: number; peerPort: number; proto: number; originator: boolean; peer: Uint32Array }

export class WindowStore {
  private cap: number;
  private readonly maxCap: number;
  private used = 0;
  /** each slot's key hash, never 0 in use (0: empty): a probe compares these before any key */
  private hashes: Uint32Array;
  /** the tick each window was last touched: apart from the rest, so choosing whom to forget reads 16 compact values, not 16 windows */
  private touched: Float64Array;
  /** each slot's window (an index into the slab) */
  private windowOf: Int32Array;
  /** the slab: windows made so far, and the free ones (a stack of indices) */
  private slab = 0;
  private free: Int32Array;
  private freeCount = 0;
  private keys: Uint32Array;
  /** the numbers of window w start at w × NUMS */
  private nums: Float64Array;
  /** evidence peers: 4 words per evidence flow */
  private evPeers: Uint32Array;
  /** windows forgotten to make room */
  forgotten = 0;
  /** whether the latest slotFor() made the window */
  created = false;

  constructor(private readonly maxKeys: number) {
    let c = 1;
    while (c < maxKeys * 1.25) c *= 2; // at most 80% full
    this.maxCap = c;
    this.cap = Math.min(c, INITIAL);
    this.hashes = new Uint32Array(this.cap);
    this.touched = new Float64Array(this.cap);
    this.windowOf = new Int32Array(this.cap);
    const windows = Math.min(maxKeys, this.cap);
    this.keys = new Uint32Array(windows * KEY_WORDS);
    this.nums = new Float64Array(windows * NUMS);
    this.evPeers = new Uint32Array(windows * EVIDENCE * 4);
    this.free = new Int32Array(windows);
  }

  get size(): number { return this.used; }

  private static readonly STATE = ['cap', 'used', 'hashes', 'touched', 'windowOf', 'slab', 'free', 'freeCount', 'keys', 'nums', 'evPeers', 'forgotten'];
  /** Every window, as a structured-cloneable value (copies). */
  saveState(): unknown { return { maxCap: this.maxCap, ...saveFields(this, WindowStore.STATE) }; }
  /** Carry on from saveState()'s value (a store of the same maxKeys). */
  loadState(s: unknown): void {
    if ((s as { maxCap?: number })?.maxCap !== this.maxCap) throw new SavedSettingsError('model windows: saved for another number of keys');
    loadFields(this, s, WindowStore.STATE, 'model windows');
  }

  /**
   * The window for key (KEY_WORDS words), made — empty, newest bucket b — if
   * absent; touched at `tick` either way. Returns its index (what the other
   * methods take), which stays the window's while it lives.
   */
  slotFor(key: Uint32Array, b: number, tick: number): number {
    if (this.used * 2 > this.cap && this.cap < this.maxCap) this.grow();
    const h = hash(key);
    const mask = this.cap - 1;
    const found = this.slotOf(key, h);
    if (found >= 0) { this.created = false; this.touched[found] = tick; return this.windowOf[found]!; }
    if (this.used >= this.maxKeys) this.forgetNear(h & mask);
    let i = h & mask;
    while (this.hashes[i] !== 0) i = (i + 1) & mask;
    this.used++;
    return this.make(i, key, h, b, tick);
  }

  /** The window for key, or −1. */
  find(key: Uint32Array): number {
    const i = this.slotOf(key, hash(key));
    return i < 0 ? -1 : this.windowOf[i]!;
  }

  /** The slot holding key, or −1 (at most 80% full: the probe ends at an empty slot). */
  private slotOf(key: Uint32Array, h: number): number {
    const mask = this.cap - 1;
    for (let i = h & mask; this.hashes[i] !== 0; i = (i + 1) & mask) {
      if (this.hashes[i] === h && this.keyAt(this.windowOf[i]!, key)) return i;
    }
    return -1;
  }

  /** Forget the window touched least recently among the PROBE slots from `home` (further if none is in use there). */
  private forgetNear(home: number): void {
    const mask = this.cap - 1;
    let victim = -1, oldest = Infinity;
    for (let n = 0, i = home; n < this.cap && (n < PROBE || victim < 0); n++, i = (i + 1) & mask) {
      if (this.hashes[i] !== 0 && this.touched[i]! < oldest) { oldest = this.touched[i]!; victim = i; }
    }
    this.remove(victim);
    this.forgotten++;
  }

  /** Empty slot i (its window back to the free stack), shifting back the slots after it that may move (linear probing without tombstones). */
  private remove(i: number): void {
    this.free[this.freeCount++] = this.windowOf[i]!;
    const mask = this.cap - 1;
    for (let j = (i + 1) & mask; this.hashes[j] !== 0; j = (j + 1) & mask) {
      const home = this.hashes[j]! & mask;
      // the slot at j stays unless its home lies cyclically outside (i, j]
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      this.hashes[i] = this.hashes[j]!;
      this.touched[i] = this.touched[j]!;
      this.windowOf[i] = this.windowOf[j]!;
      i = j;
    }
    this.hashes[i] = 0;
    this.used--;
  }

  private keyAt(w: number, key: Uint32Array): boolean {
    const k = this.keys, o = w * KEY_WORDS;
    for (let x = 0; x < KEY_WORDS; x++) if (k[o + x] !== key[x]) return false;
    return true;
  }

  /** A window for slot i: a freed one, or the slab's next (doubled when full, up to maxKeys). */
  private make(i: number, key: Uint32Array, h: number, b: number, tick: number): number {
    let w: number;
    if (this.freeCount > 0) w = this.free[--this.freeCount]!;
    else {
      if (this.slab * NUMS >= this.nums.length) this.growSlab();
      w = this.slab++;
    }
    this.hashes[i] = h;
    this.touched[i] = tick;
    this.windowOf[i] = w;
    this.keys.set(key, w * KEY_WORDS);
    const o = w * NUMS, v = this.nums;
    for (let s = 0; s < BUCKETS; s++) { v[o + N_SUMS + s] = 0; v[o + N_IDS + s] = -Infinity; }
    v[o + N_NEWEST] = b; v[o + N_PEAK] = 0; v[o + N_PERIOD] = b; v[o + N_EV_HEAD] = 0; v[o + N_EV_COUNT] = 0;
    this.created = true;
    return w;
  }

  private growSlab(): void {
    const n = Math.min(this.maxKeys, Math.max(1, (this.nums.length / NUMS) * 2));
    const keys = new Uint32Array(n * KEY_WORDS); keys.set(this.keys); this.keys = keys;
    const nums = new Float64Array(n * NUMS); nums.set(this.nums); this.nums = nums;
    const ev = new Uint32Array(n * EVIDENCE * 4); ev.set(this.evPeers); this.evPeers = ev;
    const free = new Int32Array(n); free.set(this.free); this.free = free;
  }

  /** Double the slots, every one rehashed into its new place (the windows stay where they are). */
  private grow(): void {
    const { hashes, touched, windowOf, cap } = this;
    this.cap = cap * 2;
    this.hashes = new Uint32Array(this.cap);
    this.touched = new Float64Array(this.cap);
    this.windowOf = new Int32Array(this.cap);
    const mask = this.cap - 1;
    for (let j = 0; j < cap; j++) {
      const h = hashes[j]!;
      if (h === 0) continue;
      let i = h & mask;
      while (this.hashes[i] !== 0) i = (i + 1) & mask; // at most a quarter full: an empty slot is near
      this.hashes[i] = h;
      this.touched[i] = touched[j]!;
      this.windowOf[i] = windowOf[j]!;
    }
  }

  /** The window's key words (device 0–3, peer 4–7, port 8). */
  key(i: number): Uint32Array { return this.keys.subarray(i * KEY_WORDS, (i + 1) * KEY_WORDS); }

  newest(i: number): number { return this.nums[i * NUMS + N_NEWEST]!; }

  /** Add `value` to bucket b (b ≥ newest − BUCKETS + 1: callers drop late ones). */
  add(i: number, b: number, value: number): void {
    const o = i * NUMS, v = this.nums;
    if (b > v[o + N_NEWEST]!) v[o + N_NEWEST] = b;
    const slot = ((b % BUCKETS) + BUCKETS) % BUCKETS;
    if (v[o + N_IDS + slot] !== b) { v[o + N_IDS + slot] = b; v[o + N_SUMS + slot] = 0; }
    v[o + N_SUMS + slot] = v[o + N_SUMS + slot]! + value;
  }

  /** The total over the live buckets: (newest − BUCKETS, newest]. */
  total(i: number): number {
    const o = i * NUMS, v = this.nums, from = v[o + N_NEWEST]! - BUCKETS;
    let t = 0;
    for (let s = 0; s < BUCKETS; s++) if (v[o + N_IDS + s]! > from) t += v[o + N_SUMS + s]!;
    return t;
  }

  /** Keep a flow as evidence (the ring holds the latest EVIDENCE). */
  evidence(i: number, b: number, serial: number, flowTs: number, devPort: number, peerPort: number, proto: number, originator: boolean, peer: Uint32Array): void {
    const o = i * NUMS, v = this.nums;
    const head = v[o + N_EV_HEAD]!;
    const e = o + N_EV + head * EV_FIELDS;
    v[e] = b; v[e + 1] = serial; v[e + 2] = flowTs; v[e + 3] = devPort + peerPort * 65536; v[e + 4] = proto + (originator ? 256 : 0);
    this.evPeers.set(peer, (i * EVIDENCE + head) * 4);
    v[o + N_EV_HEAD] = (head + 1) % EVIDENCE;
    if (v[o + N_EV_COUNT]! < EVIDENCE) v[o + N_EV_COUNT] = v[o + N_EV_COUNT]! + 1;
  }

  /** The evidence flows still in the window, oldest first (made when a breach is raised: allocating is fine here). */
  evidenceFlows(i: number): EvidenceFlow[] {
    const o = i * NUMS, v = this.nums, head = v[o + N_EV_HEAD]!, from = v[o + N_NEWEST]! - BUCKETS;
    const out: EvidenceFlow[] = [];
    for (let k = v[o + N_EV_COUNT]!; k > 0; k--) {
      const slot = (head - k + EVIDENCE) % EVIDENCE;
      const e = o + N_EV + slot * EV_FIELDS;
      if (!(v[e]! > from)) continue;
      const ports = v[e + 3]!, protoFlags = v[e + 4]!;
      out.push({
        serial: v[e + 1]!, flowTs: v[e + 2]!, devPort: ports % 65536, peerPort: Math.floor(ports / 65536),
        proto: protoFlags & 255, originator: protoFlags >= 256,
        peer: this.evPeers.slice((i * EVIDENCE + slot) * 4, (i * EVIDENCE + slot + 1) * 4),
      });
    }
    return out;
  }

  /**
   * Track the window's peak for the adaptive threshold: returns the peak of
   * the period that bucket b ended (0 when none ended), and counts `total`.
   */
  peak(i: number, b: number, total: number): number {
    const o = i * NUMS, v = this.nums;
    let ended = 0;
    if (b - v[o + N_PERIOD]! >= BUCKETS) {
      ended = v[o + N_PEAK]!;
      v[o + N_PEAK] = 0;
      v[o + N_PERIOD] = b;
    }
    if (total > v[o + N_PEAK]!) v[o + N_PEAK] = total;
    return ended;
  }
}

function hash(k: Uint32Array): number {
  let h = 0x9e3779b9;
  for (let w = 0; w < KEY_WORDS; w++) {
    h = Math.imul(h ^ k[w]!, 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) || 1;
}
