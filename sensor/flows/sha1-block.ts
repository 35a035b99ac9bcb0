// SHA-1 of a message short enough for one 64-byte block (≤ 55 bytes), in
// plain 32-bit JS on reused arrays. Community ID hashes ≤ 40 bytes per flow;
// node:crypto costs ~1 µs per call in fixed overhead (and a string), this
// ~0.2 µs and no allocation. The readable path's community_id uses it; the
// writer thread's Wasm formatter has its twin (asm/json/ids.ts), and both are
// checked, this one against node:crypto, in test/flow-json.test.ts.

const W = new Int32Array(80);
/** The digest of the last call: 20 bytes, valid until the next call. */
export const SHA1_OUT = new Uint8Array(20);

export function sha1Short(msg: Uint8Array, len: number): Uint8Array {
  if (len > 55) throw new RangeError('sha1Short: message longer than one block');
  W.fill(0, 0, 16);
  for (let i = 0; i < len; i++) W[i >> 2]! |= msg[i]! << (24 - (i & 3) * 8);
  W[len >> 2]! |= 0x80 << (24 - (len & 3) * 8);
  W[15] = len * 8;
  for (let t = 16; t < 80; t++) {
    const x = W[t - 3]! ^ W[t - 8]! ^ W[t - 14]! ^ W[t - 16]!;
    W[t] = (x << 1) | (x >>> 31);
  }
  let a = 0x67452301, b = 0xefcdab89 | 0, c = 0x98badcfe | 0, d = 0x10325476, e = 0xc3d2e1f0 | 0;
  for (let t = 0; t < 80; t++) {
    let f: number, k: number;
    if (t < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
    else if (t < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
    else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc | 0; }
    else { f = b ^ c ^ d; k = 0xca62c1d6 | 0; }
    const tmp = (((a << 5) | (a >>> 27)) + f + e + k + W[t]!) | 0;
    e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = tmp;
  }
  put(0, 0x67452301 + a); put(4, (0xefcdab89 | 0) + b); put(8, (0x98badcfe | 0) + c);
  put(12, 0x10325476 + d); put(16, (0xc3d2e1f0 | 0) + e);
  return SHA1_OUT;
}

function put(at: number, v: number): void {
  SHA1_OUT[at] = v >>> 24; SHA1_OUT[at + 1] = v >>> 16; SHA1_OUT[at + 2] = v >>> 8; SHA1_OUT[at + 3] = v;
}
