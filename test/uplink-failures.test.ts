// Issue 6's failure test, with real processes: two sensors (`analyze
// --state S --aggregator`, their states' outboxes filled beforehand) deliver
// to one aggregator process on loopback. The aggregator is killed with
// SIGKILL mid-stream and started again on the same port and data after a
// stall of the network (nothing listening); one sensor is killed with
// SIGKILL mid-stream too and run again. In the end the aggregator holds
// exactly the union of the sensors' breaches: none lost, none twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStateDb } from '../sensor/state/state-db.ts';
import { BreachStore } from '../sensor/state/breach-store.ts';
import { makeBreach } from './helpers/breach-fixtures.ts';
import { logLines } from './helpers/cli.ts';
import { REPO_ROOT } from './helpers/shared-data.ts';

const tmp = mkdtempSync(join(tmpdir(), 'edge-uplink-failures-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const PER_SENSOR = 40_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');
const WAIT_MS = 60_000;

const nodeArgs = (args: string[]) => ['--import', 'tsx', 'sensor/cli/main.ts', ...args];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

interface Proc { child: ChildProcess; stderr: () => string; exited: Promise<number | null> }
function start(args: string[], level = 'warn'): Proc {
  const child = spawn(process.execPath, nodeArgs(args), { cwd: REPO_ROOT, env: { ...process.env, EDGE_SENSOR_LOG_LEVEL: level }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b) => { stderr += b; });
  return { child, stderr: () => stderr, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

async function aggregator(port: number, data: string): Promise<Proc & { http: number }> {
  const p = start(['aggregator', '--grpc', `127.0.0.1:${port}`, '--http', '127.0.0.1:0', '--data', data], 'info');
  const t = Date.now();
  for (;;) {
    const s = p.stderr();
    const line = logLines(s.slice(0, s.lastIndexOf('\n') + 1)).find((x) => x.msg === 'aggregator: running');
    if (line) return { ...p, http: line.http_port as number };
    if (Date.now() - t > WAIT_MS || p.child.exitCode !== null) throw new Error(`aggregator did not start: ${s}`);
    await sleep(20);
  }
}

async function stored(http: number): Promise<number> {
  try {
    const h = await (await fetch(`http://127.0.0.1:${http}/api/v1/health`)).json() as { store: { breaches: number } };
    return h.store.breaches;
  } catch { return -1; }
}

async function until(what: string, cond: () => Promise<boolean> | boolean): Promise<void> {
  const t = Date.now();
  while (!(await cond())) {
    if (Date.now() - t > WAIT_MS) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

test('two sensor processes, the aggregator killed and restarted mid-stream after a stall, a sensor killed and rerun: exactly the union stored', async () => {
  // the sensors' states: their outboxes filled as a detection run leaves them
  const ids = new Map<string, Set<string>>();
  for (const s of ['sa', 'sb']) {
    const db = openStateDb(join(tmp, `state-${s}`));
    const breaches = Array.from({ length: PER_SENSOR }, (_, i) => makeBreach(i, T0 + i * 1000, {}, s));
    await new BreachStore(db).add(breaches);
    await db.close();
    ids.set(s, new Set(breaches.map((b) => b.id)));
  }
  const empty = join(tmp, 'empty.log');
  writeFileSync(empty, 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n');
  const port = await freePort();
  const data = join(tmp, 'aggregator');
  const sensor = (s: string) => start(['analyze', empty, '--format', 'aws-vpc', '--state', join(tmp, `state-${s}`), '--summary', join(tmp, `summary-${s}.json`),
    '--aggregator', `127.0.0.1:${port}`, '--sensor-id', s, '--aggregator-timeout', '120']);

  let agg = await aggregator(port, data);
  let sa = sensor('sa');
  const sb = sensor('sb');
  // mid-stream: some stored, far from all
  await until('the first breaches stored', async () => (await stored(agg.http)) > 2000);
  agg.child.kill('SIGKILL');
  await agg.exited;
  const atKill = await stored(agg.http); // (-1: gone)
  assert.is(atKill, -1);
  sa.child.kill('SIGKILL');
  await sa.exited;
  await sleep(1500); // the network stalls: nothing listens; the sensor left retries with backoff
  agg = await aggregator(port, data);
  const after = await stored(agg.http);
  assert.ok(after > 0 && after < 2 * PER_SENSOR, `the kill came mid-stream: ${after} of ${2 * PER_SENSOR} stored at restart`);
  sa = sensor('sa');
  assert.is(await sb.exited, 0, sb.stderr());
  assert.is(await sa.exited, 0, sa.stderr());
  await until('every breach stored', async () => (await stored(agg.http)) >= 2 * PER_SENSOR);

  // exactly the union: every id once, under its own sensor, seqs 1…N each
  for (const s of ['sa', 'sb']) {
    const seen = new Map<string, number>();
    const byId = new Map<string, number>();
    let since: string | undefined;
    for (;;) {
      const q = new URLSearchParams({ sensor: s, limit: '10000', ...(since ? { since } : {}) });
      const page = await (await fetch(`http://127.0.0.1:${agg.http}/api/v1/breaches?${q}`)).json() as { breaches: { id: string; seq: number; time: string }[]; truncated: boolean };
      for (const b of page.breaches) { seen.set(`${b.seq}`, (seen.get(`${b.seq}`) ?? 0) + 1); byId.set(b.id, b.seq); }
      if (!page.truncated) break;
      since = page.breaches.at(-1)!.time; // inclusive: the last comes again (counted once per seq below)
    }
    const seqs = [...seen.keys()].map(Number).sort((a, b) => a - b);
    assert.is(seqs.length, PER_SENSOR, `${s}: ${seqs.length} distinct seqs stored`);
    assert.is(seqs[0], 1);
    assert.is(seqs.at(-1), PER_SENSOR);
    // the same breaches the sensor had, by id: each under one seq (a breach stored twice would need two)
    assert.is(byId.size, PER_SENSOR);
    for (const id of ids.get(s)!) assert.ok(byId.has(id), `${s}: breach ${id} missing`);
  }
  const health = await (await fetch(`http://127.0.0.1:${agg.http}/api/v1/health`)).json() as { store: { breaches: number } };
  assert.is(health.store.breaches, 2 * PER_SENSOR, 'none twice');
  agg.child.kill('SIGTERM');
  assert.is(await agg.exited, 0);
});

test.run();
