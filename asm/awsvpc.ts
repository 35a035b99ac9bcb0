// AWS VPC flow-log text, the common case, parsed in the core: lines of
// single-space-separated fields in a known order (the flow log's format)
// become flow events written straight into the event region, with no
// JavaScript object, string or call per record.
//
// This is an accelerator, not a second parser: it takes exactly the lines
// the JavaScript parser's fast path takes (sensor/flowlogs/aws-vpc.ts,
// AwsVpcParser.parse) and gives the same event; any other line — a "-"
// value, a tab, NODATA, a header, an envelope, a malformed field, a
// reporter id it has not been told — stops it, and JavaScript handles that
// line with the full parser (its errors, its counters) before resuming here.
// test/aws-vpc-core.test.ts checks that both give identical events.
import { reserve } from "./bytes";
import { beginEvent, eventSlot, eventsCapacity } from "./flowevents";
import {
  R_ACTION, R_DIRECTION, R_IP_VERSION, R_ORIG_H, R_ORIG_IP_BYTES, R_ORIG_P, R_ORIG_PKTS, R_ORIG_TCP_FLAGS,
  R_PROTO, R_RESP_H, R_RESP_P, R_SAMPLING, SRC_AWS_VPC, R_SOURCE_FLAGS, SF_NO_ICMP_TYPE,
} from "./flowrecord";

// Column kinds: the numbering of sensor/flowlogs/aws-vpc.ts (K_*).
const K_SKIP: u32 = 0;
const K_VERSION: u32 = 1;
const K_SRCPORT: u32 = 2;
const K_DSTPORT: u32 = 3;
const K_PROTOCOL: u32 = 4;
const K_TCP_FLAGS: u32 = 5;
const K_PACKETS: u32 = 6;
const K_BYTES: u32 = 7;
const K_START: u32 = 8;
const K_END: u32 = 9;
const K_SRCADDR: u32 = 10;
const K_DSTADDR: u32 = 11;
const K_PKT_SRCADDR: u32 = 12;
const K_PKT_DSTADDR: u32 = 13;
const K_ACTION: u32 = 14;
const K_LOG_STATUS: u32 = 15;
const K_FLOW_DIRECTION: u32 = 16;

const MAX_COLS: i32 = 256;
const MAX_REPORTER_COLS: i32 = 8;
// Reporter ids JS has interned: raw field bytes → id, open addressing.
const REP_SLOTS: u32 = 32768;          // power of two; at most half used (16384 interfaces; more stay with JS)
const REP_KEY: usize = 48;             // longest id kept (ENI ids are 21 bytes, TGW attachment ids 29)
const REP_SLOT: usize = REP_KEY + 8;   // key bytes, u16 length, u32 id
const SCRATCH: i32 = 1024;
// Lines are parsed from a region of their own, never the capture input
// region: `run` reads packets and flow logs at once, and a capture keeps its
// unconsumed tail there between reads.
const TEXT_BYTES: i32 = 256 << 10;

// Status of awsParse.
export const AWS_DONE: i32 = 0;        // every line of the block taken
export const AWS_BATCH_FULL: i32 = 1;  // the event region is full: JS hands it to the merger, then calls again
export const AWS_NEEDS_JS: i32 = 2;    // the line at awsPos() is for the JavaScript parser

let kinds: usize = 0;
let nCols: i32 = 0;
let repCols: usize = 0;
let nRepCols: i32 = 0;
let starts: usize = 0;  // u32 per column: field start/end in the line
let ends: usize = 0;
let repTable: usize = 0;
let repUsed: u32 = 0;
let scratch: usize = 0;
let text: usize = 0;
let pos: usize = 0;
let pendingOut: i32 = 0;
let linesTaken: i32 = 0;

const ADDR_TMP = memory.data(64); // src, dst, pkt-src, pkt-dst: 16 bytes each

export function awsInit(): bool {
  kinds = reserve(<usize>MAX_COLS);
  repCols = reserve(<usize>MAX_REPORTER_COLS * 4);
  starts = reserve(<usize>MAX_COLS * 4);
  ends = reserve(<usize>MAX_COLS * 4);
  repTable = reserve(<usize>REP_SLOTS * REP_SLOT);
  scratch = reserve(<usize>SCRATCH);
  text = reserve(<usize>TEXT_BYTES);
  return kinds != 0 && repCols != 0 && starts != 0 && ends != 0 && repTable != 0 && scratch != 0 && text != 0;
}

export function awsScratch(): usize { return scratch; }
export function awsText(): usize { return text; }
export function awsTextCapacity(): i32 { return TEXT_BYTES; }

/** The format: n column kinds at scratch[0, n), then nRep reporter column indexes (u8) after them. Returns 0, or -1. */
export function awsSetFormat(n: i32, nRep: i32): i32 {
  if (n < 1 || n > MAX_COLS || nRep < 0 || nRep > MAX_REPORTER_COLS || n + nRep > SCRATCH) return -1;
  memory.copy(kinds, scratch, <usize>n);
  for (let r = 0; r < nRep; r++) {
    const c = <i32>load<u8>(scratch + <usize>(n + r));
    if (c >= n) return -1;
    store<u32>(repCols + <usize>(r * 4), <u32>c);
  }
  nCols = n; nRepCols = nRep;
  return 0;
}

@inline function fnv(p: usize, n: usize): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i: usize = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + i)) * 0x01000193;
  return h ^ (h >>> 15);
}

// The last reporter found: records come in runs from one interface.
let lastRepEntry: usize = 0;
let lastRepLen: usize = 0;

@inline function sameBytes(a: usize, b: usize, n: usize): bool {
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) if (load<u64>(a + i) != load<u64>(b + i)) return false;
  for (; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

/** Reporter id for the field bytes p[0, n), or -1 when JS has not told us this one. */
function reporterId(p: usize, n: usize): i32 {
  if (n > REP_KEY) return -1;
  if (lastRepEntry != 0 && n == lastRepLen && sameBytes(lastRepEntry, p, n)) return <i32>load<u32>(lastRepEntry + REP_KEY + 4);
  let s = fnv(p, n) & (REP_SLOTS - 1);
  for (;;) {
    const e = repTable + <usize>s * REP_SLOT;
    const len = <usize>load<u16>(e + REP_KEY);
    if (len == 0) return -1;
    if (len - 1 == n && sameBytes(e, p, n)) { lastRepEntry = e; lastRepLen = n; return <i32>load<u32>(e + REP_KEY + 4); }
    s = (s + 1) & (REP_SLOTS - 1);
  }
  return -1; // unreachable: the table is never more than half full
}

/** JS interned reporter bytes scratch[0, n) as `id`. Returns 0, or -1 (too long, or the table is half full: later ids stay with JS). */
export function awsAddReporter(n: i32, id: u32): i32 {
  if (n < 0 || <usize>n > REP_KEY || repUsed >= REP_SLOTS / 2) return -1;
  if (reporterId(scratch, <usize>n) >= 0) return 0;
  let s = fnv(scratch, <usize>n) & (REP_SLOTS - 1);
  for (;;) {
    const e = repTable + <usize>s * REP_SLOT;
    if (load<u16>(e + REP_KEY) == 0) {
      memory.copy(e, scratch, <usize>n);
      store<u16>(e + REP_KEY, <u16>(n + 1));
      store<u32>(e + REP_KEY + 4, id);
      repUsed++;
      return 0;
    }
    s = (s + 1) & (REP_SLOTS - 1);
  }
  return -1; // unreachable: the table is never more than half full
}

/** Where awsParse stopped (offset in the text region): the start of the line JS should take, or the block's end. */
export function awsPos(): i32 { return <i32>(pos - text); }
/** Events in the region after awsParse (JS's pending count to carry on from). */
export function awsPending(): i32 { return pendingOut; }
/** Lines awsParse took in its last call. */
export function awsLines(): i32 { return linesTaken; }

/**
 * Take lines of text[start, end) — complete lines, each ending in "\n" —
 * into the event region from slot `pending`. Lines longer than `maxLine`
 * (without the newline) are left to JS, which reports them.
 */
export function awsParse(startOff: i32, endOff: i32, pending: i32, maxLine: i32): i32 {
  linesTaken = 0;
  pendingOut = pending;
  pos = text + (startOff > 0 ? <usize>startOff : 0);
  // Arguments it cannot work with leave the lines to JS (never "done": that
  // would skip them). The scans stop at each line's "\n", so the block must
  // end with one: checked once here, not per byte.
  if (startOff < 0 || endOff < startOff || endOff > TEXT_BYTES || nCols == 0 || pending < 0) return AWS_NEEDS_JS;
  if (endOff > startOff && load<u8>(text + <usize>endOff - 1) != 10) return AWS_NEEDS_JS;
  let p = text + <usize>startOff;
  const end = text + <usize>endOff;
  let k = pending;
  const cap = eventsCapacity();
  let status = AWS_DONE;
  while (p < end) {
    if (k >= cap) { status = AWS_BATCH_FULL; break; }
    const next = parseLine(p, end, eventSlot(k));
    if (next == 0 || <i32>(next - 1 - p) > maxLine) { status = AWS_NEEDS_JS; break; }
    k++;
    linesTaken++;
    p = next;
  }
  pos = p;
  pendingOut = k;
  return status;
}

@inline function isDigit(c: u32): bool { return c - 48 <= 9; }

/**
 * The fast-path record parser over the line starting at s0 (the block's
 * lines all end in "\n" before `end`): the event written at r and the
 * position after the line's newline, or 0 (JS takes the line). The line's
 * end is found while parsing: the last field must be followed by "\n" or
 * "\r\n" (JavaScript strips that "\r" before parsing).
 */
function parseLine(s0: usize, end: usize, r: usize): usize {
  const n = nCols;
  let i = s0;
  let tStart: f64 = -1, tEnd: f64 = -1;
  let srcVer: u32 = 0, dstVer: u32 = 0, pktSrcVer: u32 = 0, pktDstVer: u32 = 0;
  let srcPort: u32 = 0, dstPort: u32 = 0, proto: u32 = 0, tcpFlags: u32 = 0;
  let pkts: f64 = 0, bytes: f64 = 0;
  let action: u32 = 0, direction: u32 = 0;
  for (let c = 0; c < n; c++) {
    const s = i;
    const k = <u32>load<u8>(kinds + <usize>c);
    if (k >= K_VERSION && k <= K_END) {
      let v: u64 = 0;
      for (;;) {
        const d = <u32>load<u8>(i) - 48;
        if (d > 9) break;
        v = v * 10 + <u64>d; i++;
      }
      const len = i - s;
      if (len == 0 || len > 15) return 0;
      switch (k) {
        case K_SRCPORT: if (v > 65535) return 0; srcPort = <u32>v; break;
        case K_DSTPORT: if (v > 65535) return 0; dstPort = <u32>v; break;
        case K_PROTOCOL: if (v > 255) return 0; proto = <u32>v; break;
        case K_TCP_FLAGS: if (v > 255) return 0; tcpFlags = <u32>v; break;
        case K_VERSION: if (v > 0xffff) return 0; break;
        case K_PACKETS: pkts = <f64>v; break;
        case K_BYTES: bytes = <f64>v; break;
        case K_START: tStart = <f64>v; break;
        default: tEnd = <f64>v; break; // K_END
      }
    } else if (k == K_SKIP) {
      for (;;) {
        const ch = load<u8>(i);
        if (ch <= 32) { if (ch == 32 || ch == 10 || ch == 13) break; return 0; } // a tab or control byte: JS decides
        i++;
      }
      if (i == s) return 0;
    } else if (k <= K_PKT_DSTADDR) {
      const t = ADDR_TMP + <usize>((k - K_SRCADDR) * 16);
      let ver: u32 = 4;
      for (let q = 0; q < 4; q++) {
        const qs = i;
        let v: u32 = 0;
        for (;;) {
          const d = <u32>load<u8>(i) - 48;
          if (d > 9) break;
          v = v * 10 + d; i++;
          if (i - qs > 3) break;
        }
        if (i == qs || i - qs > 3 || v > 255) { ver = 0; break; }
        store<u8>(t + 12 + <usize>q, <u8>v);
        if (q < 3) {
          if (load<u8>(i) != 46) { ver = 0; break; }
          i++;
        }
      }
      if (ver == 4) {
        store<u64>(t, 0); store<u16>(t + 8, 0); store<u16>(t + 10, 0xffff);
      } else {
        i = s;
        for (;;) { const ch = load<u8>(i); if (ch == 32 || ch == 9 || ch == 10 || ch == 13) break; i++; }
        if (!ipv6(s, i, t)) return 0;
        ver = 6;
      }
      if (k == K_SRCADDR) srcVer = ver; else if (k == K_DSTADDR) dstVer = ver;
      else if (k == K_PKT_SRCADDR) pktSrcVer = ver; else pktDstVer = ver;
    } else {
      for (;;) { const ch = load<u8>(i); if (ch == 32 || ch == 10 || ch == 13) break; i++; }
      const len = i - s;
      if (k == K_ACTION) {
        if (len == 6 && load<u32>(s) == 0x45434341 && load<u16>(s + 4) == 0x5450) action = 1;      // ACCEPT
        else if (len == 6 && load<u32>(s) == 0x454a4552 && load<u16>(s + 4) == 0x5443) action = 2; // REJECT
        else return 0;
      } else if (k == K_LOG_STATUS) {
        if (!(len == 2 && load<u16>(s) == 0x4b4f)) return 0; // OK
      } else if (len == 7 && load<u32>(s) == 0x72676e69 && load<u16>(s + 4) == 0x7365 && load<u8>(s + 6) == 0x73) direction = 1; // ingress
      else if (len == 6 && load<u32>(s) == 0x65726765 && load<u16>(s + 4) == 0x7373) direction = 2; // egress
      else return 0;
    }
    store<u32>(starts + <usize>(c * 4), <u32>s);
    store<u32>(ends + <usize>(c * 4), <u32>i);
    // exactly one space between fields; after the last, the line ends
    if (c < n - 1) {
      if (load<u8>(i) != 32) return 0;
      i++;
    }
  }
  let ch = load<u8>(i);
  if (ch == 13) { i++; ch = load<u8>(i); }
  if (ch != 10 || i >= end) return 0;
  const next = i + 1;
  let src = ADDR_TMP, dst = ADDR_TMP + 16;
  if (pktSrcVer != 0) { src = ADDR_TMP + 32; srcVer = pktSrcVer; }
  if (pktDstVer != 0) { dst = ADDR_TMP + 48; dstVer = pktDstVer; }
  if (srcVer != dstVer || srcVer == 0 || tStart < 0 || tEnd < tStart) return 0;
  let rep: i32 = 0;
  for (let q = 0; q < nRepCols; q++) {
    const c = <usize>load<u32>(repCols + <usize>(q * 4));
    const fs = <usize>load<u32>(starts + c * 4), fe = <usize>load<u32>(ends + c * 4);
    if (fe - fs == 1 && load<u8>(fs) == 45) continue;
    rep = reporterId(fs, fe - fs);
    if (rep < 0) return 0; // a reporter JS has not interned yet
    break;
  }
  // the event, as encodeFlowEvent writes an AWS record (sensor/flowlogs/flow-event.ts)
  beginEvent(r, tStart, tEnd, SRC_AWS_VPC, <u32>rep);
  store<f64>(r + R_ORIG_IP_BYTES, bytes);
  store<f64>(r + R_ORIG_PKTS, pkts);
  store<u64>(r + R_ORIG_H, load<u64>(src)); store<u64>(r + R_ORIG_H + 8, load<u64>(src + 8));
  store<u64>(r + R_RESP_H, load<u64>(dst)); store<u64>(r + R_RESP_H + 8, load<u64>(dst + 8));
  store<u16>(r + R_ORIG_P, <u16>srcPort);
  store<u16>(r + R_RESP_P, <u16>dstPort);
  store<u8>(r + R_PROTO, <u8>proto);
  store<u8>(r + R_IP_VERSION, <u8>srcVer);
  store<u8>(r + R_ACTION, <u8>action);
  store<u8>(r + R_DIRECTION, <u8>direction);
  store<u32>(r + R_SAMPLING, 1);
  store<u8>(r + R_ORIG_TCP_FLAGS, <u8>tcpFlags);
  if (proto == 1 || proto == 58) store<u8>(r + R_SOURCE_FLAGS, SF_NO_ICMP_TYPE); // AWS logs ICMP without type/code
  return next;
}

const WORDS = memory.data(16);

/** Hex digit value, or 16. */
@inline function hexVal(c: u32): u32 {
  if (c - 48 <= 9) return c - 48;
  if (c - 97 <= 5) return c - 87;
  if (c - 65 <= 5) return c - 55;
  return 16;
}

/** Dotted quad in [s, e) exactly, as a 32-bit value; -1 when malformed (aws-vpc.ts ipv4). */
function ipv4(s: usize, e: usize): i64 {
  let addr: u32 = 0, part: u32 = 0, digits = 0, dots = 0;
  for (let i = s; i < e; i++) {
    const c = <u32>load<u8>(i);
    if (c == 46) {
      if (digits == 0 || dots == 3) return -1;
      addr = (addr << 8) | part; part = 0; digits = 0; dots++;
    } else {
      const d = c - 48;
      if (d > 9 || digits == 3) return -1;
      part = part * 10 + d; digits++;
      if (part > 255) return -1;
    }
  }
  if (dots != 3 || digits == 0) return -1;
  return <i64>((addr << 8) | part);
}

/** IPv6 text in [s, e) into 16 bytes at out (aws-vpc.ts ipv6: same acceptance). */
function ipv6(s: usize, e: usize, out: usize): bool {
  if (e - s < 2 || e - s > 45) return false;
  let n = 0;
  let gap = -1;
  let i = s;
  if (load<u8>(i) == 58) {
    if (load<u8>(i + 1) != 58) return false;
    i += 2; gap = 0;
  }
  while (i < e) {
    const gs = i;
    let v: u32 = 0;
    while (i < e) {
      const d = hexVal(load<u8>(i));
      if (d > 15) break;
      v = v * 16 + d; i++;
    }
    if (i < e && load<u8>(i) == 46) {
      if (n > 6) return false;
      const a = ipv4(gs, e);
      if (a < 0) return false;
      store<u16>(WORDS + <usize>(2 * n), <u16>(<u32>a >> 16)); n++;
      store<u16>(WORDS + <usize>(2 * n), <u16>(<u32>a & 0xffff)); n++;
      i = e;
      break;
    }
    if (i == gs || i - gs > 4 || n == 8) return false;
    store<u16>(WORDS + <usize>(2 * n), <u16>v); n++;
    if (i == e) break;
    if (load<u8>(i) != 58) return false;
    i++;
    if (i < e && load<u8>(i) == 58) {
      if (gap >= 0) return false;
      gap = n; i++;
    } else if (i == e) return false;
  }
  if (gap < 0 ? n != 8 : n > 7) return false;
  const zeros = 8 - n;
  for (let w = 0, o = 0; w < 8; w++) {
    const val: u32 = gap >= 0 && w >= gap && w < gap + zeros ? 0 : <u32>load<u16>(WORDS + <usize>(2 * o++));
    store<u8>(out + <usize>(2 * w), <u8>(val >> 8));
    store<u8>(out + <usize>(2 * w + 1), <u8>val);
  }
  return true;
}
