// Counter storage and the current read position, shared by every module.
import { NUM_COUNTERS } from "./counters";

/** f64[NUM_COUNTERS]: the counters. */
export const counters: usize = memory.data(NUM_COUNTERS * 8, 8);
/** f64[NUM_COUNTERS]: byte offset in the input of the first occurrence of each E_* error (-1 none). */
export const errFirst: usize = memory.data(NUM_COUNTERS * 8, 8);
/** f64[NUM_COUNTERS]: byte offset of the latest occurrence. */
export const errLast: usize = memory.data(NUM_COUNTERS * 8, 8);

/** Byte offset, in the whole input stream, of the record being processed. */
let recordOffset: f64 = 0;
export function setRecordOffset(off: f64): void { recordOffset = off; }
export function getRecordOffset(): f64 { return recordOffset; }

@inline export function count(idx: i32): void {
  const p = counters + (<usize>idx << 3);
  store<f64>(p, load<f64>(p) + 1);
}
@inline export function countN(idx: i32, n: f64): void {
  const p = counters + (<usize>idx << 3);
  store<f64>(p, load<f64>(p) + n);
}
@inline export function setCounter(idx: i32, v: f64): void {
  store<f64>(counters + (<usize>idx << 3), v);
}
/** Count an input error at the current record's offset (plus `delta` bytes into it). */
export function inputError(idx: i32, delta: i32 = 0): void {
  const off = recordOffset + <f64>delta;
  const i = <usize>idx << 3;
  store<f64>(counters + i, load<f64>(counters + i) + 1);
  if (load<f64>(errFirst + i) < 0) store<f64>(errFirst + i, off);
  store<f64>(errLast + i, off);
}
export function resetStats(): void {
  for (let i = 0; i < NUM_COUNTERS; i++) {
    store<f64>(counters + (<usize>i << 3), 0);
    store<f64>(errFirst + (<usize>i << 3), -1);
    store<f64>(errLast + (<usize>i << 3), -1);
  }
}
