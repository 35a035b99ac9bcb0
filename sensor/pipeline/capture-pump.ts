// Moves one capture through the Wasm core: read a chunk into the input
// region behind any unconsumed tail, feed, drain flows, repeat. The core
// only ever consumes whole records, so a record split across chunks simply
// waits for the next read.
import type { RawFlow } from '../core/flow-record.ts';
import { STATUS, type WasmCore } from '../core/wasm-core.ts';

/** Empties the core's output region (called after every feed). */
export type Drain = (core: WasmCore) => void;

/** A Drain that decodes each record and hands it to `onFlow`. */
export function perFlow(onFlow: (f: RawFlow) => void): Drain {
  return (core) => { core.drain(onFlow); };
}
import type { CaptureInput } from '../sources/capture-input.ts';


/**
 * Where a capture stands between batches: the stream offset of the input
 * region's first byte, and the bytes there the core has not consumed yet
 * (part of a record; they live in the core's memory, so a core image taken
 * here holds them). A checkpoint: a restored core resumes at base + carry.
 */
export interface CapturePosition { base: number; carry: number }

export interface PumpResult {
  bytes: number;
  /** false when the core found the capture unusable (bad file header) */
  usable: boolean;
}

/**
 * @param afterBatch  after every batch, with the position reached (the core
 *   and everything drained are consistent with it: a snapshot may be taken)
 * @param from  resume a capture the core (restored from an image taken at
 *   this position) was part-way through: its header is not read again
 */
export async function pumpCapture(
  core: WasmCore,
  input: CaptureInput,
  drain: Drain,
  afterBatch: (at: CapturePosition) => void,
  from?: CapturePosition,
  /** give the event loop a turn at least this often (ms): a file is read synchronously, and signals and timers wait for a turn */
  yieldEveryMs = 0,
): Promise<PumpResult> {
  let yielded = performance.now();
  let carry = 0; // unconsumed bytes at the front of the input region
  let base = 0; // stream offset of input[0]
  let total = 0;
  if (from) {
    const want = from.base + from.carry;
    const passed = await input.source.skip(want);
    if (passed !== want) throw new Error(`${input.name} is shorter (${passed} bytes) than its checkpoint (${want}): not the capture the state was saved from`);
    base = from.base; carry = from.carry; total = want;
  } else {
    core.beginCapture(input.format);
  }
  for (;;) {
    let region = core.input();
    const room = Math.min(core.chunkBytes, region.length - carry);
    if (room <= 0) throw new Error(`core made no progress on ${input.name} at offset ${base}`);
    const got = await input.source.read(region.subarray(carry, carry + room));
    total += got;
    const final = got === 0;
    let len = carry + got;
    for (let spins = 0; ; spins++) {
      // The core empties its output on every drain, so "output full" twice
      // without progress would be a core bug: fail loudly rather than hang.
      if (spins > 1_000_000) throw new Error(`core stuck at offset ${base} of ${input.name}`);
      const used = core.feed(len, base, final);
      const status = core.status();
      drain(core);
      if (used > 0) {
        region = core.input();
        region.copyWithin(0, used, len);
        len -= used;
        base += used;
      }
      if (status === STATUS.unusable) { afterBatch({ base, carry: len }); return { bytes: total, usable: false }; }
      if (status !== STATUS.outputFull) break;
    }
    carry = len;
    afterBatch({ base, carry });
    if (yieldEveryMs > 0 && performance.now() - yielded >= yieldEveryMs) {
      await new Promise<void>((r) => setImmediate(r));
      yielded = performance.now();
    }
    if (final) return { bytes: total, usable: true };
  }
}

/** End of all input: every open flow leaves the core. */
export function flushCore(core: WasmCore, drain: Drain): void {
  while (!core.flushAll()) drain(core);
  drain(core);
}
