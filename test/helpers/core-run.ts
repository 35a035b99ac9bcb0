// Runs a capture through a fresh Wasm core and returns the raw flows and
// counters — the lowest level at which tests look at the core.
import type { RawFlow } from '../../sensor/core/flow-record.ts';
import { WasmCore, type CoreOptions } from '../../sensor/core/wasm-core.ts';
import { flushCore, perFlow, pumpCapture } from '../../sensor/pipeline/capture-pump.ts';
import { openCaptureInput } from '../../sensor/sources/capture-input.ts';

export interface CoreRun {
  core: WasmCore;
  flows: RawFlow[];
  counters: Record<string, number>;
  usable: boolean;
}

export async function runCore(path: string, opts: CoreOptions = {}): Promise<CoreRun> {
  const core = new WasmCore(opts);
  const flows: RawFlow[] = [];
  const input = await openCaptureInput(path, 'auto', () => {});
  let usable = true;
  try {
    usable = (await pumpCapture(core, input, perFlow((f) => flows.push(f)), () => {})).usable;
  } finally {
    input.source.close();
  }
  flushCore(core, perFlow((f) => flows.push(f)));
  return { core, flows, counters: core.counters(true), usable };
}

/** Run raw capture bytes (not a file) through a fresh core. */
export function runCoreBytes(bytes: Uint8Array, format: 'pcap' | 'pcapng', opts: CoreOptions = {}): CoreRun {
  const core = new WasmCore({ chunkBytes: 1 << 16, ...opts });
  const flows: RawFlow[] = [];
  core.beginCapture(format);
  let pos = 0, carry = 0, base = 0;
  let usable = true;
  for (;;) {
    const region = core.input();
    const room = Math.min(core.chunkBytes, region.length - carry);
    if (room <= 0) throw new Error(`core made no progress at offset ${base}`);
    const n = Math.min(room, bytes.length - pos);
    region.set(bytes.subarray(pos, pos + n), carry);
    pos += n;
    const final = n === 0;
    let len = carry + n;
    for (let spins = 0; ; spins++) {
      if (spins > 100_000) throw new Error(`core loops without progress at offset ${base}`);
      const used = core.feed(len, base, final);
      const st = core.status();
      core.drain((f) => flows.push(f));
      if (used > 0) { core.input().copyWithin(0, used, len); len -= used; base += used; }
      if (st === 2) usable = false;
      if (st !== 1) break;
    }
    carry = len;
    if (final || !usable) break;
  }
  flushCore(core, perFlow((f) => flows.push(f)));
  return { core, flows, counters: core.counters(true), usable };
}
