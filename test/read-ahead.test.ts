// Large regular files are read by a second thread into slots of the core's
// shared input region (sensor/sources/read-ahead.ts). The result must not
// depend on it: same flows, same counters, same error offsets as reading on
// the decoding thread — over clean captures, pcapng, and captures damaged in
// the middle, with slots small enough that records straddle many of them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../sensor/pipeline/analyze.ts';
import { flowRecordJson, type FlowRecord } from '../sensor/flows/zeek-record.ts';
import { writeSampleCapture } from '../sensor/sample/sample-capture.ts';
import { Rng } from '../sensor/sample/rng.ts';
import pino from 'pino';

const quiet = pino({ level: 'silent' });

async function run(path: string, readAhead: boolean) {
  const flows: string[] = [];
  const summary = await analyze({
    inputs: [path], progress: false, log: quiet,
    core: { chunkBytes: 64 << 10, readAheadSlots: readAhead ? 3 : 0 },
    readAheadMinBytes: 0,
    onRecord: (r: FlowRecord) => flows.push(flowRecordJson(r)),
  });
  return { flows, counters: summary.counters, errors: summary.errors, ok: summary.inputs[0]!.ok, bytes: summary.inputs[0]!.bytes };
}

const dir = mkdtempSync(join(tmpdir(), 'read-ahead-'));

test('same flows and counters with and without read-ahead (pcap and pcapng)', async () => {
  for (const format of ['pcap', 'pcapng'] as const) {
    const path = join(dir, `s.${format}`);
    writeSampleCapture(path, { packets: 8000, seed: `read-ahead-${format}`, format });
    const a = await run(path, false);
    const b = await run(path, true);
    assert.ok(a.flows.length > 100, `${a.flows.length} flows`);
    assert.equal(b.counters, a.counters, format);
    assert.equal(b.flows, a.flows, format);
    assert.is(b.bytes, a.bytes);
  }
});

test('damaged captures: same errors, offsets and recovered flows either way', async () => {
  const clean = join(dir, 'clean.pcap');
  writeSampleCapture(clean, { packets: 6000, seed: 'read-ahead-damage' });
  const bytes = readFileSync(clean);
  const rng = new Rng('read-ahead-damage');
  for (let k = 0; k < 6; k++) {
    const b = Buffer.from(bytes);
    // garbage runs inside, sometimes across a 64 KiB slot boundary, and a truncated end
    for (let j = 0; j < 3; j++) {
      const at = rng.int(24, b.length - 5000);
      for (let i = 0; i < rng.int(1, 3000); i++) b[at + i] = rng.int(0, 255);
    }
    const path = join(dir, `damaged-${k}.pcap`);
    writeFileSync(path, b.subarray(0, b.length - rng.int(0, 700)));
    const x = await run(path, false);
    const y = await run(path, true);
    assert.equal(y.errors, x.errors, `case ${k}`);
    assert.equal(y.counters, x.counters, `case ${k}`);
    assert.equal(y.flows, x.flows, `case ${k}`);
  }
});

test('a file that is not a capture fails the same way', async () => {
  const path = join(dir, 'junk.pcap');
  writeFileSync(path, Buffer.concat([Buffer.from([0xd4, 0xc3, 0xb2, 0xa1]), Buffer.alloc(200_000, 7)]));
  const x = await run(path, false);
  const y = await run(path, true);
  assert.is(y.ok, x.ok);
  assert.equal(y.errors, x.errors);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
