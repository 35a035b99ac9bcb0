// Zeek-style connection uids ("C" + base62), derived deterministically from
// the flow's serial number and start time so the same capture analysed twice
// yields the same uids, and interim and final records of a flow share one.

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const CODES = Array.from(ALPHABET, (c) => c.charCodeAt(0));
/** Reused: one string is built from 18 char codes in a single call. */
const out = new Array<number>(18).fill(0);

function base62(n: number, at: number, width: number): void {
  for (let i = width - 1; i >= 0; i--) { const q = Math.floor(n / 62); out[at + i] = CODES[n - q * 62]!; n = q; }
}

export function flowUid(serial: number, ts: number, seed = 0): string {
  const usec = Math.round(ts * 1e6);
  const lo = (usec % 4294967296) >>> 0;
  const hi = Math.floor(usec / 4294967296) >>> 0;
  const a = mix32(serial ^ mix32(lo ^ seed));
  const b = mix32(a ^ mix32(hi + serial * 0x9e3779b1) ^ Math.floor(serial / 4294967296));
  const c = mix32(a + b + seed);
  // 32 bits fit in 6 base62 digits (62^6 ≈ 5.7e10 > 2^32).
  out[0] = 67; // 'C'
  base62(a, 1, 6); base62(b, 7, 6); base62(c, 13, 5);
  return String.fromCharCode.apply(null, out);
}
