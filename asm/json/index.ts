// The flow-record formatter, a Wasm module of its own (build/flowjson.wasm):
// the writer thread copies a batch of the core's flow records into its
// record region, calls format(), and writes the output region to the file.
//   _start → init → loadTexts, addLocalNet…, configure → { setReporter… ; format… }
// Memory grows only in init() and setReporter(); JS re-creates views after them.
import { REC_SIZE } from "../flowrecord";
import { reserve } from "../bytes";
import { MAX_LINE_BASE, writeRecord } from "./writer";
import { loadTextBlob, reporterLen, setReporterName, tablesInit } from "./tables";
import { addNet, localNetsInit } from "../localnets";
import { R_REPORTER } from "../flowrecord";

/** What the JavaScript face expects (sensor/flows/flow-json-wasm.ts FORMATTER_ABI): bump both when the exports or the record layout change. */
export const ABI_VERSION: i32 = 1;
export function abiVersion(): i32 { return ABI_VERSION; }

const SCRATCH_BYTES: i32 = 64 << 10;

let records: usize = 0;
let recordCap: i32 = 0;
let out: usize = 0;
let outCap: usize = 0;
let outUsed: usize = 0;
let scratch: usize = 0;
let numScratch: usize = 0;
let seed: u32 = 0;

/** Room for `recordCapacity` records in and `outBytes` (≥ 64 KiB) of text out. Returns 0, or -1. */
export function init(recordCapacity: i32, outBytes: i32): i32 {
  if (recordCapacity < 1 || outBytes < 65536) return -1;
  scratch = reserve(<usize>SCRATCH_BYTES);
  numScratch = reserve(64);
  records = reserve(<usize>recordCapacity * <usize>REC_SIZE);
  out = reserve(<usize>outBytes);
  if (scratch == 0 || numScratch == 0 || records == 0 || out == 0 || !tablesInit() || !localNetsInit()) return -1;
  recordCap = recordCapacity;
  outCap = <usize>outBytes;
  return 0;
}

export function recordsPtr(): usize { return records; }
export function recordCapacity(): i32 { return recordCap; }
export function scratchPtr(): usize { return scratch; }
export function scratchBytes(): i32 { return SCRATCH_BYTES; }
export function outPtr(): usize { return out; }
/** Bytes written to the output region by the last format() call. */
export function outLength(): i32 { return <i32>outUsed; }

/** Community ID seed (16 bits). */
export function configure(communityIdSeed: i32): void { seed = <u32>communityIdSeed & 0xffff; }

/** Enumeration names from the blob at scratch[0, len) (tables.ts describes it). Returns 0, or -1. */
export function loadTexts(len: i32): i32 { return len < 0 || len > SCRATCH_BYTES ? -1 : loadTextBlob(scratch, len); }

/** A local network: 16-byte network then 16-byte mask at scratch. Returns 0, or -1 when full. */
export function addLocalNet(): i32 { return addNet(scratch); }

/** Reporter `id`'s JSON-escaped name at scratch[0, len). May grow memory. Returns 0, or -1. */
export function setReporter(id: i32, len: i32): i32 {
  if (id < 0 || len < 0 || len > SCRATCH_BYTES) return -1;
  return setReporterName(<u32>id, scratch, <usize>len);
}

/**
 * Format records [start, start + n) of the record region into the output
 * region (from its start). Stops early when the next line might not fit;
 * returns how many records were formatted — JS writes outLength() bytes and
 * calls again for the rest.
 */
export function format(start: i32, n: i32): i32 {
  if (start < 0 || n < 0 || start + n > recordCap) return 0;
  let p = out;
  const end = out + outCap;
  let i = 0;
  for (; i < n; i++) {
    const r = records + <usize>(start + i) * <usize>REC_SIZE;
    if (p + <usize>MAX_LINE_BASE + reporterLen(load<u32>(r + R_REPORTER)) > end) break;
    p = writeRecord(p, r, seed, numScratch);
  }
  outUsed = p - out;
  return i;
}
