// A detector carried on from a snapshot (the core's image, which holds the
// learning tables, and Detector.saveState(): windows, throttles, tails, the
// meta models' memory, peer groups) raises exactly the breaches the
// uninterrupted detector raised after that point — on a two-day generated
// network with attacks, with the snapshot taken part-way through the
// learning day and again on the test day.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { WasmCore, type CoreOptions } from '../sensor/core/wasm-core.ts';
import type { CoreImage } from '../sensor/core/core-image.ts';
import type { Breach } from '../sensor/models/breach.ts';
import { Detector } from '../sensor/models/detector.ts';
import { SavedStateError, loadFields } from '../sensor/models/saved-fields.ts';
import { flushCore, pumpCapture, type CapturePosition, type Drain } from '../sensor/pipeline/capture-pump.ts';
import { openCaptureInput } from '../sensor/sources/capture-input.ts';
import { buildScenario } from './scenario/generate.ts';
import { renderPcap } from './scenario/render-pcap.ts';

const dir = mkdtempSync(join(tmpdir(), 'detection-resume-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const pcap = join(dir, 'scenario.pcap');
const scn = buildScenario({ seed: 11, days: 2, workstations: 8, attacks: ['scan-network', 'brute-force', 'beacon', 'lateral', 'dns-tunnel', 'exfil'] });
renderPcap(pcap, scn.conns());

const CORE: CoreOptions = { chunkBytes: 1 << 20 };
const DETECT = { learningS: 86400 };

function detector(core: WasmCore, out: Breach[]): Detector {
  return new Detector(core, { ...DETECT, onBreach: (b) => out.push(b) });
}

const drainWith = (d: Detector): Drain => (c) => { d.pull(c); c.drainRaw(() => {}); };

interface Saved { image: CoreImage; detection: Buffer; pos: CapturePosition; before: number }

/** The whole capture; at each batch in `at`, what a snapshot would store (serialized, as it would be written). */
async function uninterrupted(at: number[]) {
  const core = new WasmCore(CORE);
  const breaches: Breach[] = [];
  const d = detector(core, breaches);
  const saved: Saved[] = [];
  let batches = 0;
  const breachBatch: number[] = [];
  const input = await openCaptureInput(pcap, 'auto', () => {});
  await pumpCapture(core, input, drainWith(d), (pos) => {
    while (breachBatch.length < breaches.length) breachBatch.push(batches);
    if (at.includes(++batches)) saved.push({ image: core.image(), detection: serialize(d.saveState()), pos, before: breaches.length });
  });
  input.source.close();
  flushCore(core, drainWith(d));
  return { breaches, saved, batches, breachBatch, summary: d.summary(core.lastTs()) };
}

async function resumed(s: Saved) {
  const core = new WasmCore(CORE);
  const breaches: Breach[] = [];
  const d = detector(core, breaches);
  core.restore(s.image);
  d.loadState(deserialize(s.detection));
  const input = await openCaptureInput(pcap, 'auto', () => {});
  await pumpCapture(core, input, drainWith(d), () => {}, s.pos);
  input.source.close();
  flushCore(core, drainWith(d));
  return { breaches, summary: d.summary(core.lastTs()) };
}

test('a detector resumed from a snapshot raises exactly the breaches of the uninterrupted run after it', async () => {
  const probe = await uninterrupted([]);
  assert.ok(probe.batches >= 8, `batches: ${probe.batches}`);
  assert.ok(probe.breaches.length >= 5, `the scenario raises breaches (${probe.breaches.length})`);
  // one snapshot during the learning day, one on the test day between its breaches
  const first = probe.breachBatch[0]!, last = probe.breachBatch[probe.breachBatch.length - 1]!;
  const points = [Math.floor(probe.batches * 0.3), Math.floor((first + last) / 2)];
  assert.ok(points[1]! > points[0]!, `breaches from batch ${first} to ${last} of ${probe.batches}`);
  const a = await uninterrupted(points);
  assert.equal(a.breaches.map((b) => b.id), probe.breaches.map((b) => b.id), 'taking snapshots changes nothing');
  for (const s of a.saved) {
    const b = await resumed(s);
    const expected = a.breaches.slice(s.before);
    assert.ok(expected.length > 0, 'breaches after the snapshot');
    assert.equal(b.breaches, expected, `resumed at batch with ${s.before} breaches before`);
    // what the summary reports of the run's whole: counters, risk, tables
    assert.equal(b.summary.observations, a.summary.observations);
    assert.equal(b.summary.top_devices, a.summary.top_devices);
    assert.equal(b.summary.tables, a.summary.tables);
  }
  // the same saved bytes restored again after a detector restored from them has run on:
  // v8.deserialize may give typed arrays over those very bytes, which must not be shared
  const again = await resumed(a.saved[1]!);
  assert.equal(again.breaches, a.breaches.slice(a.saved[1]!.before), 'restored twice from one buffer');
});

test('saved detection state of another shape is refused, not half-applied', () => {
  const core = new WasmCore(CORE);
  const d = detector(core, []);
  assert.throws(() => d.loadState({}), (e: unknown) => e instanceof SavedStateError);
  const s = d.saveState() as { engine: { models: { windows: { nums: unknown } }[] } };
  s.engine.models[0]!.windows.nums = new Uint32Array(4);
  assert.throws(() => d.loadState(s), (e: unknown) => e instanceof SavedStateError);
});

test('restored typed arrays belong to the restored object, never views of the saved bytes (v8.deserialize may hand back such views)', () => {
  const saved = new Float64Array([1, 2, 3, 4]);
  const target = { nums: new Float64Array(4), used: 0 };
  loadFields(target, { nums: saved, used: 4 }, ['nums', 'used'], 'test');
  target.nums[0] = 99;
  assert.is(saved[0], 1, 'the saved bytes are untouched by the restored object');
  assert.is(target.used, 4);
});

test.run();
