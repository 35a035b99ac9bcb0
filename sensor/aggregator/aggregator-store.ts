// The aggregator's storage: what every sensor delivered over the uplink,
// in one LMDB environment in a data directory, kept with the sensor's state
// conventions (sensor/state/state-db.ts): a format record checked at every
// open, directories that are not ours refused and never written into, one
// write transaction per batch (committed and synced before the batch is
// acknowledged), machine conditions turned into one-line StateErrors.
//
// Exactly once by (sensor, seq). A sensor resends from its last
// acknowledgement after any failure, so batches arrive again: an item at or
// below the sensor's acked_seq, or already stored, is a duplicate (counted,
// not stored). The acknowledgement is the highest seq up to which every
// item is settled, stored or rejected: a gap (5 before 4) is stored but the
// ack waits at 3 until 4 comes. Rejected items are settled as tombstones so
// one malformed breach cannot hold a sensor's acknowledgement back forever
// (it would be resent and rejected again on every reconnect).
//
// Namespaces. Every key starts with the sensor id the server authenticated
// (never a field of a message), so a sensor can only ever write and
// overwrite its own records. Within a sensor, breaches live in sequence
// spaces ("epochs"): a sensor whose state was started afresh numbers from 1
// again under a new Hello.state_id; the aggregator then opens the next epoch
// (acked_seq 0) and keeps the old one's breaches, rather than taking the
// new breaches for duplicates of the old.
//
// Layout (sub-databases; their names are part of the format):
// - meta:        'format' → AggregatorFormat (JSON)
// - sensors:     sensor id → SensorRecord
// - breaches:    [sensor, epoch, seq] → StoredBreachRecord (the JSON text as sent)
// - breach_time: [time_ms, sensor, epoch, seq] → [score, model, device ip]: the time index, with what the filters need
// - rejected:    [sensor, epoch, seq] → { reason, at }: settled, never stored
// - devices:     [sensor, ip] → StoredDevice
// - annotations: [kind, …target] → acknowledgement and comments (annotation-store.ts)
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { open, type Database, type Key, type RootDatabase } from 'lmdb';
import { StateError, StateFormatError, formatBytes } from '../state/state-error.ts';
import { stateErrorSync } from '../state/state-db.ts';
import { DISK_RESERVE_BYTES, checkDiskSpace, liveBytes, prepareLmdbDirectory, type LmdbWords } from '../state/lmdb-guards.ts';
import { formatAddress, parseAddress } from '../flows/ip-address.ts';
// types only: the store does not load the proto (a CLI reading the data needs no gRPC)
import type { ValidBreach, ValidDevice, ValidHealth, ValidHello } from '../uplink/protocol.ts';

/** The layout below; bumped whenever an older aggregator could misread it. */
export const AGGREGATOR_FORMAT_VERSION = 1;
export const AGGREGATOR_SUB_DATABASES = ['meta', 'sensors', 'breaches', 'breach_time', 'rejected', 'devices', 'annotations'] as const;
export { DISK_RESERVE_BYTES };

/** How the guards of lmdb-guards.ts name the aggregator's data. */
const WORDS: LmdbWords = {
  noun: 'aggregator data', ours: 'aggregator data', opening: 'opening the aggregator data', creating: 'creating the aggregator data directory',
  instead: 'point the aggregator at a new or empty directory', createdBy: () => '',
};

export interface AggregatorFormat {
  version: number;
  kind: 'aggregator';
  /** RFC 3339 */
  created_at: string;
  /** a random UUID made at creation: the Welcome's aggregator_id */
  aggregator_id: string;
}

export interface SensorCounters {
  /** breach items received (valid or not) */
  received: number;
  stored: number;
  /** at or below the acknowledgement, or already stored */
  duplicates: number;
  /** invalid: never stored */
  rejected: number;
  /** seqs given up: the sensor said (Hello.last_seq) it no longer holds them and they were never stored */
  lost: number;
  /** device rows stored (each replacing the row of its address) */
  devices: number;
}

export interface SensorRecord {
  id: string;
  /** RFC 3339 */
  first_connected: string;
  last_connected: string;
  /** the last Hello, with when it came */
  last_hello: ValidHello & { at: string };
  /** the last Health, with when it came */
  last_health?: ValidHealth & { received_at: string };
  /** the current sequence space (Hello.state_id) and its number */
  state_id: string;
  epoch: number;
  /** highest contiguous settled seq in the current epoch */
  acked_seq: number;
  counters: SensorCounters;
}

export interface StoredBreachRecord {
  id: string;
  time: string;
  model: string;
  score: number;
  device_ip: string;
  /** RFC 3339, when the aggregator stored it */
  received_at: string;
  /** the breach as the sensor sent it */
  json: string;
}

/** A stored breach as queries return it. */
export interface StoredBreach {
  sensor: string;
  epoch: number;
  seq: number;
  received_at: string;
  breach: Record<string, unknown>;
}

export type StoredDevice = ValidDevice & { sensor: string; received_at: string };

export interface BreachQuery {
  /** epoch ms, inclusive */
  since?: number;
  /** epoch ms, inclusive */
  until?: number;
  minScore?: number;
  model?: string;
  /** breach.device.ip (any spelling of the address) */
  device?: string;
  sensor?: string;
  /** default 1000 */
  limit?: number;
}

/** An item that failed validation: its seq when it had a usable one (then it is settled as a tombstone). */
export interface RejectedItem {
  seq: number | null;
  reason: string;
}

export interface BatchResult {
  stored: number;
  /** the seqs this batch stored (not duplicates): what correlation takes next */
  storedSeqs: number[];
  duplicates: number;
  rejected: number;
  acked_seq: number;
}

export interface ConnectResult {
  acked_seq: number;
  epoch: number;
  /** this Hello opened a new sequence space (a new state_id) */
  new_epoch: boolean;
  /** seqs given up at this Hello (its last_seq was ahead of the acknowledgement) */
  lost: number;
}

export interface AggregatorStoreOptions {
  readOnly?: boolean;
  /** the most the data may occupy; a write that would pass it is refused whole (MDB_MAP_FULL) */
  mapSizeBytes?: number;
}

const DEFAULT_QUERY_LIMIT = 1000;

type SeqKey = [string, number, number];
type TimeKey = [number, string, number, number];

const emptyCounters = (): SensorCounters => ({ received: 0, stored: 0, duplicates: 0, rejected: 0, lost: 0, devices: 0 });

class OverLimit extends Error {}

/** What storeBreaches and connect ask of a sequence space (see AggregatorStore.settledSeqs). */
interface SettledSeqs {
  has(seq: number): boolean;
  add(seq: number): void;
  /** the acknowledgement moved over every settled seq right after it */
  advance(acked: number): number;
  /** this transaction's seqs are in the data: later lookups may skip seqs up to them */
  commit(): void;
}

export class AggregatorStore {
  readonly dir: string;
  readonly readOnly: boolean;
  readonly format: AggregatorFormat;
  private readonly metaDb: Database<unknown, string>;
  private readonly sensorsDb: Database<SensorRecord, string>;
  private readonly breachesDb: Database<StoredBreachRecord, SeqKey>;
  private readonly timeDb: Database<[number, string, string], TimeKey>;
  private readonly rejectedDb: Database<{ reason: string; at: string }, SeqKey>;
  private readonly devicesDb: Database<StoredDevice, [string, string]>;
  private readonly annotationsDb: Database<unknown, Key> | null;
  private closed = false;
  /** per sequence space ("sensor\0epoch"): no seq above this is settled (see settledSeqs) */
  private readonly highSeq = new Map<string, number>();

  /** @internal use openAggregatorStore() */
  constructor(private readonly env: RootDatabase, dir: string, readOnly: boolean, private readonly limitBytes: number | undefined, format: AggregatorFormat) {
    this.dir = dir;
    this.readOnly = readOnly;
    this.format = format;
    this.metaDb = env.openDB('meta', { encoding: 'json' });
    this.sensorsDb = env.openDB('sensors', {});
    this.breachesDb = env.openDB('breaches', {});
    this.timeDb = env.openDB('breach_time', {});
    this.rejectedDb = env.openDB('rejected', {});
    this.devicesDb = env.openDB('devices', {});
    // annotation-store.ts keeps its sub-database beside these: counted against the size limit too (writes only)
    this.annotationsDb = readOnly ? null : env.openDB('annotations', {});
  }

  get aggregatorId(): string { return this.format.aggregator_id; }

  /** The LMDB environment, for stores kept beside this one in sub-databases of AGGREGATOR_SUB_DATABASES (annotation-store.ts). */
  get environment(): RootDatabase { return this.env; }

  /** One write transaction with this store's guards (read-only, disk space, size limit, errors as StateErrors), for those stores. */
  transaction<T>(what: string, fn: () => T): Promise<T> { return this.write(what, fn); }

  /**
   * A stream's Hello was accepted for `sensorId` (the authenticated id):
   * record the connection and answer with where the sensor resends from.
   * A new state_id opens the next epoch; a last_seq ahead of the
   * acknowledgement moves it up (those seqs cannot come any more).
   */
  connect(sensorId: string, hello: ValidHello, now: Date = new Date()): Promise<ConnectResult> {
    const at = now.toISOString();
    return this.write('recording a sensor connection', () => {
      const prev = this.sensorsDb.get(sensorId);
      const rec: SensorRecord = prev
        ? { ...prev, last_connected: at, last_hello: { ...hello, at }, counters: { ...emptyCounters(), ...prev.counters } }
        : { id: sensorId, first_connected: at, last_connected: at, last_hello: { ...hello, at }, state_id: hello.state_id, epoch: 0, acked_seq: 0, counters: emptyCounters() };
      let newEpoch = false;
      if (prev && prev.state_id !== hello.state_id) {
        rec.state_id = hello.state_id;
        rec.epoch = prev.epoch + 1;
        rec.acked_seq = 0;
        newEpoch = true;
      }
      let lost = 0;
      if (hello.last_seq > rec.acked_seq) {
        // seqs in (acked, last_seq] the sensor has dropped from its outbox: what is not here now never will be
        const settled = this.settledBetween(sensorId, rec.epoch, rec.acked_seq, hello.last_seq);
        lost = hello.last_seq - rec.acked_seq - settled;
        rec.counters.lost += lost;
        rec.acked_seq = hello.last_seq;
      }
      rec.acked_seq = this.settledSeqs(sensorId, rec.epoch).advance(rec.acked_seq);
      this.sensorsDb.putSync(sensorId, rec);
      return { acked_seq: rec.acked_seq, epoch: rec.epoch, new_epoch: newEpoch, lost };
    });
  }

  /**
   * Store a batch's valid items and settle its rejected ones, in one
   * transaction; resolves once it is synced, with the new acknowledgement.
   * `sensorId` must have connected (a Hello) first.
   */
  storeBreaches(sensorId: string, items: readonly ValidBreach[], rejected: readonly RejectedItem[] = [], now: Date = new Date()): Promise<BatchResult> {
    const at = now.toISOString();
    const bytesHint = items.reduce((n, it) => n + it.json.length + 128, 0);
    return this.write('storing breaches', () => {
      const rec = this.requireSensor(sensorId);
      const { epoch } = rec;
      const settled = this.settledSeqs(sensorId, epoch);
      let stored = 0, duplicates = 0;
      const storedSeqs: number[] = [];
      for (const it of items) {
        if (it.seq <= rec.acked_seq || settled.has(it.seq)) { duplicates++; continue; }
        this.breachesDb.putSync([sensorId, epoch, it.seq], { id: it.id, time: it.time, model: it.model, score: it.score, device_ip: it.device_ip, received_at: at, json: it.json });
        this.timeDb.putSync([it.time_ms, sensorId, epoch, it.seq], [it.score, it.model, it.device_ip]);
        settled.add(it.seq);
        stored++;
        storedSeqs.push(it.seq);
      }
      for (const r of rejected) {
        if (r.seq === null || r.seq <= rec.acked_seq) continue;
        // a stored breach stays stored: a bad resend of its seq does not replace it
        if (!settled.has(r.seq)) {
          this.rejectedDb.putSync([sensorId, epoch, r.seq], { reason: r.reason.slice(0, 200), at });
          settled.add(r.seq);
        }
      }
      rec.acked_seq = settled.advance(rec.acked_seq);
      const c = rec.counters;
      c.received += items.length + rejected.length;
      c.stored += stored;
      c.duplicates += duplicates;
      c.rejected += rejected.length;
      this.sensorsDb.putSync(sensorId, rec);
      settled.commit();
      return { stored, storedSeqs, duplicates, rejected: rejected.length, acked_seq: rec.acked_seq };
    }, bytesHint);
  }

  /** Store device rows of `sensorId` (one transaction), each replacing that sensor's row of its address. */
  putDevices(sensorId: string, devices: readonly ValidDevice[], now: Date = new Date()): Promise<number> {
    const at = now.toISOString();
    return this.write('storing devices', () => {
      const rec = this.requireSensor(sensorId);
      for (const d of devices) this.devicesDb.putSync([sensorId, d.ip], { ...d, sensor: sensorId, received_at: at });
      rec.counters.devices += devices.length;
      this.sensorsDb.putSync(sensorId, rec);
      return devices.length;
    });
  }

  /** Keep `sensorId`'s latest health. */
  recordHealth(sensorId: string, health: ValidHealth, now: Date = new Date()): Promise<void> {
    const at = now.toISOString();
    return this.write('recording sensor health', () => {
      const rec = this.requireSensor(sensorId);
      rec.last_health = { ...health, received_at: at };
      this.sensorsDb.putSync(sensorId, rec);
    });
  }

  sensor(id: string): SensorRecord | undefined {
    return this.sensorsDb.get(id);
  }

  /** Every sensor that ever connected, by id. */
  sensors(): SensorRecord[] {
    return [...this.sensorsDb.getRange({})].map(({ value }) => value);
  }

  /** Where `sensorId` resends from: its acknowledgement in its current epoch (0 for a sensor never seen). */
  ackedSeq(sensorId: string): number {
    return this.sensorsDb.get(sensorId)?.acked_seq ?? 0;
  }

  /** One stored breach; epoch defaults to the sensor's current one. */
  breach(sensorId: string, seq: number, epoch?: number): StoredBreach | undefined {
    const e = epoch ?? this.sensorsDb.get(sensorId)?.epoch ?? 0;
    const rec = this.breachesDb.get([sensorId, e, seq]);
    return rec ? toStored(sensorId, e, seq, rec) : undefined;
  }

  /** Stored breaches in time order (then sensor, epoch, seq), filtered, at most `limit` (1000 by default). */
  breaches(q: BreachQuery = {}): StoredBreach[] {
    const limit = q.limit ?? DEFAULT_QUERY_LIMIT;
    const out: StoredBreach[] = [];
    if (!(limit > 0)) return out;
    const parsed = q.device === undefined ? null : parseAddress(q.device);
    // stored in the sensor's canonical form (protocol.ts canonicalAddress)
    const device = parsed ? formatAddress(parsed.bytes, parsed.version) : q.device;
    const range: { start?: TimeKey; end?: TimeKey } = {};
    if (q.since !== undefined) range.start = [q.since] as unknown as TimeKey;
    // keys are [time_ms, sensor, …] with ASCII sensor ids: [until, U+FFFF] sorts after every key at `until`
    if (q.until !== undefined) range.end = [q.until, '\uffff'] as unknown as TimeKey;
    for (const { key, value } of this.timeDb.getRange(range)) {
      const [, sensor, epoch, seq] = key;
      const [score, model, ip] = value;
      if (q.minScore !== undefined && !(score >= q.minScore)) continue;
      if (q.model !== undefined && model !== q.model) continue;
      if (device !== undefined && ip !== device) continue;
      if (q.sensor !== undefined && sensor !== q.sensor) continue;
      const rec = this.breachesDb.get([sensor, epoch, seq]);
      if (!rec) continue;
      out.push(toStored(sensor, epoch, seq, rec));
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Every stored breach's time, sensor, score and device, in time order, from the time index alone (the records are not read): what derived state such as device scores is rebuilt from. */
  *breachIndex(): Generator<{ time_ms: number; sensor: string; score: number; device_ip: string }> {
    for (const { key, value } of this.timeDb.getRange({})) yield { time_ms: key[0], sensor: key[1], score: value[0], device_ip: value[2] };
  }

  /** Device rows, of one sensor or all, by sensor then address text. */
  devices(sensorId?: string): StoredDevice[] {
    const range = sensorId === undefined ? {} : { start: [sensorId] as unknown as [string, string], end: [sensorId, '\uffff'] as [string, string] };
    return [...this.devicesDb.getRange(range)].map(({ value }) => value);
  }

  breachCount(): number {
    return this.breachesDb.getCount();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.env.close();
  }

  // ---- internals ----

  private requireSensor(sensorId: string): SensorRecord {
    const rec = this.sensorsDb.get(sensorId);
    if (!rec) throw new Error(`aggregator store: sensor ${sensorId} has not connected (no Hello recorded)`);
    return { ...rec, counters: { ...emptyCounters(), ...rec.counters } };
  }

  /**
   * The settled seqs of one sequence space, inside a write transaction.
   * Every seq above the space's highest settled seq is known unsettled
   * without a lookup: a sensor delivers in order, so nearly every item of
   * a batch is above it, and the two existence lookups an item would cost
   * (breaches, rejected) are skipped. The highest seq is read from the
   * data once per space and process (the last key of each table), then
   * kept here, raised by commit() inside the transaction that settled the
   * seqs. A transaction that then fails to commit leaves it too high, which
   * is only conservative (those seqs are looked up again); it is never
   * lower than the data, as nothing but this store writes these tables.
   */
  private settledSeqs(sensorId: string, epoch: number): SettledSeqs {
    const key = `${sensorId}\u0000${epoch}`;
    let high = this.highSeq.get(key);
    if (high === undefined) {
      high = Math.max(this.lastSeq(this.breachesDb, sensorId, epoch), this.lastSeq(this.rejectedDb, sensorId, epoch));
      this.highSeq.set(key, high);
    }
    const known = high;
    const added = new Set<number>();
    const inData = (seq: number) => seq <= known && (this.breachesDb.doesExist([sensorId, epoch, seq]) || this.rejectedDb.doesExist([sensorId, epoch, seq]));
    const has = (seq: number) => added.has(seq) || inData(seq);
    return {
      has,
      add: (seq) => { added.add(seq); },
      // the ack moves over every settled seq right after it
      advance: (acked) => { while (has(acked + 1)) acked++; return acked; },
      commit: () => { let h = known; for (const seq of added) if (seq > h) h = seq; this.highSeq.set(key, h); },
    };
  }

  private lastSeq(db: Database<unknown, SeqKey>, sensorId: string, epoch: number): number {
    for (const k of db.getKeys({ start: [sensorId, epoch, Number.MAX_SAFE_INTEGER], end: [sensorId, epoch, 0], reverse: true, limit: 1 })) return k[2];
    return 0;
  }

  /** How many seqs in (from, to] are settled. */
  private settledBetween(sensorId: string, epoch: number, from: number, to: number): number {
    const range = { start: [sensorId, epoch, from + 1] as SeqKey, end: [sensorId, epoch, to + 1] as SeqKey };
    return this.breachesDb.getCount(range) + this.rejectedDb.getCount(range);
  }

  // One write transaction, resolved once committed and synced (see StateDb.write: the same lmdb-js settings and reasons).
  private async write<T>(what: string, fn: () => T, bytesHint = 0): Promise<T> {
    if (this.closed) throw new Error(`aggregator data ${this.dir} is closed`);
    if (this.readOnly) throw new StateError(`aggregator data directory ${this.dir} was opened read-only: ${what} is not possible`, this.dir, 'READ_ONLY');
    checkDiskSpace(this.dir, what, bytesHint, `aggregator data directory ${this.dir}`, 'the data kept so far');
    try {
      return await this.env.childTransaction(() => {
        const result = fn();
        if (this.limitBytes !== undefined && this.liveBytes() > this.limitBytes) throw new OverLimit();
        return result;
      });
    } catch (e) {
      if (e instanceof OverLimit) {
        throw new StateError(`aggregator data directory ${this.dir} is full (MDB_MAP_FULL): ${what} would take its data past the size limit of ${formatBytes(this.limitBytes!)}: refused; the data kept so far is intact`, this.dir, 'MDB_MAP_FULL');
      }
      const commitError = (e as { commitError?: Promise<unknown> } | null)?.commitError;
      const cause = commitError && typeof commitError.then === 'function' ? await commitError.then(() => e, (c: unknown) => c) : e;
      throw stateErrorSync(cause, this.dir, what, false);
    }
  }

  private liveBytes(): number {
    return liveBytes(this.env, [this.metaDb, this.sensorsDb, this.breachesDb, this.timeDb, this.rejectedDb, this.devicesDb, ...(this.annotationsDb ? [this.annotationsDb] : [])]);
  }
}

function toStored(sensor: string, epoch: number, seq: number, rec: StoredBreachRecord): StoredBreach {
  // validated as one JSON object when it arrived
  return { sensor, epoch, seq, received_at: rec.received_at, breach: JSON.parse(rec.json) as Record<string, unknown> };
}

/**
 * Open (and, unless read-only, create) the aggregator's data in `dir`.
 * Throws a StateFormatError for another format version and a StateError
 * for a directory that is not aggregator data or cannot be used.
 */
export function openAggregatorStore(dir: string, opts: AggregatorStoreOptions = {}): AggregatorStore {
  const abs = resolve(dir);
  const readOnly = opts.readOnly === true;
  if (opts.mapSizeBytes !== undefined && !(opts.mapSizeBytes > 0)) throw new RangeError(`mapSizeBytes must be > 0 (got ${opts.mapSizeBytes})`);
  prepareLmdbDirectory(abs, readOnly, WORDS, stateErrorSync);
  let env: RootDatabase;
  try {
    env = open(abs, {
      noSubdir: false, readOnly, maxDbs: 16, overlappingSync: false, eventTurnBatching: false,
      ...(opts.mapSizeBytes !== undefined ? { mapSize: opts.mapSizeBytes } : {}),
    });
  } catch (e) {
    throw stateErrorSync(e, abs, 'opening the aggregator data', readOnly);
  }
  try {
    return new AggregatorStore(env, abs, readOnly, opts.mapSizeBytes, checkOrCreateFormat(env, abs, readOnly));
  } catch (e) {
    void env.close().catch(() => {});
    throw e instanceof StateError ? e : stateErrorSync(e, abs, 'opening the aggregator data', readOnly);
  }
}

function checkOrCreateFormat(env: RootDatabase, dir: string, readOnly: boolean): AggregatorFormat {
  const names = [...env.getKeys()].map(String);
  const foreign = names.filter((n) => !(AGGREGATOR_SUB_DATABASES as readonly string[]).includes(n));
  if (foreign.length > 0) {
    throw new StateError(`${dir} holds an LMDB environment that is not aggregator data (it has ${foreign.slice(0, 3).map((n) => `"${n}"`).join(', ')}${foreign.length > 3 ? ', …' : ''}: a sensor's state?); refusing to use it`, dir, 'NOT_STATE');
  }
  const format = names.includes('meta') ? env.openDB<unknown, string>('meta', { encoding: 'json' }).get('format') : undefined;
  if (format !== undefined) return checkFormat(format, dir);
  const nonEmpty = names.filter((n) => n !== 'meta' && env.openDB(n, {}).getCount() > 0);
  if (nonEmpty.length > 0) throw new StateError(`${dir} holds an LMDB environment without an aggregator format record; refusing to read it`, dir, 'NOT_STATE');
  if (readOnly) throw new StateError(`no aggregator data at ${dir} yet (no format record)`, dir, 'ENOENT');
  const created: AggregatorFormat = { version: AGGREGATOR_FORMAT_VERSION, kind: 'aggregator', created_at: new Date().toISOString(), aggregator_id: randomUUID() };
  for (const name of AGGREGATOR_SUB_DATABASES) env.openDB(name, name === 'meta' ? { encoding: 'json' } : {});
  env.transactionSync(() => { env.openDB<unknown, string>('meta', { encoding: 'json' }).putSync('format', created); });
  return created;
}

function checkFormat(format: unknown, dir: string): AggregatorFormat {
  const f = format as Partial<AggregatorFormat> | null;
  const version = f && typeof f === 'object' ? f.version : undefined;
  if (f?.kind !== undefined && f.kind !== 'aggregator') throw new StateError(`${dir} is not aggregator data (its format record is of kind ${JSON.stringify(f.kind)}); refusing to use it`, dir, 'NOT_STATE');
  if (version !== AGGREGATOR_FORMAT_VERSION || typeof f?.aggregator_id !== 'string') {
    const found = version === undefined ? `an unreadable format record (${JSON.stringify(format)?.slice(0, 80)})` : `format version ${JSON.stringify(version)}`;
    throw new StateFormatError(`aggregator data directory ${dir} holds ${found}; this aggregator reads format version ${AGGREGATOR_FORMAT_VERSION} only and will not misread it: move it aside and start with an empty directory`, dir, version, AGGREGATOR_FORMAT_VERSION);
  }
  return f as AggregatorFormat;
}
