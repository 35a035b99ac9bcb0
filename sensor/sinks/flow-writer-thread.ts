// The writer thread: turns raw flow records from the core into Zeek-style
// JSON lines (the Wasm formatter, flows/flow-json-wasm.ts) and writes them.
// Runs in a worker (as Zeek writes its logs from threads) so that formatting
// and the write syscalls stay off the packet path. Started by
// ThreadedFlowSink; speaks only its messages.
import { parentPort, workerData } from 'node:worker_threads';
import { REC_SIZE } from '../core/flow-record.ts';
import { WasmFlowJson } from '../flows/flow-json-wasm.ts';
import { LocalNets } from '../flows/local-nets.ts';
import { writeFully } from './fd-write.ts';
import { BATCH_BYTES, BATCH_RECORDS } from './flow-batch.ts';

export interface WriterInit {
  fd: number;
  localNets?: string[];
  communityIdSeed?: number;
  /** Int32Array[1] over a SharedArrayBuffer: batches posted but not yet written */
  inFlight: SharedArrayBuffer;
  /** the batch ring: slots of BATCH_RECORDS records */
  ring: SharedArrayBuffer;
}

export type WriterMessage =
  /** `reporters`: names of reporter ids first used in this batch (flow-record sources) */
  | { type: 'batch'; slot: number; count: number; reporters?: [number, string][] }
  | { type: 'end' };
export interface WriterDone { type: 'done'; received: number; sent: number; errors: number; discarded: number; error?: string }

function run(init: WriterInit): void {
  const port = parentPort!;
  const json = new WasmFlowJson({ localNets: new LocalNets(init.localNets), communityIdSeed: init.communityIdSeed, batchRecords: BATCH_RECORDS });
  const inFlight = new Int32Array(init.inFlight);
  const done: WriterDone = { type: 'done', received: 0, sent: 0, errors: 0, discarded: 0 };
  let broken = false;
  const write = (text: Uint8Array) => writeFully(init.fd, text);
  port.on('message', (m: WriterMessage) => {
    if (m.type === 'end') { port.postMessage(done); return; }
    const u8 = new Uint8Array(init.ring, m.slot * BATCH_BYTES, m.count * REC_SIZE);
    done.received += m.count;
    if (!broken) {
      try {
        if (m.reporters) for (const [id, name] of m.reporters) json.setReporter(id, name);
        json.format(u8, m.count, write);
        done.sent += m.count;
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        broken = true;
        done.discarded += m.count;
        if (err.code !== 'EPIPE') { done.errors++; done.error = err.message; }
      }
    } else done.discarded += m.count;
    Atomics.sub(inFlight, 0, 1);
    Atomics.notify(inFlight, 0);
  });
}

if (parentPort && workerData?.flowWriter) run(workerData.flowWriter as WriterInit);
