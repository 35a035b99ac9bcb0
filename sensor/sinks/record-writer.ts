// Raw flow records → JSON lines on a file descriptor, with the sink
// counters: what the writer thread does per batch, and what the packet
// thread does itself for a run too small to start that thread. One place, so
// the two cannot drift (error text, EPIPE handling, reporter names).
import { REC_SIZE } from '../core/flow-record.ts';
import { WasmFlowJson } from '../flows/flow-json-wasm.ts';
import { LocalNets } from '../flows/local-nets.ts';
import { writeFully, type SinkCounters } from './fd-write.ts';
import { BATCH_RECORDS } from './flow-batch.ts';

export interface RecordWriterOptions { fd: number; localNets?: string[]; communityIdSeed?: number }

export class RecordWriter {
  readonly counters: SinkCounters & { error?: string } = { received: 0, sent: 0, errors: 0, discarded: 0 };
  private readonly json: WasmFlowJson;
  /** the output failed once: later records are discarded (a closed pipe stays closed) */
  private broken = false;
  private readonly write: (text: Uint8Array) => void;

  constructor(opts: RecordWriterOptions) {
    this.json = new WasmFlowJson({ localNets: new LocalNets(opts.localNets), communityIdSeed: opts.communityIdSeed, batchRecords: BATCH_RECORDS });
    this.write = (text) => writeFully(opts.fd, text);
  }

  /** Names of reporter ids (flow-record sources), before the first record that uses them. */
  setReporters(names: Iterable<[number, string]>): void {
    for (const [id, name] of names) this.json.setReporter(id, name);
  }

  /** Format and write `count` records of `recs`. A reader that closed the pipe (EPIPE) is not an error; anything else is counted once. */
  writeRecords(recs: Uint8Array, count: number): void {
    const c = this.counters;
    c.received += count;
    if (this.broken) { c.discarded += count; return; }
    try {
      this.json.format(recs.subarray(0, count * REC_SIZE), count, this.write);
      c.sent += count;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      this.broken = true;
      c.discarded += count;
      if (err.code !== 'EPIPE') { c.errors++; c.error = err.message; }
    }
  }
}
