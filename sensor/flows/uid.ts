// Zeek-style connection uids ("C" + base62), derived deterministically from
// the flow's serial number and start time so the same capture analysed twice
// yields the same uids, and interim and final records of a flow share one.

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function base62(n: number, width: number): string {
  let s = '';
  for (let i = 0; i < width; i++) { s = ALPHABET[n % 62]! + s; n = Math.floor(n / 62); }
  return s;
}

export function flowUid(serial: number, ts: number, seed = 0): string {
  const usec = Math.round(ts * 1e6);
  const lo = (usec % 4294967296) >>> 0;
  const hi = Math.floor(usec / 4294967296) >>> 0;
  const a = mix32(serial ^ mix32(lo ^ seed));
  const b = mix32(a ^ mix32(hi + serial * 0x9e3779b1) ^ Math.floor(serial / 4294967296));
  const c = mix32(a + b + seed);
  // 3 × 32 bits → 3 × 6 base62 digits (62^6 > 2^32? 62^6 ≈ 5.7e10, yes).
  return 'C' + base62(a, 6) + base62(b, 6) + base62(c, 5);
}
