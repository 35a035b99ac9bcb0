// One sensor per state directory (sensor/state/writer-lock.ts): a second
// sensor on a state another live sensor writes is refused with one clear
// line; a lock left by a sensor that died (kill -9) is taken over; a clean
// run leaves no lock behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers/cli.ts';
import { writeSynFlood } from './helpers/flood-pcap.ts';
import { LOCK_FILE } from '../sensor/state/writer-lock.ts';

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

  const gone = spawnSync(process.execPath, ['-e', '0']).pid!; // a process that has exited
  writeFileSync(join(state, LOCK_FILE), `${gone}\n`);
  const after = cli(['analyze', pcap, '--state', state, '--summary', '/dev/null']);
  assert.is(after.code, 0, after.stderr);
  assert.not.ok(existsSync(join(state, LOCK_FILE)));
});

test.run();
