// A core image (sensor/core/core-image.ts) is the core's whole state: a core
// restored from one taken part-way through a capture, fed the rest from the
// checkpoint, writes exactly the flow records the uninterrupted core wrote
// after that point — open flows, the record split across chunks, counters
// and the capture's header included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHUNK_BYTES, ImageMismatchError, type CoreImage } from '../sensor/core/core-image.ts';
import type { RawFlow } from '../sensor/core/flow-record.ts';
import { WasmCore, type CoreOptions } from '../sensor/core/wasm-core.ts';
import { flushCore, perFlow, pumpCapture, type CapturePosition } from '../sensor/pipeline/capture-pump.ts';
import { writeSampleCapture } from '../sensor/sample/sample-capture.ts';
import { openCaptureInput } from '../sensor/sources/capture-input.ts';

const dir = mkdtempSync(join(tmpdir(), 'core-image-'));
const pcap = join(dir, 'sample.pcap');
const gz = join(dir, 'sample.pcap.gz');
writeSampleCapture(pcap, { seed: 'core-image', packets: 20_000 });
writeSampleCapture(gz, { seed: 'core-image', packets: 20_000, gzip: true });
const OPTS: CoreOptions = { chunkBytes: 1 << 16, flowCapacity: 1 << 12 };

const key = (f: RawFlow) => JSON.stringify(f, (_k, v) => (v instanceof Uint8Array ? [...v].join('.') : v));

/** The whole capture in one core; at batch `at` an image and the position are kept, and the records written after it. */
async function uninterrupted(path: string, at: number) {
  const core = new WasmCore(OPTS);
  const all: RawFlow[] = [];
  let image = null as CoreImage | null, pos = null as CapturePosition | null, before = 0, batches = 0;
  const input = await openCaptureInput(path, 'auto', () => {});
  await pumpCapture(core, input, perFlow((f) => all.push(f)), (p) => {
    if (++batches === at) { image = core.image(); pos = p; before = all.length; }
  });
  input.source.close();
  flushCore(core, perFlow((f) => all.push(f)));
  assert.ok(image && pos, `the capture has at least ${at} batches (${batches})`);
  return { image: image!, pos: pos!, after: all.slice(before), counters: core.counters(true), batches };
}

async function resumed(path: string, image: CoreImage, pos: CapturePosition) {
  const core = new WasmCore(OPTS);
  core.restore(image);
  const flows: RawFlow[] = [];
  const input = await openCaptureInput(path, 'auto', () => {});
  await pumpCapture(core, input, perFlow((f) => flows.push(f)), () => {}, pos);
  input.source.close();
  flushCore(core, perFlow((f) => flows.push(f)));
  return { flows, counters: core.counters(true) };
}

test('a core restored mid-capture writes exactly the records the uninterrupted run wrote after that point', async () => {
  const a = await uninterrupted(pcap, 7);
  assert.ok(a.pos.carry > 0 || a.pos.base > 0);
  assert.ok(a.after.length > 100, `records after the image: ${a.after.length}`);
  const b = await resumed(pcap, a.image, a.pos);
  assert.equal(b.flows.length, a.after.length);
  assert.equal(b.flows.map(key), a.after.map(key));
  assert.equal(b.counters, a.counters); // packets, bytes, errors: counted once, not twice
});

test('a gzip capture resumes by inflating up to its checkpoint', async () => {
  const a = await uninterrupted(gz, 5);
  const b = await resumed(gz, a.image, a.pos);
  assert.equal(b.flows.map(key), a.after.map(key));
});

test('an image holds only the chunks in use, and refuses a core laid out otherwise', async () => {
  const a = await uninterrupted(pcap, 3);
  const core = new WasmCore(OPTS);
  assert.ok(a.image.chunks.length < a.image.pages, `${a.image.chunks.length} of ${a.image.pages} chunks`);
  assert.ok(a.image.chunks.every((c) => c.bytes.length === CHUNK_BYTES && c.bytes.some((b) => b !== 0)));
  assert.ok(a.image.globals.length > 50, 'the build exports its mutable globals (asm/tools/export-globals.mjs)');
  const other = new WasmCore({ ...OPTS, flowCapacity: 1 << 13 });
  assert.throws(() => other.restore(a.image), (e: unknown) => e instanceof ImageMismatchError);
  // the same layout but another build: the digest differs
  assert.throws(() => core.restore({ ...a.image, layout: 'x'.repeat(64) }), (e: unknown) => e instanceof ImageMismatchError);
});

test('a capture shorter than its checkpoint is refused, not silently misread', async () => {
  const a = await uninterrupted(pcap, 3);
  const core = new WasmCore(OPTS);
  core.restore(a.image);
  const input = await openCaptureInput(pcap, 'auto', () => {});
  try {
    await pumpCapture(core, input, () => {}, () => {}, { base: 1e12, carry: 0 });
    assert.unreachable('resumed past the end');
  } catch (e) {
    assert.match((e as Error).message, /shorter/);
  } finally {
    input.source.close();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
