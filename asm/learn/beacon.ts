// Periodicity of a device's outbound connections to one external peer: the
// beacon score, in the spirit of RITA's.
//
// Malware calling home keeps a timer: the gaps between its connections
// cluster tightly around one period (low dispersion, little skew), it sends
// about the same few bytes each time, and it keeps going hour after hour.
// A person browsing does none of that. For each (device, peer) the learner
// keeps a ring of the last RING gaps between connection starts and of the
// bytes sent, and scores, 0–100, the mean of:
//   gap skew        1 − |Bowley skewness| of the gaps (quartile based, robust)
//   gap dispersion  1 − MAD / median of the gaps
//   size skew       1 − |Bowley skewness| of the bytes sent
//   size dispersion 1 − MAD / median of the bytes sent
// times, once the ring spans three hours or more, (1 + coverage) / 2 where
// coverage is the share of those hours (up to 24) with a connection: a timer
// that fell silent for hours is less of a beacon. Coverage does not add to
// the score of a short run (RITA's day-long view would need a day; a beacon
// must be caught within half an hour).
// Connections starting within COALESCE seconds of the previous one are one
// event (a browser opens several at once; a cloud flow log starts all of a
// window's records at the window's start), so timing works at the minute
// resolution cloud flow logs give.

import { Table, tableCreated } from "./table";

export const RING: i32 = 24;
const COALESCE: f64 = 2;

// Payload layout.
const B_LAST: usize = 0;      // f64 start of the latest event
const B_FIRST: usize = 8;     // f64 start of the oldest event in the ring
const B_EVENTS: usize = 16;   // u32 events seen (saturating)
const B_HEAD: usize = 20;     // u32 next ring slot
const B_HOURS: usize = 24;    // u32 bit k: active in the hour k hours before B_HOUR
const B_HOUR: usize = 28;     // u32 hour index (capture seconds / 3600) of bit 0 (u32 holds hours until year 2459)
const B_GAPS: usize = 32;     // f32 × RING
const B_SIZES: usize = B_GAPS + (<usize>RING << 2); // f32 × RING
const B_SCORE: usize = B_SIZES + (<usize>RING << 2);  // f32 score as of the latest event
const B_PERIOD: usize = B_SCORE + 4;                   // f32 median gap as of the latest event
export const BEACON_PAYLOAD: usize = B_PERIOD + 4;

/**
 * Events before a pair is scored at all: fewer gaps say little, and most
 * pairs (a site visited a few times) never get there, so the sorting is
 * spent only on the persistent ones. The beaconing model asks for 12.
 */
const MIN_SCORED: u32 = 8;

// Sorting scratch (static: allocation-free).
const sorted = memory.data(RING * 8);

/** Results of the latest beaconObserve(). */
export let beaconScore: f64 = 0;
export let beaconPeriod: f64 = 0;
export let beaconEvents: f64 = 0;
/** seconds since the device's first connection to the peer (as far as the table remembers) */
export let beaconAge: f64 = 0;

/** Quartiles and MAD of n f32 values at src (n ≥ 4): writes q1, median, q3, mad into the results below. */
let q1: f64 = 0, q2: f64 = 0, q3: f64 = 0, mad: f64 = 0;
function robust(src: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f64>(sorted + (<usize>i << 3), <f64>load<f32>(src + (<usize>i << 2)));
  sortSmall(sorted, n);
  q1 = quantile(sorted, n, 0.25);
  q2 = quantile(sorted, n, 0.5);
  q3 = quantile(sorted, n, 0.75);
  for (let i = 0; i < n; i++) {
    const at = sorted + (<usize>i << 3);
    store<f64>(at, Math.abs(load<f64>(at) - q2));
  }
  sortSmall(sorted, n);
  mad = quantile(sorted, n, 0.5);
}

function sortSmall(a: usize, n: i32): void {
  for (let i = 1; i < n; i++) {
    const v = load<f64>(a + (<usize>i << 3));
    let j = i - 1;
    while (j >= 0 && load<f64>(a + (<usize>j << 3)) > v) {
      store<f64>(a + (<usize>(j + 1) << 3), load<f64>(a + (<usize>j << 3)));
      j--;
    }
    store<f64>(a + (<usize>(j + 1) << 3), v);
  }
}

function quantile(a: usize, n: i32, p: f64): f64 {
  const x = p * <f64>(n - 1);
  const i = <i32>Math.floor(x);
  const f = x - <f64>i;
  const lo = load<f64>(a + (<usize>i << 3));
  if (i + 1 >= n) return lo;
  return lo + f * (load<f64>(a + (<usize>(i + 1) << 3)) - lo);
}

/** 1 − |Bowley skewness| and 1 − MAD/median of the values in the ring (results in skewScore / madScore). */
let skewScore: f64 = 0, madScore: f64 = 0;
function shape(src: usize, n: i32): void {
  robust(src, n);
  const iqr = q3 - q1;
  const skew = iqr > 0 ? (q3 + q1 - 2 * q2) / iqr : 0;
  skewScore = 1 - Math.abs(skew);
  const m = q2 > 0 ? mad / q2 : (mad > 0 ? 1 : 0);
  madScore = m >= 1 ? 0 : 1 - m;
}

/**
 * The pair's first connection (as far as the pairs table knows): no entry
 * is made — most outside peers are contacted once or a few times, and a
 * 280-byte ring each for them cost more than the rest of the learning in
 * page faults and cache misses. The second connection seeds the ring with
 * this one's start (beaconObserve's `seed`): the ring holds the same events.
 */
export function beaconFirst(): void {
  beaconScore = 0; beaconPeriod = 0; beaconEvents = 1; beaconAge = 0;
}

/**
 * One outbound connection from the device to the peer (the pair key, 32
 * bytes, at key) started at `start` and sent `bytes`. Updates the pair's
 * ring and sets beaconScore / beaconPeriod / beaconEvents.
 */
export function beaconObserve(t: Table, key: usize, start: f64, bytes: f64, now: f64, seed: f64): void {
  // a ring exists only from the pair's second connection: with no earlier one (seed ≥ start) find it, never make it
  let e: usize = 0;
  let created = false;
  if (seed < start) { e = t.upsert(key, now); created = tableCreated; }
  else {
    e = t.find(key);
    if (e == 0) { beaconFirst(); return; }
  }
  const p = t.payload(e);
  if (created) {
    // the pair's first connection, which made no entry (beaconFirst): the ring's first event
    store<f64>(p + B_LAST, seed);
    store<f64>(p + B_FIRST, seed);
    store<u32>(p + B_EVENTS, 1);
    store<u32>(p + B_HOURS, 1);
    store<u32>(p + B_HOUR, <u32>(seed / 3600));
    t.setFirst(e, seed);
  }
  t.touch(e, now);
  beaconAge = now > t.first(e) ? now - t.first(e) : 0;
  let events = load<u32>(p + B_EVENTS);
  const hour = <u32>(start / 3600);
  if (events == 0) {
    store<f64>(p + B_LAST, start);
    store<f64>(p + B_FIRST, start);
    store<u32>(p + B_EVENTS, 1);
    store<u32>(p + B_HOURS, 1);
    store<u32>(p + B_HOUR, hour);
    beaconScore = 0; beaconPeriod = 0; beaconEvents = 1;
    return;
  }
  const last = load<f64>(p + B_LAST);
  const gap = start - last;
  let head = load<u32>(p + B_HEAD);
  if (gap > COALESCE) {
    // a new event: its gap and size go into the ring; once the ring is full
    // the oldest gap drops out and the ring's first event moves on by it
    if (events > <u32>RING) store<f64>(p + B_FIRST, load<f64>(p + B_FIRST) + <f64>load<f32>(p + B_GAPS + (<usize>head << 2)));
    store<f32>(p + B_GAPS + (<usize>head << 2), <f32>gap);
    store<f32>(p + B_SIZES + (<usize>head << 2), <f32>bytes);
    head = (head + 1) % <u32>RING;
    store<u32>(p + B_HEAD, head);
    if (events < 0xFFFFFFF) events++;
    store<u32>(p + B_EVENTS, events);
    store<f64>(p + B_LAST, start);
  }
  // hour activity, the newest hour at bit 0 (records up to the lateness window early are folded into their hour)
  const base = load<u32>(p + B_HOUR);
  if (hour > base) {
    const shift = hour - base;
    store<u32>(p + B_HOURS, shift >= 32 ? 1 : (load<u32>(p + B_HOURS) << shift) | 1);
    store<u32>(p + B_HOUR, hour);
  } else if (base - hour < 32) {
    store<u32>(p + B_HOURS, load<u32>(p + B_HOURS) | (<u32>1 << (base - hour)));
  }

  beaconEvents = <f64>events;
  // Scored at each new event from MIN_SCORED on; once the ring is full, at
  // every fourth (the ring then changes by one gap in 24 per event, and the
  // busiest pairs, a popular site visited all day, stop paying for sorts).
  if (gap <= COALESCE || events < MIN_SCORED || (events > <u32>RING && (events & 3) != 0)) {
    // no new event (or too few to judge): the score as of the latest scoring
    beaconScore = <f64>load<f32>(p + B_SCORE);
    beaconPeriod = <f64>load<f32>(p + B_PERIOD);
    return;
  }
  const n = events - 1 < <u32>RING ? <i32>(events - 1) : RING;
  shape(p + B_GAPS, n);
  const tsSkew = skewScore, tsMad = madScore;
  beaconPeriod = q2;
  shape(p + B_SIZES, n);
  const dsSkew = skewScore, dsMad = madScore;
  // coverage: hours with activity among those the ring spans (at least one, at most 24)
  const spanH = <i32>Math.min(24, Math.floor((load<f64>(p + B_LAST) - load<f64>(p + B_FIRST)) / 3600) + 1);
  const mask: u32 = spanH >= 32 ? 0xFFFFFFFF : (<u32>1 << <u32>spanH) - 1;
  const coverage = <f64>popcnt<u32>(load<u32>(p + B_HOURS) & mask) / <f64>spanH;
  const shapeScore = (tsSkew + tsMad + dsSkew + dsMad) / 4;
  beaconScore = 100 * (spanH >= 3 ? shapeScore * (1 + coverage) / 2 : shapeScore);
  store<f32>(p + B_SCORE, <f32>beaconScore);
  store<f32>(p + B_PERIOD, <f32>beaconPeriod);
}
