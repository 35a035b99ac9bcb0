// Capture walker: classic pcap and pcapng records in the input region.
//
// JS copies a chunk of the file into the input region and calls feed(); we
// consume every complete record and return how many bytes we used. A record
// cut by the chunk boundary is simply left for the next call (JS moves the
// tail to the front), so the only state that survives between calls is the
// file-level state below (byte order, link type, pcapng interfaces, resync).
//
// Garbage handling: the record framing of a capture cannot be trusted. A
// classic pcap record longer than any libpcap would write, or a pcapng block
// with an impossible length or trailer, means the framing is lost: we count
// it once (E_RESYNC) and scan forward byte by byte for something that looks
// like a record again (C_RESYNC_SKIPPED_BYTES), checking the record after it
// too so that a random byte pattern is not enough.
import { flowsReady, accountPacket } from "./flows";
import { decodePacket, setDecodeDelta } from "./decode";
import { fragFlush } from "./fragments";
import { setPacketTime, resetPacket, setExtra, setSource, pkt_ip_len, pkt_payload_len } from "./packet";
import {
  C_RECORDS, C_CAPTURE_BYTES, C_WIRE_BYTES, C_CAPTURED_BYTES, C_SNAP_TRUNCATED, C_PCAPNG_SECTIONS,
  C_PCAPNG_INTERFACES, C_PCAPNG_SKIPPED_BLOCKS, E_BAD_FILE_HEADER, E_TRUNCATED_RECORD, E_RECORD_TOO_LONG,
  E_CAPLEN_GT_WIRELEN, E_BAD_BLOCK, E_BAD_INTERFACE, E_TIME_BACKWARDS, E_BAD_TIMESTAMP, E_RESYNC,
  C_RESYNC_SKIPPED_BYTES, E_TOO_MANY_INTERFACES,
} from "./counters";
import { count, countN, inputError, setRecordOffset } from "./stats";
import { rd32, rd16, reserve } from "./bytes";

/** Largest packet libpcap / Wireshark write (MAXIMUM_SNAPLEN). Longer = framing lost. */
const MAX_CAPLEN: u32 = 262144;
/** Largest on-the-wire length a resync candidate may claim (jumbo + offload slack). */
const MAX_WIRELEN: u32 = 262144 + 65536;
/** Smallest input region: one maximal record plus headers. */
const MIN_INPUT: i32 = 262144 + 64;
/** Resync candidates must lie within a day of the last good timestamp. */
const RESYNC_WINDOW: i64 = 86400;
/** pcapng interfaces tracked per section. */
const MAX_IFACES: u32 = 256;

const SHB: u32 = 0x0A0D0D0A;
const BO_MAGIC: u32 = 0x1A2B3C4D;

// Status codes (index.ts contract).
const ST_MORE: i32 = 0;
const ST_FULL: i32 = 1;
const ST_UNUSABLE: i32 = 2;

// Errors found in a record header, counted only once the record is really
// processed (a record refused for a full output is seen again next call).
const X_BAD_TS: u32 = 1;
const X_TOO_LONG: u32 = 2;

let inBuf: usize = 0;
let inCap: i32 = 0;
/** Largest pcapng block accepted: must fit the input region whole. */
let maxBlock: u32 = 0;

let format: i32 = 1;
let status: i32 = ST_MORE;
let headerDone: bool = false;
let resyncing: bool = false;
let feedBase: f64 = 0;

// Clocks: `clock` is the core's monotonic capture clock (max ts ever seen,
// kept across captures); `prevTs` the previous packet of this capture, for
// the backwards check (one count per step back, not one per packet behind
// the clock, so one bogus future timestamp does not flag the whole file).
let clock: f64 = 0;
let haveClock: bool = false;
let prevTs: f64 = 0;
let havePrev: bool = false;

// Classic pcap file state.
let swap: bool = false;
let fracDiv: f64 = 1e6;
let fracLimit: u32 = 1000000;
let snaplen: u32 = 0;
let linktype: i32 = 1;
// Seconds of the last two records processed normally: resync candidates
// must be near one of them (two, so that one bogus record that slipped
// through cannot make every real record look implausible).
let goodSec: u32 = 0;
let prevGoodSec: u32 = 0;
let haveGoodSec: bool = false;

// pcapng section state. Interface table: per IDB of the current section.
let ngSwap: bool = false;
let ifaceCount: u32 = 0; // interfaces described in this section (may exceed MAX_IFACES)
const IF_SIZE: usize = 32;
const ifaces: usize = memory.data(<i32>(MAX_IFACES * <u32>IF_SIZE), 8);
const IF_LINKTYPE = 0;  // i32
const IF_SNAPLEN = 4;   // u32 (0 = unlimited)
const IF_UNITS = 8;     // u64 timestamp units per second (0 = not an integer: use IF_UNITSF)
const IF_UNITSF = 16;   // f64 the same as a float
const IF_OFFSET = 24;   // f64 if_tsoffset seconds

export function captureInit(inputBytes: i32): bool {
  if (inputBytes < MIN_INPUT) return false;
  inBuf = reserve(<usize>inputBytes);
  if (inBuf == 0) return false;
  inCap = inputBytes;
  maxBlock = <u32>inputBytes & ~3;
  if (maxBlock > 1 << 20) maxBlock = 1 << 20;
  return true;
}
export function inputPtr(): usize { return inBuf; }
export function inputCapacity(): i32 { return inCap; }
export function captureStatus(): i32 { return status; }
export function lastTs(): f64 { return clock; }

/** Start a new capture stream (1 = pcap, 2 = pcapng). Flows, counters and the clock carry over. */
export function beginCapture(fmt: i32): void {
  format = fmt == 2 ? 2 : 1;
  status = ST_MORE;
  headerDone = false;
  resyncing = false;
  havePrev = false;
  haveGoodSec = false;
  goodSec = 0;
  prevGoodSec = 0;
  swap = false;
  ngSwap = false;
  ifaceCount = 0;
}

export function feed(len: i32, baseOffset: f64, final: bool): i32 {
  if (status == ST_UNUSABLE || inBuf == 0) { countN(C_CAPTURE_BYTES, <f64>len); return len; }
  if (len > inCap) len = inCap;
  status = ST_MORE;
  feedBase = baseOffset;
  // The file says what it is; trust its magic over the caller's guess.
  if (!headerDone && len >= 4) {
    const m = load<u32>(inBuf);
    if (m == SHB) format = 2;
    else if (m == 0xA1B2C3D4 || m == 0xD4C3B2A1 || m == 0xA1B23C4D || m == 0x4D3CB2A1) format = 1;
  }
  const pos = format == 2 ? feedPcapng(len, final) : feedPcap(len, final);
  countN(C_CAPTURE_BYTES, <f64>pos);
  // End of this input: fragments still waiting for their first fragment never get it.
  if (final && pos == len && status == ST_MORE) fragFlush();
  return pos;
}

/** Framing lost at pos: count the resync once, skip this byte, scan from the next one. */
function lostFraming(pos: i32): i32 {
  setRecordOffset(feedBase + <f64>pos);
  inputError(E_RESYNC);
  countN(C_RESYNC_SKIPPED_BYTES, 1);
  resyncing = true;
  return pos + 1;
}

/** The file header is unusable: count it once, swallow the rest. */
function unusable(len: i32): i32 {
  setRecordOffset(feedBase);
  inputError(E_BAD_FILE_HEADER);
  status = ST_UNUSABLE;
  return len;
}

/** Input ends inside a record (final): count once and consume the rest. */
function truncatedTail(pos: i32): void {
  setRecordOffset(feedBase + <f64>pos);
  inputError(E_TRUNCATED_RECORD);
}

/** Count the record and hand it to the decoder and flow table. Returns false when the output is full. */
function processRecord(data: usize, caplen: u32, wire: u32, lt: i32, ts: f64, delta: i32, iface: u32, errs: u32, checkTime: bool): bool {
  setPacketTime(ts, wire, iface);
  resetPacket();
  if (!flowsReady(ts)) return false;
  count(C_RECORDS);
  countN(C_WIRE_BYTES, <f64>wire);
  countN(C_CAPTURED_BYTES, <f64>caplen);
  if (caplen < wire) count(C_SNAP_TRUNCATED);
  else if (caplen > wire) inputError(E_CAPLEN_GT_WIRELEN);
  if (errs) {
    if (errs & X_BAD_TS) inputError(E_BAD_TIMESTAMP);
    if (errs & X_TOO_LONG) inputError(E_RECORD_TOO_LONG);
  }
  if (checkTime) {
    if (havePrev && ts < prevTs) inputError(E_TIME_BACKWARDS);
    prevTs = ts;
    havePrev = true;
  }
  if (ts > clock || !haveClock) { clock = ts; haveClock = true; }
  setDecodeDelta(delta);
  if (decodePacket(data, <i32>caplen, lt)) accountPacket();
  return true;
}

// ---------------------------------------------------------------- classic pcap

function feedPcap(len: i32, final: bool): i32 {
  let pos = 0;
  if (!headerDone) {
    if (len < 24) return final ? unusable(len) : 0;
    const m = load<u32>(inBuf);
    if (m == 0xA1B2C3D4) { swap = false; fracDiv = 1e6; fracLimit = 1000000; }
    else if (m == 0xD4C3B2A1) { swap = true; fracDiv = 1e6; fracLimit = 1000000; }
    else if (m == 0xA1B23C4D) { swap = false; fracDiv = 1e9; fracLimit = 1000000000; }
    else if (m == 0x4D3CB2A1) { swap = true; fracDiv = 1e9; fracLimit = 1000000000; }
    else return unusable(len);
    snaplen = rd32(inBuf + 16, swap);
    // Low 16 bits: LINKTYPE_*; the bits above carry FCS information.
    linktype = <i32>(rd32(inBuf + 20, swap) & 0xFFFF);
    headerDone = true;
    pos = 24;
  }
  const sw = swap;
  while (true) {
    if (resyncing) {
      pos = resyncPcap(pos, len, final);
      if (resyncing) break;
    }
    const avail = len - pos;
    if (avail < 16) {
      if (final && avail > 0) { truncatedTail(pos); pos = len; }
      break;
    }
    const h = inBuf + <usize>pos;
    const sec = rd32(h, sw);
    const frac = rd32(h + 4, sw);
    const caplen = rd32(h + 8, sw);
    const wire = rd32(h + 12, sw);
    // Each oddity alone is something real files contain (counted, record
    // still used); two at once, or a length no libpcap writes, means we are
    // reading bytes that are not a record header: the framing is lost.
    let odd = 0;
    if (frac >= fracLimit) odd++;
    if (caplen > wire) odd++;
    if (wire > MAX_WIRELEN) odd++;
    const far = haveGoodSec && !nearGoodSec(sec);
    if (far) odd++;
    if (caplen > MAX_CAPLEN || odd >= 2) {
      pos = lostFraming(pos);
      continue;
    }
    if (far) {
      // A second far from the previous records is the usual sign of a header
      // read a few bytes off (the other fields can still look fine). Believe
      // it only if the record after it is also near that second — a real
      // jump in time — or if the input ends exactly with this record.
      const next = <i64>pos + 16 + <i64>caplen;
      if (next + 16 <= <i64>len) {
        const n = inBuf + <usize>next;
        if (rd32(n + 8, sw) > MAX_CAPLEN || rd32(n + 12, sw) > MAX_WIRELEN || !within(rd32(n, sw), sec)) {
          pos = lostFraming(pos);
          continue;
        }
      } else if (!final) {
        break; // decide once the next header is in
      } else if (next > <i64>len) {
        pos = lostFraming(pos); // runs past the end of the input as well: not a record
        continue;
      }
    }
    if (<u32>avail < 16 + caplen) {
      if (final) { truncatedTail(pos); pos = len; }
      break;
    }
    let errs: u32 = 0;
    if (frac >= fracLimit) errs = X_BAD_TS; // still used: the second is right, the fraction just overflows
    if (caplen > snaplen && snaplen != 0) errs |= X_TOO_LONG;
    const ts = <f64>sec + <f64>frac / fracDiv;
    setRecordOffset(feedBase + <f64>pos);
    if (!processRecord(h + 16, caplen, wire, linktype, ts, 16, 0, errs, true)) { status = ST_FULL; break; }
    prevGoodSec = goodSec;
    goodSec = sec;
    if (!haveGoodSec) { prevGoodSec = sec; haveGoodSec = true; }
    pos += 16 + <i32>caplen;
  }
  return pos;
}

@inline function within(a: u32, b: u32): bool {
  const d = <i64>a - <i64>b;
  return d <= RESYNC_WINDOW && d >= -RESYNC_WINDOW;
}
@inline function nearGoodSec(sec: u32): bool { return within(sec, goodSec) || within(sec, prevGoodSec); }

/** Does the 16-byte record header at h look like one a capture tool wrote? */
function plausiblePcapHeader(h: usize): bool {
  const frac = rd32(h + 4, swap);
  const caplen = rd32(h + 8, swap);
  const wire = rd32(h + 12, swap);
  return frac < fracLimit && caplen <= MAX_CAPLEN && wire != 0 && wire <= MAX_WIRELEN && caplen <= wire;
}

/** 1 = a plausible record starts at pos, 0 = not, -1 = cannot tell yet (need more input). */
function pcapCandidate(pos: i32, len: i32, final: bool): i32 {
  const h = inBuf + <usize>pos;
  if (!plausiblePcapHeader(h)) return 0;
  const sec = rd32(h, swap);
  if (haveGoodSec && !nearGoodSec(sec)) return 0;
  // The record after it must be plausible too, and close in time (or the
  // input must end right there).
  const next = <i64>pos + 16 + <i64>rd32(h + 8, swap);
  if (next + 16 <= <i64>len) {
    const n = inBuf + <usize>next;
    return plausiblePcapHeader(n) && within(rd32(n, swap), sec) ? 1 : 0;
  }
  if (!final) return -1;
  return next <= <i64>len ? 1 : 0;
}

function resyncPcap(pos: i32, len: i32, final: bool): i32 {
  const start = pos;
  while (true) {
    if (pos + 16 > len) {
      if (final) pos = len; // nothing plausible until the end
      break;
    }
    const c = pcapCandidate(pos, len, final);
    if (c == 1) { resyncing = false; break; }
    if (c < 0) break;
    pos++;
  }
  if (pos > start) countN(C_RESYNC_SKIPPED_BYTES, <f64>(pos - start));
  return pos;
}

// ---------------------------------------------------------------- pcapng

@inline function isKnownBlock(t: u32): bool {
  // SHB, IDB, PB, SPB, NRB, ISB, EPB, IRIG-B, ARINC 429, systemd journal, DSB, custom (copyable / not)
  return t == SHB || (t >= 1 && t <= 10) || t == 0xBAD || t == 0x40000BAD;
}

/** Byte order of an SHB at h, or -1 when the byte-order magic is wrong. 0 = little-endian file, 1 = big-endian. */
@inline function shbOrder(h: usize): i32 {
  const m = load<u32>(h + 8);
  if (m == BO_MAGIC) return 0;
  if (m == bswap<u32>(BO_MAGIC)) return 1;
  return -1;
}

function feedPcapng(len: i32, final: bool): i32 {
  let pos = 0;
  while (true) {
    if (resyncing) {
      pos = resyncPcapng(pos, len, final);
      if (resyncing) break;
    }
    const avail = len - pos;
    if (avail < 12) {
      if (!headerDone) return final ? unusable(len) : pos;
      if (final && avail > 0) { truncatedTail(pos); pos = len; }
      break;
    }
    const h = inBuf + <usize>pos;
    let type = load<u32>(h);
    let sw = ngSwap;
    if (type == SHB) {
      const o = shbOrder(h);
      if (o < 0) {
        if (!headerDone) return unusable(len);
        pos = badBlock(pos);
        continue;
      }
      sw = o == 1;
    } else {
      if (!headerDone) return unusable(len);
      if (sw) type = bswap<u32>(type);
    }
    const blen = rd32(h + 4, sw);
    if (blen < 12 || (blen & 3) != 0 || blen > maxBlock) {
      if (!headerDone) return unusable(len);
      pos = badBlock(pos);
      continue;
    }
    if (blen > <u32>avail) {
      if (final) {
        if (!headerDone) return unusable(len);
        truncatedTail(pos);
        pos = len;
      }
      break;
    }
    if (rd32(h + blen - 4, sw) != blen) {
      if (!headerDone) return unusable(len);
      pos = badBlock(pos);
      continue;
    }
    setRecordOffset(feedBase + <f64>pos);
    if (type == 6) {
      if (!enhancedPacket(h, blen)) { status = ST_FULL; break; }
    } else if (type == SHB) {
      if (blen < 28) { inputError(E_BAD_BLOCK); if (!headerDone) return unusable(len); }
      else {
        // A new section: its own byte order and its own interface numbering.
        ngSwap = sw;
        ifaceCount = 0;
        headerDone = true;
        count(C_PCAPNG_SECTIONS);
      }
    } else if (type == 1) {
      interfaceDescription(h, blen);
    } else if (type == 3) {
      if (!simplePacket(h, blen)) { status = ST_FULL; break; }
    } else if (type == 2) {
      if (!obsoletePacket(h, blen)) { status = ST_FULL; break; }
    } else {
      count(C_PCAPNG_SKIPPED_BLOCKS); // NRB, ISB, DSB, custom, unknown: skipped by length
    }
    pos += <i32>blen;
  }
  return pos;
}

/** A pcapng block whose framing cannot be right: count it, and resync. */
function badBlock(pos: i32): i32 {
  setRecordOffset(feedBase + <f64>pos);
  inputError(E_BAD_BLOCK);
  return lostFraming(pos);
}

/** 1 = a plausible block starts at pos, 0 = not, -1 = cannot tell yet. */
function pcapngCandidate(pos: i32, len: i32, final: bool): i32 {
  const h = inBuf + <usize>pos;
  let type = load<u32>(h);
  let sw = ngSwap;
  if (type == SHB) {
    const o = shbOrder(h);
    if (o < 0) return 0;
    sw = o == 1;
  } else if (sw) type = bswap<u32>(type);
  if (!isKnownBlock(type)) return 0;
  const blen = rd32(h + 4, sw);
  if (blen < 12 || (blen & 3) != 0 || blen > maxBlock) return 0;
  if (<i64>pos + <i64>blen > <i64>len) return final ? 0 : -1;
  return rd32(h + blen - 4, sw) == blen ? 1 : 0;
}

function resyncPcapng(pos: i32, len: i32, final: bool): i32 {
  const start = pos;
  while (true) {
    if (pos + 12 > len) {
      if (final) pos = len;
      break;
    }
    const c = pcapngCandidate(pos, len, final);
    if (c == 1) { resyncing = false; break; }
    if (c < 0) break;
    pos++;
  }
  if (pos > start) countN(C_RESYNC_SKIPPED_BYTES, <f64>(pos - start));
  return pos;
}

/** IDB: link type, snap length, if_tsresol (9), if_tsoffset (14). */
function interfaceDescription(h: usize, blen: u32): void {
  if (blen < 20) { inputError(E_BAD_BLOCK); return; }
  const idx = ifaceCount++;
  if (idx >= MAX_IFACES) { inputError(E_TOO_MANY_INTERFACES); return; }
  count(C_PCAPNG_INTERFACES);
  const sw = ngSwap;
  const e = ifaces + <usize>idx * IF_SIZE;
  store<i32>(e, <i32>rd16(h + 8, sw), IF_LINKTYPE);
  store<u32>(e, rd32(h + 12, sw), IF_SNAPLEN);
  let units: u64 = 1000000; // default resolution: microseconds
  let unitsF: f64 = 1e6;
  let offset: f64 = 0;
  let o = h + 16;
  const oend = h + blen - 4;
  while (o + 4 <= oend) {
    const code = rd16(o, sw);
    const olen = <usize>rd16(o + 2, sw);
    if (code == 0) break; // opt_endofopt
    const v = o + 4;
    if (v + olen > oend) break;
    if (code == 9 && olen >= 1) {
      // if_tsresol: high bit clear = 10^-n seconds, set = 2^-n seconds.
      const r = <u32>load<u8>(v);
      const n = r & 0x7F;
      if (r & 0x80) {
        unitsF = Math.pow(2, <f64>n);
        units = n <= 63 ? (<u64>1 << <u64>n) : 0;
      } else {
        unitsF = Math.pow(10, <f64>n);
        units = 1;
        if (n <= 19) { for (let i: u32 = 0; i < n; i++) units *= 10; } else units = 0;
      }
      if (units == 0 && unitsF == 0) { units = 1000000; unitsF = 1e6; }
    } else if (code == 14 && olen >= 8) {
      // if_tsoffset: signed 64-bit seconds added to every timestamp.
      const lo = rd32(v, sw);
      const hi = rd32(v + 4, sw);
      const off = sw ? ((<u64>lo << 32) | <u64>hi) : ((<u64>hi << 32) | <u64>lo);
      offset = <f64><i64>off;
    }
    o = v + ((olen + 3) & ~3);
  }
  store<u64>(e, units, IF_UNITS);
  store<f64>(e, unitsF, IF_UNITSF);
  store<f64>(e, offset, IF_OFFSET);
}

/**
 * A 64-bit pcapng timestamp in the interface's units → f64 seconds. Whole
 * seconds and the fraction are converted separately: a nanosecond count as
 * one f64 would lose the sub-microsecond digits.
 */
@inline function pcapngTime(e: usize, hi: u32, lo: u32): f64 {
  const t = (<u64>hi << 32) | <u64>lo;
  const units = load<u64>(e, IF_UNITS);
  const unitsF = load<f64>(e, IF_UNITSF);
  let ts: f64;
  if (units != 0) {
    const sec = t / units;
    ts = <f64>sec + <f64>(t - sec * units) / unitsF;
  } else {
    ts = <f64>t / unitsF;
  }
  return ts + load<f64>(e, IF_OFFSET);
}

/** The interface entry for a packet's interface id, or 0 (counted) when it was never described. */
function interfaceFor(id: u32): usize {
  if (id >= ifaceCount) { inputError(E_BAD_INTERFACE); return 0; }
  if (id >= MAX_IFACES) return 0; // described, but beyond our table (counted at its IDB)
  return ifaces + <usize>id * IF_SIZE;
}

/** Shared by EPB (6) and the obsolete PB (2): same layout after the interface id. */
function timedPacket(h: usize, blen: u32, iface: u32): bool {
  const e = interfaceFor(iface);
  if (e == 0) return true;
  const caplen = rd32(h + 20, ngSwap);
  const wire = rd32(h + 24, ngSwap);
  if (<u64>caplen + 32 > <u64>blen) { inputError(E_BAD_BLOCK); return true; } // data would overrun the block
  const ts = pcapngTime(e, rd32(h + 12, ngSwap), rd32(h + 16, ngSwap));
  const snap = load<u32>(e, IF_SNAPLEN);
  const errs: u32 = (caplen > MAX_CAPLEN || (snap != 0 && caplen > snap)) ? X_TOO_LONG : 0;
  return processRecord(h + 28, caplen, wire, load<i32>(e, IF_LINKTYPE), ts, 28, iface, errs, true);
}

function enhancedPacket(h: usize, blen: u32): bool {
  if (blen < 32) { inputError(E_BAD_BLOCK); return true; }
  return timedPacket(h, blen, rd32(h + 8, ngSwap));
}

function obsoletePacket(h: usize, blen: u32): bool {
  if (blen < 32) { inputError(E_BAD_BLOCK); return true; }
  return timedPacket(h, blen, rd16(h + 8, ngSwap));
}

/** SPB: no timestamp (use the clock), no caplen (min of original length, interface 0 snaplen, block body). */
function simplePacket(h: usize, blen: u32): bool {
  if (blen < 16) { inputError(E_BAD_BLOCK); return true; }
  const e = interfaceFor(0);
  if (e == 0) return true;
  const wire = rd32(h + 8, ngSwap);
  let caplen = blen - 16;
  if (wire < caplen) caplen = wire;
  const snap = load<u32>(e, IF_SNAPLEN);
  if (snap != 0 && snap < caplen) caplen = snap;
  return processRecord(h + 12, caplen, wire, load<i32>(e, IF_LINKTYPE), clock, 12, 0, 0, false);
}

/**
 * Decode and account one frame placed at input[0, capLen) outside any
 * capture file (sFlow samples, tests): 1 accounted, 0 not, 2 output full.
 * The record offset used for error reports is left as the caller set it.
 */
export function ingestFrame(capLen: i32, wireLen: i32, lt: i32, ts: f64): i32 {
  return ingestSampledFrame(capLen, wireLen, lt, ts, 1, 0);
}

/** Saturating product for the u32 "extra" counters. */
function satMul(a: u32, b: u32): u32 {
  const p = <u64>a * <u64>b;
  return p > 0xFFFFFFFF ? 0xFFFFFFFF : <u32>p;
}

/**
 * ingestFrame for a frame sampled 1-in-`rate` (sFlow): the flow is credited
 * with `rate` packets of this frame's size — the sampling estimate sFlow
 * collectors use. (Extra bytes saturate at 2^32 - 1 per sample.)
 */
export function ingestSampledFrame(capLen: i32, wireLen: i32, lt: i32, ts: f64, rate: u32, source: u8): i32 {
  if (capLen < 0 || capLen > inCap || inBuf == 0) { inputError(E_RECORD_TOO_LONG); return 0; }
  setPacketTime(ts, <u32>wireLen, 0);
  resetPacket();
  if (source != 0) setSource(source, rate);
  if (!flowsReady(ts)) return 2;
  count(C_RECORDS);
  countN(C_WIRE_BYTES, <f64>wireLen);
  countN(C_CAPTURED_BYTES, <f64>capLen);
  if (capLen < wireLen) count(C_SNAP_TRUNCATED);
  if (ts > clock || !haveClock) { clock = ts; haveClock = true; }
  setDecodeDelta(0);
  if (decodePacket(inBuf, capLen, lt)) {
    if (rate > 1) {
      const k = rate - 1;
      setExtra(k, satMul(k, pkt_ip_len), satMul(k, <u32>wireLen), satMul(k, pkt_payload_len));
    }
    accountPacket();
    return 1;
  }
  return 0;
}
