// The read-ahead thread (started by read-ahead.ts): reads a capture file
// into slots of the Wasm core's shared input region while the main thread
// decodes the previous slot. The kernel copy of a cached file (~0.1 ns/byte,
// as long as the decoding itself on this machine) then overlaps the decoding
// instead of adding to it.
//
// Plain JavaScript on purpose: it is forty lines with no imports of ours, and
// starts in a few milliseconds without the TypeScript loader or a bundle.
//
// Control words (Int32Array over a SharedArrayBuffer), K = number of slots:
//   ctl[i]       slot i state: 0 = free (ours to fill), 1 = full (main's)
//   ctl[K + i]   bytes read into slot i; 0 = end of file
//   ctl[2K]      1 = stop (main is done or gave up)
//   ctl[2K + 1]  1 = a read failed (message posted)
import { readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { fd, memory, slots, ctl: ctlBuffer, start } = workerData.readAhead;
const ctl = new Int32Array(ctlBuffer);
const K = slots.length;
const STOP = 2 * K;
const FAILED = 2 * K + 1;

let pos = start;
for (let i = 0; ; i = (i + 1) % K) {
  while (Atomics.load(ctl, i) !== 0 && Atomics.load(ctl, STOP) === 0) Atomics.wait(ctl, i, 1, 1000);
  if (Atomics.load(ctl, STOP) !== 0) break;
  let n = 0;
  try {
    // A fresh view each time: the buffer object changes when the core's memory grows.
    n = readSync(fd, new Uint8Array(memory.buffer, slots[i].off, slots[i].cap), 0, slots[i].cap, pos);
  } catch (e) {
    parentPort.postMessage({ error: e instanceof Error ? e.message : String(e), offset: pos });
    Atomics.store(ctl, FAILED, 1);
    n = 0;
  }
  pos += n;
  Atomics.store(ctl, K + i, n);
  Atomics.store(ctl, i, 1);
  Atomics.notify(ctl, i);
  if (n === 0) break;
}
