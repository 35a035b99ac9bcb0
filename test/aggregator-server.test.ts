// The aggregator's receiving side (issue 6): the Uplink gRPC server over
// LMDB storage, driven by raw grpc-js clients built from the same proto on
// loopback. Hello → Welcome; batches acknowledged cumulatively; resends
// stored once; gaps held until filled; invalid items rejected, counted and
// settled while the batch's good items are stored; oversized and malformed
// messages fail only their own stream; identities that do not match,
// refused sensors, a second stream of one sensor; a restart keeps
// everything. With openssl: mutual TLS, the identity from the client
// certificate.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Metadata, ServerCredentials, credentials, status, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { UplinkClient, type AggregatorMessageIn, type BreachItem, type Hello, type SensorMessageOut } from '../sensor/uplink/protocol.ts';
import { openAggregatorStore, type AggregatorStore, type AggregatorStoreOptions } from '../sensor/aggregator/aggregator-store.ts';
import { StateError } from '../sensor/state/state-error.ts';
import { startAggregatorServer, type AggregatorServer, type AggregatorServerOptions } from '../sensor/aggregator/grpc-server.ts';
import type { Log } from '../sensor/log/logger.ts';
import { openStateDb } from '../sensor/state/state-db.ts';
import type { Breach } from '../sensor/models/breach.ts';
import { makeBreach } from './helpers/breach-fixtures.ts';
import { hasOpenssl, makePki } from './helpers/pki.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-aggregator-'));
let dirs = 0;
const newDir = (name = 'agg') => join(tmp, `${name}-${++dirs}`);
const T0 = Date.parse('2024-05-01T00:00:00Z');
const WAIT_MS = 5000;

test.after(() => { rmSync(tmp, { recursive: true, force: true }); });

/** A logger that keeps what it is given, for assertions (and keeps test output clean). */
function memoryLog(): Log & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => { lines.push({ level, obj, ...(msg !== undefined ? { msg } : {}) }); };
  return { level: 'debug', lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
}

function breachOf(sensor: string, seq: number, over: Partial<Breach> = {}): Breach {
  return makeBreach(seq, T0 + seq * 1000, over, sensor.slice(-1));
}

function item(sensor: string, seq: number, over: Partial<Breach> = {}): BreachItem {
  const b = breachOf(sensor, seq, over);
  return { seq, id: b.id, time: b.time, model: b.model, score: b.score, json: JSON.stringify(b) };
}

const items = (sensor: string, from: number, to: number): BreachItem[] => Array.from({ length: to - from + 1 }, (_, i) => item(sensor, from + i));

function hello(sensor_id: string, over: Partial<Hello> = {}): { hello: Partial<Hello> } {
  return { hello: { sensor_id, sensor_version: '0.1.0', protocol_version: 1, capabilities: [], last_seq: 0, state_id: 'state-1', ...over } };
}

interface Harness {
  dir: string;
  store: AggregatorStore;
  server: AggregatorServer;
  address: string;
  log: ReturnType<typeof memoryLog>;
  stop(): Promise<void>;
}

async function harness(opts: Partial<AggregatorServerOptions> = {}, dir = newDir(), storeOpts: AggregatorStoreOptions = {}): Promise<Harness> {
  const store = openAggregatorStore(dir, storeOpts);
  const log = memoryLog();
  const server = await startAggregatorServer({
    address: '127.0.0.1:0', store, credentials: ServerCredentials.createInsecure(), authorize: () => true, logger: log, ...opts,
  });
  return {
    dir, store, server, log, address: `127.0.0.1:${server.port}`,
    async stop() { await server.close(500); await store.close(); },
  };
}

/** One sensor stream as a raw client sees it: what it sends, every message back, how it ended. */
class Peer {
  readonly received: AggregatorMessageIn[] = [];
  ended: ServiceError | 'ok' | null = null;
  private waiters: (() => void)[] = [];
  private read = 0;

  constructor(readonly call: ClientDuplexStream<unknown, AggregatorMessageIn>, readonly client: Client) {
    call.on('data', (m: AggregatorMessageIn) => { this.received.push(m); this.wake(); });
    call.on('error', (e: ServiceError) => { this.ended = e; this.wake(); });
    call.on('status', (s: { code: number }) => { if (s.code === status.OK && this.ended === null) { this.ended = 'ok'; this.wake(); } });
  }

  static open(address: string, metadata?: Metadata, creds = credentials.createInsecure(), options: Record<string, unknown> = {}): Peer {
    const client = new UplinkClient(address, creds, options);
    const call = (client as unknown as { Connect(md?: Metadata): ClientDuplexStream<unknown, AggregatorMessageIn> }).Connect(metadata ?? new Metadata());
    return new Peer(call, client);
  }

  send(m: SensorMessageOut): void { this.call.write(m); }

  /** The next message not yet taken. */
  async next(what = 'a message'): Promise<AggregatorMessageIn> {
    await this.until(() => this.received.length > this.read || this.ended !== null, what);
    if (this.received.length > this.read) return this.received[this.read++]!;
    throw new Error(`expected ${what}, the stream ended: ${this.describeEnd()}`);
  }

  async expect<K extends AggregatorMessageIn['msg']>(kind: K): Promise<Extract<AggregatorMessageIn, { msg: K }>> {
    const m = await this.next(kind);
    assert.is(m.msg, kind, `expected ${kind}, got ${JSON.stringify(m)}`);
    return m as Extract<AggregatorMessageIn, { msg: K }>;
  }

  async ack(): Promise<number> {
    return (await this.expect('ack')).ack.acked_seq;
  }

  /** Wait for the stream's end; its gRPC error (null: ended OK). */
  async closed(): Promise<ServiceError | null> {
    await this.until(() => this.ended !== null, 'the stream to end');
    return this.ended === 'ok' ? null : this.ended;
  }

  close(): void { this.call.end(); this.client.close(); }

  private describeEnd(): string { return this.ended === 'ok' ? 'OK' : `${this.ended?.code} ${this.ended?.details}`; }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  private async until(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} (received ${JSON.stringify(this.received.map((m) => m.msg))})`);
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, left); this.waiters.push(() => { clearTimeout(t); resolve(); }); });
    }
  }
}

/** Open a stream and say Hello; returns the Peer and its Welcome. */
async function connect(h: Harness, sensor: string, over: Partial<Hello> = {}, md?: Metadata) {
  const p = Peer.open(h.address, md);
  p.send(hello(sensor, over));
  const w = await p.expect('welcome');
  return { p, welcome: w.welcome };
}

/** The stream is ended by the server with an Error of `code` and then a gRPC status `grpcCode`. */
async function endsWith(p: Peer, code: string, grpcCode: number, message?: RegExp): Promise<void> {
  const m = await p.expect('error');
  assert.is(m.error.code, code, m.error.message);
  if (message) assert.match(m.error.message, message);
  const e = await p.closed();
  assert.is(e?.code, grpcCode, `status ${e?.code} ${e?.details}`);
}

const storedSeqs = (h: Harness, sensor: string) => h.store.breaches({ sensor, limit: 1e6 }).map((b) => b.seq).sort((a, b) => a - b);

test('hello → welcome with the aggregator id, protocol, acknowledgement and limits', async () => {
  const h = await harness();
  try {
    const { p, welcome } = await connect(h, 'sensor-a');
    assert.equal(welcome, { aggregator_id: h.store.aggregatorId, protocol_version: 1, acked_seq: 0, max_batch_items: 1000, max_message_bytes: 4 << 20 });
    assert.match(h.store.aggregatorId, /^[0-9a-f-]{36}$/);
    assert.equal(h.server.connected(), ['sensor-a']);
    const rec = h.store.sensor('sensor-a')!;
    assert.is(rec.last_hello.sensor_version, '0.1.0');
    assert.is(rec.first_connected, rec.last_connected);
    assert.is(h.server.stats().streams_open, 1);
    // a half-close ends the stream cleanly
    p.call.end();
    assert.is(await p.closed(), null);
    assert.equal(h.server.connected(), []);
    p.close();
  } finally {
    await h.stop();
  }
});

test('batches acknowledged cumulatively; a resend is stored once and counted as duplicates; the breaches read back as sent', async () => {
  const h = await harness();
  try {
    const { p } = await connect(h, 'sensor-a');
    p.send({ breaches: { items: items('sensor-a', 1, 5) } });
    assert.is(await p.ack(), 5);
    p.send({ breaches: { items: items('sensor-a', 6, 8) } });
    assert.is(await p.ack(), 8);
    // the same batch again (a resend after a lost ack), and one overlapping the acknowledgement
    p.send({ breaches: { items: items('sensor-a', 1, 5) } });
    assert.is(await p.ack(), 8, 'ack unchanged');
    p.send({ breaches: { items: [...items('sensor-a', 7, 10), item('sensor-a', 10)] } });
    assert.is(await p.ack(), 10);
    assert.equal(storedSeqs(h, 'sensor-a'), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.is(h.store.breachCount(), 10);
    const s = h.server.stats();
    assert.equal([s.received, s.stored, s.duplicates, s.rejected, s.errors], [18, 10, 8, 0, 0]);
    const c = h.store.sensor('sensor-a')!.counters;
    assert.equal([c.received, c.stored, c.duplicates, c.rejected], [18, 10, 8, 0]);
    // exactly the JSON the sensor sent
    for (const seq of [1, 7, 10]) assert.equal(h.store.breach('sensor-a', seq)!.breach, JSON.parse(JSON.stringify(breachOf('sensor-a', seq))));
    p.close();
  } finally {
    await h.stop();
  }
});

test('a gap is stored but the acknowledgement waits for it', async () => {
  const h = await harness();
  try {
    const { p } = await connect(h, 'sensor-a');
    p.send({ breaches: { items: items('sensor-a', 1, 3) } });
    assert.is(await p.ack(), 3);
    p.send({ breaches: { items: [item('sensor-a', 5), item('sensor-a', 7)] } });
    assert.is(await p.ack(), 3, '5 and 7 stored, 4 missing');
    assert.equal(storedSeqs(h, 'sensor-a'), [1, 2, 3, 5, 7]);
    p.send({ breaches: { items: [item('sensor-a', 4)] } });
    assert.is(await p.ack(), 5, '4 fills the gap up to 5; 6 is still missing');
    p.send({ breaches: { items: [item('sensor-a', 6), item('sensor-a', 5)] } });
    assert.is(await p.ack(), 7);
    assert.is(h.server.stats().duplicates, 1);
    p.close();
    // a reconnect resends from the acknowledgement
    const again = await connect(h, 'sensor-a');
    assert.is(again.welcome.acked_seq, 7);
    again.p.close();
  } finally {
    await h.stop();
  }
});

test('invalid items are rejected, counted and settled, never stored; the good items of the batch are stored', async () => {
  const h = await harness();
  try {
    const { p } = await connect(h, 'sensor-a');
    const good1 = item('sensor-a', 1);
    const nanScore = { ...item('sensor-a', 2), score: NaN };
    const mismatch = { ...item('sensor-a', 3), model: 'something-else' };
    const good4 = item('sensor-a', 4);
    const badSeq = { ...item('sensor-a', 9), seq: 0 };
    const huge = { ...item('sensor-a', 5), json: JSON.stringify({ ...breachOf('sensor-a', 5), summary: 'x'.repeat(300_000) }) };
    p.send({ breaches: { items: [good1, nanScore, mismatch, good4, badSeq, huge] } });
    const err = await p.expect('error');
    assert.is(err.error.code, 'REJECTED');
    assert.match(err.error.message, /^4 of 6 items rejected/);
    assert.match(err.error.message, /2: score: must be a number from 0 to 100/);
    assert.match(err.error.message, /3: json\.model/);
    assert.match(err.error.message, /\?: seq/);
    assert.is(await p.ack(), 5, 'rejected 2, 3 and 5 are settled: one bad breach does not hold the sensor back');
    assert.equal(storedSeqs(h, 'sensor-a'), [1, 4]);
    const s = h.server.stats();
    assert.equal([s.received, s.stored, s.rejected, s.errors], [6, 2, 4, 0]);
    assert.is(h.store.sensor('sensor-a')!.counters.rejected, 4);
    // the stream goes on
    p.send({ breaches: { items: [item('sensor-a', 6)] } });
    assert.is(await p.ack(), 6);
    // a bad resend of a stored seq does not replace it
    p.send({ breaches: { items: [{ ...item('sensor-a', 4), score: -5 }] } });
    await p.expect('error');
    assert.is(await p.ack(), 6);
    assert.equal(h.store.breach('sensor-a', 4)!.breach, JSON.parse(good4.json));
    // rejects are logged, rate-limited: one line per sensor and kind per interval
    const lines = h.log.lines.filter((l) => l.msg?.includes('rejected'));
    assert.is(lines.length, 1);
    p.close();
  } finally {
    await h.stop();
  }
});

test('a message over the size limit fails that sensor\'s stream; the server keeps serving another sensor', async () => {
  const h = await harness({ limits: { maxMessageBytes: 64 << 10 } });
  try {
    const a = await connect(h, 'sensor-a');
    const b = await connect(h, 'sensor-b');
    assert.is(a.welcome.max_message_bytes, 64 << 10, 'the limit is announced');
    b.p.send({ breaches: { items: items('sensor-b', 1, 2) } });
    assert.is(await b.p.ack(), 2);
    a.p.send({ breaches: { items: [{ ...item('sensor-a', 1), json: 'x'.repeat(100 << 10) }] } });
    const e = await a.p.closed();
    assert.is(e?.code, status.RESOURCE_EXHAUSTED, `${e?.code} ${e?.details}`);
    // grpc-js refuses it before the handler: the server sees that stream cancelled, and forgets it
    for (let i = 0; i < 100 && h.server.stats().cancelled === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal([h.server.stats().cancelled, h.server.stats().streams_open], [1, 1]);
    assert.equal(h.server.connected(), ['sensor-b']);
    b.p.send({ breaches: { items: items('sensor-b', 3, 4) } });
    assert.is(await b.p.ack(), 4, 'the other stream goes on');
    // and the failed sensor can come back
    const again = await connect(h, 'sensor-a');
    again.p.send({ breaches: { items: [item('sensor-a', 1)] } });
    assert.is(await again.p.ack(), 1);
    assert.equal(storedSeqs(h, 'sensor-a'), [1]);
    for (const p of [a.p, b.p, again.p]) p.close();
  } finally {
    await h.stop();
  }
});

test('a batch over max_batch_items, malformed protobuf, a first message that is not Hello, Hello twice: Error PROTOCOL, stream ended, server up', async () => {
  const h = await harness({ limits: { maxBatchItems: 10 } });
  try {
    const { p, welcome } = await connect(h, 'sensor-a');
    assert.is(welcome.max_batch_items, 10);
    p.send({ breaches: { items: items('sensor-a', 1, 11) } });
    await endsWith(p, 'PROTOCOL', status.RESOURCE_EXHAUSTED, /at most 10/);
    assert.is(h.store.breachCount(), 0, 'nothing of it stored');

    // raw bytes: a length running past the end of the message
    const raw = new Client(h.address, credentials.createInsecure());
    const rawCall = (bytes: Buffer[]) => {
      const call = raw.makeBidiStreamRequest('/edge.v1.Uplink/Connect', (b: Buffer) => b, (b: Buffer) => b);
      const got: Buffer[] = [];
      call.on('data', (b: Buffer) => got.push(b));
      const done = new Promise<ServiceError | null>((resolve) => { call.on('error', resolve); call.on('status', (s) => { if (s.code === status.OK) resolve(null); }); });
      for (const b of bytes) call.write(b);
      return { got, done };
    };
    const bad = rawCall([Buffer.from([0x12, 0xff, 0xff])]);
    assert.is((await bad.done)?.code, status.INVALID_ARGUMENT);
    const { UPLINK_SERVICE } = await import('../sensor/uplink/protocol.ts');
    const decoded = UPLINK_SERVICE.Connect!.responseDeserialize(bad.got[0]!) as AggregatorMessageIn;
    assert.is(decoded.msg, 'error');
    if (decoded.msg === 'error') {
      assert.is(decoded.error.code, 'PROTOCOL');
      assert.match(decoded.error.message, /^malformed message: not a valid SensorMessage \(index out of range/);
    }

    // a message of a kind from the future (field 9) after Hello: ignored and counted, the stream goes on
    const serialize = UPLINK_SERVICE.Connect!.requestSerialize;
    const future = rawCall([serialize(hello('sensor-c')), Buffer.from([0x4a, 0x00]), serialize({ breaches: { items: [item('sensor-c', 1)] } })]);
    const deadline = Date.now() + WAIT_MS;
    while (future.got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(future.got.map((b) => (UPLINK_SERVICE.Connect!.responseDeserialize(b) as AggregatorMessageIn).msg), ['welcome', 'ack']);
    assert.is(h.server.stats().unknown_messages, 1);

    const first = Peer.open(h.address);
    first.send({ breaches: { items: [item('sensor-a', 1)] } });
    await endsWith(first, 'PROTOCOL', status.FAILED_PRECONDITION, /first message must be a Hello/);

    const twice = await connect(h, 'sensor-d');
    twice.p.send(hello('sensor-d'));
    await endsWith(twice.p, 'PROTOCOL', status.FAILED_PRECONDITION, /only the first/);

    const badHello = Peer.open(h.address);
    badHello.send(hello('../../etc'));
    await endsWith(badHello, 'PROTOCOL', status.INVALID_ARGUMENT, /sensor_id/);
    const version = Peer.open(h.address);
    version.send(hello('sensor-e', { protocol_version: 2 }));
    await endsWith(version, 'UNSUPPORTED_VERSION', status.FAILED_PRECONDITION, /protocol 1, not 2/);

    const s = h.server.stats();
    assert.ok(s.errors >= 5, `errors counted (${s.errors})`);
    // still serving
    const ok = await connect(h, 'sensor-f');
    ok.p.send({ breaches: { items: [item('sensor-f', 1)] } });
    assert.is(await ok.p.ack(), 1);
    for (const x of [p, first, twice.p, badHello, version, ok.p]) x.close();
    raw.close();
  } finally {
    await h.stop();
  }
});

test('a stream that says nothing is ended after helloTimeoutMs', async () => {
  const h = await harness({ limits: { helloTimeoutMs: 150 } });
  try {
    const p = Peer.open(h.address); // and nothing sent
    await endsWith(p, 'PROTOCOL', status.DEADLINE_EXCEEDED, /no Hello within 150 ms/);
    p.close();
  } finally {
    await h.stop();
  }
});

test('identity: a Hello naming another sensor than the connection proves is refused; nothing is recorded for either', async () => {
  // the transport's identity from call metadata stands in for a certificate here (mTLS below)
  const h = await harness({ identify: (call) => (call.metadata.get('x-test-identity')[0] as string | undefined) ?? null });
  try {
    const md = new Metadata();
    md.set('x-test-identity', 'sensor-a');
    const p = Peer.open(h.address, md);
    p.send(hello('sensor-b'));
    await endsWith(p, 'UNAUTHENTICATED', status.PERMISSION_DENIED, /authenticated as "sensor-a"/);
    assert.is(h.store.sensor('sensor-a'), undefined);
    assert.is(h.store.sensor('sensor-b'), undefined);
    assert.is(h.server.stats().refused, 1);
    const ok = await connect(h, 'sensor-a', {}, md);
    assert.is(ok.welcome.acked_seq, 0);
    ok.p.close();
    p.close();
  } finally {
    await h.stop();
  }
});

test('authorize() refuses unknown and revoked sensors (and one that throws)', async () => {
  const revoked = new Set(['sensor-r']);
  const h = await harness({ authorize: async (id) => { if (id === 'sensor-x') throw new Error('directory down'); return !revoked.has(id); } });
  try {
    const r = Peer.open(h.address);
    r.send(hello('sensor-r'));
    await endsWith(r, 'REFUSED', status.PERMISSION_DENIED, /unknown or revoked/);
    const x = Peer.open(h.address);
    x.send(hello('sensor-x'));
    await endsWith(x, 'REFUSED', status.PERMISSION_DENIED);
    assert.is(h.store.sensor('sensor-r'), undefined);
    assert.is(h.server.stats().refused, 2);
    const ok = await connect(h, 'sensor-ok');
    // revoking closes the door for the next connection
    revoked.add('sensor-ok');
    const again = Peer.open(h.address);
    again.send(hello('sensor-ok'));
    await endsWith(again, 'REFUSED', status.PERMISSION_DENIED);
    for (const p of [r, x, ok.p, again]) p.close();
  } finally {
    await h.stop();
  }
});

test('revoking a sensor ends its open stream at the next check; other sensors go on', async () => {
  const revoked = new Set<string>();
  const h = await harness({ authorize: (id) => !revoked.has(id), limits: { reauthorizeEveryMs: 50 } });
  try {
    const a = await connect(h, 'sensor-a');
    const b = await connect(h, 'sensor-b');
    a.p.send({ breaches: { items: items('sensor-a', 1, 3) } });
    assert.is(await a.p.ack(), 3);
    revoked.add('sensor-a');
    await endsWith(a.p, 'REFUSED', status.PERMISSION_DENIED, /no longer allowed .*revoked/);
    assert.is(h.server.stats().revoked, 1);
    assert.equal(h.server.connected(), ['sensor-b']);
    b.p.send({ breaches: { items: items('sensor-b', 1, 2) } });
    assert.is(await b.p.ack(), 2, 'the other sensor is untouched');
    assert.equal(storedSeqs(h, 'sensor-a'), [1, 2, 3], 'what it delivered before stays');
    for (const p of [a.p, b.p]) p.close();
  } finally {
    await h.stop();
  }
});

test('a second stream of the same sensor replaces the first, which is ended with REPLACED', async () => {
  const h = await harness();
  try {
    const first = await connect(h, 'sensor-a');
    first.p.send({ breaches: { items: items('sensor-a', 1, 3) } });
    assert.is(await first.p.ack(), 3);
    const second = await connect(h, 'sensor-a');
    assert.is(second.welcome.acked_seq, 3);
    await endsWith(first.p, 'REPLACED', status.ABORTED);
    second.p.send({ breaches: { items: items('sensor-a', 4, 5) } });
    assert.is(await second.p.ack(), 5);
    assert.equal(h.server.connected(), ['sensor-a']);
    const s = h.server.stats();
    assert.equal([s.replaced, s.streams_open], [1, 1]);
    assert.ok(h.server.sendCommand('sensor-a', 'ping', { why: 'test' }));
    const cmd = await second.p.expect('command');
    assert.equal({ kind: cmd.command.kind, args: cmd.command.args }, { kind: 'ping', args: { why: 'test' } });
    assert.is(h.server.sendCommand('sensor-nobody', 'ping'), null);
    first.p.close();
    second.p.close();
  } finally {
    await h.stop();
  }
});

test('sequence spaces: a sensor with a new state starts again at 1; a last_seq ahead of the acknowledgement moves it', async () => {
  const h = await harness();
  try {
    const one = await connect(h, 'sensor-a', { state_id: 'state-1' });
    one.p.send({ breaches: { items: items('sensor-a', 1, 3) } });
    assert.is(await one.p.ack(), 3);
    one.p.close();
    const two = await connect(h, 'sensor-a', { state_id: 'state-2' });
    assert.is(two.welcome.acked_seq, 0, 'a new state numbers from 1 again');
    two.p.send({ breaches: { items: [item('sensor-a', 1, { summary: 'after a fresh state' })] } });
    assert.is(await two.p.ack(), 1);
    assert.is(h.store.breachCount(), 4, 'the old state\'s breaches are kept');
    assert.is(h.store.breach('sensor-a', 1)!.breach.summary, 'after a fresh state');
    assert.is(h.store.breach('sensor-a', 1, 0)!.epoch, 0);
    two.p.close();
    // the sensor had 2..6 acknowledged by someone (a restored aggregator): they cannot come any more
    const three = await connect(h, 'sensor-a', { state_id: 'state-2', last_seq: 6 });
    assert.is(three.welcome.acked_seq, 6);
    assert.is(h.store.sensor('sensor-a')!.counters.lost, 5);
    assert.ok(h.log.lines.some((l) => l.level === 'warn' && l.msg?.includes('no longer holds')));
    three.p.close();
  } finally {
    await h.stop();
  }
});

test('devices and health are stored under the sensor; another sensor cannot touch them', async () => {
  const h = await harness();
  try {
    const a = await connect(h, 'sensor-a');
    const b = await connect(h, 'sensor-b');
    const dev = { ip: '10.0.0.10', mac: '02:00:00:00:00:0A', first_seen: '2024-05-01T00:00:00Z', last_seen: '2024-05-02T00:00:00Z', name: 'ws-10', tags: ['workstation'], risk: 3, breaches: 1 };
    a.p.send({ devices: { devices: [dev, { ...dev, ip: 'bogus' }] } });
    a.p.send({ health: { time: '2024-05-01T00:00:10Z', packets_per_s: 1000, memory_bytes: 1 << 27, evictions: { flows: 2 }, counters: { packets: 5 } } });
    b.p.send({ devices: { devices: [{ ...dev, name: 'b-sees-it' }] } });
    // messages are handled in order: an ack after them means they are stored
    a.p.send({ breaches: { items: [item('sensor-a', 1)] } });
    b.p.send({ breaches: { items: [item('sensor-b', 1)] } });
    await a.p.ack();
    await b.p.ack();
    assert.equal(h.store.devices('sensor-a').map((d) => [d.ip, d.mac, d.name]), [['10.0.0.10', '02:00:00:00:00:0a', 'ws-10']]);
    assert.equal(h.store.devices('sensor-b').map((d) => d.name), ['b-sees-it']);
    assert.is(h.store.devices().length, 2);
    const health = h.store.sensor('sensor-a')!.last_health!;
    assert.equal([health.packets_per_s, health.memory_bytes, health.evictions], [1000, 1 << 27, { flows: 2 }]);
    assert.is(h.store.sensor('sensor-b')!.last_health, undefined);
    const s = h.server.stats();
    assert.equal([s.devices_stored, s.devices_rejected, s.health_received, s.health_rejected], [2, 1, 1, 0]);
    // the same seq from two sensors: two breaches
    assert.equal([storedSeqs(h, 'sensor-a'), storedSeqs(h, 'sensor-b')], [[1], [1]]);
    a.p.close();
    b.p.close();
  } finally {
    await h.stop();
  }
});

test('many batches sent without waiting are handled in order, every ack rising, all stored', async () => {
  const h = await harness();
  try {
    const { p } = await connect(h, 'sensor-a');
    const batches = 200, per = 50;
    for (let i = 0; i < batches; i++) p.send({ breaches: { items: items('sensor-a', i * per + 1, (i + 1) * per) } });
    let last = 0;
    for (let i = 0; i < batches; i++) {
      const a = await p.ack();
      assert.is(a, (i + 1) * per, 'one ack per batch, in order');
      last = a;
    }
    assert.is(last, batches * per);
    assert.is(h.store.breachCount(), batches * per);
    p.close();
  } finally {
    await h.stop();
  }
});

test('close and reopen: the store keeps every breach, counter and acknowledgement; open streams are told', async () => {
  const dir = newDir();
  const h = await harness({}, dir);
  const { p } = await connect(h, 'sensor-a');
  p.send({ breaches: { items: [...items('sensor-a', 1, 4), item('sensor-a', 6)] } });
  assert.is(await p.ack(), 4);
  const before = h.store.sensor('sensor-a')!;
  const id = h.store.aggregatorId;
  await h.server.close(500);
  await endsWith(p, 'UNAVAILABLE', status.UNAVAILABLE, /shutting down/);
  await h.store.close();
  p.close();

  const again = await harness({}, dir);
  try {
    assert.is(again.store.aggregatorId, id);
    const w = await connect(again, 'sensor-a');
    assert.is(w.welcome.acked_seq, 4);
    assert.is(w.welcome.aggregator_id, id);
    assert.equal(storedSeqs(again, 'sensor-a'), [1, 2, 3, 4, 6]);
    assert.equal(again.store.sensor('sensor-a')!.counters, before.counters);
    w.p.send({ breaches: { items: items('sensor-a', 5, 6) } });
    assert.is(await w.p.ack(), 6);
    // the reopened store knows 6 is stored (its highest seq is read from the data, not assumed): 5 stored, 6 a duplicate
    const after = again.store.sensor('sensor-a')!.counters;
    assert.is(after.stored, before.counters.stored + 1);
    assert.is(after.duplicates, before.counters.duplicates + 1);
    // a reader (a CLI, another process) opens it read-only while the server writes
    const ro = openAggregatorStore(dir, { readOnly: true });
    assert.equal(ro.breaches({ sensor: 'sensor-a' }).map((b) => b.seq), [1, 2, 3, 4, 5, 6]);
    assert.is(ro.ackedSeq('sensor-a'), 6);
    const e = await ro.recordHealth('sensor-a', again.store.sensor('sensor-a')!.last_hello as never).then(() => null, (x: StateError) => x);
    assert.is(e?.code, 'READ_ONLY');
    await ro.close();
    w.p.close();
  } finally {
    await again.stop();
  }
});

test('a store that cannot take a batch (over its size limit) ends the stream with UNAVAILABLE; what was stored stays, acknowledged', async () => {
  const h = await harness({}, newDir(), { mapSizeBytes: 1 << 20 });
  try {
    const { p } = await connect(h, 'sensor-a');
    let acked = 0, seq = 0;
    const padded = (n: number) => item('sensor-a', n, { summary: 's'.repeat(2000) });
    for (;;) {
      p.send({ breaches: { items: Array.from({ length: 50 }, () => padded(++seq)) } });
      const m = await p.next();
      if (m.msg !== 'ack') {
        assert.is(m.msg, 'error');
        if (m.msg === 'error') {
          assert.is(m.error.code, 'UNAVAILABLE');
          assert.match(m.error.message, /MDB_MAP_FULL.*size limit of 1\.0 MiB/);
        }
        break;
      }
      acked = m.ack.acked_seq;
      assert.ok(seq < 5000, 'the limit is reached');
    }
    assert.is((await p.closed())?.code, status.UNAVAILABLE);
    assert.ok(acked >= 50, `some batches stored first (${acked})`);
    assert.equal(storedSeqs(h, 'sensor-a'), Array.from({ length: acked }, (_, i) => i + 1), 'exactly the acknowledged ones: the failed batch is not half stored');
    assert.is(h.store.ackedSeq('sensor-a'), acked);
    assert.ok(h.server.stats().errors >= 1);
    assert.ok(h.log.lines.some((l) => l.level === 'error' && l.msg?.includes('storing failed')));
    p.close();
  } finally {
    await h.stop();
  }
});

test('the store: queries by time, score, model, device, sensor and limit', async () => {
  const store = openAggregatorStore(newDir());
  try {
    const { validateBreachItem, validateHello } = await import('../sensor/uplink/protocol.ts');
    const valid = (sensor: string, seq: number, over: Partial<Breach> = {}) => {
      const c = validateBreachItem(item(sensor, seq, over));
      if (!c.ok) throw new Error(c.error.reason);
      return c.value;
    };
    const h = (id: string) => { const c = validateHello(hello(id).hello); if (!c.ok) throw new Error(c.error.reason); return c.value; };
    await store.connect('s-a', h('s-a'));
    await store.connect('s-b', h('s-b'));
    await store.storeBreaches('s-a', [1, 2, 3, 4, 5, 6].map((n) => valid('s-a', n)));
    await store.storeBreaches('s-b', [1, 2, 3].map((n) => valid('s-b', n, { device: { ip: '10.9.9.9' }, model: 'port-scan' })));
    const all = store.breaches();
    assert.is(all.length, 9);
    const times = all.map((b) => Date.parse(b.breach.time as string));
    assert.equal(times, [...times].sort((x, y) => x - y), 'in time order');
    assert.equal(store.breaches({ since: T0 + 2000, until: T0 + 3000 }).map((b) => `${b.sensor}:${b.seq}`), ['s-a:2', 's-b:2', 's-a:3', 's-b:3']);
    assert.equal(store.breaches({ sensor: 's-b' }).map((b) => b.seq), [1, 2, 3]);
    assert.equal(store.breaches({ device: '10.9.9.9' }).length, 3);
    assert.equal(store.breaches({ device: '010.9.9.9' }).length, 3, 'any spelling of the address');
    assert.ok(store.breaches({ model: 'port-scan' }).every((b) => b.breach.model === 'port-scan'));
    const high = store.breaches({ minScore: 44 });
    assert.ok(high.length > 0 && high.every((b) => (b.breach.score as number) >= 44));
    assert.is(store.breaches({ limit: 2 }).length, 2);
    assert.is(store.breaches({ limit: 0 }).length, 0);
    // a batch for a sensor that never said Hello is a bug in the caller, not stored
    const e = await store.storeBreaches('s-none', [valid('s-none', 1)]).then(() => null, (x: Error) => x);
    assert.match(e?.message ?? '', /has not connected/);
    assert.is(store.breachCount(), 9);
  } finally {
    await store.close();
  }
});

test('the store refuses a sensor\'s state, other files and another format, leaving them untouched', async () => {
  const stateDir = newDir('state');
  const sdb = openStateDb(stateDir);
  await sdb.close();
  const e1 = (() => { try { openAggregatorStore(stateDir); return null; } catch (e) { return e as StateError; } })();
  assert.instance(e1, StateError);
  assert.is(e1!.code, 'NOT_STATE');
  assert.match(e1!.message, /not aggregator data/);
  // and the sensor's state still opens
  const reopened = openStateDb(stateDir);
  await reopened.close();

  const other = newDir('other');
  mkdirSync(other);
  writeFileSync(join(other, 'notes.txt'), 'mine');
  assert.throws(() => openAggregatorStore(other), (e: unknown) => e instanceof StateError && e.code === 'NOT_STATE');
  assert.is(readFileSync(join(other, 'notes.txt'), 'utf8'), 'mine');

  // and a sensor refuses aggregator data
  const aggDir = newDir();
  const store = openAggregatorStore(aggDir);
  await store.close();
  assert.throws(() => openStateDb(aggDir), (e: unknown) => e instanceof StateError && e.code === 'NOT_STATE');

  const { open } = await import('lmdb');
  const env = open(aggDir, { noSubdir: false, overlappingSync: false });
  await env.openDB('meta', { encoding: 'json' }).put('format', { version: 2, kind: 'aggregator', created_at: 'x', aggregator_id: 'y' });
  await env.close();
  assert.throws(() => openAggregatorStore(aggDir), (e: unknown) => e instanceof StateError && e.code === 'FORMAT' && /format version 2/.test(e.message));
});

test('plaintext is refused on an address that is not loopback', async () => {
  const store = openAggregatorStore(newDir());
  try {
    const e = await startAggregatorServer({ address: '0.0.0.0:0', store, credentials: ServerCredentials.createInsecure(), authorize: () => true, logger: memoryLog() }).then(() => null, (x: Error) => x);
    assert.match(e?.message ?? '', /plaintext gRPC is allowed only on a loopback address/);
  } finally {
    await store.close();
  }
});

// ---- mutual TLS, with certificates made by openssl ----

/** The PKI's files as the server and clients take them. */
function pkiFiles(dir: string): Record<string, Buffer> {
  makePki(dir, { 'sensor-a': 'sensor-a' }, 'sensor-a');
  const out: Record<string, Buffer> = {};
  for (const f of ['ca.crt', 'server.key', 'server.crt', 'sensor-a.key', 'sensor-a.crt', 'forged.key', 'forged.crt']) out[f] = readFileSync(join(dir, f));
  return out;
}

test('mTLS: the identity is the client certificate\'s CN; a Hello naming another sensor, no certificate, or an untrusted one is refused', async () => {
  if (!hasOpenssl) { console.log('  (skipped: no openssl)'); return; }
  const pki = pkiFiles(join(tmp, 'pki'));
  const serverCreds = ServerCredentials.createSsl(pki['ca.crt']!, [{ private_key: pki['server.key']!, cert_chain: pki['server.crt']! }], true);
  const h = await harness({ credentials: serverCreds, address: '127.0.0.1:0' });
  try {
    const opts = { 'grpc.ssl_target_name_override': 'localhost' };
    const sensorCreds = credentials.createSsl(pki['ca.crt']!, pki['sensor-a.key']!, pki['sensor-a.crt']!);
    const good = Peer.open(h.address, undefined, sensorCreds, opts);
    good.send(hello('sensor-a'));
    assert.is((await good.expect('welcome')).welcome.acked_seq, 0);
    good.send({ breaches: { items: [item('sensor-a', 1)] } });
    assert.is(await good.ack(), 1);

    const impostor = Peer.open(h.address, undefined, sensorCreds, opts);
    impostor.send(hello('sensor-b'));
    await endsWith(impostor, 'UNAUTHENTICATED', status.PERMISSION_DENIED, /authenticated as "sensor-a"/);

    for (const creds of [credentials.createSsl(pki['ca.crt']!), credentials.createSsl(pki['ca.crt']!, pki['forged.key']!, pki['forged.crt']!)]) {
      const p = Peer.open(h.address, undefined, creds, opts);
      p.send(hello('sensor-a'));
      const e = await p.closed();
      assert.is(e?.code, status.UNAVAILABLE, `refused at the TLS handshake (${e?.code} ${e?.details})`);
      assert.is(p.received.length, 0);
      p.close();
    }
    assert.equal(storedSeqs(h, 'sensor-a'), [1]);
    assert.is(h.store.sensor('sensor-b'), undefined);
    good.close();
    impostor.close();
  } finally {
    await h.stop();
  }
});

test.run();
