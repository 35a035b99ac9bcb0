// Raw flow records → JSON lines on a file descriptor, with the sink
// counters: what the writer thread does per batch, and what the packet
// thread does itself for a run too small to start that thread. One place, so
// the two cannot drift (error text, EPIPE handling, reporter names).
import { REC_SIZE } from '../core/flow-record.ts';
import { WasmFlowJson } from '../flows/flow-json-wasm.ts';
import { LocalNets } from '../flows/local-nets.ts';
import { SinkHealth, writeFully, type SinkCounters } from './fd-write.ts';
import { BATCH_RECORDS } from './flow-batch.ts';

export interface RecordWriterOptions { fd: number; localNets?: string[]; communityIdSeed?: number }

export class RecordWriter {
  private readonly health = new SinkHealth();
  private readonly json: WasmFlowJson;
  private readonly write: (text: Uint8Array) => void;

  constructor(opts: RecordWriterOptions) {
    this.json = new WasmFlowJson({ localNets: new LocalNets(opts.localNets), communityIdSeed: opts.communityIdSeed, batchRecords: BATCH_RECORDS });
    this.write = (text) => writeFully(opts.fd, text);
  }

  /** Names of reporter ids (flow-record sources), before the first record that uses them. */
  setReporters(names: Iterable<[number, string]>): void {
    for (const [id, name] of names) this.json.setReporter(id, name);
  }

  get counters(): SinkCounters & { error?: string } { return this.health.counters; }

  /** Format and write `count` records of `recs` (SinkHealth: the first failure breaks the output, EPIPE is not an error). */
  writeRecords(recs: Uint8Array, count: number): void {
    this.health.run(count, () => this.json.format(recs.subarray(0, count * REC_SIZE), count, this.write));
  }
}
