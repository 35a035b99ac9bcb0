// Issue 6's "the network stalls" failure test, in-process: one aggregator
// (server + store) on loopback and two sensors' uplinks reaching it through
// a TCP proxy (helpers/tcp-proxy.ts) that black-holes the path on demand —
// nothing forwarded either way, no socket closed, no error: only the
// uplink's own keepalive (500 ms + 500 ms here) and Welcome timeout can tell.
// The stall comes mid-delivery and lasts several keepalive timeouts; the
// uplinks must notice (errors, reconnect attempts that get nowhere), keep
// everything in their outboxes meanwhile, and once the path is back deliver
// the rest, so that the aggregator holds exactly the union of the sensors'
// breaches: every id once, under the seq its sensor gave it, seqs 1…N per
// sensor, and every outbox empty. A second case keeps adding breaches to one
// sensor's outbox before, during and after the stall.
//
// Deterministic data (makeBreach numbers, a seeded jitter); the only waits
// are for conditions, with generous hang guards; nothing asserts on speed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerCredentials, credentials } from '@grpc/grpc-js';
import { openAggregatorStore, type AggregatorStore } from '../sensor/aggregator/aggregator-store.ts';
import { startAggregatorServer, type AggregatorServer } from '../sensor/aggregator/grpc-server.ts';
import type { Log } from '../sensor/log/logger.ts';
import { BreachStore } from '../sensor/state/breach-store.ts';
import { openStateDb } from '../sensor/state/state-db.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { Uplink } from '../sensor/uplink/uplink-client.ts';
import { makeBreach } from './helpers/breach-fixtures.ts';
import { TcpProxy } from './helpers/tcp-proxy.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-uplink-stall-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const newDir = (name: string) => join(tmp, `${name}-${++dirs}`);
const T0 = Date.parse('2025-03-01T00:00:00Z');
const KEEPALIVE_MS = 500;
const KEEPALIVE_TIMEOUT_MS = 500;
/** how long the path stays black-holed: several keepalive rounds (ping + timeout) */
const STALL_MS = 3000;
/** hang guards only: far above what any step takes */
const GUARD_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

type LogLine = { level: string; obj: Record<string, unknown>; msg?: string };
function quietLog(): Log & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) => { lines.push({ level, obj: obj as Record<string, unknown>, ...(msg !== undefined ? { msg } : {}) }); };
  return { level: 'debug', lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
}

async function until(cond: () => boolean, what: string, ms = GUARD_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** The breaches numbered from…to of sensor `prefix` (ids are stable per number and prefix). */
const breaches = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => makeBreach(from + i, T0 + (from + i) * 1000, {}, prefix));

/** Fill a state's outbox (before its uplink starts), in transactions of 500. */
async function addToState(dir: string, prefix: string, from: number, to: number): Promise<void> {
  const db = openStateDb(dir);
  try {
    const all = breaches(prefix, from, to);
    for (let i = 0; i < all.length; i += 500) await new BreachStore(db).add(all.slice(i, i + 500));
  } finally {
    await db.close();
  }
}

/** A state's outbox size and its breach id → seq (after its uplink stopped). */
async function readState(dir: string): Promise<{ outbox: number; acked: number; seqOf: Map<string, number> }> {
  const db = openStateDb(dir);
  try {
    const store = new BreachStore(db);
    const seqOf = new Map<string, number>();
    for (const { key, value } of db.breaches.getRange({})) seqOf.set(key as string, (value as { seq: number }).seq);
    return { outbox: store.outboxSize(), acked: store.lastAcknowledged(), seqOf };
  } finally {
    await db.close();
  }
}

interface Rig {
  store: AggregatorStore;
  server: AggregatorServer;
  proxy: TcpProxy;
  stop(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const store = openAggregatorStore(newDir('agg'));
  const server = await startAggregatorServer({
    address: '127.0.0.1:0', store, credentials: ServerCredentials.createInsecure(), authorize: () => true, logger: quietLog(),
  });
  const proxy = await TcpProxy.start(server.port);
  return {
    store, server, proxy,
    async stop() { await proxy.close(); await server.close(200); await store.close(); },
  };
}

interface Sensor { id: string; dir: string; uplink: Uplink; log: ReturnType<typeof quietLog> }

function sensor(id: string, dir: string, proxy: TcpProxy, seed: number): Sensor {
  const rng = new Rng(seed);
  const log = quietLog();
  const uplink = new Uplink({
    address: proxy.address, stateDir: dir, credentials: credentials.createInsecure(), sensorId: id, log,
    random: () => rng.float(), backoff: { initialMs: 50, maxMs: 300 }, pollMs: 20,
    keepaliveTimeMs: KEEPALIVE_MS, keepaliveTimeoutMs: KEEPALIVE_TIMEOUT_MS,
    // a reconnect through the stalled path never gets its Welcome: given up after this
    welcomeTimeoutMs: 1000,
    // small batches so the stall comes mid-delivery; ackTimeoutMs stays at its 60 s default,
    // so noticing the stall within it is the keepalive's doing
    maxBatchItems: 50,
  });
  return { id, dir, uplink, log };
}

const storedOf = (r: Rig, id: string) => r.store.sensor(id)?.counters.stored ?? 0;

/** Why each stream of this uplink failed, in order (its throttled warning: the first of every 10 s). */
const failures = (s: Sensor) => s.log.lines.filter((l) => l.msg?.startsWith('uplink: no stream')).map((l) => String(l.obj.why));

/** The first stream failure of each sensor came from the transport (keepalive), not from the 60 s ack timeout. */
function assertNoticedByKeepalive(sensors: Sensor[]): void {
  for (const s of sensors) {
    const why = failures(s)[0];
    assert.ok(why !== undefined, `${s.id}: a stream failure logged`);
    assert.not.match(why!, /no Ack within|no Welcome/, `${s.id}: the open stream's failure was noticed by keepalive (${why})`);
  }
}

/**
 * Exactly the union: for each sensor, every breach of its state stored once
 * under the seq the sensor gave it, seqs 1…n, nothing else; the store's
 * total the sum; every outbox empty and fully acknowledged.
 */
async function assertExactUnion(r: Rig, sensors: Sensor[]): Promise<void> {
  let total = 0;
  const allIds = new Set<string>();
  for (const s of sensors) {
    const state = await readState(s.dir);
    const n = state.seqOf.size;
    total += n;
    const rows = r.store.breaches({ sensor: s.id, limit: 1e7 });
    assert.is(rows.length, n, `${s.id}: ${rows.length} stored for ${n} breaches`);
    assert.equal(rows.map((b) => b.seq).sort((x, y) => x - y), oneTo(n), `${s.id}: seqs 1…${n}, each once`);
    const idToSeq = new Map<string, number>();
    for (const b of rows) {
      const id = b.breach.id as string;
      assert.not.ok(idToSeq.has(id), `${s.id}: breach ${id} stored twice`);
      assert.not.ok(allIds.has(id), `breach ${id} stored under two sensors`);
      idToSeq.set(id, b.seq);
      allIds.add(id);
    }
    for (const [id, seq] of state.seqOf) assert.is(idToSeq.get(id), seq, `${s.id}: breach ${id} stored under its seq ${seq}`);
    const rec = r.store.sensor(s.id)!;
    assert.equal([rec.acked_seq, rec.counters.stored, rec.counters.lost, rec.counters.rejected], [n, n, 0, 0], `${s.id}: acknowledged up to ${n}, ${n} stored`);
    assert.is(state.outbox, 0, `${s.id}: outbox empty`);
    assert.is(state.acked, n, `${s.id}: the state records everything acknowledged`);
  }
  assert.is(r.store.breachCount(), total, 'the store holds the union and nothing else');
  assert.is(r.server.stats().stored, total, 'each breach newly stored once');
}

test('the network stalls mid-delivery past the keepalive timeout: the uplinks notice, and after it the aggregator holds exactly the union', async () => {
  const N = 4000;
  const r = await rig();
  const a = sensor('stall-a', newDir('state-a'), r.proxy, 1);
  const b = sensor('stall-b', newDir('state-b'), r.proxy, 2);
  await addToState(a.dir, 'sa', 1, N);
  await addToState(b.dir, 'sb', 1, N);
  try {
    a.uplink.start();
    b.uplink.start();
    await until(() => storedOf(r, a.id) >= 300 && storedOf(r, b.id) >= 300, 'both sensors delivering');

    r.proxy.stall();
    const stalledAt = Date.now();
    const atStall = r.store.breachCount();
    assert.ok(atStall > 0 && atStall < 2 * N, `stalled mid-delivery: ${atStall} of ${2 * N} stored`);
    const connsAtStall = r.proxy.stats().accepted;

    // the keepalive notices: the stream fails, and new attempts go into the stalled path and get nowhere
    await until(() => a.uplink.stats().errors >= 1 && b.uplink.stats().errors >= 1, 'both uplinks noticing the stall');
    assertNoticedByKeepalive([a, b]);
    // what the server had received before the stall is committed by now: from here nothing reaches it
    await sleep(100);
    const frozen = r.store.breachCount();
    await until(() => [a, b].every((s) => s.uplink.stats().errors >= 2 && s.uplink.stats().reconnects >= 2), 'attempts failing while stalled');
    await sleep(Math.max(0, stalledAt + STALL_MS - Date.now()));
    assert.is(r.store.breachCount(), frozen, 'nothing got through the stall');
    assert.ok(frozen < 2 * N, `delivery was cut mid-way: ${frozen} of ${2 * N} stored`);
    for (const s of [a, b]) {
      const st = s.uplink.stats();
      assert.ok(st.state !== 'connected', `${s.id}: not connected while stalled (${st.state})`);
      assert.ok(s.uplink.outboxSize() > 0, `${s.id}: the rest waits in the outbox`);
      // the Acks under way when the path stalled never arrive: the sensor may know less than the aggregator stored
      assert.ok(st.acked_seq <= r.store.sensor(s.id)!.acked_seq, `${s.id}: acknowledged no more than the aggregator did`);
    }
    const ps = r.proxy.stats();
    assert.ok(ps.acceptedWhileStalled >= 2 && ps.accepted > connsAtStall, `reconnects reached the proxy during the stall (${JSON.stringify(ps)})`);
    assert.is(ps.upstreamOpened, connsAtStall, 'none of them reached the aggregator');
    assert.ok(ps.heldBytes > 0, 'what was sent into the stall is held, to go on at resume');

    r.proxy.resume();
    assert.ok(await a.uplink.drained(GUARD_MS), 'sensor a drained after the stall');
    assert.ok(await b.uplink.drained(GUARD_MS), 'sensor b drained after the stall');
    for (const s of [a, b]) {
      const st = s.uplink.stats();
      assert.equal([st.state, st.acked, st.acked_seq], ['connected', N, N], `${s.id}: ${JSON.stringify(st)}`);
      assert.ok(st.sent >= N, `${s.id}: everything sent (${st.sent}, ${st.resent} of them again)`);
    }
    await a.uplink.stop();
    await b.uplink.stop();
    await assertExactUnion(r, [a, b]);
  } finally {
    await a.uplink.stop();
    await b.uplink.stop();
    await r.stop();
  }
});

test('the network stalls while breaches keep being added to one sensor\'s outbox: buffered meanwhile, the exact union after', async () => {
  const r = await rig();
  const a = sensor('grow-a', newDir('state-a'), r.proxy, 3);
  const b = sensor('grow-b', newDir('state-b'), r.proxy, 4);
  await addToState(a.dir, 'ga', 1, 1500);
  await addToState(b.dir, 'gb', 1, 3000);
  // sensor a keeps raising breaches, 100 at a time (numbers 1501… in order), through a state
  // handle of their own opened before the uplink starts, as the state writer thread's is
  // (lmdb-js: opening the same environment again on a thread whose writes are in flight
  // can deadlock that thread, so no handle is opened while an uplink runs)
  const writer = openStateDb(a.dir);
  let next = 1501;
  const raise = async (batches: number) => {
    for (let i = 0; i < batches; i++) {
      await new BreachStore(writer).add(breaches('ga', next, next + 99));
      next += 100;
      a.uplink.nudge();
      await sleep(30);
    }
  };
  try {
    a.uplink.start();
    b.uplink.start();
    await raise(5); // while delivering
    await until(() => storedOf(r, a.id) >= 300 && storedOf(r, b.id) >= 300, 'both sensors delivering');

    r.proxy.stall();
    const stalledAt = Date.now();
    const atStall = r.store.breachCount();
    assert.ok(atStall > 0 && atStall < next - 1 + 3000, `stalled mid-delivery: ${atStall} stored`);
    await until(() => a.uplink.stats().errors >= 1 && b.uplink.stats().errors >= 1, 'both uplinks noticing the stall');
    assertNoticedByKeepalive([a, b]);
    // the acknowledgements that did come are written: from here a's outbox only grows
    await until(() => a.uplink.stats().acked === a.uplink.stats().acked_seq, 'acknowledgements recorded');
    const outboxBefore = a.uplink.outboxSize();
    const ackedBefore = a.uplink.stats().acked_seq;
    const frozen = r.store.breachCount();
    await raise(20); // 2000 more while the aggregator is unreachable
    await until(() => a.uplink.stats().reconnects >= 1 && b.uplink.stats().reconnects >= 1, 'reconnect attempts during the stall');
    await sleep(Math.max(0, stalledAt + STALL_MS - Date.now()));
    assert.ok(a.uplink.stats().state !== 'connected' && b.uplink.stats().state !== 'connected', 'not connected while stalled');
    assert.is(a.uplink.outboxSize(), outboxBefore + 2000, 'sensor a buffered every breach raised during the stall');
    assert.is(a.uplink.stats().acked_seq, ackedBefore, 'nothing acknowledged during the stall');
    assert.is(r.store.breachCount(), frozen, 'nothing got through the stall');

    r.proxy.resume();
    await raise(5); // and after it
    const nA = next - 1;
    assert.ok(await a.uplink.drained(GUARD_MS), 'sensor a drained after the stall');
    assert.ok(await b.uplink.drained(GUARD_MS), 'sensor b drained after the stall');
    assert.equal([a.uplink.stats().acked_seq, b.uplink.stats().acked_seq], [nA, 3000]);
    await a.uplink.stop();
    await b.uplink.stop();
    await writer.close();
    const stateA = await readState(a.dir);
    assert.is(stateA.seqOf.size, nA, 'sensor a stored every breach it raised');
    await assertExactUnion(r, [a, b]);
  } finally {
    await a.uplink.stop();
    await b.uplink.stop();
    await writer.close();
    await r.stop();
  }
});

test.run();
