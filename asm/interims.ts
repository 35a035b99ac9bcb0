// When a long flow's next interim record is due (active timeout), shared by
// the packet path (flows.ts) and the flow-event merger (flowevents.ts).
//
// Closed form, not a loop over periods: a flow's time span comes from its
// input, and a hostile capture or export (a timestamp near 2^64 µs, an
// uptime that wraps) can make it trillions of periods long — a loop that
// counts them one by one does not finish.

const U32_TOP: f64 = 4294967294;

/**
 * Is the next interim record due: has the flow lived `written + 1` periods
 * by `now`? Never once the count has reached its cap: a flow that far past
 * the cap (a clock that jumped by ~2^32 periods) would otherwise write an
 * interim record with every packet from then on.
 */
export function interimDue(first: f64, now: f64, period: f64, written: u32): bool {
  return <f64>written < U32_TOP && now >= first + period * (<f64>written + 1);
}

/**
 * The number of active-timeout periods a flow that started at `first` has
 * completed at `now`: the largest n ≥ written + 1 with now ≥ first + period·n
 * (the caller has checked interimDue). Capped below 2^32 (stored as u32;
 * interimDue is false from then on); the same answer as counting up from
 * written + 1 wherever f64 arithmetic can tell the periods apart.
 */
export function periodsElapsed(first: f64, now: f64, period: f64, written: u32): u32 {
  const lo = <f64>written + 1;
  let n = Math.floor((now - first) / period);
  if (!(n < U32_TOP)) return <u32>U32_TOP; // also NaN
  if (n < lo) n = lo;
  // the division may land a period off the comparison the callers make:
  // settle on it (a few steps; capped where f64 cannot tell periods apart)
  for (let i = 0; i < 64 && n > lo && now < first + period * n; i++) n--;
  for (let i = 0; i < 64 && n < U32_TOP && now >= first + period * (n + 1); i++) n++;
  return <u32>n;
}
