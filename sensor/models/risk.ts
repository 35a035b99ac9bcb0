// A device's rolling anomaly score: its breaches' scores, decayed with a
// one-day half-life (the way evidence accumulates in Slips or a host risk
// score in Elastic). The engine accumulates it; the state's inventory reads
// it decayed to a snapshot's time.

/** `score` as of capture time `t`, decayed to `now` (no later than `t`: records arrive out of order). */
export function decayRisk(score: number, t: number, now: number): number {
  return score * 2 ** (-(Math.max(0, now - t)) / 86400);
}

/** The same, rounded to 0.1, as reports show it. */
export function decayedRisk(score: number, t: number, now: number): number {
  return Math.round(decayRisk(score, t, now) * 10) / 10;
}
