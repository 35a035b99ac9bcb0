// The sensor's side of the uplink (issue 6): deliver every breach in the
// state's outbox to an aggregator, at least once, and take it out of the
// outbox only once the aggregator has acknowledged it (settled: stored, or
// rejected as invalid — see proto/edge/v1/uplink.proto).
//
// One stream at a time: Hello (sensor id, the state's id as the sequence
// space, the highest seq ever acknowledged), then Welcome, whose acked_seq
// is acknowledged here too (a run that stopped before an Ack came may find
// its last batches stored already) and where sending resumes from. Outbox
// entries above it go out in BreachBatches of at most
// min(Welcome.max_batch_items, 500) items and under max_message_bytes, with
// at most `window` batches unacknowledged; grpc-js's write() returning
// false (its buffer is full) holds the next batch until 'drain'. Each
// cumulative Ack removes what it covers from the outbox. The outbox is
// polled for new breaches (the state writer thread keeps adding them), every
// pollMs or at nudge().
//
// Any failure — the stream erroring or ending, no Welcome in time, the
// aggregator's Error — drops the stream and its channel; after a backoff
// (exponential, full jitter) a new channel and stream start over from the
// new Welcome, so what was in flight is resent and the aggregator, which
// stores each (sensor, seq) once, keeps one copy. Keepalive pings every
// ~5 s with a ~5 s timeout notice a dead aggregator within ~10 s; the stream
// has no deadline.
//
// The uplink opens its own handle on the state (lmdb-js shares one
// environment between the threads of a process): the outbox is read here
// while the state writer thread adds to it, and acknowledgements are
// written here, each its own small transaction.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChannelCredentials, Client, ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import { PACKAGE_ROOT } from '../core/package-root.ts';
import { logger as defaultLogger, type Log } from '../log/logger.ts';
import { BreachStore } from '../state/breach-store.ts';
import { openStateDb, type StateDb } from '../state/state-db.ts';
import { Backoff } from './backoff.ts';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION, UplinkClient, type AggregatorMessageIn, type BreachItem, type Device, type SensorMessageOut, type Welcome } from './protocol.ts';
import type { DeviceRow } from '../state/device-store.ts';
import { ThrottledLog } from './throttled-log.ts';

export type UplinkState = 'connecting' | 'connected' | 'backoff';

export interface UplinkOptions {
  /** the aggregator, host:port */
  address: string;
  /** the sensor's state directory (its outbox); must exist (the pipeline creates it first) */
  stateDir: string;
  /** uplinkCredentials() */
  credentials: ChannelCredentials;
  /** the identity in Hello (default: the state's sensor id); with mTLS, the client certificate's CN */
  sensorId?: string;
  log?: Log;
  /** uniform in [0, 1) for the backoff's jitter (tests pass a seeded one) */
  random?: () => number;
  backoff?: { initialMs?: number; maxMs?: number };
  /** how often the outbox is looked at for new breaches (default 200 ms) */
  pollMs?: number;
  /** batches sent and not yet acknowledged, at most (default 8) */
  window?: number;
  /** items per batch, at most (default 500; the Welcome's limit when lower) */
  maxBatchItems?: number;
  /** a stream with no Welcome by then is dropped (default 15 s) */
  welcomeTimeoutMs?: number;
  /** a stream with batches unacknowledged this long is dropped (default 60 s): an aggregator that answers pings but no longer stores */
  ackTimeoutMs?: number;
  /** Health every so often (default 10 s; 0: never) */
  healthEveryMs?: number;
  /** the device inventory's changed rows every so often, and all of them on each new stream (default 60 s; 0: never) */
  devicesEveryMs?: number;
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
}

export interface UplinkStats {
  /** breach items written to a stream (resends included) */
  sent: number;
  /** outbox entries removed by acknowledgements */
  acked: number;
  /** items sent again after a reconnect (their first sending was not acknowledged) */
  resent: number;
  /** streams that failed or could not be opened */
  errors: number;
  /** new streams after the first */
  reconnects: number;
  state: UplinkState;
  /** the highest seq acknowledged */
  acked_seq: number;
}

type UplinkCall = ClientDuplexStream<SensorMessageOut, AggregatorMessageIn>;

/** One stream and its channel: events of a stream already given up are ignored. */
interface Session {
  client: Client;
  call: UplinkCall;
  welcome: Welcome | null;
  /** the highest seq written to this stream */
  sentUpTo: number;
  /** the last seq of each batch written and not yet acknowledged, in order */
  inflight: number[];
  batchItems: number;
  maxBytes: number;
  waitingDrain: boolean;
  ended: boolean;
  /** when the oldest unacknowledged batch was written, or the last Ack came since */
  waitingSince: number;
  welcomeTimer: NodeJS.Timeout | null;
}

const DEFAULT_BATCH_ITEMS = 500;
// device rows are small (≤ 64 tags of ≤ 64 characters at worst): 500 stay far below the message limit
const DEVICES_PER_BATCH = 500;
// a batch's bytes besides the items' own fields (tags, lengths): kept well clear of the limit
const BATCH_MARGIN_BYTES = 64 << 10;
const ITEM_OVERHEAD_BYTES = 40;

const VERSION = (() => { try { return String(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version); } catch { return '0.0.0'; } })();

export class Uplink {
  private readonly log: Log;
  private readonly throttled: ThrottledLog;
  private readonly backoff: Backoff;
  private readonly pollMs: number;
  private readonly window: number;
  private readonly batchItems: number;
  private db: StateDb | null = null;
  private store: BreachStore | null = null;
  private session: Session | null = null;
  private stopped = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private devicesTimer: NodeJS.Timeout | null = null;
  /** device address → the row as this stream last sent it (its fingerprint): only changed rows go again */
  private readonly sentDevices = new Map<string, string>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** the highest seq acknowledged (locally: the outbox write may still be under way, see `acking`) */
  private lastAcked = 0;
  /** the highest seq ever written to a stream: items at or below it are resends */
  private highestSent = 0;
  /** acknowledgements are written one after another, in order */
  private acking: Promise<void> = Promise.resolve();
  private streams = 0;
  private readonly counters = { sent: 0, acked: 0, resent: 0, errors: 0, reconnects: 0 };
  private currentState: UplinkState = 'connecting';

  constructor(private readonly opts: UplinkOptions) {
    this.log = opts.log ?? defaultLogger();
    this.throttled = new ThrottledLog(this.log, 10_000);
    this.backoff = new Backoff({ ...opts.backoff, ...(opts.random ? { random: opts.random } : {}) });
    this.pollMs = opts.pollMs ?? 200;
    this.window = Math.max(1, opts.window ?? 8);
    this.batchItems = Math.max(1, opts.maxBatchItems ?? DEFAULT_BATCH_ITEMS);
  }

  /** Open the state and connect; delivery goes on in the background until stop(). */
  start(): void {
    if (this.db) throw new Error('uplink: already started');
    this.db = openStateDb(this.opts.stateDir);
    this.store = new BreachStore(this.db);
    this.lastAcked = this.store.lastAcknowledged();
    this.highestSent = this.lastAcked;
    this.pollTimer = setInterval(() => { this.checkAcks(); this.pump(); }, this.pollMs);
    this.pollTimer.unref();
    const healthMs = this.opts.healthEveryMs ?? 10_000;
    if (healthMs > 0) {
      this.healthTimer = setInterval(() => this.sendHealth(), healthMs);
      this.healthTimer.unref();
    }
    const devicesMs = this.opts.devicesEveryMs ?? 60_000;
    if (devicesMs > 0) {
      this.devicesTimer = setInterval(() => this.sendDevices(), devicesMs);
      this.devicesTimer.unref();
    }
    this.connect();
  }

  /** New breaches are in the outbox: send them now rather than at the next poll. */
  nudge(): void {
    setImmediate(() => this.pump());
  }

  stats(): UplinkStats {
    return { ...this.counters, state: this.currentState, acked_seq: this.lastAcked };
  }

  /** Breaches still waiting for acknowledgement. */
  outboxSize(): number {
    return this.store && !this.stopped ? this.store.outboxSize() : 0;
  }

  /** Wait until the outbox is empty (true) or `timeoutMs` has passed (false). */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.acking;
      if (this.stopped || !this.store) return false;
      if (this.store.outboxSize() === 0) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      this.pump();
      await new Promise((r) => setTimeout(r, Math.min(50, left)));
    }
  }

  /** Drop the stream, wait for acknowledgements being written, close the state. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of [this.pollTimer, this.healthTimer, this.devicesTimer, this.reconnectTimer]) if (t) clearInterval(t);
    if (this.session) this.drop(this.session);
    await this.acking;
    await this.db?.close();
  }

  // ---- the stream

  private connect(): void {
    if (this.stopped) return;
    this.currentState = 'connecting';
    if (this.streams++ > 0) this.counters.reconnects++;
    // A channel of its own per attempt (and no shared subchannel): when to
    // try again is this file's backoff, not a channel's reconnect timer.
    // No retries: grpc-js would buffer a stream's messages for them, and
    // write()'s backpressure should be the transport's.
    const client = new UplinkClient(this.opts.address, this.opts.credentials, {
      'grpc.keepalive_time_ms': this.opts.keepaliveTimeMs ?? 5000,
      'grpc.keepalive_timeout_ms': this.opts.keepaliveTimeoutMs ?? 5000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.use_local_subchannel_pool': 1,
      'grpc.enable_retries': 0,
    });
    // no deadline: the stream lives as long as the connection does
    const call = (client as unknown as { Connect(): UplinkCall }).Connect();
    const s: Session = {
      client, call, welcome: null, sentUpTo: 0, inflight: [], batchItems: this.batchItems, maxBytes: MAX_MESSAGE_BYTES,
      waitingDrain: false, ended: false, welcomeTimer: null, waitingSince: 0,
    };
    this.session = s;
    call.on('data', (m: AggregatorMessageIn) => this.onMessage(s, m));
    call.on('error', (e: ServiceError) => this.failed(s, `${e.code} ${e.details || e.message}`));
    // the aggregator ended the stream without an error status: as much a reason to reconnect
    call.on('end', () => this.failed(s, 'the aggregator ended the stream'));
    call.on('drain', () => { s.waitingDrain = false; this.pump(); });
    const welcomeMs = this.opts.welcomeTimeoutMs ?? 15_000;
    s.welcomeTimer = setTimeout(() => this.failed(s, `no Welcome within ${welcomeMs} ms`), welcomeMs);
    s.welcomeTimer.unref();
    const sensorId = this.opts.sensorId ?? this.db!.sensorId;
    this.write(s, { hello: { sensor_id: sensorId, sensor_version: VERSION, protocol_version: PROTOCOL_VERSION, capabilities: [], last_seq: this.lastAcked, state_id: this.db!.sensorId } });
  }

  private onMessage(s: Session, m: AggregatorMessageIn): void {
    if (s.ended || s !== this.session) return;
    switch (m.msg) {
      case 'welcome': return this.welcomed(s, m.welcome);
      case 'ack':
        if (!s.welcome) return this.failed(s, 'an Ack before the Welcome');
        while (s.inflight.length > 0 && s.inflight[0]! <= m.ack.acked_seq) s.inflight.shift();
        s.waitingSince = Date.now();
        this.settle(m.ack.acked_seq);
        return this.pump();
      case 'error':
        // REJECTED: some items were invalid; they are settled (acknowledged) all the same and the stream goes on
        if (m.error.code === 'REJECTED') this.throttled.warn('rejected', { aggregator: this.opts.address, message: m.error.message }, 'uplink: the aggregator rejected invalid breaches (not stored there)');
        else this.throttled.warn(`error:${m.error.code}`, { aggregator: this.opts.address, code: m.error.code, message: m.error.message }, 'uplink: the aggregator reports an error');
        return;
      case 'command':
        this.log.info({ aggregator: this.opts.address, id: m.command.id, kind: m.command.kind }, 'uplink: a command from the aggregator (none is acted on yet)');
        return;
    }
  }

  private welcomed(s: Session, w: Welcome): void {
    if (s.welcome) return this.failed(s, 'a second Welcome');
    if (s.welcomeTimer) { clearTimeout(s.welcomeTimer); s.welcomeTimer = null; }
    s.welcome = w;
    if (w.acked_seq < this.lastAcked) {
      // the aggregator should have moved up to Hello.last_seq: what lies between is gone from the outbox
      this.log.warn({ aggregator: this.opts.address, acked_seq: w.acked_seq, last_seq: this.lastAcked }, 'uplink: the aggregator acknowledges less than this sensor already had acknowledged');
    }
    s.sentUpTo = w.acked_seq;
    s.batchItems = Math.min(this.batchItems, w.max_batch_items > 0 ? w.max_batch_items : this.batchItems);
    s.maxBytes = w.max_message_bytes > 0 ? w.max_message_bytes : MAX_MESSAGE_BYTES;
    this.currentState = 'connected';
    this.backoff.reset();
    this.log.info({ aggregator: this.opts.address, aggregator_id: w.aggregator_id, acked_seq: w.acked_seq }, 'uplink: connected');
    this.settle(w.acked_seq);
    this.pump();
    // a new stream may reach a new (or restored) aggregator: every row goes again
    this.sentDevices.clear();
    if ((this.opts.devicesEveryMs ?? 60_000) > 0) this.sendDevices();
  }

  /** Everything up to `seq` is settled at the aggregator: out of the outbox. */
  private settle(seq: number): void {
    if (!(seq > this.lastAcked)) return;
    this.lastAcked = seq;
    const store = this.store!;
    this.acking = this.acking
      .then(() => store.acknowledge(seq))
      .then((n) => { this.counters.acked += n; }, (e: unknown) => {
        // the entries stay in the outbox: sent again later, stored once by the aggregator
        this.throttled.error('acknowledge', { state: this.opts.stateDir, err: (e as Error)?.message ?? String(e) }, 'uplink: cannot record an acknowledgement in the state');
      });
  }

  /** Write batches while the window and grpc-js's buffer allow and the outbox has more. */
  private pump(): void {
    const s = this.session;
    if (this.stopped || !s || s.ended || !s.welcome || s.waitingDrain) return;
    while (s.inflight.length < this.window) {
      const items = this.nextBatch(s);
      if (items.length === 0) return;
      const last = items[items.length - 1]!.seq;
      if (s.inflight.length === 0) s.waitingSince = Date.now();
      s.inflight.push(last);
      s.sentUpTo = last;
      this.counters.sent += items.length;
      for (const it of items) if (it.seq <= this.highestSent) this.counters.resent++;
      if (last > this.highestSent) this.highestSent = last;
      if (!this.write(s, { breaches: { items } })) return;
    }
  }

  /** Batches unacknowledged for too long: the aggregator is stuck, start over on a new stream. */
  private checkAcks(): void {
    const s = this.session;
    const limit = this.opts.ackTimeoutMs ?? 60_000;
    if (s && !s.ended && s.inflight.length > 0 && Date.now() - s.waitingSince > limit) this.failed(s, `no Ack within ${limit} ms`);
  }

  /** The outbox entries after s.sentUpTo, as many as fit one batch. */
  private nextBatch(s: Session): BreachItem[] {
    const budget = s.maxBytes - BATCH_MARGIN_BYTES;
    const items: BreachItem[] = [];
    let bytes = 0;
    for (const { seq, breach } of this.store!.pending(s.batchItems, s.sentUpTo)) {
      let json = JSON.stringify(breach);
      const size = Buffer.byteLength(json) + breach.id.length + breach.time.length + breach.model.length + ITEM_OVERHEAD_BYTES;
      if (size > budget) {
        if (items.length > 0) break; // it goes first in the next batch
        // It can never be sent whole (it would fail the stream on every
        // attempt and hold every later breach back): sent without its JSON,
        // the aggregator rejects it, which settles its seq.
        this.log.error({ seq, id: breach.id, bytes: size, limit: budget }, 'uplink: a breach too large for the aggregator\'s messages: sent without its body, it will be rejected there');
        json = '';
      } else if (bytes + size > budget) {
        break;
      }
      bytes += size;
      items.push({ seq, id: breach.id, time: breach.time, model: breach.model, score: breach.score, json });
    }
    return items;
  }

  /**
   * The inventory rows that changed since this stream last sent them, in
   * DeviceBatches (latest wins at the aggregator, so nothing waits for an
   * acknowledgement). The state writer replaces the inventory at each
   * snapshot; rows are read unsorted, straight from the table, and compared
   * by a fingerprint, since this runs on the packet thread. A row that is
   * gone from the inventory (the learning table forgot the device) stays
   * at the aggregator as last sent.
   */
  private sendDevices(): void {
    const s = this.session;
    if (this.stopped || !s || s.ended || !s.welcome || s.waitingDrain || !this.db) return;
    const per = Math.min(s.batchItems, DEVICES_PER_BATCH);
    const present = new Set<string>();
    let batch: Partial<Device>[] = [];
    const flush = (): boolean => {
      if (batch.length === 0) return true;
      const m = { devices: { devices: batch } };
      batch = [];
      return this.write(s, m);
    };
    try {
      for (const { value } of this.db.devices.getRange({})) {
        const r = value as DeviceRow;
        present.add(r.ip);
        const print = `${r.last_seen}|${r.first_seen}|${r.risk ?? 0}|${r.breaches ?? 0}|${r.peer_group ?? -1}|${r.mac ?? ''}|${r.name ?? ''}|${r.interface ?? ''}|${(r.tags ?? []).join(',')}`;
        if (this.sentDevices.get(r.ip) === print) continue;
        this.sentDevices.set(r.ip, print);
        batch.push({
          ip: r.ip, mac: r.mac ?? '', first_seen: r.first_seen, last_seen: r.last_seen, name: r.name ?? '', tags: r.tags ?? [],
          interface: r.interface ?? '', risk: r.risk ?? 0, breaches: r.breaches ?? 0, peer_group: r.peer_group === undefined ? 0 : r.peer_group + 1,
        });
        // grpc-js's buffer is full: the rest go at the next turn (they are not marked sent)
        if (batch.length >= per && !flush()) return;
      }
    } catch (e) {
      this.throttled.warn('devices', { state: this.opts.stateDir, err: (e as Error)?.message ?? String(e) }, 'uplink: cannot read the device inventory');
      return;
    }
    flush();
    for (const ip of this.sentDevices.keys()) if (!present.has(ip)) this.sentDevices.delete(ip);
  }

  private sendHealth(): void {
    const s = this.session;
    if (this.stopped || !s || s.ended || !s.welcome || s.waitingDrain) return;
    const { sent, acked, resent, errors, reconnects } = this.counters;
    this.write(s, {
      health: {
        time: new Date().toISOString(), memory_bytes: process.memoryUsage.rss(), outbox: this.store!.outboxSize(),
        counters: { uplink_sent: sent, uplink_acked: acked, uplink_resent: resent, uplink_errors: errors, uplink_reconnects: reconnects },
      },
    });
  }

  /** Write one message; false when grpc-js's buffer is full (the next waits for 'drain'). */
  private write(s: Session, m: SensorMessageOut): boolean {
    if (s.call.write(m)) return true;
    s.waitingDrain = true;
    return false;
  }

  /** The stream failed: drop it and try again after the backoff. */
  private failed(s: Session, why: string): void {
    if (s.ended) return;
    this.drop(s);
    if (this.stopped) return;
    this.counters.errors++;
    this.currentState = 'backoff';
    const delay = this.backoff.next();
    this.throttled.warn('stream', { aggregator: this.opts.address, why, retry_in_ms: delay, outbox: this.outboxSize() }, 'uplink: no stream to the aggregator: breaches stay in the outbox, retrying');
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; this.connect(); }, delay);
    this.reconnectTimer.unref();
  }

  private drop(s: Session): void {
    s.ended = true;
    if (s.welcomeTimer) { clearTimeout(s.welcomeTimer); s.welcomeTimer = null; }
    if (this.session === s) this.session = null;
    s.call.cancel();
    s.client.close();
  }
}
