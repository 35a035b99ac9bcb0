// JavaScript's number semantics, where the core must compute exactly what a
// JavaScript mirror computes (the JSON formatter vs zeek-record.ts, the
// NetFlow decoder vs templates.ts).

/** ECMAScript ToUint32: the integer part modulo 2^32 (what JS bit operators do to a number). */
export function toU32(x: f64): u32 {
  // |x| < 2^63: truncate to i64 and keep the low 32 bits (two's complement is the same modulo)
  if (Math.abs(x) < 9.2e18) return <u32><i64>x;
  if (!isFinite(x)) return 0;
  let m = Math.trunc(x) % 4294967296.0; // fmod is exact
  if (m < 0) m += 4294967296.0;
  return <u32><u64>m;
}

/** JavaScript's Math.round: halves round towards +∞ (f64.nearest would round them to even). */
@inline export function jsRound(x: f64): f64 {
  const r = Math.floor(x);
  return x - r >= 0.5 ? r + 1 : r;
}
