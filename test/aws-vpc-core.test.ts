// The core's AWS VPC line parser (asm/awsvpc.ts, driven by
// sensor/pipeline/aws-core-lines.ts) must change nothing but speed: every
// input is read twice, once with it and once through the JavaScript parser
// alone, and the two runs must give byte-identical flow records out of the
// core, the same reader summary, the same rejections (kind, line, offset,
// message) and the same event count. Inputs: the shared AWS samples, and
// seeded files built to hit every way a line can leave the fast path —
// mutated fields, "-" values, tabs, CRLF, a byte order mark, headers that
// switch the format mid-file, NODATA/SKIPDATA, over-long lines, lines split
// across read chunks, and more interfaces than the core's reporter table
// holds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WasmCore } from '../sensor/core/wasm-core.ts';
import type { FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { EventPump } from '../sensor/pipeline/event-pump.ts';
import { readFlowInput } from '../sensor/pipeline/flow-inputs.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';

interface Run { records: Buffer; events: number; rejections: FlowRejection[]; counters: Record<string, number>; inCore: number }

async function readBoth(path: string, awsFormat?: string): Promise<[Run, Run]> {
  const once = async (awsInCore: boolean): Promise<Run> => {
    const core = new WasmCore({});
    core.enableEvents();
    const parts: Buffer[] = [];
    const drain = (c: WasmCore) => { c.drainRaw((b) => { parts.push(Buffer.from(b)); }); };
    const rejections: FlowRejection[] = [];
    const pump = new EventPump(core, drain, (r) => rejections.push({ ...r }));
    const res = await readFlowInput(path, 'aws-vpc', pump, core, drain, { awsInCore, awsFormat });
    pump.finish();
    return { records: Buffer.concat(parts), events: pump.counters.events, rejections, counters: { ...pump.counters.rejected }, inCore: res.awsLinesInCore ?? 0 };
  };
  return [await once(false), await once(true)];
}

/** The comparison means something only if the core took lines: at least `share` of the events (and JS alone none). */
function tookLines(js: Run, wasm: Run, share: number, what: string): void {
  assert.is(js.inCore, 0, `${what}: the JavaScript run used the core parser`);
  assert.ok(wasm.inCore >= share * wasm.events, `${what}: the core took ${wasm.inCore} of ${wasm.events} lines`);
}

function same(js: Run, wasm: Run, what: string): void {
  assert.is(wasm.events, js.events, `${what}: events`);
  assert.equal(wasm.counters, js.counters, `${what}: rejections by kind`);
  assert.is(wasm.rejections.length, js.rejections.length, `${what}: rejections`);
  for (let i = 0; i < js.rejections.length; i++) assert.equal(wasm.rejections[i], js.rejections[i], `${what}: rejection ${i}`);
  assert.is(wasm.records.length, js.records.length, `${what}: flow record bytes`);
  assert.ok(wasm.records.equals(js.records), `${what}: flow records differ`);
}

function withFile(text: string | Buffer, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'aws-core-'));
  const p = join(dir, 'flows.log');
  writeFileSync(p, text);
  return fn(p).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('shared samples: identical with and without the core parser', async () => {
  if (!needSharedData('AWS samples through the core parser')) return;
  const files = sharedFiles('flows/aws_vpc', (p) => !p.includes('/otel/'));
  assert.ok(files.length >= 6, `${files.length} samples`);
  let events = 0, inCore = 0;
  for (const f of files) {
    const [js, wasm] = await readBoth(sharedPath(f));
    same(js, wasm, f);
    assert.ok(js.events > 0, `${f}: no events`);
    assert.is(js.inCore, 0);
    events += wasm.events; inCore += wasm.inCore;
  }
  // the docs' samples are short, with "-" values and a new interface every few lines: many go to JS
  assert.ok(inCore > 0.2 * events, `the core took ${inCore} of ${events} lines`);
});

// ---- seeded inputs ----

const v4 = (rng: Rng) => `${rng.int(1, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(0, 255)}`;
function v6(rng: Rng): string {
  const w = Array.from({ length: 8 }, () => rng.int(0, 0xffff).toString(16));
  if (rng.chance(0.5)) { const z = rng.int(1, 6); w.splice(z, 2, '', ''); return w.join(':').replace(/:{3,}/, '::'); }
  return w.join(':');
}

const DEFAULT = ['version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log-status'];
const FORMATS = [
  DEFAULT,
  [...DEFAULT, 'vpc-id', 'subnet-id', 'instance-id', 'tcp-flags', 'type', 'pkt-srcaddr', 'pkt-dstaddr'],
  ['instance-id', 'interface-id', 'srcaddr', 'dstaddr', 'pkt-srcaddr', 'pkt-dstaddr', 'tcp-flags', 'flow-direction', 'traffic-path', 'start', 'end', 'bytes', 'packets', 'protocol', 'srcport', 'dstport', 'action', 'log-status'],
  ['pkt-srcaddr', 'pkt-dstaddr', 'protocol', 'bytes', 'end', 'start', 'subnet-id', 'vpc-id'],
];

function line(rng: Rng, fields: string[], enis: string[]): string {
  const six = rng.chance(0.15);
  const a = () => (six ? v6(rng) : v4(rng));
  const start = rng.int(1.6e9, 1.6e9 + 3600);
  const v: Record<string, string | number> = {
    'version': 5, 'account-id': '123456789012', 'interface-id': rng.pick(enis), 'srcaddr': a(), 'dstaddr': a(),
    'srcport': rng.int(0, 65535), 'dstport': rng.pick([443, 80, 53, 22, rng.int(0, 65535)]), 'protocol': rng.pick([6, 17, 1, 58]),
    'packets': rng.int(1, 1e6), 'bytes': rng.int(40, 2 ** 40), 'start': start, 'end': start + rng.int(0, 60),
    'action': rng.pick(['ACCEPT', 'REJECT']), 'log-status': 'OK', 'vpc-id': 'vpc-0abc', 'subnet-id': 'subnet-0def', 'instance-id': rng.chance(0.3) ? '-' : 'i-0123',
    'tcp-flags': rng.pick([0, 2, 3, 18, 19]), 'type': six ? 'IPv6' : 'IPv4', 'pkt-srcaddr': a(), 'pkt-dstaddr': a(),
    'flow-direction': rng.pick(['ingress', 'egress']), 'traffic-path': '-',
  };
  return fields.map((f) => v[f] ?? '-').join(' ');
}

const TOKENS = ['-', '0', '65536', '256', '9999999999999999', '1.2.3.4', '1.2.3', '::', '::1', 'fe80::1', 'ACCEPT', 'REJECT', 'NODATA',
  'SKIPDATA', 'OK', 'ingress', 'egress', 'x', '', '\t', '  ', '{', 'version', '4294967296', '-1', '0x10', '1.2.3.4.5', '01.02.03.004'];

function mutate(rng: Rng, s: string): string {
  const f = s.split(' ');
  switch (rng.int(0, 7)) {
    case 0: { const p = rng.int(0, Math.max(0, s.length - 1)); return s.slice(0, p) + String.fromCharCode(rng.int(0, 255)) + s.slice(p + 1); }
    case 1: return s.slice(0, rng.int(0, s.length));
    case 2: f.splice(rng.int(0, f.length - 1), 1); return f.join(' ');
    case 3: f.splice(rng.int(0, f.length), 0, rng.pick(TOKENS)); return f.join(' ');
    case 4: f[rng.int(0, f.length - 1)] = rng.pick(TOKENS); return f.join(' ');
    case 5: return s + rng.pick([' ', '\r', '\t', ' x']);
    case 6: return s.replace(/ /, rng.pick(['  ', '\t']));
    default: return `${s.slice(0, 20)}\r${s.slice(20)}`;
  }
}

test('seeded: mutated lines, headers switching formats, CRLF, BOM, NODATA, over-long and chunk-split lines', async () => {
  const rng = new Rng('aws-core-lines');
  const enis = Array.from({ length: 40 }, (_, i) => `eni-${(0x1000 + i).toString(16)}abcdef0123`);
  const out: string[] = [];
  let fields = DEFAULT;
  for (let i = 0; i < 40_000; i++) {
    const k = rng.float();
    if (k < 0.002) { fields = rng.pick(FORMATS); out.push(fields.join(' ')); continue; } // a header mid-file
    if (k < 0.006) { out.push('2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA'); continue; }
    if (k < 0.007) { out.push('2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - SKIPDATA'); continue; }
    if (k < 0.008) { out.push(rng.chance(0.05) ? line(rng, fields, enis).replace(' ', ` ${'x'.repeat(70_000)} `) : 'x'.repeat(rng.int(300, 5000))); continue; } // junk; sometimes past the 64 KiB line limit
    if (k < 0.009) { out.push(''); continue; }
    const l = line(rng, fields, enis);
    out.push(k < 0.15 ? mutate(rng, l) : l);
  }
  // CRLF on a third of the lines, a BOM first: ~4 MB, so lines straddle the reader's 1 MiB chunks
  const text = '\ufeff' + out.map((l, i) => (i % 3 === 0 ? `${l}\r` : l)).join('\n') + '\n';
  await withFile(Buffer.from(text, 'utf8'), async (p) => {
    const [js, wasm] = await readBoth(p);
    same(js, wasm, 'seeded');
    tookLines(js, wasm, 0.7, 'seeded');
    assert.ok(js.events > 30_000, `${js.events} events`);
    assert.ok(Object.keys(js.counters).length >= 3 && (js.counters.line_too_long ?? 0) > 0, `rejection kinds ${JSON.stringify(js.counters)}`);
  });
});

test('seeded: more interfaces than the core keeps, a format option, no trailing newline', async () => {
  const rng = new Rng('aws-core-reporters');
  const enis = Array.from({ length: 17_000 }, (_, i) => `eni-${i.toString(16).padStart(17, '0')}`);
  const out: string[] = [];
  for (const eni of enis) for (let r = 0; r < 2; r++) out.push(line(rng, DEFAULT, [eni]));
  await withFile(out.join('\n'), async (p) => {
    const [js, wasm] = await readBoth(p);
    same(js, wasm, 'many reporters');
    // each interface's first line goes through JS (which tells the core its id); the core keeps 16,384 of them
    tookLines(js, wasm, 0.4, 'many reporters');
    assert.ok(wasm.inCore < 0.5 * wasm.events, `the core kept more interfaces than its table holds (${wasm.inCore})`);
    assert.is(js.events, out.length);
  });
  const custom = FORMATS[2]!;
  const lines = Array.from({ length: 3000 }, () => line(rng, custom, enis.slice(0, 5)));
  await withFile(lines.join('\n') + '\n', async (p) => {
    const [js, wasm] = await readBoth(p, custom.map((f) => `\${${f}}`).join(' '));
    same(js, wasm, 'format option');
    tookLines(js, wasm, 0.95, 'format option');
    assert.is(js.events, lines.length);
  });
});

test.run();
