// pcap-parser (the design card's reader) as an independent oracle: on every
// classic microsecond capture that tshark reads cleanly, it and our Wasm
// walker must see the same packets — count, captured bytes, wire bytes,
// snap-truncated packets and the latest timestamp. (pcap-parser cannot read
// nanosecond pcap or pcapng, so those are out of its reach; tshark covers them.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { manifest, needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';
import { runCore } from './helpers/core-run.ts';

const require = createRequire(import.meta.url);
const pcapParser = require('pcap-parser') as { parse(path: string): NodeJS.EventEmitter };

interface Totals { packets: number; captured: number; wire: number; truncated: number; lastTs: number }

function parseWithPcapParser(path: string): Promise<Totals> {
  return new Promise((resolve, reject) => {
    const t: Totals = { packets: 0, captured: 0, wire: 0, truncated: 0, lastTs: -Infinity };
    const p = pcapParser.parse(path);
    p.on('packetHeader', (h: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number }) => {
      t.packets++;
      t.captured += h.capturedLength;
      t.wire += h.originalLength;
      if (h.capturedLength < h.originalLength) t.truncated++;
      t.lastTs = Math.max(t.lastTs, h.timestampSeconds + h.timestampMicroseconds / 1e6);
    });
    p.on('error', reject);
    p.on('end', () => resolve(t));
  });
}

function isClassicMicro(path: string): boolean {
  const b = readFileSync(path).subarray(0, 4);
  const m = b.toString('hex');
  return m === 'd4c3b2a1' || m === 'a1b2c3d4';
}

test('pcap-parser and the Wasm walker agree on every clean classic µs capture', async () => {
  if (!needSharedData('pcap-parser differential')) return;
  const rows = manifest();
  const files = sharedFiles('pcap', (p) => /\.(pcap|cap)$/.test(p)).filter((f) => rows.get(f)?.tsharkOk && isClassicMicro(sharedPath(f)));
  assert.ok(files.length >= 60, `expected many classic captures, found ${files.length}`);
  for (const f of files) {
    const theirs = await parseWithPcapParser(sharedPath(f));
    const ours = await runCore(sharedPath(f));
    const c = ours.counters;
    assert.is(c.records, theirs.packets, `${f}: packets`);
    assert.is(c.records, rows.get(f)!.packets, `${f}: packets vs tshark manifest`);
    assert.is(c.captured_bytes, theirs.captured, `${f}: captured bytes`);
    assert.is(c.wire_bytes, theirs.wire, `${f}: wire bytes`);
    assert.is(c.snap_truncated, theirs.truncated, `${f}: snap-truncated packets`);
    if (theirs.packets > 0) assert.ok(Math.abs(ours.core.lastTs() - theirs.lastTs) < 1e-5, `${f}: last ts ${ours.core.lastTs()} vs ${theirs.lastTs}`);
  }
});

test.run();
