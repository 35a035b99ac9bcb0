// Adaptive thresholds: each network's own tail, not one number for everyone.
//
// A model's static threshold (25 hosts in a minute for a network scan) is a
// starting point. A network where dozens of devices routinely reach 30 —
// discovery protocols, a monitoring tool nobody tagged — would raise a breach
// from each of them every day, and analysts stop reading. So every model
// keeps the distribution of its windows' peaks (the highest total each
// device — and peer or port — reached per window period) in a decayed
// histogram over log-scale bins (a 7-day half-life on the capture clock).
// Once it holds enough periods, the threshold in force is the larger of the
// static one and MARGIN × the network's TAIL quantile of peaks: a value only
// the top 0.1% of this network's windows ever reach, and then some. At least
// MIN_ABOVE periods must reach it (a single real scan does not move it), and
// it never exceeds MAX_FACTOR × the model's own.
//
// Like River's estimators: learn_one (add a peak), predict (the threshold),
// state small and plain (64 numbers per model).

const BINS = 64;
/** Bin i holds peaks in [2^(i/4), 2^((i+1)/4)): 16 octaves, up to 65536 (larger go to the last bin). */
const PER_OCTAVE = 4;
const HALF_LIFE_S = 7 * 86400;
/** The quantile of window peaks the threshold follows, and by how much it must be exceeded. */
import { loadFields, saveFields } from './saved-fields.ts';

export const TAIL = 0.999;
export const MARGIN = 1.25;
/** Window periods the histogram must hold (decayed weight) before it moves a threshold. */
export const MIN_WEIGHT = 500;
/** Window periods that must reach the tail: one outlier (a real scan) does not set it. */
export const MIN_ABOVE = 10;
/** An adapted threshold never exceeds this many times the model's own (a flood of attacks cannot hide the next one). */
export const MAX_FACTOR = 4;

function binOf(v: number): number {
  if (!(v > 1)) return 0;
  return Math.min(BINS - 1, Math.floor(Math.log2(v) * PER_OCTAVE));
}

/** Upper edge of bin i. */
function upper(i: number): number {
  return 2 ** ((i + 1) / PER_OCTAVE);
}

export class TailEstimator {
  private readonly bins = new Float64Array(BINS);
  private weight = 0;
  private t = -Infinity;

  /** One window period's peak, at capture time ts. */
  learnOne(peak: number, ts: number): void {
    this.decayTo(ts);
    this.bins[binOf(peak)]! += 1;
    this.weight += 1;
  }

  /** The TAIL quantile of peaks (the upper edge of its bin), or null with too little history. */
  tail(ts: number): number | null {
    this.decayTo(ts);
    if (this.weight < MIN_WEIGHT) return null;
    const above = Math.max(this.weight * (1 - TAIL), MIN_ABOVE);
    let acc = 0;
    for (let i = BINS - 1; i >= 0; i--) {
      acc += this.bins[i]!;
      if (acc > above) return upper(i);
    }
    return upper(0);
  }

  /** The threshold in force: the static one, raised to MARGIN × the tail when this network's windows routinely pass it. */
  threshold(base: number, ts: number): { value: number; adapted: boolean } {
    const q = this.tail(ts);
    if (q === null || q * MARGIN <= base) return { value: base, adapted: false };
    return { value: Math.min(Math.ceil(q * MARGIN), MAX_FACTOR * base), adapted: true };
  }

  get samples(): number { return this.weight; }

  saveState(): unknown { return saveFields(this, ['bins', 'weight', 't']); }
  loadState(s: unknown): void { loadFields(this, s, ['bins', 'weight', 't'], 'adaptive threshold'); }

  private decayTo(ts: number): void {
    if (!(ts > this.t)) return;
    if (this.t !== -Infinity) {
      const d = 2 ** (-(ts - this.t) / HALF_LIFE_S);
      if (d < 0.999) {
        for (let i = 0; i < BINS; i++) this.bins[i]! *= d;
        this.weight *= d;
      } else return; // less than ~10 minutes of decay: apply later in one step
    }
    this.t = ts;
  }
}
