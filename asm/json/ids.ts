// The two identifiers on every flow line: the Zeek-style uid and the
// Community ID v1 hash. Ports of sensor/flows/uid.ts and
// sensor/flows/community-id.ts (which stay the reference: the readable path
// and tests use them) into allocation-free Wasm over static buffers.
import { lit, litPtr, putLit } from "./literals";

// ---- uid: "C" + 17 base62 digits from the flow's serial and start time ----

@inline function mix32(h: u32): u32 {
  h = (h ^ (h >>> 16)) * 0x85ebca6b;
  h = (h ^ (h >>> 13)) * 0xc2b2ae35;
  return h ^ (h >>> 16);
}

/** ECMAScript ToUint32: the integer part modulo 2^32 (what JS bit operators do to a number). */
export function toU32(x: f64): u32 {
  // |x| < 2^63: truncate to i64 and keep the low 32 bits (two's complement is the same modulo)
  if (Math.abs(x) < 9.2e18) return <u32><i64>x;
  if (!isFinite(x)) return 0;
  let m = Math.trunc(x) % 4294967296.0; // fmod is exact
  if (m < 0) m += 4294967296.0;
  return <u32><u64>m;
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

const W = memory.data(16 * 4);
const MSG = memory.data(64);
const DIGEST = memory.data(20);

@inline function rotl(x: u32, n: u32): u32 { return (x << n) | (x >>> (32 - n)); }

/** Message word t (0–79) of the block, expanded in place in a 16-word ring. */
@inline function w(t: i32): u32 {
  const at = W + <usize>((t & 15) << 2);
  if (t < 16) return load<u32>(at);
  const x = load<u32>(W + <usize>(((t - 3) & 15) << 2)) ^ load<u32>(W + <usize>(((t - 8) & 15) << 2))
    ^ load<u32>(W + <usize>(((t - 14) & 15) << 2)) ^ load<u32>(at);
  const v = rotl(x, 1);
  store<u32>(at, v);
  return v;
}

/**
 * SHA-1 of MSG[0, len) for len ≤ 55 (one block) into DIGEST. Four loops of
 * twenty rounds (no branch per round) over a 16-word schedule ring: about
 * 0.2 µs per Community ID (0.28 µs with one 80-round loop and 80 words).
 */
function sha1Short(len: i32): void {
  memory.fill(MSG + <usize>len, 0, 64 - <usize>len);
  store<u8>(MSG + <usize>len, 0x80);
  for (let t = 0; t < 14; t++) store<u32>(W + <usize>(t * 4), bswap<u32>(load<u32>(MSG + <usize>(t * 4))));
  store<u32>(W + 56, 0);
  store<u32>(W + 60, <u32>len * 8);
  let a: u32 = 0x67452301, b: u32 = 0xefcdab89, c: u32 = 0x98badcfe, d: u32 = 0x10325476, e: u32 = 0xc3d2e1f0;
  let t = 0;
  for (; t < 20; t++) {
    const tmp = rotl(a, 5) + ((b & c) | (~b & d)) + e + 0x5a827999 + w(t);
    e = d; d = c; c = rotl(b, 30); b = a; a = tmp;
  }
  for (; t < 40; t++) {
    const tmp = rotl(a, 5) + (b ^ c ^ d) + e + 0x6ed9eba1 + w(t);
    e = d; d = c; c = rotl(b, 30); b = a; a = tmp;
  }
  for (; t < 60; t++) {
    const tmp = rotl(a, 5) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + w(t);
    e = d; d = c; c = rotl(b, 30); b = a; a = tmp;
  }
  for (; t < 80; t++) {
    const tmp = rotl(a, 5) + (b ^ c ^ d) + e + 0xca62c1d6 + w(t);
    e = d; d = c; c = rotl(b, 30); b = a; a = tmp;
  }
  store<u32>(DIGEST, bswap<u32>(0x67452301 + a));
  store<u32>(DIGEST + 4, bswap<u32>(0xefcdab89 + b));
  store<u32>(DIGEST + 8, bswap<u32>(0x98badcfe + c));
  store<u32>(DIGEST + 12, bswap<u32>(0x10325476 + d));
  store<u32>(DIGEST + 16, bswap<u32>(0xc3d2e1f0 + e));
}

/** ICMP type → the type of its answer ("port" pairing as Zeek does); -1 = one-way. */
function icmpCounterpart(proto: u32, t: u32): i32 {
  if (proto == 1) {
    switch (t) {
      case 8: return 0; case 0: return 8; case 13: return 14; case 14: return 13; case 15: return 16;
      case 16: return 15; case 10: return 9; case 9: return 10; case 17: return 18; case 18: return 17;
    }
    return -1;
  }
  switch (t) {
    case 128: return 129; case 129: return 128; case 133: return 134; case 134: return 133; case 135: return 136;
    case 136: return 135; case 130: return 131; case 131: return 130; case 139: return 140; case 140: return 139;
    case 144: return 145; case 145: return 144;
  }
  return -1;
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
    const cp = icmpCounterpart(proto, sport);
    if (cp < 0) oneWay = true; else dport = <u32>cp;
  }
  const c = memory.compare(sa, da, <usize>n);
  let ao = sa, bo = da, pa = sport, pb = dport;
  if (!(oneWay || c < 0 || (c == 0 && (!hasPorts || pa < pb)))) { ao = da; bo = sa; pa = dport; pb = sport; }
  store<u8>(MSG, <u8>(seed >> 8)); store<u8>(MSG + 1, <u8>seed);
  memory.copy(MSG + 2, ao, <usize>n);
  memory.copy(MSG + 2 + <usize>n, bo, <usize>n);
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

