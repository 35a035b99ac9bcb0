// The state writer thread: every LMDB write of a running analysis happens
// here, off the packet path — breaches (history and outbox) as they are
// raised, and snapshots (the cores' images, detection's state and the
// inputs' checkpoints, one transaction). Messages arrive in order on each
// port: a detection thread's breaches come before its part of the snapshot
// that follows them, so a snapshot is never committed ahead of a breach
// raised before it (a restart from it would not raise that breach again).
//
// A snapshot has a packet part (the packet core's image and the checkpoint,
// from the packet thread) and, with a detection thread, a detection part
// (its core's image and the detector's state); it is written when both of
// the same id are here.
import { workerData, type MessagePort } from 'node:worker_threads';
import type { Breach } from '../models/breach.ts';
import type { CoreImage } from '../core/core-image.ts';
import { openStateDb, type StateDb } from './state-db.ts';
import { BreachStore, DEFAULT_RETENTION_S } from './breach-store.ts';
import { writeSnapshot, type Checkpoint } from './snapshot-store.ts';
import { DeviceStore } from './device-store.ts';
import { inventoryRows, type RawInventory } from './inventory.ts';
import { writeStatus, type SensorStatus } from './status-store.ts';
import type { LearnTableStats } from '../core/wasm-core.ts';

export interface WriterInit {
  dir: string;
  /** messages from the packet thread: WriterMessage */
  main: MessagePort;
  /** messages from the detection thread (breaches, its snapshot parts), when there is one */
  detection: MessagePort | null;
}

export type WriterMessage =
  | { kind: 'breaches'; breaches: Breach[] }
  | { kind: 'packet'; id: number; image: CoreImage | null; checkpoint: Checkpoint; captureTs: number | null; detectionPart: boolean; status: SensorStatus; pauseMs: number }
  | { kind: 'detection'; id: number; image: CoreImage | null; state: Uint8Array; inventory?: RawInventory; tables?: LearnTableStats[] }
  | { kind: 'close'; status: SensorStatus };

/** What the writer reports back to the packet thread. */
export type WriterReport =
  | { kind: 'written'; id: number; bytes: number; ms: number }
  | { kind: 'failed'; error: string }
  | { kind: 'closed'; breaches: { added: number; duplicates: number }; snapshots: number }
  /** an image's chunk buffers, written: the next image fills these instead of new ones */
  | { kind: 'spare'; buffers: Uint8Array[] };

/** Test-only fault injection (test/state-resume.test.ts): the process is killed inside the transaction of this snapshot. */
const KILL_IN_SNAPSHOT = Number(process.env.EDGE_SENSOR_TEST_KILL_IN_SNAPSHOT ?? 0);

function giveBack(port: MessagePort, image: CoreImage | null): void {
  if (!image?.chunks.length) return;
  const buffers = image.chunks.map((c) => c.bytes);
  port.postMessage({ kind: 'spare', buffers } satisfies WriterReport, buffers.map((b) => b.buffer as ArrayBuffer));
}

function run(init: WriterInit): void {
  let db: StateDb;
  try {
    db = openStateDb(init.dir);
  } catch (e) {
    init.main.postMessage({ kind: 'failed', error: (e as Error).message } satisfies WriterReport);
    init.main.close();
    init.detection?.close();
    return;
  }
  const breaches = new BreachStore(db);
  const devices = new DeviceStore(db);
  /** the status as of the last snapshot (the close marks it stopped) */
  let status: SensorStatus | null = null;
  const totals = { added: 0, duplicates: 0 };
  let snapshots = 0;
  let failed = false;
  // LMDB's asynchronous writes commit in the order they are made: a chain keeps the reports in that order too
  let chain: Promise<unknown> = Promise.resolve();
  const packets = new Map<number, Extract<WriterMessage, { kind: 'packet' }>>();
  const detections = new Map<number, Extract<WriterMessage, { kind: 'detection' }>>();

  const fail = (e: unknown) => {
    if (failed) return;
    failed = true;
    init.main.postMessage({ kind: 'failed', error: (e as Error).message } satisfies WriterReport);
  };

  const store = (list: Breach[]) => {
    const added = breaches.add(list);
    chain = chain.then(() => added).then((r) => { totals.added += r.added; totals.duplicates += r.duplicates; }, fail);
  };

  const trySnapshot = (id: number): void => {
    const p = packets.get(id);
    if (!p) return;
    const d = detections.get(id);
    if (p.detectionPart && !d) return;
    packets.delete(id);
    detections.delete(id);
    // older parts that never completed (a detection thread that failed) are dropped
    for (const k of packets.keys()) if (k < id) packets.delete(k);
    for (const k of detections.keys()) if (k < id) detections.delete(k);
    chain = chain.then(async () => {
      if (failed) return;
      const t0 = performance.now();
      const parts = { id, captureTs: p.captureTs, packet: p.image, checkpoint: p.checkpoint, detection: d ? { image: d.image, state: d.state } : null };
      const bytesHint = ((p.image?.chunks.length ?? 0) + (d?.image?.chunks.length ?? 0)) * 65536;
      const rec = await db.write('writing a snapshot', () => {
        const r = writeSnapshot(db, parts);
        // fault injection for the crash tests: die inside the transaction, its chunks written, before the commit
        if (snapshots + 1 === KILL_IN_SNAPSHOT) process.kill(process.pid, 'SIGKILL');
        return r;
      }, { bytesHint });
      const ms = performance.now() - t0;
      snapshots++;
      // what `edge-sensor status` and `devices` read: informational, each its own transaction after the snapshot
      if (d?.inventory) await devices.replaceDevices(inventoryRows(d.inventory));
      const tables = d?.tables?.map((t) => ({ name: t.name, capacity: t.capacity, used: t.used, evictions: t.evictions }));
      status = {
        ...p.status, updated_at: new Date().toISOString(),
        snapshot: { taken_at: rec.taken_at, ...(rec.capture_ts !== null ? { capture_ts: new Date(rec.capture_ts * 1000).toISOString() } : {}), bytes: rec.bytes, duration_ms: Math.round(ms), pause_ms: Math.round(p.pauseMs * 10) / 10 },
        inputs: p.checkpoint.inputs.map((i) => i.events !== undefined && !i.done
          ? { name: i.name, offset: i.events, records: true, done: false }
          : { name: i.name, offset: i.done ? i.identity.size : (i.position ? i.position.base + i.position.carry : 0), done: i.done }),
        ...(tables ? { tables, evictions: { ...p.status.evictions, ...Object.fromEntries(tables.map((t) => [`learn_${t.name}`, t.evictions])) } } : {}),
      };
      await writeStatus(db, status);
      // the history keeps RETENTION of the input's own clock (an old capture's breaches are not old to it); the outbox is never pruned
      if (rec.capture_ts !== null) await breaches.prune(DEFAULT_RETENTION_S, rec.capture_ts * 1000);
      init.main.postMessage({ kind: 'written', id, bytes: rec.bytes, ms } satisfies WriterReport);
      // LMDB copied the chunks into its pages: their buffers go back for the next images
      giveBack(init.main, p.image);
      if (d?.image && init.detection) giveBack(init.detection, d.image);
    }).catch(fail);
  };

  init.detection?.on('message', (m: WriterMessage) => {
    if (m.kind === 'breaches') store(m.breaches);
    else if (m.kind === 'detection') { detections.set(m.id, m); trySnapshot(m.id); }
  });
  init.main.on('message', (m: WriterMessage) => {
    if (m.kind === 'breaches') store(m.breaches);
    else if (m.kind === 'detection') { detections.set(m.id, m); trySnapshot(m.id); } // inline detection's part
    else if (m.kind === 'packet') { packets.set(m.id, m); trySnapshot(m.id); }
    else if (m.kind === 'close') {
      chain.finally(async () => {
        try {
          if (!failed) await writeStatus(db, { ...(status ?? {}), ...m.status, snapshot: status?.snapshot, inputs: status?.inputs ?? m.status.inputs, updated_at: new Date().toISOString(), running: false });
          await db.close();
        } catch (e) { fail(e); }
        init.main.postMessage({ kind: 'closed', breaches: totals, snapshots } satisfies WriterReport);
        init.main.close();
        init.detection?.close();
      });
    }
  });
}

if (workerData?.stateWriter) run(workerData.stateWriter as WriterInit);
