// Output primitives of the flow-record formatter: ASCII bytes, decimal
// numbers and times written at a byte pointer, each returning the pointer
// past what it wrote. Numbers follow what the JavaScript writer produced
// (sensor/flows/zeek-record.ts is the reference): the formatter's output is
// compared with it byte for byte in test/flow-json.test.ts.

import { copyWords } from "../bytes";
import { jsRound } from "../jsnum";
import { lit, litPtr, putLit } from "./literals";

const L_NAN = lit("NaN");
const L_NULL = lit("null");
const L_INFINITY = lit("Infinity");
const L_NEG_INFINITY = lit("-Infinity");
const HEX = litPtr(lit("0123456789abcdef"));
// "00".."99": numbers are written two digits per division
const PAIRS = litPtr(lit("00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"));

/**
 * Copy a short run of n bytes (bytes.ts copyWords: 8 at a time, so up to 7
 * bytes past src + n are read and past p + n scribbled on; every caller copies
 * from a record, text slot or arena and into output with that much slack).
 */
@inline export function putBytes(p: usize, src: usize, n: usize): usize {
  copyWords(p, src, n);
  return p + n;
}

/** Decimal digits of v. */
@inline function digits(v: u32): usize {
  if (v < 100000) return v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : v < 10000 ? 4 : 5;
  return v < 10000000 ? (v < 1000000 ? 6 : 7) : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
}

/** A u32 in decimal. */
export function putU32(p: usize, v: u32): usize {
  if (v < 10) { store<u8>(p, <u8>(48 + v)); return p + 1; }
  const n = digits(v);
  let q = p + n;
  while (v >= 100) {
    const d = v / 100;
    q -= 2;
    store<u16>(q, load<u16>(PAIRS + <usize>((v - d * 100) << 1)));
    v = d;
  }
  if (v >= 10) store<u16>(q - 2, load<u16>(PAIRS + <usize>(v << 1)));
  else store<u8>(q - 1, <u8>(48 + v));
  return p + n;
}

/**
 * A non-negative integer below 2^53, held in an f64 (the record's counters:
 * the core keeps them at most MAX_COUNT, asm/flowrecord.ts). Larger ones
 * would print digits JavaScript's String does not.
 */
export function putCount(p: usize, x: f64): usize {
  if (x < 4294967296.0) return putU32(p, <u32>x);
  let v = <u64>x;
  const lo = <u32>(v % 1000000000);
  v /= 1000000000;
  // v < 2^53 / 1e9 < 2^32: the high digits, then exactly nine low ones
  p = putU32(p, <u32>v);
  return put9(p, lo);
}

/** Exactly nine digits, zero-padded. */
@inline function put9(p: usize, v: u32): usize {
  for (let i = 8; i >= 0; i--) { const d = v / 10; store<u8>(p + <usize>i, <u8>(48 + v - d * 10)); v = d; }
  return p + 9;
}


/**
 * An integral f64 as JavaScript's String(x) writes it, for the rare paths
 * only (negative seconds, non-finite times): NaN, Infinity, -123.
 */
function putJsInt(p: usize, x: f64): usize {
  if (isNaN(x)) return putLit(p, L_NAN);
  if (!isFinite(x)) return putLit(p, x > 0 ? L_INFINITY : L_NEG_INFINITY);
  if (x < 0) { store<u8>(p, 0x2d); p++; x = -x; }
  return putCount(p, x);
}

/** Length of what putJsInt writes. */
function jsIntLen(x: f64, scratch: usize): i32 {
  return <i32>(putJsInt(scratch, x) - scratch);
}

/** Seconds with exactly six decimals ("1700000000.123456"), as zeekTime does. */
export function putTime(p: usize, x: f64, scratch: usize): usize {
  const us = jsRound(x * 1e6);
  const sec = Math.floor(us / 1e6);
  const frac = us - sec * 1e6;
  if (sec >= 0 && isFinite(us) && frac >= 0 && frac < 1e6) {
    p = putCount(p, sec);
    store<u8>(p, 0x2e);
    const f = <u32>frac;
    const hi = f / 10000, rest = f - hi * 10000, mid = rest / 100;
    store<u16>(p + 1, load<u16>(PAIRS + <usize>(hi << 1)));
    store<u16>(p + 3, load<u16>(PAIRS + <usize>(mid << 1)));
    store<u16>(p + 5, load<u16>(PAIRS + <usize>((rest - mid * 100) << 1)));
    return p + 7;
  }
  if (!isFinite(us)) return putLit(p, L_NULL); // as zeekTime: impossible, but the line stays JSON
  // zeekTime's `${sec}.${frac < 100000 ? String(frac).padStart(6, '0') : frac}`:
  // reached only by impossible times (negative, past year 2286), kept identical anyway
  p = putJsInt(p, sec);
  store<u8>(p++, 0x2e);
  if (frac < 100000) for (let pad = 6 - jsIntLen(frac, scratch); pad > 0; pad--) store<u8>(p++, 0x30);
  return putJsInt(p, frac);
}

/** Two lowercase hex digits. */
@inline export function putHex2(p: usize, b: u32): usize {
  store<u8>(p, load<u8>(HEX + <usize>(b >> 4)));
  store<u8>(p + 1, load<u8>(HEX + <usize>(b & 15)));
  return p + 2;
}

/** A 16-bit word in lowercase hex without leading zeros (IPv6 text). */
@inline function putHexWord(p: usize, w: u32): usize {
  let started = false;
  for (let s = 12; s >= 0; s -= 4) {
    const d = (w >> <u32>s) & 15;
    if (d != 0 || started || s == 0) { store<u8>(p++, load<u8>(HEX + <usize>d)); started = true; }
  }
  return p;
}

/** Big-endian 16-bit word i of the address at a. */
@inline function word(a: usize, i: i32): u32 {
  return (<u32>load<u8>(a + <usize>(2 * i)) << 8) | <u32>load<u8>(a + <usize>(2 * i + 1));
}

/** The 16 bytes at a as RFC 5952 IPv6 text: the longest run (≥ 2) of zero words becomes "::". */
export function putIPv6(p: usize, a: usize): usize {
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (load<u16>(a + <usize>(2 * i)) != 0) { i++; continue; }
    let j = i;
    while (j < 8 && load<u16>(a + <usize>(2 * j)) == 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) {
    for (let i = 0; i < 8; i++) { if (i > 0) store<u8>(p++, 0x3a); p = putHexWord(p, word(a, i)); }
    return p;
  }
  for (let i = 0; i < bestStart; i++) { if (i > 0) store<u8>(p++, 0x3a); p = putHexWord(p, word(a, i)); }
  store<u8>(p++, 0x3a); store<u8>(p++, 0x3a);
  const tail = bestStart + bestLen;
  for (let i = tail; i < 8; i++) { if (i > tail) store<u8>(p++, 0x3a); p = putHexWord(p, word(a, i)); }
  return p;
}

// "0".."255" followed by a dot, one u32 word each, and each one's length with
// the dot: a dotted quad is four word stores instead of four decimal
// conversions (measured: the formatter went from 413 to 362 ns per IPv4
// record, bench/flow-json-format.ts).
const OCTETS: usize = memory.data(256 * 4, 4);
const OCTET_LEN: usize = memory.data(256);
for (let v: u32 = 0; v < 256; v++) {
  const end = putU32(OCTETS + <usize>(v << 2), v);
  store<u8>(end, 0x2e);
  store<u8>(OCTET_LEN + <usize>v, <u8>(end + 1 - (OCTETS + <usize>(v << 2))));
}

/** Octet v and a dot at p (one word store: 4 bytes written); returns the position past the dot. */
@inline function putOctetDot(p: usize, v: u32): usize {
  store<u32>(p, load<u32>(OCTETS + <usize>(v << 2)));
  return p + <usize>load<u8>(OCTET_LEN + <usize>v);
}

/** The v4-mapped address at a (bytes 12–15) as dotted quad. */
export function putIPv4(p: usize, a: usize): usize {
  p = putOctetDot(p, load<u8>(a + 12));
  p = putOctetDot(p, load<u8>(a + 13));
  p = putOctetDot(p, load<u8>(a + 14));
  return putOctetDot(p, load<u8>(a + 15)) - 1; // the last dot is overwritten by what follows
}

/** Six bytes as aa:bb:cc:dd:ee:ff. */
export function putMac(p: usize, a: usize): usize {
  for (let i = 0; i < 6; i++) {
    if (i > 0) store<u8>(p++, 0x3a);
    p = putHex2(p, load<u8>(a + <usize>i));
  }
  return p;
}

