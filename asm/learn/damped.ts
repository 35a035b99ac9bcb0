// Damped incremental statistics in the manner of Kitsune (Mirsky et al.,
// NDSS 2018): every quantity decays by 2^(-Δt / halfLife) as capture time
// passes, so "now" weighs most and nothing needs a window of samples.
// Each statistic is a few f64 at a pointer — allocation-free, updated in
// place (River's learn_one on a struct in linear memory).
//
//   counter  [value, t]            a decayed count or sum: rates, volumes
//   moments  [w, sum, sumSq, t]    decayed weight, mean and variance of a
//                                  per-event value (bytes per connection)

export const COUNTER_BYTES: usize = 16;
export const MOMENTS_BYTES: usize = 32;

/**
 * 2^(-dt / half): the share of a value that survives dt seconds. As
 * exp(-dt·ln2/half): AssemblyScript's Math.pow is a general software pow,
 * several times slower than its exp, and each event decays a handful of
 * statistics.
 */
@inline export function decay(dt: f64, half: f64): f64 {
  return dt <= 0 ? 1.0 : Math.exp(-dt * 0.6931471805599453 / half);
}

/** The counter at p decayed to now, plus x. Returns the new value. */
export function counterAdd(p: usize, now: f64, half: f64, x: f64): f64 {
  const t = load<f64>(p + 8);
  let v = load<f64>(p);
  if (now > t) { v *= decay(now - t, half); store<f64>(p + 8, now); }
  v += x;
  store<f64>(p, v);
  return v;
}

/** The counter's value decayed to now (not stored). */
export function counterValue(p: usize, now: f64, half: f64): f64 {
  const t = load<f64>(p + 8);
  const v = load<f64>(p);
  return now > t ? v * decay(now - t, half) : v;
}

/** Add one observation x to the moments at p. */
export function momentsAdd(p: usize, now: f64, half: f64, x: f64): void {
  const t = load<f64>(p + 24);
  let w = load<f64>(p), s = load<f64>(p + 8), ss = load<f64>(p + 16);
  if (now > t) {
    const d = decay(now - t, half);
    w *= d; s *= d; ss *= d;
    store<f64>(p + 24, now);
  }
  store<f64>(p, w + 1.0);
  store<f64>(p + 8, s + x);
  store<f64>(p + 16, ss + x * x);
}

/** Decayed weight (≈ number of recent observations). */
@inline export function momentsWeight(p: usize): f64 { return load<f64>(p); }

/**
 * How many standard deviations x lies above the decayed mean, from at least
 * `minWeight` observations; 0 below that (no baseline, no judgement). The
 * deviation has a floor of 10% of the mean (plus 1) so that a device whose
 * every connection was the same size does not make the next byte extra
 * look infinitely unusual.
 */
export function momentsZ(p: usize, x: f64, minWeight: f64): f64 {
  const w = load<f64>(p);
  if (w < minWeight || w <= 0) return 0;
  const mean = load<f64>(p + 8) / w;
  let v = load<f64>(p + 16) / w - mean * mean;
  if (v < 0) v = 0;
  let sd = Math.sqrt(v);
  const floor = 0.1 * Math.abs(mean) + 1.0;
  if (sd < floor) sd = floor;
  return (x - mean) / sd;
}

/** The decayed mean (0 without observations). */
export function momentsMean(p: usize): f64 {
  const w = load<f64>(p);
  return w > 0 ? load<f64>(p + 8) / w : 0;
}

/**
 * volume  [rolling, t, hour, hourSum, peak, peakT]   bytes moved lately
 * against the device's own busiest hours.
 *
 * `rolling` is a counter (1 h half-life) of bytes; each completed clock hour's
 * total is folded into `peak`, a maximum that decays with a 7-day half-life
 * (a device's habits from last week still count, from last month fade). The
 * hour in progress is not in the peak yet, so a burst is judged against the
 * past, not against itself.
 */
export const VOLUME_BYTES: usize = 48;
const PEAK_HALF: f64 = 7 * 86400;

/** Add x bytes at now; returns the rolling volume. */
export function volumeAdd(p: usize, now: f64, x: f64): f64 {
  const hour = Math.floor(now / 3600);
  const cur = load<f64>(p + 16);
  if (hour > cur) {
    if (cur > 0) {
      // fold the finished hour into the decayed peak
      const sum = load<f64>(p + 24);
      const peakT = load<f64>(p + 40);
      const peak = load<f64>(p + 32) * decay(now - peakT, PEAK_HALF);
      store<f64>(p + 32, sum > peak ? sum : peak);
      store<f64>(p + 40, now);
    }
    store<f64>(p + 16, hour);
    store<f64>(p + 24, 0);
  }
  // (records up to the lateness window late land in the current hour)
  store<f64>(p + 24, load<f64>(p + 24) + x);
  return counterAdd(p, now, 3600, x);
}

/** The rolling volume against the decayed peak of past hours (at least `floor`). */
export function volumeRatio(p: usize, now: f64, rolling: f64, floor: f64): f64 {
  let peak = load<f64>(p + 32) * decay(now - load<f64>(p + 40), PEAK_HALF);
  if (peak < floor) peak = floor;
  return rolling / peak;
}
