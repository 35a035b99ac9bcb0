// Seeded PRNG for the traffic generator: xoshiro128** (Blackman & Vigna),
// seeded through splitmix32 so that any number or string gives a good state.
// Same seed → same sequence on every platform (only 32-bit integer ops and
// IEEE doubles are used).

/** Seed accepted everywhere: an integer, or any string (hashed). */
export type Seed = number | string;

function hashString(s: string): number {
  // FNV-1a over UTF-16 code units, 32-bit.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const TWO_NEG_32 = 2.3283064365386963e-10; // 2^-32

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Cached second normal draw of Box–Muller (NaN: none). */
  private spareNormal = NaN;

  constructor(seed: Seed) {
    let x = typeof seed === "string" ? hashString(seed) : (Math.floor(seed) ^ Math.floor(seed / 0x100000000)) >>> 0;
    // splitmix32 to fill the state; never all zero.
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** Next uniform 32-bit unsigned integer. */
  u32(): number {
    const b = this.b;
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    this.c ^= this.a;
    this.d ^= b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform double in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.u32() * TWO_NEG_32;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** Uniform double in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + this.float() * (hi - lo);
  }

  /** true with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** A uniformly chosen element. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** Index drawn with the given (non-negative) weights. */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i]!;
    let r = this.float() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }

  /** Element drawn with the given weights (same length as items). */
  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    return items[this.weightedIndex(weights)]!;
  }

  /** Exponential draw with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** Standard normal draw (Box–Muller, both values used). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const s = this.spareNormal;
      this.spareNormal = NaN;
      return s;
    }
    let u = this.float();
    if (u === 0) u = TWO_NEG_32;
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal draw given its median and the sigma of the underlying normal. */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Log-normal draw clamped to [lo, hi], rounded to an integer. */
  lognormalInt(median: number, sigma: number, lo: number, hi: number): number {
    const v = Math.round(this.lognormal(median, sigma));
    return v < lo ? lo : v > hi ? hi : v;
  }

  /** An independent generator derived from this one (consumes two draws). */
  fork(): Rng {
    return new Rng(this.u32() * 0x100000000 + this.u32());
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
