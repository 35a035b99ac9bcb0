// `edge-sensor status`, `breaches` and `devices`, run as a user runs them
// (the CLI in a child process) on a state this test filled: --json gives
// back exactly what was stored (breaches byte for byte as `--breaches`
// writes them), the tables are readable, and a missing or foreign state is
// one line on stderr with exit status 1, a usage error 2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { openStateDb } from '../sensor/state/state-db.ts';
import { BreachStore } from '../sensor/state/breach-store.ts';
import { DeviceStore } from '../sensor/state/device-store.ts';
import { writeStatus, type SensorStatus } from '../sensor/state/status-store.ts';
import type { Breach } from '../sensor/models/breach.ts';
import { cliAsync, jsonLines, type CliResult } from './helpers/cli.ts';
import { makeBreach, makeDevices } from './helpers/breach-fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-state-cli-'));
const state = join(tmp, 'state');
const stopped = join(tmp, 'stopped');
const otherFormat = join(tmp, 'other-format');
const T0 = Date.parse('2024-05-01T00:00:00Z');
const HOUR = 3_600_000;

const breaches: Breach[] = Array.from({ length: 30 }, (_, i) => makeBreach(i, T0 + ((i * 11) % 30) * HOUR));
const byTime = [...breaches].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || (a.id < b.id ? -1 : 1));
const status: SensorStatus = {
  updated_at: new Date().toISOString(), pid: process.pid, running: true, version: '0.1.0',
  snapshot: { taken_at: new Date(Date.now() - 90_000).toISOString(), capture_ts: '2024-05-02T05:00:00.000Z', bytes: 3_500_000, duration_ms: 180, pause_ms: 12 },
  inputs: [{ name: 'eth0.pcap', offset: 123456, done: false }, { name: 'vpc-logs/', offset: 999, done: true }],
  counters: { packets: 1000, flows: 40 }, evictions: { flows: 3 },
  tables: [{ name: 'flows', capacity: 131072, used: 4096, evictions: 3 }],
};

const runs = new Map<string, Promise<CliResult>>();
/** Each distinct command line runs once, all of them started together in before(). */
const run = (...args: string[]) => runs.get(args.join('\u0000')) ?? (() => { throw new Error(`not started: ${args.join(' ')}`); })();

// Cases that print results run as a user runs them, in a child process
// (results go to file descriptor 1); the error and help cases run in-process
// through runCli (they print with process.stdout/stderr.write), which saves
// a Node start-up each.
const CASES: string[][] = [
  ['status', '--state', state, '--json'],
  ['status', '--state', state],
  ['status', '--state', stopped],
  ['breaches', '--state', state, '--json'],
  ['breaches', '--state', state, '--json', '--since', '2024-05-01T05:00:00Z', '--until', String((T0 + 20 * HOUR) / 1000), '--min-score', '50'],
  ['breaches', '--state', state, '--json', '--since', '2024-05-01T07:00:00+02:00', '--limit', '4', '--model', 'port-scan'],
  ['breaches', '--state', state, '--json', '--device', '10.0.0.5', '--model', 'port-scan'],
  ['breaches', '--state', state],
  ['devices', '--state', state, '--json'],
  ['devices', '--state', state],
];

/** runCli in this process, its standard output and error captured. */
async function inProcess(args: string[]): Promise<CliResult> {
  const { runCli } = await import('../sensor/cli/run-cli.ts');
  let stdout = '', stderr = '';
  const out = process.stdout.write, err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => { stdout += chunk; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += chunk; return true; }) as typeof process.stderr.write;
  try {
    return { code: await runCli(args), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

test.before(async () => {
  const db = openStateDb(state);
  const store = new BreachStore(db);
  await store.add(breaches);
  await store.acknowledge(20);
  await new DeviceStore(db).putDevices(makeDevices());
  await writeStatus(db, status);
  await db.close();

  // a state whose writer is gone without stopping cleanly: a pid that no longer runs
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const s2 = openStateDb(stopped);
  await writeStatus(s2, { updated_at: new Date(Date.now() - 600_000).toISOString(), pid: Number(dead.stdout), running: true });
  await s2.close();

  const s3 = openStateDb(otherFormat);
  await s3.close();
  const env = open(otherFormat, { noSubdir: false, overlappingSync: false });
  await env.openDB('meta', { encoding: 'json' }).put('format', { version: 7, created_at: '2031-01-01T00:00:00Z', sensor_id: 'x' });
  await env.close();

  mkdirSync(join(tmp, 'not-state'));
  writeFileSync(join(tmp, 'not-state', 'README'), 'hello');

  // as many at a time as there are cores: more only makes them contend
  const lanes = Array.from({ length: Math.max(1, availableParallelism()) }, () => Promise.resolve());
  CASES.forEach((args, i) => {
    const lane = i % lanes.length;
    const p = lanes[lane]!.then(() => cliAsync(args));
    lanes[lane] = p.then(() => {});
    runs.set(args.join('\u0000'), p);
  });
  await Promise.all(runs.values());
});

test.after(() => { rmSync(tmp, { recursive: true, force: true }); });

test('status --json: the stored facts and the status as written; the writer (this process) is running', async () => {
  const r = await run('status', '--state', state, '--json');
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const db = openStateDb(state, { readOnly: true });
  assert.is(report.state, state);
  assert.is(report.sensor_id, db.sensorId);
  assert.is(report.format_version, 1);
  assert.is(report.created_at, db.format.created_at);
  await db.close();
  assert.ok(report.disk_bytes > 0 && report.data_bytes > 0);
  assert.equal(report.writer, { pid: process.pid, alive: true, running: true });
  assert.equal(report.status, status);
  assert.is(report.breaches, 30);
  assert.is(report.outbox, 10);
  assert.is(report.devices, 4);
  assert.is(r.stdout.trim().split('\n').length, 1, 'one JSON object');
});

test('status: a readable summary', async () => {
  const r = await run('status', '--state', state);
  assert.is(r.code, 0, r.stderr);
  const text = r.stdout;
  assert.match(text, /^state\s+.*\(format 1, created .*on disk/m);
  assert.match(text, /^sensor id\s+[0-9a-f-]{36}$/m);
  assert.match(text, new RegExp(`^writer\\s+running \\(pid ${process.pid}\\)$`, 'm'));
  assert.match(text, /^snapshot\s+taken .*\(\d+ (?:s|min) ago\), input time 2024-05-02T05:00:00.000Z, 3.3 MiB, took 180 ms \(input paused 12 ms\)$/m);
  assert.match(text, /^inputs\s+eth0\.pcap\s+offset 123456\s+reading$/m);
  assert.match(text, /^\s+vpc-logs\/\s+offset\s+999\s+done$/m);
  assert.match(text, /^breaches\s+30 stored, 10 in the outbox \(not yet acknowledged\)$/m);
  assert.match(text, /^devices\s+4$/m);
  assert.match(text, /^tables\s+flows 4096 \/ 131072 \(3\.1%\), 3 evicted$/m);
  assert.match(text, /^evictions\s+flows 3$/m);
});

test('status: a writer that is gone without stopping is reported not running', async () => {
  const h = await run('status', '--state', stopped);
  assert.is(h.code, 0, h.stderr);
  assert.match(h.stdout, /^writer\s+not running: pid \d+ is gone and it did not stop cleanly/m);
  assert.match(h.stdout, /^status\s+written .*\(10 min ago\)$/m);
  assert.match(h.stdout, /^snapshot\s+none yet$/m);
  assert.match(h.stdout, /^breaches\s+0 stored, 0 in the outbox/m);
});

test('breaches --json: exactly the breaches as --breaches writes them, in time order', async () => {
  const r = await run('breaches', '--state', state, '--json');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, byTime.map((b) => `${JSON.stringify(b)}\n`).join(''), 'byte for byte');
  assert.equal(jsonLines(r.stdout), JSON.parse(JSON.stringify(byTime)));
});

test('breaches --json with filters: --since (RFC 3339, with an offset) --until (epoch seconds, inclusive) --min-score --model --device --limit', async () => {
  const t = (b: Breach) => Date.parse(b.time);
  const a = await run('breaches', '--state', state, '--json', '--since', '2024-05-01T05:00:00Z', '--until', String((T0 + 20 * HOUR) / 1000), '--min-score', '50');
  assert.is(a.code, 0, a.stderr);
  const wantA = byTime.filter((b) => t(b) >= T0 + 5 * HOUR && t(b) <= T0 + 20 * HOUR && b.score >= 50);
  assert.ok(wantA.some((b) => t(b) === T0 + 20 * HOUR), '--until is inclusive: the breach at its very time is among them');
  assert.equal(jsonLines(a.stdout), JSON.parse(JSON.stringify(wantA)));
  const c = await run('breaches', '--state', state, '--json', '--since', '2024-05-01T07:00:00+02:00', '--limit', '4', '--model', 'port-scan');
  const wantC = byTime.filter((x) => t(x) >= T0 + 5 * HOUR && x.model === 'port-scan');
  assert.ok(wantC.length > 4);
  assert.equal(jsonLines(c.stdout), JSON.parse(JSON.stringify(wantC.slice(0, 4))));
  const d = await run('breaches', '--state', state, '--json', '--device', '10.0.0.5', '--model', 'port-scan');
  assert.equal(jsonLines(d.stdout), JSON.parse(JSON.stringify(byTime.filter((x) => x.model === 'port-scan' && x.device.ip === '10.0.0.5'))));
  assert.is(jsonLines(d.stdout).length, 1);
});

test('breaches: a table of time, score, model, device, peer, summary', async () => {
  const r = await run('breaches', '--state', state);
  assert.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^time\s+score\s+model\s+device\s+peer\s+summary$/);
  assert.is(lines.length, 31);
  const first = byTime[0]!;
  assert.ok(lines[1]!.startsWith(first.time.replace('.000Z', 'Z')));
  assert.ok(lines[1]!.endsWith(first.summary));
  assert.ok(lines.some((l) => l.includes('[2001:db8::1]:443')), 'an IPv6 peer in brackets');
  assert.ok(lines.some((l) => / 198\.51\.100\.7:443 /.test(l)));
});

test('devices --json: the rows as stored, by address; devices: a table', async () => {
  const j = await run('devices', '--state', state, '--json');
  assert.is(j.code, 0, j.stderr);
  const rows = makeDevices();
  const order = ['10.0.0.2', '10.0.0.10', '192.168.1.1', '2001:db8::5'];
  assert.equal(jsonLines(j.stdout), order.map((ip) => rows.find((r) => r.ip === ip)));
  const h = await run('devices', '--state', state);
  const lines = h.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^ip\s+mac\s+interface\s+name\s+tags\s+first seen\s+last seen\s+risk\s+breaches$/);
  assert.equal(lines.slice(1).map((l) => l.split(/\s+/)[0]), order);
  assert.match(h.stdout, /192\.168\.1\.1\s+-\s+-\s+gw\s+router,no-scan-alerts\s/);
});

test('no state: one line on stderr, exit status 1; usage errors exit 2', async () => {
  const missing = await inProcess(['devices', '--state', join(tmp, 'missing')]);
  assert.is(missing.code, 1);
  assert.is(missing.stdout, '');
  assert.is(missing.stderr, `edge-sensor devices: no state at ${join(tmp, 'missing')}: the directory does not exist (a sensor run with --state ${join(tmp, 'missing')} creates it)\n`);
  const notState = await inProcess(['breaches', '--state', join(tmp, 'not-state')]);
  assert.is(notState.code, 1);
  assert.match(notState.stderr, /^edge-sensor breaches: .*not-state is not edge-sensor state: it holds files but no LMDB environment/);
  assert.is(notState.stderr.split('\n').length, 2, 'one line, no stack');
  const other = await inProcess(['status', '--state', otherFormat]);
  assert.is(other.code, 1);
  assert.match(other.stderr, `holds format version 7; this sensor reads format version 1 only and will not misread it: start fresh with --fresh-state (the old state is moved aside to ${otherFormat}.old-<timestamp>)`);
  for (const [args, re] of [
    [['breaches', '--json'], /--state DIR is required/],
    [['breaches', '--state', state, '--since', 'yesterday'], /--since must be an RFC 3339 time/],
    [['breaches', '--state', state, '--limit', '0'], /--limit must be an integer ≥ 1/],
  ] as const) {
    const r = await inProcess([...args]);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('help: each command documents its flags and exit status', async () => {
  for (const args of [['help', 'breaches'], ['devices', '--help']]) {
    const r = await inProcess(args);
    assert.is(r.code, 0);
    assert.match(r.stdout, /^Usage: edge-sensor (breaches|devices) --state DIR/);
    assert.match(r.stdout, /Exit status: 0 when the state was read; 1 when DIR holds no state/);
  }
});

test.run();
