// Input errors are counted by kind and reported rate-limited: the first of a
// kind at once (with its byte offset), then at most one line per kind per
// interval, whatever the flood.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import pino from 'pino';
import { Writable } from 'node:stream';
import { InputErrorReporter } from '../sensor/log/input-errors.ts';
import { runCoreBytes } from './helpers/core-run.ts';
import { REPO_ROOT } from './helpers/shared-data.ts';

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb(); } });
  return { log: pino({ level: 'info' }, stream), lines };
}

test('edge errors: first reported at once, repeats rate-limited per kind', () => {
  const { log, lines } = capturingLogger();
  let now = 0;
  const r = new InputErrorReporter(log, 10_000, () => now);
  for (let i = 0; i < 1000; i++) { r.edgeError('corrupt_gzip', 'a.pcap.gz'); now += 1; }
  assert.is(lines.length, 1);
  now += 10_000;
  r.edgeError('corrupt_gzip', 'a.pcap.gz');
  assert.is(lines.length, 2);
  assert.is(lines[1]!.count, 1001);
  r.edgeError('unknown_format', 'b.txt');
  assert.is(lines.length, 3);
  assert.equal(r.totals(), { corrupt_gzip: 1001, unknown_format: 1 });
});

test('core errors are reported with their byte offsets', () => {
  // A valid pcap header followed by a record whose length is absurd.
  const b = new Uint8Array(24 + 16 + 64);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true); dv.setUint16(4, 2, true); dv.setUint16(6, 4, true);
  dv.setUint32(16, 65535, true); dv.setUint32(20, 1, true);
  dv.setUint32(24, 1700000000, true); dv.setUint32(32, 0x7fffffff, true); dv.setUint32(36, 0x7fffffff, true);
  const run = runCoreBytes(b, 'pcap');
  const { log, lines } = capturingLogger();
  const r = new InputErrorReporter(log);
  r.checkCore(run.core, 'bad.pcap');
  assert.ok(lines.length >= 1, 'an error was logged');
  const first = lines[0]!;
  assert.is(first.input, 'bad.pcap');
  assert.is(first.first_offset, 24, 'offset of the bad record');
  assert.ok(typeof first.description === 'string' && (first.description as string).length > 5);
  const before = lines.length;
  r.checkCore(run.core, 'bad.pcap');
  assert.is(lines.length, before, 'unchanged counters are not logged again');
});

test('writeFully waits out EAGAIN on a non-blocking pipe and delivers every byte', () => {
  // A slow reader behind a non-blocking stdout pipe: writeSync throws EAGAIN
  // whenever the pipe buffer is full; nothing may be lost or reordered.
  const script = `
    import { writeFully } from './sensor/sinks/fd-write.ts';
    process.stdout; // Node makes a stdout pipe non-blocking once the stream exists: without this no EAGAIN ever happens
    const line = Buffer.from('x'.repeat(1023) + '\\n');
    for (let i = 0; i < 4096; i++) writeFully(1, line);
  `;
  const r = spawnSync('bash', ['-c', `node --import tsx --input-type=module -e "${script.replace(/"/g, '\\"')}" | (sleep 0.3; wc -c)`], { cwd: REPO_ROOT });
  assert.is(r.stdout.toString().trim(), String(4096 * 1024), r.stderr.toString());
});

test.run();
