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
import { FileByteSource } from '../sources/byte-source.ts';
import { ReadAhead } from '../sources/read-ahead.ts';
import { fstatSync } from 'node:fs';

/** Files smaller than this are read on the main thread: starting the reader costs more than it saves. */
const READ_AHEAD_MIN_BYTES = 16 << 20;

export interface PumpResult {
  bytes: number;
  /** false when the core found the capture unusable (bad file header) */
  usable: boolean;
}

export async function pumpCapture(
  core: WasmCore,
  input: CaptureInput,
  drain: Drain,
  afterBatch: () => void,
  opts: { readAheadMinBytes?: number } = {},
): Promise<PumpResult> {
  core.beginCapture(input.format);
  const src = input.source;
  if (src instanceof FileByteSource && core.readAheadSlots().length >= 2) {
    let size = 0;
    try { size = fstatSync(src.fd).size; } catch { /* not statable: main-thread reads */ }
    if (size - src.position >= (opts.readAheadMinBytes ?? READ_AHEAD_MIN_BYTES)) return pumpReadAhead(core, input, src, drain, afterBatch);
  }
  let carry = 0; // unconsumed bytes at the front of the input region
  let base = 0; // stream offset of input[0]
  let total = 0;
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
      if (status === STATUS.unusable) { afterBatch(); return { bytes: total, usable: false }; }
      if (status !== STATUS.outputFull) break;
    }
    carry = len;
    afterBatch();
    if (final) return { bytes: total, usable: true };
  }
}

/**
 * pumpCapture for a large regular file: a second thread reads chunks into the
 * core's read-ahead slots while this one feeds the previous slot. The tail a
 * feed leaves (a record cut by the chunk boundary) is copied in front of the
 * next slot, into the room kept there for it.
 */
async function pumpReadAhead(core: WasmCore, input: CaptureInput, src: FileByteSource, drain: Drain, afterBatch: () => void): Promise<PumpResult> {
  const ra = new ReadAhead(src.fd, core.memory, core.readAheadSlots(), src.position);
  let carry = 0; // unconsumed bytes, at memory offset carryAt
  let carryAt = 0;
  let base = 0; // stream offset of the next byte to feed
  let total = 0;
  let held = -1; // slot whose tail is still needed
  try {
    for (;;) {
      const s = await ra.take();
      total += s.len;
      const final = s.len === 0;
      let at: number;
      let len: number;
      if (final) {
        at = carryAt; len = carry; // the tail is fed where it lies
      } else {
        if (carry > core.slotCarryRoom) throw new Error(`core made no progress on ${input.name} at offset ${base}`);
        if (carry > 0) core.bytes().copyWithin(s.off - carry, carryAt, carryAt + carry);
        at = s.off - carry; len = carry + s.len;
        if (held >= 0) ra.release(held);
        held = s.index;
      }
      for (let spins = 0; ; spins++) {
        if (spins > 1_000_000) throw new Error(`core stuck at offset ${base} of ${input.name}`);
        const used = core.feedAt(at, len, base, final);
        const status = core.status();
        drain(core);
        at += used; len -= used; base += used;
        if (status === STATUS.unusable) { afterBatch(); return { bytes: total, usable: false }; }
        if (status !== STATUS.outputFull) break;
      }
      carry = len; carryAt = at;
      afterBatch();
      if (final) {
        const err = ra.error;
        if (err) throw new Error(`${input.name}: ${err}`);
        return { bytes: total, usable: true };
      }
    }
  } finally {
    ra.stop();
  }
}

/** End of all input: every open flow leaves the core. */
export function flushCore(core: WasmCore, drain: Drain): void {
  while (!core.flushAll()) drain(core);
  drain(core);
}
