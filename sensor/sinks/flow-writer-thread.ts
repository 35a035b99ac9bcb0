// The writer thread: turns raw flow records from the core into Zeek-style
// JSON lines and writes them. Runs in a worker (as Zeek writes its logs from
// threads) so that formatting — allocation-heavy string work — stays off the
// packet path. Started by ThreadedFlowSink; speaks only its messages.
import { parentPort, workerData } from 'node:worker_threads';
import { REC_SIZE, decodeRawFlow } from '../core/flow-record.ts';
import { LocalNets } from '../flows/local-nets.ts';
import { flowRecordJson, toFlowRecord } from '../flows/zeek-record.ts';
import { writeFully } from './fd-write.ts';

export interface WriterInit {
  fd: number;
  localNets?: string[];
  communityIdSeed?: number;
  /** Int32Array[1] over a SharedArrayBuffer: batches posted but not yet written */
  inFlight: SharedArrayBuffer;
}

export type WriterMessage = { type: 'batch'; buf: ArrayBuffer; count: number } | { type: 'end' };
export interface WriterDone { type: 'done'; received: number; sent: number; errors: number; discarded: number; error?: string }

function run(init: WriterInit): void {
  const port = parentPort!;
  const ctx = { localNets: new LocalNets(init.localNets), communityIdSeed: init.communityIdSeed };
  const inFlight = new Int32Array(init.inFlight);
  const done: WriterDone = { type: 'done', received: 0, sent: 0, errors: 0, discarded: 0 };
  let broken = false;
  // Lines are written straight into one reused buffer: joining thousands of
  // template strings and flattening them costs 2-3× more (measured).
  // Every character of a record is ASCII, so latin1 is exact.
  const out = Buffer.allocUnsafe(4 << 20);
  port.on('message', (m: WriterMessage) => {
    if (m.type === 'end') { port.postMessage(done); return; }
    const u8 = new Uint8Array(m.buf);
    const dv = new DataView(m.buf);
    done.received += m.count;
    if (!broken) {
      try {
        let off = 0;
        for (let i = 0; i < m.count; i++) {
          const line = flowRecordJson(toFlowRecord(decodeRawFlow(dv, u8, i * REC_SIZE), ctx));
          if (off + line.length + 1 > out.length) { writeFully(init.fd, out.subarray(0, off)); off = 0; }
          off += out.write(line, off, 'latin1');
          out[off++] = 10;
        }
        writeFully(init.fd, out.subarray(0, off));
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
