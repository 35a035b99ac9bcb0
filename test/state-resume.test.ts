// Crash and restart with --state (issue 5): `analyze --state` of a two-day
// generated network is killed (SIGKILL) at seeded points — between batches,
// and inside a snapshot's LMDB transaction — and run again with the same
// command until it finishes. The breaches in the state must then be exactly
// those of an uninterrupted run (same ids, models, devices, times, every
// field), each once, all in the outbox. The same for AWS flow logs split
// into several files, and for a clean stop (SIGINT) in the middle of the
// learning day: the restart keeps the baseline, so the breaches match too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Breach } from '../sensor/models/breach.ts';
import { openStateDb } from '../sensor/state/state-db.ts';
import { BreachStore } from '../sensor/state/breach-store.ts';
import { readStatus } from '../sensor/state/status-store.ts';
import { REPO_ROOT } from './helpers/shared-data.ts';
import { buildScenario } from './scenario/generate.ts';
import { renderPcap } from './scenario/render-pcap.ts';
import { renderAwsFlowLogs } from './scenario/render-flowlogs.ts';
import { Rng } from '../sensor/sample/rng.ts';

const dir = mkdtempSync(join(tmpdir(), 'state-resume-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const scn = buildScenario({ seed: 5, days: 2, workstations: 10, attacks: ['scan-network', 'brute-force', 'beacon', 'lateral', 'exfil', 'dns-tunnel'] });
const pcap = join(dir, 'net.pcap');
renderPcap(pcap, scn.conns());
const aws = join(dir, 'net-aws.log');
renderAwsFlowLogs(aws, scn.conns());
/** the AWS log as six files in time order, each with the header line */
const awsParts = (() => {
  const [header, ...lines] = readFileSync(aws, 'utf8').split('\n').filter((l) => l);
  const per = Math.ceil(lines.length / 6);
  return Array.from({ length: 6 }, (_, i) => {
    const p = join(dir, `aws-${i}.log`);
    writeFileSync(p, [header, ...lines.slice(i * per, (i + 1) * per)].join('\n') + '\n');
    return p;
  });
})();

interface Run { code: number; stderr: string }

function analyze(inputs: string[], state: string, extra: string[] = [], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'sensor/cli/main.ts', 'analyze', ...inputs, '--state', state, '--breaches', '/dev/null', '--summary', '/dev/null', '--snapshot-every', '0.01', ...extra], {
    cwd: REPO_ROOT, env: { ...process.env, EDGE_SENSOR_LOG_LEVEL: 'warn', ...env }, maxBuffer: 64 << 20,
  });
  return { code: r.status ?? (r.signal === 'SIGKILL' ? 137 : -1), stderr: r.stderr.toString() };
}

/** The breaches the state holds, by id, and what the outbox says of them. */
async function stored(state: string): Promise<{ breaches: Map<string, Breach>; count: number; outbox: number[]; counters: Record<string, number> }> {
  const db = openStateDb(state, { readOnly: true });
  try {
    const store = new BreachStore(db);
    const breaches = new Map<string, Breach>();
    let count = 0;
    for (const b of store.history({})) { breaches.set(b.id, b); count++; }
    return { breaches, count, outbox: store.pending().map((p) => p.seq), counters: readStatus(db)?.counters ?? {} };
  } finally { await db.close(); }
}

/** Run until the command finishes (each crashed run is run again, as an operator would), at most `tries` times. */
function untilDone(inputs: string[], state: string, extra: string[], first: Record<string, string>): { crashed: number } {
  let crashed = 0;
  let r = analyze(inputs, state, extra, first);
  for (let tries = 0; r.code !== 0; tries++) {
    assert.ok(r.code === 137 || r.code === 130, `a crash or a clean stop, not a failure (exit ${r.code}): ${r.stderr.slice(0, 500)}`);
    assert.ok(tries < 3, 'finishes once it is no longer killed');
    crashed++;
    r = analyze(inputs, state, extra);
  }
  return { crashed };
}

/** The state after the crashes holds what the uninterrupted run's holds: its breaches, and the core's counters (every packet or record counted once). */
async function same(state: string, clean: string, what: string): Promise<void> {
  const { breaches: expected, counters } = await stored(clean);
  const got = await stored(state);
  assert.ok(Object.keys(counters).length > 5, 'the status holds the counters');
  assert.equal(got.counters, counters, `${what}: every packet and record counted once`);
  assert.equal(got.count, got.breaches.size, `${what}: no breach stored twice`);
  assert.equal([...got.breaches.keys()].sort(), [...expected.keys()].sort(), `${what}: the same breaches`);
  for (const [id, b] of expected) assert.equal(got.breaches.get(id), b, `${what}: breach ${id} identical`);
  assert.equal(got.outbox.length, expected.size, `${what}: every breach in the outbox`);
  assert.equal(new Set(got.outbox).size, got.outbox.length, `${what}: outbox sequence numbers unique`);
}

const rand = new Rng(20261123);
const rng = () => rand.float();
const batchesOf = (bytes: number) => Math.ceil(bytes / (1 << 20));

test('a capture killed at seeded points, and inside a snapshot, resumes to exactly the uninterrupted breaches', async () => {
  const clean = join(dir, 'clean');
  assert.equal(analyze([pcap], clean).code, 0);
  const expected = (await stored(clean)).breaches;
  assert.ok(expected.size >= 5, `the scenario raises breaches (${expected.size})`);
  const batches = batchesOf(statSync(pcap).size);
  const points = [2, ...Array.from({ length: 3 }, () => 3 + Math.floor(rng() * (batches - 4)))];
  for (const at of points) {
    const state = join(dir, `kill-${at}`);
    const { crashed } = untilDone([pcap], state, [], { EDGE_SENSOR_TEST_KILL_AT_BATCH: String(at) });
    assert.equal(crashed, 1, `killed at batch ${at} of ${batches}`);
    await same(state, clean, `killed at batch ${at}`);
  }
  // killed with a snapshot's chunks written but not committed: the previous snapshot stands
  const state = join(dir, 'kill-in-snapshot');
  const { crashed } = untilDone([pcap], state, [], { EDGE_SENSOR_TEST_KILL_IN_SNAPSHOT: '3' });
  assert.equal(crashed, 1);
  await same(state, clean, 'killed inside the 3rd snapshot');
});

test('detection in the packet thread (--inline-detection) resumes the same way', async () => {
  const clean = join(dir, 'clean-inline');
  assert.equal(analyze([pcap], clean, ['--inline-detection']).code, 0);
  const at = 2 + Math.floor(rng() * (batchesOf(statSync(pcap).size) - 3));
  const state = join(dir, 'kill-inline');
  untilDone([pcap], state, ['--inline-detection'], { EDGE_SENSOR_TEST_KILL_AT_BATCH: String(at) });
  await same(state, clean, `inline, killed at batch ${at}`);
});

test('flow logs in several files: killed part-way, the files read to their end are skipped and the rest read again', async () => {
  const clean = join(dir, 'clean-aws');
  assert.equal(analyze(awsParts, clean).code, 0);
  const expected = (await stored(clean)).breaches;
  assert.ok(expected.size >= 3, `the AWS logs raise breaches (${expected.size})`);
  for (const at of [3, 9 + Math.floor(rng() * 6)]) {
    const state = join(dir, `kill-aws-${at}`);
    untilDone(awsParts, state, [], { EDGE_SENSOR_TEST_KILL_AT_BATCH: String(at) });
    await same(state, clean, `AWS, killed at batch ${at}`);
  }
});

test('one flow-log file killed part-way resumes at its checkpoint: the records before it are read again but not learned twice', async () => {
  const clean = join(dir, 'clean-aws-one');
  assert.equal(analyze([aws], clean).code, 0);
  const state = join(dir, 'kill-aws-one');
  // killed once its second snapshot part-way through the file is written (wherever the writer thread's start-up put it)
  const killed = analyze([aws], state, [], { EDGE_SENSOR_TEST_KILL_AFTER_SNAPSHOT: '2' });
  assert.equal(killed.code, 137);
  const summary = join(dir, 'aws-one-summary.json');
  assert.equal(analyze([aws], state, ['--summary', summary]).code, 0);
  const resumedAt = JSON.parse(readFileSync(summary, 'utf8')).inputs[0].resumed_at;
  assert.ok(resumedAt > 0, `resumed at flow record ${resumedAt}`);
  await same(state, clean, 'one AWS file, resumed part-way');
});

test('a clean stop (SIGINT) in the middle of the learning day keeps the baseline: the same breaches after the restart', async () => {
  const clean = join(dir, 'clean');
  const state = join(dir, 'sigint');
  const batches = batchesOf(statSync(pcap).size);
  const first = analyze([pcap], state, [], { EDGE_SENSOR_TEST_KILL_AT_BATCH: String(Math.floor(batches / 4)), EDGE_SENSOR_TEST_KILL_SIGNAL: 'SIGINT' });
  assert.equal(first.code, 130, `stopped cleanly: ${first.stderr.slice(0, 300)}`);
  assert.match(first.stderr, /run again with the same --state/);
  assert.equal((await stored(state)).breaches.size, 0, 'nothing breached during the learning day');
  assert.equal(analyze([pcap], state).code, 0);
  await same(state, clean, 'stopped at a quarter and restarted');
});

test.run();
