// What guards a state directory: one sensor per state (writer-lock.ts) — a
// second sensor on a state another live sensor writes is refused with one
// clear line, a lock left by a sensor that died (kill -9) is taken over, a
// clean run leaves no lock behind — and a state saved with other settings
// (another table size, detection off where it was on), or whose detection
// part is damaged or of another format, is refused with one line, never
// misread and never half restored.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli.ts';
import { writeSynFlood } from './helpers/flood-pcap.ts';
import { LOCK_FILE } from '../sensor/state/writer-lock.ts';
import { openStateDb } from '../sensor/state/state-db.ts';
import { serialize, deserialize } from 'node:v8';

const dir = mkdtempSync(join(tmpdir(), 'state-lock-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const pcap = join(dir, 'tiny.pcap');
writeSynFlood(pcap, 1000);

test('a clean run leaves no lock; a state held by a live sensor is refused; a dead sensor\'s lock is taken over', () => {
  const state = join(dir, 'state');
  const first = cli(['analyze', pcap, '--state', state, '--summary', '/dev/null']);
  assert.is(first.code, 0, first.stderr);
  assert.not.ok(existsSync(join(state, LOCK_FILE)), 'released at the end');

  writeFileSync(join(state, LOCK_FILE), `${process.pid}\n`); // this test process: alive
  const held = cli(['analyze', pcap, '--state', state, '--summary', '/dev/null']);
  assert.is(held.code, 1);
  assert.match(held.stderr, new RegExp(`in use by another sensor \\(pid ${process.pid}\\)`));
  assert.not.match(held.stderr, /\n\s+at /, 'one line, no stack');

  // --fresh-state does not pull a running sensor's state from under it either
  const fresh = cli(['analyze', pcap, '--state', state, '--fresh-state', '--summary', '/dev/null']);
  assert.is(fresh.code, 1);
  assert.match(fresh.stderr, new RegExp(`^edge-sensor analyze: state directory .* is in use by another sensor \\(pid ${process.pid}\\): --fresh-state`));
  assert.ok(existsSync(join(state, 'data.mdb')), 'not moved aside');

  const gone = spawnSync(process.execPath, ['-e', '0']).pid!; // a process that has exited
  writeFileSync(join(state, LOCK_FILE), `${gone}\n`);
  const after = cli(['analyze', pcap, '--state', state, '--summary', '/dev/null']);
  assert.is(after.code, 0, after.stderr);
  assert.not.ok(existsSync(join(state, LOCK_FILE)));
});

test('a state saved with other settings is refused with one line, and left as it was', () => {
  const state = join(dir, 'settings');
  const saved = cli(['analyze', pcap, '--state', state, '--breaches', '/dev/null', '--summary', '/dev/null']);
  assert.is(saved.code, 0, saved.stderr);
  const budget = cli(['analyze', pcap, '--state', state, '--breaches', '/dev/null', '--memory', '128', '--summary', '/dev/null']);
  assert.is(budget.code, 1);
  // one line as the CLI prints a state's condition, not a crash report with a stack
  assert.equal(budget.stderr.trim().split('\n').length, 1, budget.stderr);
  assert.match(budget.stderr, /^edge-sensor analyze: the state in .* was saved by another build of the sensor or with other settings .*--fresh-state/);
  const noDetection = cli(['analyze', pcap, '--state', state, '--summary', '/dev/null']);
  assert.is(noDetection.code, 1);
  assert.match(noDetection.stderr, /^edge-sensor analyze: the state in .* was saved with detection on: run with --breaches/);
  assert.not.ok(existsSync(join(state, LOCK_FILE)), 'the refused runs released the lock');
  // the state is intact: the saving options still carry on from it
  const again = cli(['analyze', pcap, '--state', state, '--breaches', '/dev/null', '--summary', '/dev/null']);
  assert.is(again.code, 0, again.stderr);
});

/** Rewrite the snapshot record's detection state with what `change` makes of it (the record's other parts as they were). */
async function rewriteDetectionState(state: string, change: (bytes: Uint8Array) => Uint8Array): Promise<void> {
  const db = openStateDb(state);
  try {
    const rec = db.snapshot.get('current') as { detection: { state: Uint8Array } };
    rec.detection.state = change(rec.detection.state);
    await db.write('test: damaging the snapshot', () => { db.snapshot.putSync('current', rec); });
  } finally { await db.close(); }
}

test('a damaged detection state, or one of another format, is refused with one line (detection in its thread and inline), and left as it was', async () => {
  for (const mode of [[], ['--inline-detection']]) {
    const state = join(dir, `damaged${mode.length}`);
    const saved = cli(['analyze', pcap, '--state', state, '--breaches', '/dev/null', '--summary', '/dev/null', ...mode]);
    assert.is(saved.code, 0, saved.stderr);
    let good: Uint8Array | null = null;
    // bytes that are no serialized value at all
    await rewriteDetectionState(state, (b) => { good = b; return new Uint8Array([1, 2, 3, 4, 5]); });
    const garbage = cli(['analyze', pcap, '--state', state, '--breaches', '/dev/null', '--summary', '/dev/null', ...mode]);
    assert.is(garbage.code, 1, garbage.stderr);
    assert.equal(garbage.stderr.trim().split('\n').length, 1, garbage.stderr);
    assert.match(garbage.stderr, /^edge-sensor analyze: the state in .* cannot be restored \(the saved detection state cannot be read: .*\): start over with --fresh-state/);
    // a well-formed value of another format (an older version's: no format number)
    await rewriteDetectionState(state, () => {
      const v = deserialize(good!) as { version?: number };
      delete v.version;
      return new Uint8Array(serialize(v));
    });
    const older = cli(['analyze', pcap, '--state', state, '--breaches', '/dev/null', '--summary', '/dev/null', ...mode]);
    assert.is(older.code, 1, older.stderr);
    assert.match(older.stderr, /cannot be restored \(detector: saved by a version that keeps its state as format 0, this one reads format 1\)/);
    // one model's windows damaged after others loaded fine: refused, not half applied
    await rewriteDetectionState(state, () => {
      const v = deserialize(good!) as { engine: { models: { windows: unknown }[] } };
      const last = v.engine.models[v.engine.models.length - 1]!;
      last.windows = { maxCap: (last.windows as { maxCap: number }).maxCap };
      return new Uint8Array(serialize(v));
    });
    const partial = cli(['analyze', pcap, '--state', state, '--breaches', '/dev/null', '--summary', '/dev/null', ...mode]);
    assert.is(partial.code, 1, partial.stderr);
    assert.match(partial.stderr, /cannot be restored \(model windows: saved state lacks \w+\)/);
    assert.not.ok(existsSync(join(state, LOCK_FILE)), 'the refused runs released the lock');
    // put back, the state carries on
    await rewriteDetectionState(state, () => good!);
    const again = cli(['analyze', pcap, '--state', state, '--breaches', '/dev/null', '--summary', '/dev/null', ...mode]);
    assert.is(again.code, 0, again.stderr);
  }
});

test.run();
