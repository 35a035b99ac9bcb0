// STUB — being written (capture + decode helper).
export function captureInit(inputBytes: i32): bool { return true; }
export function inputPtr(): usize { return 0; }
export function inputCapacity(): i32 { return 0; }
export function beginCapture(format: i32): void {}
export function feed(len: i32, baseOffset: f64, final: bool): i32 { return len; }
export function captureStatus(): i32 { return 0; }
export function lastTs(): f64 { return 0; }
export function ingestFrame(capLen: i32, wireLen: i32, linktype: i32, ts: f64): i32 { return 0; }
