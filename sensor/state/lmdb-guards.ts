// What every LMDB directory of ours is guarded by, shared by the sensor's
// state (state-db.ts) and the aggregator's data (aggregator-store.ts):
// the directory must be ours or nothing yet, data.mdb's header is checked
// before LMDB opens it, writes are refused on a nearly full disk, and the
// pages in use are counted against a size limit. Messages name what the
// directory holds ("state", "aggregator data") through LmdbWords.
import { closeSync, existsSync, mkdirSync, openSync, readSync, readdirSync, statSync, statfsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { StateError, formatBytes } from './state-error.ts';

/**
 * Writes are refused with less than this free on the disk: LMDB reports a
 * disk filling up mid-commit as EIO, which names no cause, so the check
 * comes first (with room for the write's own size, twice: LMDB writes new
 * pages before it frees old ones).
 */
export const DISK_RESERVE_BYTES = 1 << 20;

/** How messages name a directory's contents. */
export interface LmdbWords {
  /** "state", "aggregator data": "no state at DIR" */
  noun: string;
  /** "edge-sensor state", "aggregator data": "DIR is not edge-sensor state" */
  ours: string;
  /** "opening the state" */
  opening: string;
  /** "creating the state directory" */
  creating: string;
  /** what to do with a foreign directory: "point --state at a new or empty directory" */
  instead: string;
  /** added to "the directory does not exist" / "is empty" when reading (`exists`: it does, empty): how it comes to hold something ("" for nothing to add) */
  createdBy: (dir: string, exists: boolean) => string;
}

/** Turns a Node or LMDB error into a StateError (state-db.ts stateErrorSync). */
export type ErrorMapper = (e: unknown, dir: string, what: string, readOnly: boolean) => unknown;

export function safeReaddir(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

/** The directory must be ours or nothing yet: created when absent (unless read-only); an existing one must hold an LMDB environment or be empty. */
export function prepareLmdbDirectory(dir: string, readOnly: boolean, w: LmdbWords, mapError: ErrorMapper): void {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw mapError(e, dir, w.opening, readOnly);
    if (readOnly) throw new StateError(`no ${w.noun} at ${dir}: the directory does not exist${w.createdBy(dir, false)}`, dir, 'ENOENT');
    try {
      // Non-recursive when the parent exists: Node's recursive mkdir reports
      // ENOENT on a read-only filesystem instead of EROFS.
      if (existsSync(dirname(dir))) mkdirSync(dir);
      else mkdirSync(dir, { recursive: true });
    } catch (e2) {
      throw mapError(e2, dir, w.creating, false);
    }
    return;
  }
  if (!st.isDirectory()) throw new StateError(`${dir} is not a directory: it cannot hold ${w.noun}`, dir, 'ENOTDIR');
  const entries = safeReaddir(dir);
  if (entries.includes('data.mdb')) return checkLmdbDataFile(dir, readOnly, w, mapError);
  if (entries.length > 0) {
    throw new StateError(`${dir} is not ${w.ours}: it holds files but no LMDB environment (no data.mdb); refusing to use it: ${w.instead}`, dir, 'NOT_STATE');
  }
  if (readOnly) throw new StateError(`no ${w.noun} at ${dir}: the directory is empty${w.createdBy(dir, true)}`, dir, 'ENOENT');
}

// LMDB trusts its data file: lmdb-js 3.5.6 crashes the process (SIGSEGV)
// opening a data.mdb that is not LMDB, and opening an empty one read-only.
// So the file's first meta page is checked here first: LMDB's magic number
// and the data format version of the LMDB built into lmdb-js. (A file with a
// valid header and damaged pages further in is still LMDB's to judge.)
const MDB_MAGIC = 0xbeefc0de;
const MDB_DATA_VERSION = 2;

export function checkLmdbDataFile(dir: string, readOnly: boolean, w: LmdbWords, mapError: ErrorMapper): void {
  const head = Buffer.alloc(64);
  let got = 0;
  try {
    const fd = openSync(join(dir, 'data.mdb'), 'r');
    try { got = readSync(fd, head, 0, head.length, 0); } finally { closeSync(fd); }
  } catch (e) {
    throw mapError(e, dir, w.opening, true);
  }
  if (got === 0) {
    // LMDB creates data.mdb empty, then writes its meta pages: being created
    // this instant, or its creation was cut short (a writer initialises it).
    if (readOnly) throw new StateError(`no ${w.noun} at ${dir} yet: its data.mdb is empty (being created, or its creation was interrupted)`, dir, 'ENOENT');
    return;
  }
  for (let off = 0; off + 8 <= got; off += 4) {
    if (head.readUInt32LE(off) !== MDB_MAGIC) continue;
    const version = head.readUInt32LE(off + 4) & 0xffff;
    if (version === MDB_DATA_VERSION) return;
    throw new StateError(`${dir} is not ${w.ours} this sensor can read: its data.mdb is LMDB data format ${version}, this sensor's LMDB reads format ${MDB_DATA_VERSION}; refusing to use it`, dir, 'NOT_STATE');
  }
  throw new StateError(`${dir} is not ${w.ours}: its data.mdb is not an LMDB environment (no LMDB header); refusing to use it`, dir, 'NOT_STATE');
}

/** Refuse a write when the disk holding `dir` has less than the reserve (plus twice the write) free. `holder`: "state directory DIR"; `kept`: "the state kept so far". */
export function checkDiskSpace(dir: string, what: string, bytesHint: number, holder: string, kept: string): void {
  let free: number;
  try {
    const st = statfsSync(dir);
    free = Number(st.bavail) * Number(st.bsize);
  } catch {
    return; // a filesystem that cannot say: LMDB's own error will tell
  }
  if (free < DISK_RESERVE_BYTES + 2 * bytesHint) {
    throw new StateError(`the disk holding ${holder} is full (ENOSPC: ${formatBytes(free)} free, ${formatBytes(DISK_RESERVE_BYTES)} kept in reserve): ${what} refused; ${kept} is intact`, dir, 'ENOSPC');
  }
}

interface LmdbStats { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number; root: LmdbStats; free: LmdbStats }
const treePages = (s: LmdbStats | undefined): number => (s ? s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages : 0);

/**
 * Bytes of the pages in use: every sub-database's tree, the main database
 * (the sub-database directory), the free list's own tree and the two meta
 * pages. Within a write transaction it counts that transaction's pages.
 */
export function liveBytes(env: RootDatabase, dbs: readonly Database<any, any>[]): number {
  const stats = env.getStats() as LmdbStats;
  let pages = 2 + treePages(stats.root) + treePages(stats.free);
  for (const db of dbs) pages += treePages(db.getStats() as LmdbStats);
  return pages * stats.pageSize;
}
