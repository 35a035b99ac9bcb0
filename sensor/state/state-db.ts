// The sensor's durable state: one LMDB environment in a directory, with a
// named sub-database per kind of record. LMDB because a crash cannot corrupt
// it (copy-on-write pages, atomic commits), readers in other processes see
// committed data without locks (the `status`/`breaches`/`devices` commands
// read while the sensor writes), and reads are memory-mapped and synchronous.
//
// What this file guarantees:
// - a state is only ever read as the format it was written in: a version
//   record is checked at every open and anything else is refused with the
//   way out (--fresh-state) rather than misread;
// - a directory that is not our state (files but no LMDB environment, or
//   another program's LMDB environment) is refused, never written into;
// - machine conditions (read-only filesystem, no permission, full disk, the
//   size limit) become a one-line StateError naming the directory and the
//   cause, and a failed write leaves the last committed state readable
//   (every write is one transaction, aborted whole).
//
// lmdb-js settings and why (each found by experiment on 3.5.6, see the
// state tests):
// - overlappingSync off: a write's promise then resolves once the
//   transaction is synced to disk, which is what callers wait for before
//   reporting what they stored (with it on, a commit resolves before the
//   flush, and a filesystem filling up mid-write killed the process with
//   SIGBUS on tmpfs);
// - eventTurnBatching off: with it on, lmdb-js batches the writes of an
//   event turn under a promise nobody holds, and a failed commit (a full
//   disk) became an unhandled rejection, which ends a Node process; every
//   write here is an explicit transaction anyway;
// - lmdb-js grows the map by itself and ignores `mapSize` as a limit (it
//   is only the initial reservation), so MDB_MAP_FULL never comes from LMDB:
//   `mapSizeBytes` is enforced here, on the pages the data occupies,
//   inside the write transaction, which is aborted when over;
// - noSubdir false always: lmdb-js takes a path with a dot in its last
//   component ("state.old-…", "sensor.db") for a single file otherwise.
import { randomUUID } from 'node:crypto';
import { existsSync, renameSync, statSync, statfsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join, resolve } from 'node:path';
import { open, type Database, type Key, type RootDatabase } from 'lmdb';
import { StateError, StateFormatError, formatBytes, type StateErrorCode } from './state-error.ts';
import { lockHolder } from './writer-lock.ts';
import { DISK_RESERVE_BYTES, checkDiskSpace, liveBytes, prepareLmdbDirectory, safeReaddir, type LmdbWords } from './lmdb-guards.ts';

/** How the guards of lmdb-guards.ts name a sensor's state. */
const WORDS: LmdbWords = {
  noun: 'state', ours: 'edge-sensor state', opening: 'opening the state', creating: 'creating the state directory',
  instead: 'point --state at a new or empty directory',
  createdBy: (dir, exists) => ` (a sensor run with --state ${dir} creates ${exists ? 'the state' : 'it'})`,
};

export { StateError, StateFormatError, formatBytes } from './state-error.ts';

/** The layout of the records below; bumped whenever an older sensor could misread them. */
export const STATE_FORMAT_VERSION = 1;

/** meta `format`: written once, when the state is created. */
export interface StateFormat {
  version: number;
  /** RFC 3339 */
  created_at: string;
  /** a random UUID made at creation: this sensor's identity towards an aggregator, stable afterwards */
  sensor_id: string;
}

export interface StateDbOptions {
  /** open for reading only (another process may be writing); never creates anything */
  readOnly?: boolean;
  /** the most the state's data may occupy; a write that would pass it fails with MDB_MAP_FULL and is not stored */
  mapSizeBytes?: number;
}

export interface StateUsage {
  /** pages the data occupies (all sub-databases, their indexes and LMDB's free list) */
  liveBytes: number;
  /** data.mdb's length: the high-water mark of the pages used; freed pages are reused, never returned */
  fileBytes: number;
  /** blocks allocated to the directory's files */
  diskBytes: number;
  limitBytes?: number;
}

export interface WriteOptions {
  /** roughly how many bytes the write adds: refused at once when the disk has not twice that free */
  bytesHint?: number;
}

/** The named sub-databases: their names are part of the format. */
export const SUB_DATABASES = ['meta', 'snapshot', 'chunks', 'breaches', 'breach_time', 'outbox', 'devices'] as const;

export { DISK_RESERVE_BYTES };

// LMDB's own error codes (lmdb.h) that can reach us.
const MDB_ERRORS: Record<number, string> = {
  [-30792]: 'MDB_MAP_FULL',
  [-30793]: 'MDB_INVALID',
  [-30794]: 'MDB_VERSION_MISMATCH',
  [-30796]: 'MDB_CORRUPTED',
  [-30795]: 'MDB_PANIC',
  [-30790]: 'MDB_READERS_FULL',
};

/** Thrown inside a write transaction to abort it when the data would pass the size limit. */
class OverLimit extends Error {
  constructor(readonly liveBytes: number) { super('over the state size limit'); }
}

export class StateDb {
  readonly dir: string;
  readonly readOnly: boolean;
  readonly format: StateFormat;
  /** JSON values: format, next_seq, status, … */
  readonly meta: Database<any, string>;
  /** structured values (msgpack) of the last snapshot */
  readonly snapshot: Database<any, Key>;
  /** binary values, keys like ['packet', 12] */
  readonly chunks: Database<Buffer, Key>;
  /** breach id → { seq, stored_at, breach } */
  readonly breaches: Database<any, string>;
  /** [time_ms, id] → seq: the time index of `breaches` */
  readonly breachTime: Database<number, [number, string]>;
  /** seq → breach id: stored breaches not yet acknowledged by the uplink */
  readonly outbox: Database<string, number>;
  /** ip → device row */
  readonly devices: Database<any, string>;

  private readonly limitBytes: number | undefined;
  private closed = false;

  /** @internal use openStateDb() */
  constructor(private readonly env: RootDatabase, dir: string, readOnly: boolean, limitBytes: number | undefined, format: StateFormat) {
    this.dir = dir;
    this.readOnly = readOnly;
    this.limitBytes = limitBytes;
    this.format = format;
    this.meta = env.openDB<any, string>('meta', { encoding: 'json' });
    this.snapshot = env.openDB<any, Key>('snapshot', {});
    this.chunks = env.openDB<Buffer, Key>('chunks', { encoding: 'binary' });
    this.breaches = env.openDB<any, string>('breaches', {});
    this.breachTime = env.openDB<number, [number, string]>('breach_time', {});
    this.outbox = env.openDB<string, number>('outbox', {});
    this.devices = env.openDB<any, string>('devices', {});
  }

  get sensorId(): string { return this.format.sensor_id; }

  /**
   * Run `fn` in one write transaction and resolve once it is committed and
   * synced to disk. `fn` runs on this thread with the write lock held: it
   * must be synchronous and write with putSync/removeSync (inside a
   * transaction they write into it; the async put would add a promise of
   * its own). Throwing from `fn` aborts the whole transaction. Machine
   * conditions become a StateError; the last committed state is kept.
   * `what` names the write in messages ("storing breaches").
   */
  async write<T>(what: string, fn: () => T, opts: WriteOptions = {}): Promise<T> {
    if (this.closed) throw new Error(`state ${this.dir} is closed`);
    if (this.readOnly) throw new StateError(`state directory ${this.dir} was opened read-only: ${what} is not possible`, this.dir, 'READ_ONLY');
    checkDiskSpace(this.dir, what, opts.bytesHint ?? 0, `state directory ${this.dir}`, 'the state kept so far');
    try {
      return await this.env.childTransaction(() => {
        const result = fn();
        if (this.limitBytes !== undefined) {
          const live = this.liveBytes();
          if (live > this.limitBytes) throw new OverLimit(live);
        }
        return result;
      });
    } catch (e) {
      if (e instanceof OverLimit) throw mapFull(this.dir, what, this.limitBytes!);
      throw await stateErrorOf(e, this.dir, what, false);
    }
  }

  /** How much the state occupies. */
  usage(): StateUsage {
    let fileBytes = 0, diskBytes = 0;
    for (const name of safeReaddir(this.dir)) {
      try {
        const st = statSync(join(this.dir, name));
        if (!st.isFile()) continue;
        if (name === 'data.mdb') fileBytes = st.size;
        diskBytes += st.blocks * 512;
      } catch { /* removed meanwhile */ }
    }
    return { liveBytes: this.liveBytes(), fileBytes, diskBytes, ...(this.limitBytes !== undefined ? { limitBytes: this.limitBytes } : {}) };
  }

  /** Close the environment; waits for writes in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.env.close();
  }

  private liveBytes(): number {
    return liveBytes(this.env, [this.meta, this.snapshot, this.chunks, this.breaches, this.breachTime, this.outbox, this.devices]);
  }
}

/**
 * Open (and, unless read-only, create) the state in `dir`. Throws a
 * StateFormatError for a state of another format version and a StateError
 * for anything that is not our state or cannot be used.
 */
export function openStateDb(dir: string, opts: StateDbOptions = {}): StateDb {
  const abs = resolve(dir);
  const readOnly = opts.readOnly === true;
  const what = readOnly ? 'opening the state' : 'opening or creating the state';
  if (opts.mapSizeBytes !== undefined && !(opts.mapSizeBytes > 0)) throw new RangeError(`mapSizeBytes must be > 0 (got ${opts.mapSizeBytes})`);

  prepareLmdbDirectory(abs, readOnly, WORDS, stateErrorSync);

  let env: RootDatabase;
  try {
    env = open(abs, {
      noSubdir: false, readOnly, maxDbs: 16, overlappingSync: false, eventTurnBatching: false,
      ...(opts.mapSizeBytes !== undefined ? { mapSize: opts.mapSizeBytes } : {}),
    });
  } catch (e) {
    throw stateErrorSync(e, abs, what, readOnly);
  }
  try {
    const format = checkOrCreateFormat(env, abs, readOnly);
    return new StateDb(env, abs, readOnly, opts.mapSizeBytes, format);
  } catch (e) {
    void env.close().catch(() => {});
    if (e instanceof StateError) throw e;
    throw stateErrorSync(e, abs, what, readOnly);
  }
}

function checkOrCreateFormat(env: RootDatabase, dir: string, readOnly: boolean): StateFormat {
  // The main database lists the named sub-databases: look before opening
  // any, since opening one for writing creates it.
  const names = [...env.getKeys()].map(String);
  const foreign = names.filter((n) => !(SUB_DATABASES as readonly string[]).includes(n));
  if (foreign.length > 0) {
    throw new StateError(`${dir} holds an LMDB environment that is not edge-sensor state (it has ${foreign.slice(0, 3).map((n) => `"${n}"`).join(', ')}${foreign.length > 3 ? ', …' : ''}); refusing to use it`, dir, 'NOT_STATE');
  }
  let format: unknown;
  if (names.includes('meta')) format = env.openDB<unknown, string>('meta', { encoding: 'json' }).get('format');
  if (format !== undefined) return checkFormat(format, dir);

  // No format record: a new environment, or one whose creation was cut
  // short before its first commit (sub-databases created, all empty).
  const nonEmpty = names.filter((n) => env.openDB(n, {}).getCount() > 0 && n !== 'meta');
  if (nonEmpty.length > 0) throw new StateError(`${dir} holds an LMDB environment without an edge-sensor format record; refusing to read it`, dir, 'NOT_STATE');
  if (readOnly) throw new StateError(`no state at ${dir} yet: the LMDB environment is being created or its creation was interrupted (no format record)`, dir, 'ENOENT');
  const created: StateFormat = { version: STATE_FORMAT_VERSION, created_at: new Date().toISOString(), sensor_id: randomUUID() };
  for (const name of SUB_DATABASES) env.openDB(name, name === 'meta' ? { encoding: 'json' } : name === 'chunks' ? { encoding: 'binary' } : {});
  const meta = env.openDB<unknown, string>('meta', { encoding: 'json' });
  env.transactionSync(() => {
    meta.putSync('format', created);
    meta.putSync('next_seq', 1);
  });
  return created;
}

function checkFormat(format: unknown, dir: string): StateFormat {
  const f = format as Partial<StateFormat> | null;
  const version = f && typeof f === 'object' ? f.version : undefined;
  if (version !== STATE_FORMAT_VERSION) {
    const found = version === undefined ? `an unreadable format record (${JSON.stringify(format)?.slice(0, 80)})` : `format version ${JSON.stringify(version)}`;
    throw new StateFormatError(
      `state directory ${dir} holds ${found}; this sensor reads format version ${STATE_FORMAT_VERSION} only and will not misread it: start fresh with --fresh-state (the old state is moved aside to ${dir}.old-<timestamp>)`,
      dir, version, STATE_FORMAT_VERSION,
    );
  }
  if (typeof f!.sensor_id !== 'string' || typeof f!.created_at !== 'string') {
    throw new StateFormatError(`state directory ${dir} has a damaged format record (${JSON.stringify(format).slice(0, 120)}): start fresh with --fresh-state (the old state is moved aside to ${dir}.old-<timestamp>)`, dir, version, STATE_FORMAT_VERSION);
  }
  return f as StateFormat;
}

/**
 * --fresh-state: move the state in `dir` aside to `${dir}.old-<ISO time
 * without colons>` (kept, not deleted: it may be wanted for an
 * investigation) and return where it went; null when there was nothing.
 * Only an LMDB environment is moved: a directory of other files is refused,
 * so a mistyped --state cannot move an unrelated folder away.
 */
export function freshState(dir: string, now: Date = new Date()): string | null {
  const abs = resolve(dir);
  let st;
  try {
    st = statSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw stateErrorSync(e, abs, 'moving the old state aside', false);
  }
  if (!st.isDirectory()) throw new StateError(`${abs} is not a directory: it cannot hold state`, abs, 'ENOTDIR');
  const entries = safeReaddir(abs);
  if (entries.length === 0) return null;
  if (!entries.includes('data.mdb')) {
    throw new StateError(`${abs} is not edge-sensor state (no data.mdb): --fresh-state moves only a state directory aside; refusing to move it`, abs, 'NOT_STATE');
  }
  // a running sensor's state is not pulled from under it (its lock would go with it)
  const holder = lockHolder(abs);
  if (holder !== null) throw new StateError(`state directory ${abs} is in use by another sensor (pid ${holder}): --fresh-state does not move a running sensor's state`, abs, 'IN_USE');
  const stamp = now.toISOString().replace(/:/g, '');
  let target = `${abs}.old-${stamp}`;
  for (let i = 1; existsSync(target); i++) target = `${abs}.old-${stamp}-${i}`;
  try {
    renameSync(abs, target);
  } catch (e) {
    throw stateErrorSync(e, abs, 'moving the old state aside', false);
  }
  return target;
}

function mapFull(dir: string, what: string, limit: number): StateError {
  return new StateError(`state directory ${dir} is full (MDB_MAP_FULL): ${what} would take its data past the size limit of ${formatBytes(limit)}: refused; the state kept so far is intact`, dir, 'MDB_MAP_FULL');
}

/** The symbolic name of an error's code: fs errors carry "EROFS", lmdb-js a bare errno (30) or an LMDB code (-30792). */
function codeName(e: unknown): string | undefined {
  const err = e as { code?: unknown; message?: unknown } | null;
  const code = err?.code;
  if (typeof code === 'string') return code;
  if (typeof code === 'number') {
    if (code < 0) return MDB_ERRORS[code];
    for (const [name, n] of Object.entries(osConstants.errno)) if (n === code) return name;
  }
  const m = /\b(MDB_[A-Z_]+)\b/.exec(String(err?.message ?? ''));
  return m?.[1];
}

/** Translate an error of a commit (lmdb-js wraps the cause in a `commitError` promise) into a StateError. */
async function stateErrorOf(e: unknown, dir: string, what: string, readOnly: boolean): Promise<unknown> {
  const commitError = (e as { commitError?: Promise<unknown> } | null)?.commitError;
  if (commitError && typeof commitError.then === 'function') {
    const cause = await commitError.then(() => e, (c: unknown) => c);
    return stateErrorSync(cause, dir, what, readOnly);
  }
  return stateErrorSync(e, dir, what, readOnly);
}

/** A StateError for a machine condition; anything else (a bug) is returned as it was. */
export function stateErrorSync(e: unknown, dir: string, what: string, readOnly: boolean): unknown {
  if (e instanceof StateError) return e;
  const code = codeName(e);
  const make = (message: string, c: StateErrorCode) => new StateError(message, dir, c, { cause: e });
  switch (code) {
    case 'EROFS':
      return make(`state directory ${dir} is on a read-only filesystem (EROFS): cannot keep state there`, 'EROFS');
    case 'EACCES':
    case 'EPERM':
      return make(readOnly
        ? `state directory ${dir} may not be read by this user (${code})`
        : `state directory ${dir} may not be written by this user (${code}): cannot keep state there`, code);
    case 'ENOSPC':
    case 'EDQUOT':
      return make(`the disk holding state directory ${dir} is full (${code}): ${what} failed; the state kept so far is intact`, code);
    case 'EIO': {
      // LMDB reports a short write (the disk filling up mid-commit) as EIO.
      const free = freeBytes(dir);
      if (free < DISK_RESERVE_BYTES) return make(`the disk holding state directory ${dir} is full (ENOSPC, reported as EIO): ${what} failed; the state kept so far is intact`, 'ENOSPC');
      return make(`state directory ${dir}: an I/O error (EIO) while ${what} (${Number.isFinite(free) ? `${formatBytes(free)} free on its disk; ` : ''}LMDB also reports a disk filling up mid-write so); the last committed state is kept`, 'EIO');
    }
    case 'ENOENT':
      return make(`no state at ${dir}: ${what} failed (${withCode('ENOENT', (e as Error).message)})`, 'ENOENT');
    case 'ENOTDIR':
      return make(`${dir} is not a directory (or a parent of it is not): it cannot hold state`, 'ENOTDIR');
    case 'MDB_MAP_FULL':
      return make(`state directory ${dir} is full (MDB_MAP_FULL): ${what} failed; the state kept so far is intact`, 'MDB_MAP_FULL');
    case 'MDB_INVALID':
    case 'MDB_VERSION_MISMATCH':
      return make(`${dir} is not edge-sensor state: its data.mdb is not an LMDB environment this sensor can read (${code}); refusing to use it`, 'NOT_STATE');
    default:
      if (code && /^E[A-Z0-9]+$/.test(code)) return make(`state directory ${dir}: ${what} failed (${withCode(code, (e as Error).message)})`, 'OTHER');
      return e;
  }
}

function freeBytes(dir: string): number {
  try {
    const st = statfsSync(dir);
    return Number(st.bavail) * Number(st.bsize);
  } catch {
    return Infinity;
  }
}

/** "1.5 MiB" (binary units, as memory and map sizes are quoted). */

/** "CODE: message", without saying the code twice (Node's messages often begin with it). */
function withCode(code: string, message: string): string {
  return message.startsWith(`${code}:`) ? message : `${code}: ${message}`;
}
