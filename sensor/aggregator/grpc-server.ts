// The aggregator's receiving side: the Uplink gRPC service. Each sensor
// holds one bidirectional stream; this file turns that stream into checked
// calls on the AggregatorStore and answers with Welcome, Ack and Error.
//
// Per stream:
// - the first message must be a Hello, within helloTimeoutMs; its
//   sensor_id must be the identity the transport proves (the TLS client
//   certificate's CN by default) — on a plaintext loopback server there is
//   no proof and the Hello's id is taken as given — and authorize() must
//   accept it; otherwise Error and the stream ends;
// - messages are decoded and checked one at a time, in order, and their
//   writes issued in that order without waiting for the one before to
//   commit: lmdb-js commits the writes queued meanwhile together, so one
//   synced commit (the disk's few milliseconds) serves many batches and
//   many sensors (group commit). Answers go out in the messages' order,
//   each once its own write is committed. At most maxPipelinedBatches
//   messages per stream, and maxPendingBytes over all streams, wait for
//   their commit; beyond that the stream is paused, so a sensor sending
//   faster than the disk commits is held back by HTTP/2 flow control, not
//   buffered here. Answers wait for 'drain' when grpc-js says its buffer
//   is full (write() false);
// - each BreachBatch: every item checked (invalid ones rejected, counted,
//   settled, never stored), the valid ones stored in one transaction, then
//   a cumulative Ack;
// - a second stream of the same sensor replaces the first, which is ended
//   with Error REPLACED. A sensor only reconnects when it believes its old
//   stream dead; the server may not know yet (a half-open TCP connection
//   lasts until keepalive gives up, tens of seconds), and refusing the new
//   stream would lock the sensor out for that long. Newest wins; a stolen
//   certificate fighting its owner shows as repeated replacements in the
//   log. The store computes the ack inside each write transaction, so an
//   old stream's batch still committing meanwhile cannot corrupt it.
//
// Keepalive: sensors ping every few seconds so a dead aggregator is noticed
// fast. grpc-js answers every HTTP/2 ping and (1.14) enforces no ping
// policy; grpc.keepalive_permit_without_calls and
// grpc.http2.min_ping_interval_without_data_ms are set anyway for what
// honours them. The server pings too (keepalive_time_ms), so a sensor that
// vanished is dropped and its stream closed. No deadline on the stream.
import { isLoopbackAddress } from '../uplink/address.ts';
import {
  Server, status as GrpcStatus, type ServerCredentials, type ServerDuplexStream, type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { logger as defaultLogger, type Log } from '../log/logger.ts';
import {
  MAX_BATCH_ITEMS, MAX_BREACH_JSON_BYTES, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, UPLINK_SERVICE,
  decodeSensorMessage, describeError, isValidSensorId, validateBreachItem, validateDevice, validateHealth, validateHello,
  type AggregatorMessage, type BreachBatch, type DeviceBatch, type ErrorCode, type ValidBreach, type ValidDevice,
} from '../uplink/protocol.ts';
import type { AggregatorStore, RejectedItem } from './aggregator-store.ts';

/** A stream as the handler sees it: requests stay bytes (decoded and checked here), responses are messages. */
export type UplinkCall = ServerDuplexStream<Buffer, AggregatorMessage>;

export interface ServerLimits {
  /** grpc.max_receive_message_length; announced in Welcome */
  maxMessageBytes: number;
  /** items per batch; announced in Welcome; more fails the stream */
  maxBatchItems: number;
  maxBreachJsonBytes: number;
  /** a stream that has not said Hello by then is ended */
  helloTimeoutMs: number;
  /** at most one log line per sensor and kind of reject in this interval */
  rejectLogIntervalMs: number;
  /** the server's own keepalive pings (detects vanished sensors) */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** the ping interval sensors are permitted */
  minPingIntervalMs: number;
  /** messages of one stream whose write is issued and not yet committed, at most (then the stream is paused) */
  maxPipelinedBatches: number;
  /** bytes of messages waiting for their commit over all streams, at most (then every stream is paused) */
  maxPendingBytes: number;
  /** how often open streams are checked against authorize() again, so revoking a sensor cuts its open stream (0: only at Hello) */
  reauthorizeEveryMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxMessageBytes: MAX_MESSAGE_BYTES,
  maxBatchItems: MAX_BATCH_ITEMS,
  maxBreachJsonBytes: MAX_BREACH_JSON_BYTES,
  helloTimeoutMs: 10_000,
  rejectLogIntervalMs: 10_000,
  keepaliveTimeMs: 20_000,
  keepaliveTimeoutMs: 10_000,
  minPingIntervalMs: 2_000,
  maxPipelinedBatches: 8,
  maxPendingBytes: 64 << 20,
  reauthorizeEveryMs: 5_000,
};

export interface AggregatorServerOptions {
  /** host:port, e.g. "0.0.0.0:7443" or "127.0.0.1:0" (port 0: any free one, see `port`) */
  address: string;
  store: AggregatorStore;
  /** ServerCredentials.createSsl(ca, [key/cert], true) for mTLS; createInsecure() only on a loopback address */
  credentials: ServerCredentials;
  /** whether this (authenticated) sensor may deliver: unknown and revoked sensors are refused */
  authorize: (sensorId: string) => boolean | Promise<boolean>;
  /**
   * The identity the transport proves for a stream, or null when it proves
   * none (then only a plaintext loopback server takes the Hello's id).
   * Default: the CN of the TLS client certificate.
   */
  identify?: (call: UplinkCall) => string | null | undefined;
  logger?: Log;
  limits?: Partial<ServerLimits>;
  /** after each batch is committed: the breaches it newly stored (never duplicates), e.g. for correlation */
  onStored?: (sensorId: string, items: readonly ValidBreach[]) => void;
}

export interface ServerStats {
  streams_open: number;
  streams_total: number;
  /** breach items received, stored, duplicate, rejected (invalid) */
  received: number;
  stored: number;
  duplicates: number;
  rejected: number;
  /** streams ended by a protocol violation, a storage failure or a transport error */
  errors: number;
  /**
   * streams that ended under the server without a clean close: the sensor
   * went away or cancelled, or sent a message over maxMessageBytes (grpc-js
   * answers that itself with RESOURCE_EXHAUSTED and the handler only sees
   * the stream cancelled)
   */
  cancelled: number;
  devices_stored: number;
  devices_rejected: number;
  health_received: number;
  health_rejected: number;
  /** messages of a kind this build does not know (ignored) */
  unknown_messages: number;
  refused: number;
  replaced: number;
  /** open streams ended because their sensor was no longer authorized (revoked, or taken off the allow list) */
  revoked: number;
}

export interface AggregatorServer {
  /** the bound port (the one picked for port 0) */
  readonly port: number;
  stats(): ServerStats;
  /** the sensors with an open, welcomed stream */
  connected(): string[];
  /** Send a Command to a connected sensor; its id, or null when the sensor has no open stream. */
  sendCommand(sensorId: string, kind: string, args?: Record<string, string>): string | null;
  /** Stop accepting, end every stream (Error UNAVAILABLE), and shut down; streams still open after graceMs are cut. The store stays open (the caller's). */
  close(graceMs?: number): Promise<void>;
}

const SERVICE_PATH = 'Connect';

/** The default identify(): the common name of the verified TLS client certificate. */
export function certificateIdentity(call: UplinkCall): string | null {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  const cn = cert?.subject?.CN as unknown;
  return typeof cn === 'string' && cn.length > 0 ? cn : null;
}

export async function startAggregatorServer(opts: AggregatorServerOptions): Promise<AggregatorServer> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const log = opts.logger ?? defaultLogger();
  const secure = opts.credentials._isSecure();
  if (!secure && !isLoopbackAddress(opts.address)) {
    throw new Error(`aggregator: plaintext gRPC is allowed only on a loopback address (got ${opts.address}); give TLS credentials`);
  }
  if (!secure) log.warn({ address: opts.address }, 'aggregator: plaintext gRPC on loopback: sensors are not authenticated, their Hello names them');
  const identify = opts.identify ?? certificateIdentity;

  const stats: ServerStats = {
    streams_open: 0, streams_total: 0, received: 0, stored: 0, duplicates: 0, rejected: 0, errors: 0, cancelled: 0,
    devices_stored: 0, devices_rejected: 0, health_received: 0, health_rejected: 0, unknown_messages: 0, refused: 0, replaced: 0, revoked: 0,
  };
  const sessions = new Map<string, Session>();
  const open = new Set<Session>();
  const rejectLog = new RateLimitedLog(log, limits.rejectLogIntervalMs);
  let closing = false;
  // bytes of messages issued to the store and not yet answered, over all streams, and who waits for room
  let pendingBytes = 0;
  const roomWaiters = new Set<() => void>();
  const wakeAll = () => { for (const w of [...roomWaiters]) w(); };

  // One stream: strictly sequential, see the top of the file.
  class Session {
    sensorId: string | null = null;
    private ended = false;
    /** messages whose write is issued and whose answer is not yet sent */
    private pending = 0;
    /** the answers in the order the messages came: each waits for its own write and for the answer before it */
    private answers: Promise<void> = Promise.resolve();
    private helloTimer: NodeJS.Timeout | null;
    private readonly gone: Promise<void>;
    private markGone!: () => void;

    constructor(private readonly call: UplinkCall) {
      this.gone = new Promise((resolve) => { this.markGone = resolve; });
      stats.streams_open++;
      stats.streams_total++;
      open.add(this);
      this.helloTimer = setTimeout(() => {
        stats.errors++;
        this.fail('PROTOCOL', `no Hello within ${limits.helloTimeoutMs} ms`, GrpcStatus.DEADLINE_EXCEEDED);
      }, limits.helloTimeoutMs);
      call.on('data', (bytes: Buffer) => {
        call.pause();
        this.handle(bytes).then(
          () => { if (!this.ended) call.resume(); },
          (e: unknown) => this.internalError(e),
        );
      });
      // the sensor half-closed: everything it sent is read; end once the last answer is out
      call.on('end', () => { void this.answers.then(() => this.finish()); });
      call.on('cancelled', () => { if (!this.ended) stats.cancelled++; this.closed('cancelled'); });
      call.on('close', () => this.closed('closed'));
      call.on('error', (e: Error & { code?: number }) => {
        // grpc-js emits the errors we end streams with too: those are already counted
        if (!this.ended) { stats.errors++; log.warn({ sensor: this.sensorId, peer: safePeer(call), err: e.message }, 'aggregator: stream error'); }
        this.closed('error');
      });
    }

    get isOpen(): boolean { return !this.ended; }

    /** Send a message now (commands: not sequenced with the stream's answers). */
    push(m: AggregatorMessage): boolean {
      if (this.ended) return false;
      this.call.write(m);
      return true;
    }

    /** End this stream with an Error message and a matching gRPC status. */
    fail(code: ErrorCode, message: string, grpcCode: GrpcStatus): void {
      if (this.ended) return;
      this.call.write({ error: { code, message } });
      this.end();
      // the duplex's own 'error' listener ends it with this status, after the Error is flushed
      this.call.emit('error', Object.assign(new Error(message), { code: grpcCode, details: message }));
    }

    private async handle(bytes: Buffer): Promise<void> {
      if (this.ended) return;
      const decoded = decodeSensorMessage(bytes);
      if (!decoded.ok) {
        if (this.sensorId !== null && decoded.error.field === 'msg') {
          // a newer sensor's message kind: ignored, the stream goes on
          stats.unknown_messages++;
          rejectLog.warn(this.sensorId, 'unknown_message', { bytes: bytes.length }, 'aggregator: a message of a kind this aggregator does not know (ignored)');
          return;
        }
        stats.errors++;
        return this.fail('PROTOCOL', `malformed message: ${decoded.error.reason}`, GrpcStatus.INVALID_ARGUMENT);
      }
      const m = decoded.value;
      if (this.sensorId === null) {
        if (m.msg !== 'hello') { stats.errors++; return this.fail('PROTOCOL', 'the first message must be a Hello', GrpcStatus.FAILED_PRECONDITION); }
        return this.hello(m.hello);
      }
      switch (m.msg) {
        case 'hello': stats.errors++; return this.fail('PROTOCOL', 'Hello is only the first message', GrpcStatus.FAILED_PRECONDITION);
        case 'breaches': return this.breaches(m.breaches, bytes.length);
        case 'devices': return this.devices(m.devices, bytes.length);
        case 'health': return this.health(m.health, bytes.length);
      }
    }

    private async hello(raw: unknown): Promise<void> {
      if (this.helloTimer) { clearTimeout(this.helloTimer); this.helloTimer = null; }
      const peer = safePeer(this.call);
      const checked = validateHello(raw);
      if (!checked.ok) { stats.errors++; return this.fail('PROTOCOL', `malformed Hello: ${describeError(checked.error)}`, GrpcStatus.INVALID_ARGUMENT); }
      const hello = checked.value;
      if (hello.protocol_version !== PROTOCOL_VERSION) {
        stats.refused++;
        log.warn({ peer, sensor: hello.sensor_id, protocol_version: hello.protocol_version }, 'aggregator: sensor speaks another protocol version');
        return this.fail('UNSUPPORTED_VERSION', `this aggregator speaks uplink protocol ${PROTOCOL_VERSION}, not ${hello.protocol_version}`, GrpcStatus.FAILED_PRECONDITION);
      }
      let proven: string | null | undefined;
      try { proven = identify(this.call); } catch { proven = null; }
      if (proven === null || proven === undefined) {
        if (secure) { stats.refused++; return this.refuse('UNAUTHENTICATED', 'no sensor identity in the TLS client certificate', GrpcStatus.UNAUTHENTICATED, hello.sensor_id, peer); }
        proven = hello.sensor_id; // plaintext loopback: nothing proves anything
      }
      if (!isValidSensorId(proven)) { stats.refused++; return this.refuse('UNAUTHENTICATED', 'the certificate\'s identity is not a valid sensor id', GrpcStatus.UNAUTHENTICATED, hello.sensor_id, peer); }
      if (proven !== hello.sensor_id) {
        stats.refused++;
        return this.refuse('UNAUTHENTICATED', `Hello says sensor "${hello.sensor_id}" but this connection is authenticated as "${proven}"`, GrpcStatus.PERMISSION_DENIED, hello.sensor_id, peer);
      }
      let allowed = false;
      try { allowed = await opts.authorize(proven); } catch (e) { log.error({ sensor: proven, err: String(e) }, 'aggregator: authorize() failed: sensor refused'); }
      if (this.ended) return;
      if (!allowed) { stats.refused++; return this.refuse('REFUSED', `sensor "${proven}" is not allowed to deliver to this aggregator (unknown or revoked)`, GrpcStatus.PERMISSION_DENIED, proven, peer); }

      const previous = sessions.get(proven);
      if (previous && previous !== this && previous.isOpen) {
        stats.replaced++;
        log.warn({ sensor: proven, peer }, 'aggregator: a new stream of this sensor replaces its open one');
        previous.fail('REPLACED', 'a newer stream of this sensor took over', GrpcStatus.ABORTED);
      }
      this.sensorId = proven;
      sessions.set(proven, this);
      const at = await this.store(() => opts.store.connect(proven, hello));
      if (at === undefined || this.ended) return;
      if (at.new_epoch) log.info({ sensor: proven, state_id: hello.state_id, epoch: at.epoch }, 'aggregator: sensor has a new state: a new sequence space starts at 1');
      if (at.lost > 0) log.warn({ sensor: proven, lost: at.lost, last_seq: hello.last_seq }, 'aggregator: the sensor no longer holds breaches this aggregator never stored: acknowledgement moved past them');
      log.info({ sensor: proven, peer, version: hello.sensor_version, acked_seq: at.acked_seq }, 'aggregator: sensor connected');
      await this.send({
        welcome: {
          aggregator_id: opts.store.aggregatorId, protocol_version: PROTOCOL_VERSION, acked_seq: at.acked_seq,
          max_batch_items: limits.maxBatchItems, max_message_bytes: limits.maxMessageBytes,
        },
      });
    }

    private refuse(code: ErrorCode, message: string, grpcCode: GrpcStatus, claimed: string, peer: string): void {
      log.warn({ peer, sensor: claimed, code }, `aggregator: sensor refused: ${message}`);
      this.fail(code, message, grpcCode);
    }

    private async breaches(batch: BreachBatch, size: number): Promise<void> {
      const sensor = this.sensorId!;
      const items = Array.isArray(batch?.items) ? batch.items : [];
      if (items.length > limits.maxBatchItems) {
        stats.errors++;
        return this.fail('PROTOCOL', `a batch of ${items.length} items: at most ${limits.maxBatchItems}`, GrpcStatus.RESOURCE_EXHAUSTED);
      }
      const valid: ValidBreach[] = [];
      const rejected: RejectedItem[] = [];
      for (const item of items) {
        const c = validateBreachItem(item, { maxJsonBytes: limits.maxBreachJsonBytes });
        if (c.ok) { valid.push(c.value); continue; }
        const seq = (item as { seq?: unknown }).seq;
        rejected.push({ seq: typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 1 ? seq : null, reason: describeError(c.error) });
      }
      const write = this.store(() => opts.store.storeBreaches(sensor, valid, rejected));
      return this.answerAfter(write, size, async (r) => {
        // the breaches are stored whether or not the stream is still there: consumers and counters take them either way
        if (opts.onStored && r.storedSeqs.length > 0) {
          const stored = new Set(r.storedSeqs);
          try { opts.onStored(sensor, valid.filter((v) => stored.has(v.seq))); } catch (e) { log.error({ err: e, sensor }, 'aggregator: a consumer of stored breaches failed'); }
        }
        stats.received += items.length;
        stats.stored += r.stored;
        stats.duplicates += r.duplicates;
        stats.rejected += r.rejected;
        if (rejected.length > 0) {
          const first = rejected.slice(0, 5).map((x) => `${x.seq ?? '?'}: ${x.reason}`).join('; ');
          rejectLog.warn(sensor, 'rejected_breaches', { rejected: rejected.length, first }, 'aggregator: invalid breaches rejected (not stored)');
          await this.send({ error: { code: 'REJECTED', message: `${rejected.length} of ${items.length} items rejected, not stored (seq: reason): ${first}` } });
        }
        await this.send({ ack: { acked_seq: r.acked_seq } });
      });
    }

    /**
     * Queue `answer` for when `write` (issued already) has committed, after
     * every answer queued before it; then wait, if this stream or all of
     * them have too much waiting for its commit, until there is room.
     */
    private async answerAfter<T>(write: Promise<T | undefined>, bytes: number, answer: (r: T) => Promise<void>): Promise<void> {
      this.pending++;
      pendingBytes += bytes;
      this.answers = this.answers.then(async () => {
        try {
          const r = await write;
          if (r !== undefined) await answer(r);
        } finally {
          this.pending--;
          pendingBytes -= bytes;
          wakeAll();
        }
      }).catch((e: unknown) => this.internalError(e));
      while (!this.ended && (this.pending >= limits.maxPipelinedBatches || (pendingBytes > limits.maxPendingBytes && this.pending > 0))) {
        await new Promise<void>((resolve) => {
          const wake = () => { roomWaiters.delete(wake); resolve(); };
          roomWaiters.add(wake);
          void this.gone.then(wake);
        });
      }
    }

    private async devices(batch: DeviceBatch, size: number): Promise<void> {
      const sensor = this.sensorId!;
      const rows = Array.isArray(batch?.devices) ? batch.devices : [];
      if (rows.length > limits.maxBatchItems) {
        stats.errors++;
        return this.fail('PROTOCOL', `a batch of ${rows.length} devices: at most ${limits.maxBatchItems}`, GrpcStatus.RESOURCE_EXHAUSTED);
      }
      const valid: ValidDevice[] = [];
      let bad = 0, firstBad = '';
      for (const row of rows) {
        const c = validateDevice(row);
        if (c.ok) valid.push(c.value);
        else if (bad++ === 0) firstBad = describeError(c.error);
      }
      if (bad > 0) {
        stats.devices_rejected += bad;
        rejectLog.warn(sensor, 'rejected_devices', { rejected: bad, first: firstBad }, 'aggregator: invalid device rows rejected');
      }
      if (valid.length === 0) return;
      return this.answerAfter(this.store(() => opts.store.putDevices(sensor, valid)), size, async (n) => { stats.devices_stored += n; });
    }

    private async health(raw: unknown, size: number): Promise<void> {
      const sensor = this.sensorId!;
      stats.health_received++;
      const c = validateHealth(raw);
      if (!c.ok) {
        stats.health_rejected++;
        rejectLog.warn(sensor, 'rejected_health', { reason: describeError(c.error) }, 'aggregator: invalid health rejected');
        return;
      }
      return this.answerAfter(this.store(() => opts.store.recordHealth(sensor, c.value)), size, async () => {});
    }

    // A write to the store; a failure (disk full, …) ends the stream: the
    // sensor reconnects and resends from its acknowledgement.
    private async store<T>(write: () => Promise<T>): Promise<T | undefined> {
      try {
        return await write();
      } catch (e) {
        stats.errors++;
        log.error({ sensor: this.sensorId, err: (e as Error)?.message ?? String(e) }, 'aggregator: storing failed: stream ended, the sensor will resend');
        this.fail('UNAVAILABLE', `the aggregator could not store: ${(e as Error)?.message ?? String(e)}`, GrpcStatus.UNAVAILABLE);
        return undefined;
      }
    }

    // write() false: wait for 'drain' (or for the stream to go) before the next message is read.
    private async send(m: AggregatorMessage): Promise<void> {
      if (this.ended) return;
      if (this.call.write(m)) return;
      await new Promise<void>((resolve) => {
        const done = () => { this.call.off('drain', done); resolve(); };
        this.call.once('drain', done);
        void this.gone.then(done);
      });
    }

    private internalError(e: unknown): void {
      stats.errors++;
      log.error({ sensor: this.sensorId, err: (e as Error)?.stack ?? String(e) }, 'aggregator: internal error handling a stream');
      this.fail('UNAVAILABLE', 'internal error', GrpcStatus.INTERNAL);
    }

    private finish(): void {
      if (this.ended) return;
      this.end();
      this.call.end();
    }

    private end(): void {
      if (this.ended) return;
      this.ended = true;
      if (this.helloTimer) { clearTimeout(this.helloTimer); this.helloTimer = null; }
      if (this.sensorId !== null && sessions.get(this.sensorId) === this) sessions.delete(this.sensorId);
      if (open.delete(this)) stats.streams_open--;
      this.markGone();
    }

    private closed(why: string): void {
      if (!this.ended && this.sensorId !== null) log.info({ sensor: this.sensorId, why }, 'aggregator: sensor stream closed');
      this.end();
    }
  }

  const server = new Server({
    'grpc.max_receive_message_length': limits.maxMessageBytes,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': limits.minPingIntervalMs,
    'grpc.http2.min_time_between_pings_ms': limits.minPingIntervalMs,
  });
  // requests arrive as bytes: decodeSensorMessage() turns malformed protobuf into a counted error, not a thrown one
  const service = { ...UPLINK_SERVICE, [SERVICE_PATH]: { ...UPLINK_SERVICE[SERVICE_PATH]!, requestDeserialize: (b: Buffer) => b } };
  const impl: UntypedServiceImplementation = {
    [SERVICE_PATH]: (call: UplinkCall) => {
      if (closing) { call.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'the aggregator is shutting down' }); return; }
      new Session(call);
    },
  };
  server.addService(service, impl);

  // A sensor revoked (or taken off the allow list) while its stream is open
  // is cut at the next check, not left delivering until it reconnects.
  const reauthorize = async (): Promise<void> => {
    for (const [id, session] of [...sessions]) {
      let allowed = true;
      try { allowed = await opts.authorize(id); } catch { allowed = true; /* a failing check at Hello refuses; here it keeps what was allowed */ }
      if (!allowed && session.isOpen && sessions.get(id) === session) {
        stats.revoked++;
        log.warn({ sensor: id }, 'aggregator: sensor no longer allowed (revoked): its open stream is ended');
        session.fail('REFUSED', `sensor "${id}" is no longer allowed to deliver to this aggregator (revoked)`, GrpcStatus.PERMISSION_DENIED);
      }
    }
  };
  const reauthorizeTimer = limits.reauthorizeEveryMs > 0 ? setInterval(() => { void reauthorize(); }, limits.reauthorizeEveryMs) : null;
  reauthorizeTimer?.unref();

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(opts.address, opts.credentials, (err, p) => (err ? reject(new Error(`aggregator: cannot listen on ${opts.address}: ${err.message}`)) : resolve(p)));
  });
  log.info({ address: opts.address, port, tls: secure }, 'aggregator: listening for sensors');

  return {
    port,
    stats: () => ({ ...stats }),
    connected: () => [...sessions.keys()].sort(),
    sendCommand(sensorId, kind, args = {}) {
      const s = sessions.get(sensorId);
      if (!s) return null;
      const id = randomUUID();
      return s.push({ command: { id, kind, args } }) ? id : null;
    },
    async close(graceMs = 2000) {
      if (closing) return;
      closing = true;
      if (reauthorizeTimer) clearInterval(reauthorizeTimer);
      for (const s of [...open]) s.fail('UNAVAILABLE', 'the aggregator is shutting down', GrpcStatus.UNAVAILABLE);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
        server.tryShutdown(() => { clearTimeout(timer); resolve(); });
      });
    },
  };
}

/**
 * Warnings about what sensors send, at most one per sensor and kind per
 * interval: the first at once, later ones with how many were held back, so
 * a sensor sending garbage in a loop cannot flood the log.
 */
class RateLimitedLog {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(private readonly log: Log, private readonly intervalMs: number, private readonly now: () => number = Date.now) {}

  warn(sensor: string, kind: string, detail: Record<string, unknown>, msg: string): void {
    const key = `${sensor}\u0000${kind}`;
    const t = this.now();
    const prev = this.last.get(key);
    if (prev && t - prev.at < this.intervalMs) { prev.held++; return; }
    this.last.set(key, { at: t, held: 0 });
    this.log.warn({ sensor, kind, ...detail, ...(prev?.held ? { held_back: prev.held } : {}) }, msg);
  }
}

function safePeer(call: UplinkCall): string {
  try { return call.getPeer(); } catch { return 'unknown'; }
}
