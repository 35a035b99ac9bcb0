// The writer thread: turns raw flow records from the core into Zeek-style
// JSON lines (the Wasm formatter, flows/flow-json-wasm.ts) and writes them.
// Runs in a worker (as Zeek writes its logs from threads) so that formatting
// and the write syscalls stay off the packet path. Started by
// ThreadedFlowSink. It takes batches from the shared ring (flow-batch.ts),
// blocking in Atomics.wait between them: this thread does nothing else.
import { workerData, type MessagePort } from 'node:worker_threads';
import { REC_SIZE } from '../core/flow-record.ts';
import { RecordWriter } from './record-writer.ts';
import { BATCH_BYTES, C_COUNT, C_DEAD, C_FLAGS, F_END, F_NAMES, RING_SLOTS } from './flow-batch.ts';
import { consume, consumed, waitForBatch } from './ring-wait.ts';
import { receiveReporterNames } from './reporter-names.ts';

export interface WriterInit {
  fd: number;
  localNets?: string[];
  communityIdSeed?: number;
  /** Int32 control words (flow-batch.ts C_*) */
  control: SharedArrayBuffer;
  /** the batch ring: RING_SLOTS slots of BATCH_RECORDS records */
  ring: SharedArrayBuffer;
  /** names of reporter ids, sent ahead of the first batch that uses them */
  names: MessagePort;
  /** where the writer reports at the end */
  done: MessagePort;
  /** Float64Array[1]: records written so far (what the packet thread reports if this thread dies) */
  sent: SharedArrayBuffer;
}

export interface WriterDone { type: 'done'; received: number; sent: number; errors: number; discarded: number; error?: string }

function loop(init: WriterInit, ctl: Int32Array): void {
  const out = new RecordWriter({ fd: init.fd, localNets: init.localNets, communityIdSeed: init.communityIdSeed });
  const sentShared = new Float64Array(init.sent);
  for (let seq = 0; ; seq++) {
    waitForBatch(ctl, seq);
    const slot = seq % RING_SLOTS;
    const flags = Atomics.load(ctl, C_FLAGS + slot);
    const count = Atomics.load(ctl, C_COUNT + slot);
    // (a slot announcing names it did not bring fails the writer: the packet side reports it)
    if (flags & F_NAMES) out.setReporters(receiveReporterNames(init.names, `batch ${seq}`));
    if (flags & F_END) break;
    out.writeRecords(new Uint8Array(init.ring, slot * BATCH_BYTES, count * REC_SIZE), count);
    sentShared[0] = out.counters.sent;
    consumed(ctl, seq);
  }
  const done: WriterDone = { type: 'done', ...out.counters };
  init.done.postMessage(done);
  init.names.close();
  init.done.close();
}

if (workerData?.flowWriter) {
  const init = workerData.flowWriter as WriterInit;
  consume(init.control, C_DEAD, (ctl) => loop(init, ctl));
}
