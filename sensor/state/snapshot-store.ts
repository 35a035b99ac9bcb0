// Snapshots in LMDB: the cores' images and the detection's JS state with the
// inputs' checkpoints they match, written in ONE transaction, so a restart
// resumes reading exactly where the state it restores was taken — nothing
// counted twice, nothing skipped. An image is a few thousand 64 KiB chunks
// (one put each), not millions of table entries.
//
// Layout: `snapshot` holds key "current" (the record below, chunk data
// aside); `chunks` holds key [core, index] → 64 KiB. A transaction writes
// the new chunks, deletes the chunks the new image no longer has, and
// replaces the record; a reader sees the old snapshot or the new one.
import type { Database } from 'lmdb';
import { CHUNK_BYTES, type CoreChunk, type CoreImage } from '../core/core-image.ts';

/** Where one input stood when the snapshot was taken. */
export interface InputCheckpoint {
  /** the path as given */
  name: string;
  /** what makes it the same input on resume: size and the hash of its first bytes */
  identity: { size: number; head: string };
  /** a capture part-way through: the stream offset of the input region and the unconsumed bytes there (capture-pump.ts) */
  position?: { base: number; carry: number };
  /** a flow-record input part-way through: the events of it the core has had (EventPump.inputEvents) */
  events?: number;
  /** read to its end */
  done: boolean;
}

/** A file of a watched folder (`run --watch`): read to its end, or an Azure blob read up to a point. */
export interface WatchedFile { path: string; size: number; mtimeMs: number; done: boolean; azureResume?: { offset: number; inRecords: boolean } | null }

export interface Checkpoint {
  inputs: InputCheckpoint[];
  /** `run`: the watched folders' files as far as they were read */
  watched?: WatchedFile[];
  /** flow-log reporters (cloud interfaces, exporters) by id: the restored core's flows and reporter table hold these ids */
  reporters?: string[];
}

/** A core image as the record keeps it: chunk data in the `chunks` database. */
interface ImageRecord { layout: string; pages: number; globals: (number | bigint)[]; chunks: number[] }

export interface SnapshotRecord {
  id: number;
  taken_at: string;
  /** newest capture time seen when taken (seconds) */
  capture_ts: number | null;
  packet: ImageRecord | null;
  /** detection's JS state (Detector.saveState, serialized) and, with a detection thread, its core's image */
  detection: { image: ImageRecord | null; state: Uint8Array } | null;
  checkpoint: Checkpoint;
  /** bytes of the images' chunks and detection's state */
  bytes: number;
}

export interface SnapshotParts {
  id: number;
  captureTs: number | null;
  packet: CoreImage | null;
  detection: { image: CoreImage | null; state: Uint8Array } | null;
  checkpoint: Checkpoint;
}

/** The two databases of snapshots (StateDb's). */
export interface SnapshotDbs { snapshot: Database<any, any>; chunks: Database<Buffer, any> }

const KEY = 'current';

function record(image: CoreImage): ImageRecord {
  return { layout: image.layout, pages: image.pages, globals: image.globals, chunks: image.chunks.map((c) => c.index) };
}

function putChunks(dbs: SnapshotDbs, core: string, image: CoreImage | null, before: ImageRecord | null): void {
  const keep = new Set(image?.chunks.map((c) => c.index) ?? []);
  for (const i of before?.chunks ?? []) if (!keep.has(i)) dbs.chunks.removeSync([core, i]);
  for (const c of image?.chunks ?? []) dbs.chunks.putSync([core, c.index], Buffer.from(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength));
}

/**
 * Replace the last snapshot with this one. Call inside one write
 * transaction (StateDb.write: the state writer thread, off the packet path).
 */
export function writeSnapshot(dbs: SnapshotDbs, parts: SnapshotParts): SnapshotRecord {
  const rec: SnapshotRecord = {
    id: parts.id, taken_at: new Date().toISOString(), capture_ts: parts.captureTs,
    packet: parts.packet ? record(parts.packet) : null,
    detection: parts.detection ? { image: parts.detection.image ? record(parts.detection.image) : null, state: parts.detection.state } : null,
    checkpoint: parts.checkpoint,
    bytes: ((parts.packet?.chunks.length ?? 0) + (parts.detection?.image?.chunks.length ?? 0)) * CHUNK_BYTES + (parts.detection?.state.length ?? 0),
  };
  const before = dbs.snapshot.get(KEY) as SnapshotRecord | undefined;
  putChunks(dbs, 'packet', parts.packet, before?.packet ?? null);
  putChunks(dbs, 'detection', parts.detection?.image ?? null, before?.detection?.image ?? null);
  dbs.snapshot.putSync(KEY, rec);
  return rec;
}

export class SnapshotReadError extends Error {}

function image(dbs: SnapshotDbs, core: string, r: ImageRecord): CoreImage {
  const chunks: CoreChunk[] = r.chunks.map((index) => {
    // getBinary returns a copy of its own (not a view of the map): no second copy
    const bytes = dbs.chunks.getBinary([core, index]);
    if (!bytes || bytes.length !== CHUNK_BYTES) throw new SnapshotReadError(`the snapshot's ${core} chunk ${index} is missing or damaged`);
    return { index, bytes };
  });
  return { layout: r.layout, pages: r.pages, globals: r.globals, chunks };
}

/**
 * The latest snapshot with its images, or null when there is none. Read in
 * one synchronous pass: lmdb-js keeps one read transaction for it, so the
 * record and its chunks are one consistent view.
 */
export function readSnapshot(dbs: SnapshotDbs): (SnapshotRecord & { packetImage: CoreImage | null; detectionImage: CoreImage | null }) | null {
  const rec = dbs.snapshot.get(KEY) as SnapshotRecord | undefined;
  if (!rec) return null;
  return {
    ...rec,
    packetImage: rec.packet ? image(dbs, 'packet', rec.packet) : null,
    detectionImage: rec.detection?.image ? image(dbs, 'detection', rec.detection.image) : null,
  };
}

/** The latest snapshot's record alone (status: when, how large, the checkpoints). */
export function snapshotInfo(dbs: SnapshotDbs): SnapshotRecord | null {
  return (dbs.snapshot.get(KEY) as SnapshotRecord | undefined) ?? null;
}
