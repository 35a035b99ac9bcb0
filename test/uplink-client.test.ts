// The sensor's uplink (issue 6) against a real aggregator on loopback: the
// outbox of a state delivered exactly once into the aggregator's storage
// and emptied; the aggregator closed mid-stream and restarted on the same
// port and data, or not there yet at the start: everything delivered after
// the backoff, nothing stored twice; plaintext refused off loopback; mutual
// TLS with openssl-made certificates; and the CLI end to end (`analyze
// --aggregator`), including a run whose aggregator is away (the breaches
// stay in the outbox, exit 0) and the next run that delivers them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerCredentials, credentials, type ServerCredentials as ServerCreds } from '@grpc/grpc-js';
import { openAggregatorStore, type AggregatorStore } from '../sensor/aggregator/aggregator-store.ts';
import { startAggregatorServer, type AggregatorServer } from '../sensor/aggregator/grpc-server.ts';
import type { Log } from '../sensor/log/logger.ts';
import { BreachStore } from '../sensor/state/breach-store.ts';
import { DeviceStore, type DeviceRow } from '../sensor/state/device-store.ts';
import { openStateDb } from '../sensor/state/state-db.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { Uplink, type UplinkOptions } from '../sensor/uplink/uplink-client.ts';
import { isLoopbackAddress, uplinkCredentials } from '../sensor/uplink/credentials.ts';
import { cliAsync } from './helpers/cli.ts';
import { hasOpenssl, makePki } from './helpers/pki.ts';
import { makeBreach } from './helpers/breach-fixtures.ts';
import { REPO_ROOT } from './helpers/shared-data.ts';
import { buildScenario } from './scenario/generate.ts';
import { renderPcap } from './scenario/render-pcap.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-uplink-'));
let dirs = 0;
const newDir = (name: string) => join(tmp, `${name}-${++dirs}`);
const T0 = Date.parse('2024-05-01T00:00:00Z');

test.after(() => { rmSync(tmp, { recursive: true, force: true }); });

function quietLog(): Log & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => { lines.push({ level, obj, ...(msg !== undefined ? { msg } : {}) }); };
  return { level: 'debug', lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
}

interface Aggregator { store: AggregatorStore; server: AggregatorServer; port: number; stop(): Promise<void> }

async function aggregator(dir: string, port = 0, creds: ServerCreds = ServerCredentials.createInsecure()): Promise<Aggregator> {
  const store = openAggregatorStore(dir);
  const server = await startAggregatorServer({ address: `127.0.0.1:${port}`, store, credentials: creds, authorize: () => true, logger: quietLog() });
  return { store, server, port: server.port, async stop() { await server.close(200); await store.close(); } };
}

/** A state whose outbox holds breaches `from`…`to` (by fixture number); its sensor id. */
async function fillState(dir: string, from: number, to: number): Promise<string> {
  const db = openStateDb(dir);
  try {
    const breaches = Array.from({ length: to - from + 1 }, (_, i) => makeBreach(from + i, T0 + (from + i) * 1000, {}, 'u'));
    for (let i = 0; i < breaches.length; i += 1000) await new BreachStore(db).add(breaches.slice(i, i + 1000));
    return db.sensorId;
  } finally {
    await db.close();
  }
}

function outboxOf(dir: string): Promise<number> {
  const db = openStateDb(dir);
  const n = new BreachStore(db).outboxSize();
  return db.close().then(() => n);
}

function uplink(stateDir: string, port: number, over: Partial<UplinkOptions> = {}): Uplink {
  const rng = new Rng(42);
  return new Uplink({
    address: `127.0.0.1:${port}`, stateDir, credentials: credentials.createInsecure(), log: quietLog(),
    random: () => rng.float(), backoff: { initialMs: 50, maxMs: 400 }, pollMs: 20, ...over,
  });
}

/** The aggregator's stored seqs of one sensor, sorted. */
const storedSeqs = (a: Aggregator, sensor: string) => a.store.breaches({ sensor, limit: 1e7 }).map((b) => b.seq).sort((x, y) => x - y);
const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('the outbox is delivered whole, once, and emptied; breaches added while it runs follow', async () => {
  const state = newDir('state');
  const sensor = await fillState(state, 1, 3000);
  const a = await aggregator(newDir('agg'));
  const u = uplink(state, a.port, { healthEveryMs: 30 });
  try {
    // the state writer keeps adding breaches while the uplink runs: its handle is opened before the uplink's, as the
    // writer thread's is (a second handle opened on a thread with writes to the state in flight can hang in lmdb-js)
    const db = openStateDb(state);
    const t0 = performance.now();
    u.start();
    await new BreachStore(db).add(Array.from({ length: 500 }, (_, i) => makeBreach(3001 + i, T0 + (3001 + i) * 1000, {}, 'u')));
    u.nudge();
    assert.ok(await u.drained(10_000), 'the outbox drained');
    await db.close();
    const ms = performance.now() - t0;
    assert.equal(storedSeqs(a, sensor), oneTo(3500));
    assert.is(a.store.breachCount(), 3500);
    assert.is(await outboxOf(state), 0);
    const s = u.stats();
    assert.equal([s.sent, s.acked, s.resent, s.errors, s.reconnects, s.state, s.acked_seq], [3500, 3500, 0, 0, 0, 'connected', 3500]);
    // periodic Health, accepted by the aggregator's checks
    await until(() => a.store.sensor(sensor)?.last_health?.counters.uplink_acked === 3500, 'a Health message with the counters');
    assert.is(a.store.sensor(sensor)!.last_health!.outbox, 0);
    assert.is(a.server.stats().health_rejected, 0);
    // the JSON as the sensor stored it
    assert.equal(a.store.breach(sensor, 7)!.breach, JSON.parse(JSON.stringify(makeBreach(7, T0 + 7000, {}, 'u'))));
    console.log(`  3500 breaches delivered in ${ms.toFixed(0)} ms (${Math.round(3500 / (ms / 1000))}/s, with the connection)`);
  } finally {
    await u.stop();
    await a.stop();
  }
  // the state remembers the acknowledgement (Hello.last_seq of the next run)
  const db = openStateDb(state);
  assert.is(new BreachStore(db).lastAcknowledged(), 3500);
  await db.close();
});

test('the aggregator closed mid-stream and restarted on the same port and data: every breach stored once, the outbox empty', async () => {
  const state = newDir('state');
  const sensor = await fillState(state, 1, 20_000);
  const aggDir = newDir('agg');
  let a = await aggregator(aggDir);
  const port = a.port;
  const u = uplink(state, port, { maxBatchItems: 100 });
  try {
    u.start();
    await until(() => a.server.stats().stored >= 2000, 'part of the outbox stored');
    await a.stop();
    const storedBefore = storedCount(aggDir, sensor);
    assert.ok(storedBefore < 20_000, `closed mid-stream (${storedBefore} stored)`);
    await until(() => u.stats().state === 'backoff' || u.stats().state === 'connecting', 'the uplink noticing');
    a = await aggregator(aggDir, port);
    assert.ok(await u.drained(20_000), 'the outbox drained after the restart');
    assert.equal(storedSeqs(a, sensor), oneTo(20_000));
    assert.is(a.store.breachCount(), 20_000);
    assert.is(await outboxOf(state), 0);
    const s = u.stats();
    assert.ok(s.errors >= 1 && s.reconnects >= 1, `reconnected (${JSON.stringify(s)})`);
    assert.is(s.acked, 20_000);
  } finally {
    await u.stop();
    await a.stop();
  }
});

/** Breaches stored for `sensor` in a closed aggregator data directory. */
function storedCount(dir: string, sensor: string): number {
  const s = openAggregatorStore(dir);
  try { return s.breaches({ sensor, limit: 1e7 }).length; } finally { void s.close(); }
}

test('no aggregator at the start: the uplink backs off and delivers once it comes up', async () => {
  const state = newDir('state');
  const sensor = await fillState(state, 1, 300);
  // a port that was free a moment ago, with nothing listening now
  const probe = await aggregator(newDir('probe'));
  const port = probe.port;
  await probe.stop();
  const u = uplink(state, port);
  let a: Aggregator | null = null;
  try {
    u.start();
    await until(() => u.stats().errors >= 2, 'failed attempts');
    assert.ok(['backoff', 'connecting'].includes(u.stats().state));
    assert.is(await outboxOf(state), 300, 'nothing acknowledged: all still in the outbox');
    a = await aggregator(newDir('agg'), port);
    assert.ok(await u.drained(10_000), 'drained after the aggregator came up');
    assert.equal(storedSeqs(a, sensor), oneTo(300));
    assert.is(u.stats().state, 'connected');
  } finally {
    await u.stop();
    await a?.stop();
  }
});

test('the device inventory goes up on connect, then only the rows that changed; peer groups included', async () => {
  const state = newDir('state');
  const sensor = await fillState(state, 1, 10);
  const rows: DeviceRow[] = Array.from({ length: 1200 }, (_, i) => ({
    ip: `10.1.${i >> 8}.${i & 255}`, first_seen: '2024-05-01T00:00:00.000Z', last_seen: '2024-05-01T01:00:00.000Z', risk: i % 7, breaches: i % 3,
    ...(i % 2 ? { tags: ['server'] } : {}), ...(i % 5 === 0 ? { peer_group: i % 4 } : {}),
  }));
  // one handle for the test's writes, opened before the uplink's (see the first test)
  const db = openStateDb(state);
  await new DeviceStore(db).replaceDevices(rows);
  const a = await aggregator(newDir('agg'));
  const u = uplink(state, a.port, { devicesEveryMs: 50 });
  try {
    u.start();
    await until(() => a.server.stats().devices_stored === 1200, 'the inventory stored');
    const got = new Map(a.store.devices(sensor).map((d) => [d.ip, d]));
    assert.is(got.size, 1200);
    for (const r of rows) {
      const d = got.get(r.ip)!;
      assert.equal([d.risk, d.breaches, d.tags, d.peer_group, d.last_seen], [r.risk, r.breaches, r.tags, r.peer_group, r.last_seen], r.ip);
    }
    // one row changes (a snapshot replaced the inventory): only it goes again
    await new DeviceStore(db).replaceDevices(rows.map((r, i) => (i === 7 ? { ...r, risk: 99, last_seen: '2024-05-01T02:00:00.000Z' } : r)));
    await until(() => a.server.stats().devices_stored === 1201, 'the changed row stored');
    await new Promise((r) => setTimeout(r, 200));
    assert.is(a.server.stats().devices_stored, 1201, 'nothing else resent');
    assert.is(a.store.devices(sensor).find((d) => d.ip === rows[7]!.ip)!.risk, 99);
  } finally {
    await u.stop();
    await db.close();
    await a.stop();
  }
});

test('plaintext only to loopback: any other address is refused with a clear error', () => {
  for (const addr of ['127.0.0.1:7443', '127.3.2.1:1', 'localhost:7443', '[::1]:7443']) {
    assert.ok(isLoopbackAddress(addr), addr);
    assert.ok(uplinkCredentials(null, addr, quietLog()));
  }
  for (const addr of ['10.0.0.5:7443', 'aggregator.example.com:443', '[2001:db8::1]:7443', '0.0.0.0:7443', 'localhost.evil.com:1', '127.0.0.1']) {
    assert.not.ok(isLoopbackAddress(addr), addr);
    assert.throws(() => uplinkCredentials(null, addr, quietLog()), /plaintext is allowed only to a loopback address.*--tls-ca/);
  }
  const log = quietLog();
  uplinkCredentials(null, '127.0.0.1:1', log);
  assert.ok(log.lines.some((l) => l.level === 'warn' && /plaintext/.test(l.msg ?? '')), 'a warning when plaintext is used');
  assert.throws(() => uplinkCredentials({ ca: join(tmp, 'nope.crt'), cert: join(tmp, 'nope.crt'), key: join(tmp, 'nope.key') }, '10.0.0.5:7443'), /cannot read the CA certificate \(--tls-ca\)/);
});

test('mutual TLS from PEM files: the sensor named by its certificate delivers', async () => {
  if (!hasOpenssl) { console.log('  (skipped: no openssl)'); return; }
  const pki = newDir('pki');
  makePki(pki, { sensor: 'sensor-tls' });
  const state = newDir('state');
  await fillState(state, 1, 50);
  const f = (n: string) => readFileSync(join(pki, n));
  const a = await aggregator(newDir('agg'), 0, ServerCredentials.createSsl(f('ca.crt'), [{ private_key: f('server.key'), cert_chain: f('server.crt') }], true));
  const creds = uplinkCredentials({ ca: join(pki, 'ca.crt'), cert: join(pki, 'sensor.crt'), key: join(pki, 'sensor.key') }, `127.0.0.1:${a.port}`);
  const u = uplink(state, a.port, { credentials: creds, sensorId: 'sensor-tls' });
  try {
    u.start();
    assert.ok(await u.drained(10_000));
    assert.equal(storedSeqs(a, 'sensor-tls'), oneTo(50));
  } finally {
    await u.stop();
    await a.stop();
  }
});

// ---- the CLI end to end ----

/** The CLI in a child process, asynchronously (the aggregator answers from this process meanwhile). */
const ids = (jsonl: string) => readFileSync(jsonl, 'utf8').split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { id: string }).id).sort();
const storedIds = (a: Aggregator, sensor: string) => a.store.breaches({ sensor, limit: 1e7 }).map((b) => b.breach.id as string).sort();
const stateSensorId = async (dir: string) => { const db = openStateDb(dir); const id = db.sensorId; await db.close(); return id; };

test('CLI: analyze --aggregator delivers exactly its breaches; with the aggregator away it exits 0 leaving them in the outbox, and the next run delivers them', async () => {
  const scn = buildScenario({ seed: 21, days: 2, workstations: 2, attacks: ['scan-network', 'brute-force'], lookAlikes: false });
  const pcap = join(tmp, 'net.pcap');
  renderPcap(pcap, scn.conns());
  const analyze = (state: string, breaches: string, summary: string, ...extra: string[]) =>
    cliAsync(['analyze', pcap, '--learning', '0', '--breaches', breaches, '--state', state, '--summary', summary, ...extra]);

  // delivered while the aggregator is up
  const a = await aggregator(newDir('agg'));
  const s1 = newDir('state');
  const b1 = join(tmp, 'b1.jsonl'), sum1 = join(tmp, 'sum1.json');
  // and, meanwhile, a second state whose aggregator is not there (the port of one just closed)
  const probe = await aggregator(newDir('probe'));
  const awayPort = probe.port;
  await probe.stop();
  const s2 = newDir('state');
  const b2 = join(tmp, 'b2.jsonl'), sum2 = join(tmp, 'sum2.json');
  const [r1, r2] = await Promise.all([
    analyze(s1, b1, sum1, '--aggregator', `127.0.0.1:${a.port}`, '--sensor-id', 'cli-sensor'),
    analyze(s2, b2, sum2, '--aggregator', `127.0.0.1:${awayPort}`, '--aggregator-timeout', '1'),
  ]);
  let b = null as Aggregator | null;
  try {
    assert.is(r1.code, 0, r1.stderr);
    const expected = ids(b1);
    assert.ok(expected.length >= 5, `the capture raises breaches (${expected.length})`);
    assert.equal(storedIds(a, 'cli-sensor'), expected, 'exactly the breaches of --breaches, once each');
    const u1 = JSON.parse(readFileSync(sum1, 'utf8')).uplink;
    assert.equal([u1.sent, u1.acked, u1.outbox_left], [expected.length, expected.length, 0]);
    assert.is(await outboxOf(s1), 0);

    // the aggregator away: exit 0, the breaches kept in the outbox and said so
    assert.is(r2.code, 0, r2.stderr);
    const waiting = ids(b2);
    assert.equal(waiting, expected, 'the same capture, the same breaches');
    const u2 = JSON.parse(readFileSync(sum2, 'utf8')).uplink;
    assert.is(u2.outbox_left, waiting.length);
    assert.is(u2.acked, 0);
    assert.match(r2.stderr, new RegExp(`"outbox_left":${waiting.length}`));
    assert.is(await outboxOf(s2), waiting.length);

    // the next run, the aggregator up on that port: the input is already in the state, its outbox is delivered
    b = await aggregator(newDir('agg'), awayPort);
    const r3 = await analyze(s2, join(tmp, 'b3.jsonl'), join(tmp, 'sum3.json'), '--aggregator', `127.0.0.1:${awayPort}`);
    assert.is(r3.code, 0, r3.stderr);
    const sensor2 = await stateSensorId(s2);
    assert.equal(storedIds(b, sensor2), waiting);
    assert.is(JSON.parse(readFileSync(join(tmp, 'sum3.json'), 'utf8')).uplink.outbox_left, 0);
    assert.is(await outboxOf(s2), 0);
  } finally {
    await a.stop();
    await b?.stop();
  }
});

test('CLI: run --aggregator delivers while it runs and stops with SIGINT; what it did not deliver is in the outbox', async () => {
  const pcap = join(tmp, 'net.pcap'); // made by the test before
  const a = await aggregator(newDir('agg'));
  const state = newDir('state');
  const breaches = join(tmp, 'run-b.jsonl'), summary = join(tmp, 'run-sum.json');
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', 'run', '--packets', pcap, '--learning', '0', '--breaches', breaches, '--state', state, '--summary', summary, '--aggregator', `127.0.0.1:${a.port}`, '--sensor-id', 'run-sensor'], { cwd: REPO_ROOT, env: { ...process.env, EDGE_SENSOR_LOG_LEVEL: 'warn' } });
    let stderr = '';
    child.stderr.on('data', (b) => { stderr += b; });
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    // delivered while running: wait until the count has settled
    let last = -1, stableSince = Date.now();
    await until(() => {
      const n = a.store.breachCount();
      if (n !== last) { last = n; stableSince = Date.now(); }
      return n >= 5 && Date.now() - stableSince > 1500;
    }, 'breaches delivered while the sensor runs', 30_000);
    child.kill('SIGINT');
    assert.is(await exited, 0, stderr);
    const db = openStateDb(state);
    const left = new BreachStore(db).pending().map((p) => p.breach.id);
    await db.close();
    const stored = storedIds(a, 'run-sensor');
    assert.equal([...stored, ...left].sort(), ids(breaches), 'every breach either delivered (once) or waiting in the outbox');
    const u = JSON.parse(readFileSync(summary, 'utf8')).uplink;
    assert.is(u.outbox_left, left.length);
    assert.is(u.acked, stored.length);
  } finally {
    await a.stop();
  }
});

test('CLI: the uplink flags are checked before anything runs (exit 2)', async () => {
  const pcap = join(tmp, 'net.pcap');
  const cases: [string[], RegExp][] = [
    [['analyze', pcap, '--aggregator', '127.0.0.1:7443'], /--aggregator delivers from the state's outbox: it needs --state DIR/],
    [['run', '--packets', pcap, '--no-state', '--aggregator', '127.0.0.1:7443'], /it needs state/],
    [['analyze', pcap, '--state', newDir('state'), '--aggregator', '10.0.0.5:7443'], /plaintext is allowed only to a loopback address/],
    [['analyze', pcap, '--state', newDir('state'), '--aggregator', '127.0.0.1:7443', '--tls-ca', 'ca.crt'], /all three of --tls-ca, --tls-cert and --tls-key/],
    [['analyze', pcap, '--state', newDir('state'), '--aggregator', 'no-port'], /HOST:PORT/],
    [['analyze', pcap, '--tls-ca', 'ca.crt'], /needs --aggregator/],
  ];
  const results = await Promise.all(cases.map(([args]) => cliAsync(args)));
  results.forEach((r, i) => {
    assert.is(r.code, 2, `${cases[i]![0].join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, cases[i]![1]);
  });
  for (const cmd of ['analyze', 'run']) {
    const h = await cliAsync([cmd, '--help']);
    for (const flag of ['--aggregator', '--tls-ca', '--tls-cert', '--tls-key', '--sensor-id']) assert.ok(h.stdout.includes(flag), `${cmd} --help names ${flag}`);
    assert.is(h.stdout.includes('--aggregator-timeout'), cmd === 'analyze');
  }
});

test.run();
