// The two identifiers on every flow line: the Zeek-style uid and the
// Community ID v1 hash. Ports of sensor/flows/uid.ts and
// sensor/flows/community-id.ts (which stay the reference: the readable path
// and tests use them) into allocation-free Wasm over static buffers.
import { icmpCounterpart } from "../flowkey";
import { toU32 } from "../jsnum";
import { zeroWords } from "../bytes";
import { lit, litPtr, putLit } from "./literals";

// ---- uid: "C" + 17 base62 digits from the flow's serial and start time ----

@inline function mix32(h: u32): u32 {
  h = (h ^ (h >>> 16)) * 0x85ebca6b;
  h = (h ^ (h >>> 13)) * 0xc2b2ae35;
  return h ^ (h >>> 16);
}

const B62 = litPtr(lit("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"));

@inline function base62(p: usize, n: u32, width: i32): void {
  for (let i = width - 1; i >= 0; i--) { const q = n / 62; store<u8>(p + <usize>i, load<u8>(B62 + <usize>(n - q * 62))); n = q; }
}

/** The 18-character uid at p; same value as flowUid(serial, ts, seed). */
export function putUid(p: usize, serial: f64, ts: f64, seed: u32, usec: f64): usize {
  // usec = Math.round(ts * 1e6), computed by the caller (it has it already)
  const lo = toU32(usec); // JS: (usec % 2^32) >>> 0, the same for an integral usec
  const hi = toU32(Math.floor(usec / 4294967296.0));
  const s = toU32(serial);
  const a = mix32(s ^ mix32(lo ^ seed));
  const b = mix32(a ^ mix32(toU32(<f64>hi + serial * 2654435761.0)) ^ toU32(Math.floor(serial / 4294967296.0)));
  const c = mix32(toU32(<f64>a + <f64>b + <f64>seed));
  store<u8>(p, 67); // 'C'
  base62(p + 1, a, 6); base62(p + 7, b, 6); base62(p + 13, c, 5);
  return p + 18;
}

// ---- Community ID v1: base64(SHA-1(seed ‖ saddr ‖ daddr ‖ proto ‖ 0 ‖ sport ‖ dport)) ----

const MSG = memory.data(64);
const DIGEST = memory.data(20);

@inline function rotl(x: u32, n: u32): u32 { return (x << n) | (x >>> (32 - n)); }

@inline function word(t: usize): u32 { return bswap<u32>(load<u32>(MSG + (t << 2))); }

/**
 * SHA-1 of MSG[0, len) for len ≤ 55 (one block) into DIGEST. The 80 rounds
 * are written out, the five state words and the 16-word schedule in locals
 * whose roles rotate from round to round (no moves, no memory): the
 * formatter's cost per record fell from 0.55 to 0.44 µs with it (SHA-1 was
 * 0.28 µs as one 80-round loop over 80 words in memory, ~0.2 µs in four).
 * Written out mechanically: round t takes the state words with their roles
 * rotated by t mod 5 and schedule word w(t mod 16), updated in place from
 * round 16 on (the script that wrote it is not kept: edit all 80 rounds the
 * same way). test/flow-json.test.ts checks it through community_id against
 * node:crypto's SHA-1. The caller zeroed MSG before writing the message (no
 * memory.fill call here).
 */
function sha1Short(len: i32): void {
  store<u8>(MSG + <usize>len, 0x80);
  let w0 = word(0), w1 = word(1), w2 = word(2), w3 = word(3), w4 = word(4), w5 = word(5), w6 = word(6), w7 = word(7);
  let w8 = word(8), w9 = word(9), w10 = word(10), w11 = word(11), w12 = word(12), w13 = word(13), w14: u32 = 0, w15 = <u32>len * 8;
  let a: u32 = 0x67452301, b: u32 = 0xefcdab89, c: u32 = 0x98badcfe, d: u32 = 0x10325476, e: u32 = 0xc3d2e1f0;
  e += rotl(a, 5) + (((b & c) | (~b & d)) + 0x5a827999) + w0; b = rotl(b, 30);
  d += rotl(e, 5) + (((a & b) | (~a & c)) + 0x5a827999) + w1; a = rotl(a, 30);
  c += rotl(d, 5) + (((e & a) | (~e & b)) + 0x5a827999) + w2; e = rotl(e, 30);
  b += rotl(c, 5) + (((d & e) | (~d & a)) + 0x5a827999) + w3; d = rotl(d, 30);
  a += rotl(b, 5) + (((c & d) | (~c & e)) + 0x5a827999) + w4; c = rotl(c, 30);
  e += rotl(a, 5) + (((b & c) | (~b & d)) + 0x5a827999) + w5; b = rotl(b, 30);
  d += rotl(e, 5) + (((a & b) | (~a & c)) + 0x5a827999) + w6; a = rotl(a, 30);
  c += rotl(d, 5) + (((e & a) | (~e & b)) + 0x5a827999) + w7; e = rotl(e, 30);
  b += rotl(c, 5) + (((d & e) | (~d & a)) + 0x5a827999) + w8; d = rotl(d, 30);
  a += rotl(b, 5) + (((c & d) | (~c & e)) + 0x5a827999) + w9; c = rotl(c, 30);
  e += rotl(a, 5) + (((b & c) | (~b & d)) + 0x5a827999) + w10; b = rotl(b, 30);
  d += rotl(e, 5) + (((a & b) | (~a & c)) + 0x5a827999) + w11; a = rotl(a, 30);
  c += rotl(d, 5) + (((e & a) | (~e & b)) + 0x5a827999) + w12; e = rotl(e, 30);
  b += rotl(c, 5) + (((d & e) | (~d & a)) + 0x5a827999) + w13; d = rotl(d, 30);
  a += rotl(b, 5) + (((c & d) | (~c & e)) + 0x5a827999) + w14; c = rotl(c, 30);
  e += rotl(a, 5) + (((b & c) | (~b & d)) + 0x5a827999) + w15; b = rotl(b, 30);
  w0 = rotl(w13 ^ w8 ^ w2 ^ w0, 1);
  d += rotl(e, 5) + (((a & b) | (~a & c)) + 0x5a827999) + w0; a = rotl(a, 30);
  w1 = rotl(w14 ^ w9 ^ w3 ^ w1, 1);
  c += rotl(d, 5) + (((e & a) | (~e & b)) + 0x5a827999) + w1; e = rotl(e, 30);
  w2 = rotl(w15 ^ w10 ^ w4 ^ w2, 1);
  b += rotl(c, 5) + (((d & e) | (~d & a)) + 0x5a827999) + w2; d = rotl(d, 30);
  w3 = rotl(w0 ^ w11 ^ w5 ^ w3, 1);
  a += rotl(b, 5) + (((c & d) | (~c & e)) + 0x5a827999) + w3; c = rotl(c, 30);
  w4 = rotl(w1 ^ w12 ^ w6 ^ w4, 1);
  e += rotl(a, 5) + ((b ^ c ^ d) + 0x6ed9eba1) + w4; b = rotl(b, 30);
  w5 = rotl(w2 ^ w13 ^ w7 ^ w5, 1);
  d += rotl(e, 5) + ((a ^ b ^ c) + 0x6ed9eba1) + w5; a = rotl(a, 30);
  w6 = rotl(w3 ^ w14 ^ w8 ^ w6, 1);
  c += rotl(d, 5) + ((e ^ a ^ b) + 0x6ed9eba1) + w6; e = rotl(e, 30);
  w7 = rotl(w4 ^ w15 ^ w9 ^ w7, 1);
  b += rotl(c, 5) + ((d ^ e ^ a) + 0x6ed9eba1) + w7; d = rotl(d, 30);
  w8 = rotl(w5 ^ w0 ^ w10 ^ w8, 1);
  a += rotl(b, 5) + ((c ^ d ^ e) + 0x6ed9eba1) + w8; c = rotl(c, 30);
  w9 = rotl(w6 ^ w1 ^ w11 ^ w9, 1);
  e += rotl(a, 5) + ((b ^ c ^ d) + 0x6ed9eba1) + w9; b = rotl(b, 30);
  w10 = rotl(w7 ^ w2 ^ w12 ^ w10, 1);
  d += rotl(e, 5) + ((a ^ b ^ c) + 0x6ed9eba1) + w10; a = rotl(a, 30);
  w11 = rotl(w8 ^ w3 ^ w13 ^ w11, 1);
  c += rotl(d, 5) + ((e ^ a ^ b) + 0x6ed9eba1) + w11; e = rotl(e, 30);
  w12 = rotl(w9 ^ w4 ^ w14 ^ w12, 1);
  b += rotl(c, 5) + ((d ^ e ^ a) + 0x6ed9eba1) + w12; d = rotl(d, 30);
  w13 = rotl(w10 ^ w5 ^ w15 ^ w13, 1);
  a += rotl(b, 5) + ((c ^ d ^ e) + 0x6ed9eba1) + w13; c = rotl(c, 30);
  w14 = rotl(w11 ^ w6 ^ w0 ^ w14, 1);
  e += rotl(a, 5) + ((b ^ c ^ d) + 0x6ed9eba1) + w14; b = rotl(b, 30);
  w15 = rotl(w12 ^ w7 ^ w1 ^ w15, 1);
  d += rotl(e, 5) + ((a ^ b ^ c) + 0x6ed9eba1) + w15; a = rotl(a, 30);
  w0 = rotl(w13 ^ w8 ^ w2 ^ w0, 1);
  c += rotl(d, 5) + ((e ^ a ^ b) + 0x6ed9eba1) + w0; e = rotl(e, 30);
  w1 = rotl(w14 ^ w9 ^ w3 ^ w1, 1);
  b += rotl(c, 5) + ((d ^ e ^ a) + 0x6ed9eba1) + w1; d = rotl(d, 30);
  w2 = rotl(w15 ^ w10 ^ w4 ^ w2, 1);
  a += rotl(b, 5) + ((c ^ d ^ e) + 0x6ed9eba1) + w2; c = rotl(c, 30);
  w3 = rotl(w0 ^ w11 ^ w5 ^ w3, 1);
  e += rotl(a, 5) + ((b ^ c ^ d) + 0x6ed9eba1) + w3; b = rotl(b, 30);
  w4 = rotl(w1 ^ w12 ^ w6 ^ w4, 1);
  d += rotl(e, 5) + ((a ^ b ^ c) + 0x6ed9eba1) + w4; a = rotl(a, 30);
  w5 = rotl(w2 ^ w13 ^ w7 ^ w5, 1);
  c += rotl(d, 5) + ((e ^ a ^ b) + 0x6ed9eba1) + w5; e = rotl(e, 30);
  w6 = rotl(w3 ^ w14 ^ w8 ^ w6, 1);
  b += rotl(c, 5) + ((d ^ e ^ a) + 0x6ed9eba1) + w6; d = rotl(d, 30);
  w7 = rotl(w4 ^ w15 ^ w9 ^ w7, 1);
  a += rotl(b, 5) + ((c ^ d ^ e) + 0x6ed9eba1) + w7; c = rotl(c, 30);
  w8 = rotl(w5 ^ w0 ^ w10 ^ w8, 1);
  e += rotl(a, 5) + (((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc) + w8; b = rotl(b, 30);
  w9 = rotl(w6 ^ w1 ^ w11 ^ w9, 1);
  d += rotl(e, 5) + (((a & b) | (a & c) | (b & c)) + 0x8f1bbcdc) + w9; a = rotl(a, 30);
  w10 = rotl(w7 ^ w2 ^ w12 ^ w10, 1);
  c += rotl(d, 5) + (((e & a) | (e & b) | (a & b)) + 0x8f1bbcdc) + w10; e = rotl(e, 30);
  w11 = rotl(w8 ^ w3 ^ w13 ^ w11, 1);
  b += rotl(c, 5) + (((d & e) | (d & a) | (e & a)) + 0x8f1bbcdc) + w11; d = rotl(d, 30);
  w12 = rotl(w9 ^ w4 ^ w14 ^ w12, 1);
  a += rotl(b, 5) + (((c & d) | (c & e) | (d & e)) + 0x8f1bbcdc) + w12; c = rotl(c, 30);
  w13 = rotl(w10 ^ w5 ^ w15 ^ w13, 1);
  e += rotl(a, 5) + (((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc) + w13; b = rotl(b, 30);
  w14 = rotl(w11 ^ w6 ^ w0 ^ w14, 1);
  d += rotl(e, 5) + (((a & b) | (a & c) | (b & c)) + 0x8f1bbcdc) + w14; a = rotl(a, 30);
  w15 = rotl(w12 ^ w7 ^ w1 ^ w15, 1);
  c += rotl(d, 5) + (((e & a) | (e & b) | (a & b)) + 0x8f1bbcdc) + w15; e = rotl(e, 30);
  w0 = rotl(w13 ^ w8 ^ w2 ^ w0, 1);
  b += rotl(c, 5) + (((d & e) | (d & a) | (e & a)) + 0x8f1bbcdc) + w0; d = rotl(d, 30);
  w1 = rotl(w14 ^ w9 ^ w3 ^ w1, 1);
  a += rotl(b, 5) + (((c & d) | (c & e) | (d & e)) + 0x8f1bbcdc) + w1; c = rotl(c, 30);
  w2 = rotl(w15 ^ w10 ^ w4 ^ w2, 1);
  e += rotl(a, 5) + (((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc) + w2; b = rotl(b, 30);
  w3 = rotl(w0 ^ w11 ^ w5 ^ w3, 1);
  d += rotl(e, 5) + (((a & b) | (a & c) | (b & c)) + 0x8f1bbcdc) + w3; a = rotl(a, 30);
  w4 = rotl(w1 ^ w12 ^ w6 ^ w4, 1);
  c += rotl(d, 5) + (((e & a) | (e & b) | (a & b)) + 0x8f1bbcdc) + w4; e = rotl(e, 30);
  w5 = rotl(w2 ^ w13 ^ w7 ^ w5, 1);
  b += rotl(c, 5) + (((d & e) | (d & a) | (e & a)) + 0x8f1bbcdc) + w5; d = rotl(d, 30);
  w6 = rotl(w3 ^ w14 ^ w8 ^ w6, 1);
  a += rotl(b, 5) + (((c & d) | (c & e) | (d & e)) + 0x8f1bbcdc) + w6; c = rotl(c, 30);
  w7 = rotl(w4 ^ w15 ^ w9 ^ w7, 1);
  e += rotl(a, 5) + (((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc) + w7; b = rotl(b, 30);
  w8 = rotl(w5 ^ w0 ^ w10 ^ w8, 1);
  d += rotl(e, 5) + (((a & b) | (a & c) | (b & c)) + 0x8f1bbcdc) + w8; a = rotl(a, 30);
  w9 = rotl(w6 ^ w1 ^ w11 ^ w9, 1);
  c += rotl(d, 5) + (((e & a) | (e & b) | (a & b)) + 0x8f1bbcdc) + w9; e = rotl(e, 30);
  w10 = rotl(w7 ^ w2 ^ w12 ^ w10, 1);
  b += rotl(c, 5) + (((d & e) | (d & a) | (e & a)) + 0x8f1bbcdc) + w10; d = rotl(d, 30);
  w11 = rotl(w8 ^ w3 ^ w13 ^ w11, 1);
  a += rotl(b, 5) + (((c & d) | (c & e) | (d & e)) + 0x8f1bbcdc) + w11; c = rotl(c, 30);
  w12 = rotl(w9 ^ w4 ^ w14 ^ w12, 1);
  e += rotl(a, 5) + ((b ^ c ^ d) + 0xca62c1d6) + w12; b = rotl(b, 30);
  w13 = rotl(w10 ^ w5 ^ w15 ^ w13, 1);
  d += rotl(e, 5) + ((a ^ b ^ c) + 0xca62c1d6) + w13; a = rotl(a, 30);
  w14 = rotl(w11 ^ w6 ^ w0 ^ w14, 1);
  c += rotl(d, 5) + ((e ^ a ^ b) + 0xca62c1d6) + w14; e = rotl(e, 30);
  w15 = rotl(w12 ^ w7 ^ w1 ^ w15, 1);
  b += rotl(c, 5) + ((d ^ e ^ a) + 0xca62c1d6) + w15; d = rotl(d, 30);
  w0 = rotl(w13 ^ w8 ^ w2 ^ w0, 1);
  a += rotl(b, 5) + ((c ^ d ^ e) + 0xca62c1d6) + w0; c = rotl(c, 30);
  w1 = rotl(w14 ^ w9 ^ w3 ^ w1, 1);
  e += rotl(a, 5) + ((b ^ c ^ d) + 0xca62c1d6) + w1; b = rotl(b, 30);
  w2 = rotl(w15 ^ w10 ^ w4 ^ w2, 1);
  d += rotl(e, 5) + ((a ^ b ^ c) + 0xca62c1d6) + w2; a = rotl(a, 30);
  w3 = rotl(w0 ^ w11 ^ w5 ^ w3, 1);
  c += rotl(d, 5) + ((e ^ a ^ b) + 0xca62c1d6) + w3; e = rotl(e, 30);
  w4 = rotl(w1 ^ w12 ^ w6 ^ w4, 1);
  b += rotl(c, 5) + ((d ^ e ^ a) + 0xca62c1d6) + w4; d = rotl(d, 30);
  w5 = rotl(w2 ^ w13 ^ w7 ^ w5, 1);
  a += rotl(b, 5) + ((c ^ d ^ e) + 0xca62c1d6) + w5; c = rotl(c, 30);
  w6 = rotl(w3 ^ w14 ^ w8 ^ w6, 1);
  e += rotl(a, 5) + ((b ^ c ^ d) + 0xca62c1d6) + w6; b = rotl(b, 30);
  w7 = rotl(w4 ^ w15 ^ w9 ^ w7, 1);
  d += rotl(e, 5) + ((a ^ b ^ c) + 0xca62c1d6) + w7; a = rotl(a, 30);
  w8 = rotl(w5 ^ w0 ^ w10 ^ w8, 1);
  c += rotl(d, 5) + ((e ^ a ^ b) + 0xca62c1d6) + w8; e = rotl(e, 30);
  w9 = rotl(w6 ^ w1 ^ w11 ^ w9, 1);
  b += rotl(c, 5) + ((d ^ e ^ a) + 0xca62c1d6) + w9; d = rotl(d, 30);
  w10 = rotl(w7 ^ w2 ^ w12 ^ w10, 1);
  a += rotl(b, 5) + ((c ^ d ^ e) + 0xca62c1d6) + w10; c = rotl(c, 30);
  w11 = rotl(w8 ^ w3 ^ w13 ^ w11, 1);
  e += rotl(a, 5) + ((b ^ c ^ d) + 0xca62c1d6) + w11; b = rotl(b, 30);
  w12 = rotl(w9 ^ w4 ^ w14 ^ w12, 1);
  d += rotl(e, 5) + ((a ^ b ^ c) + 0xca62c1d6) + w12; a = rotl(a, 30);
  w13 = rotl(w10 ^ w5 ^ w15 ^ w13, 1);
  c += rotl(d, 5) + ((e ^ a ^ b) + 0xca62c1d6) + w13; e = rotl(e, 30);
  w14 = rotl(w11 ^ w6 ^ w0 ^ w14, 1);
  b += rotl(c, 5) + ((d ^ e ^ a) + 0xca62c1d6) + w14; d = rotl(d, 30);
  w15 = rotl(w12 ^ w7 ^ w1 ^ w15, 1);
  a += rotl(b, 5) + ((c ^ d ^ e) + 0xca62c1d6) + w15; c = rotl(c, 30);
  store<u32>(DIGEST, bswap<u32>(0x67452301 + a));
  store<u32>(DIGEST + 4, bswap<u32>(0xefcdab89 + b));
  store<u32>(DIGEST + 8, bswap<u32>(0x98badcfe + c));
  store<u32>(DIGEST + 12, bswap<u32>(0x10325476 + d));
  store<u32>(DIGEST + 16, bswap<u32>(0xc3d2e1f0 + e));
}

const B64 = litPtr(lit("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"));
const L_VERSION = lit("1:");

@inline function b64(p: usize, v: u32): void { store<u8>(p, load<u8>(B64 + <usize>(v & 63))); }

/**
 * "1:" + base64 of the Community ID hash for addresses at sa/da (n = 4 or
 * 16 bytes each); hasPorts: TCP, UDP, ICMP, ICMPv6, SCTP.
 */
export function putCommunityId(p: usize, sa: usize, da: usize, n: i32, proto: u32, sport: u32, dport: u32, hasPorts: bool, seed: u32): usize {
  let oneWay = false;
  if (proto == 1 || proto == 58) {
    const cp = icmpCounterpart(sport, proto == 58);
    if (cp < 0) oneWay = true; else dport = <u32>cp;
  }
  // Addresses compared as big-endian integers: the sign of the first
  // differing byte, without a compare loop.
  let c: i32;
  if (n == 4) {
    const x = bswap<u32>(load<u32>(sa)), y = bswap<u32>(load<u32>(da));
    c = x < y ? -1 : x > y ? 1 : 0;
  } else {
    const x0 = bswap<u64>(load<u64>(sa)), y0 = bswap<u64>(load<u64>(da));
    const x1 = bswap<u64>(load<u64>(sa + 8)), y1 = bswap<u64>(load<u64>(da + 8));
    c = x0 < y0 ? -1 : x0 > y0 ? 1 : x1 < y1 ? -1 : x1 > y1 ? 1 : 0;
  }
  let ao = sa, bo = da, pa = sport, pb = dport;
  if (!(oneWay || c < 0 || (c == 0 && (!hasPorts || pa < pb)))) { ao = da; bo = sa; pa = dport; pb = sport; }
  zeroWords(MSG, 64);
  store<u8>(MSG, <u8>(seed >> 8)); store<u8>(MSG + 1, <u8>seed);
  if (n == 4) {
    store<u32>(MSG + 2, load<u32>(ao));
    store<u32>(MSG + 6, load<u32>(bo));
  } else {
    store<u64>(MSG + 2, load<u64>(ao)); store<u64>(MSG + 10, load<u64>(ao + 8));
    store<u64>(MSG + 18, load<u64>(bo)); store<u64>(MSG + 26, load<u64>(bo + 8));
  }
  let o: usize = 2 + 2 * <usize>n;
  store<u8>(MSG + o, <u8>proto); store<u8>(MSG + o + 1, 0);
  o += 2;
  if (hasPorts) {
    store<u8>(MSG + o, <u8>(pa >> 8)); store<u8>(MSG + o + 1, <u8>pa);
    store<u8>(MSG + o + 2, <u8>(pb >> 8)); store<u8>(MSG + o + 3, <u8>pb);
    o += 4;
  }
  sha1Short(<i32>o);
  p = putLit(p, L_VERSION);
  for (let i = 0; i < 18; i += 3) {
    const v = (<u32>load<u8>(DIGEST + <usize>i) << 16) | (<u32>load<u8>(DIGEST + <usize>i + 1) << 8) | <u32>load<u8>(DIGEST + <usize>i + 2);
    b64(p, v >> 18); b64(p + 1, v >> 12); b64(p + 2, v >> 6); b64(p + 3, v);
    p += 4;
  }
  const v = (<u32>load<u8>(DIGEST + 18) << 16) | (<u32>load<u8>(DIGEST + 19) << 8);
  b64(p, v >> 18); b64(p + 1, v >> 12); b64(p + 2, v >> 6);
  store<u8>(p + 3, 0x3d); // '='
  return p + 4;
}

