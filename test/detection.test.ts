// Pattern of life and model breaches (issue 4, first part): the core's
// learner and gate, the model catalogue's validation, the engine's windows,
// learning period and throttle, end to end through `analyze` on small
// captures and flow logs with an attack injected — and silence on benign
// traffic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../sensor/pipeline/analyze.ts';
import type { Breach } from '../sensor/models/breach.ts';
import { BUILTIN_MODELS } from '../sensor/models/catalogue.ts';
import { compileModels } from '../sensor/models/compile.ts';
import { parseModels, ModelError } from '../sensor/models/model.ts';
import { loadModels } from '../sensor/models/detector.ts';
import { FEATURES, OBS_SIZE } from '../sensor/learn/observation.ts';
import { WasmCore } from '../sensor/core/wasm-core.ts';
import { writeSampleCapture } from '../sensor/sample/sample-capture.ts';
import { pcapFile, type PcapRecord } from './helpers/capture-bytes.ts';
import { MAC_A, MAC_B, eth, ipv4, tcp } from './helpers/packet-bytes.ts';

const dir = mkdtempSync(join(tmpdir(), 'edge-detect-'));
const T0 = 1_700_000_000;
const SYN = 0x02, ACK = 0x10, RST = 0x04, SYNACK = 0x12, FINACK = 0x11, PSHACK = 0x18;

function frame(src: string, dst: string, sport: number, dport: number, flags: number, payload = 0): number[] {
  return eth(MAC_B, MAC_A, 0x0800, ipv4({ src, dst, proto: 6, payload: tcp({ sport, dport, flags, payload: new Array(payload).fill(0x41) }) }));
}

/** Records at time t (seconds, fractional) in order. */
class Trace {
  readonly records: PcapRecord[] = [];
  add(t: number, data: number[]): void {
    const sec = Math.floor(t);
    this.records.push({ sec, frac: Math.round((t - sec) * 1e6), data });
  }
  /** A complete, successful TCP session (handshake, one request and answer, FIN both ways). */
  session(t: number, c: string, s: string, cport: number, sport: number, bytes = 200): void {
    this.add(t, frame(c, s, cport, sport, SYN));
    this.add(t + 0.001, frame(s, c, sport, cport, SYNACK));
    this.add(t + 0.002, frame(c, s, cport, sport, ACK));
    this.add(t + 0.003, frame(c, s, cport, sport, PSHACK, bytes));
    this.add(t + 0.004, frame(s, c, sport, cport, PSHACK, bytes * 4));
    this.add(t + 0.005, frame(c, s, cport, sport, FINACK));
    this.add(t + 0.006, frame(s, c, sport, cport, FINACK));
    this.add(t + 0.007, frame(c, s, cport, sport, ACK));
  }
  write(name: string): string {
    const path = join(dir, name);
    this.records.sort((a, b) => a.sec - b.sec || a.frac - b.frac);
    writeFileSync(path, pcapFile(this.records));
    return path;
  }
}

async function breachesOf(path: string, opts: { learningS?: number; format?: 'aws-vpc' } = {}): Promise<{ breaches: Breach[]; detection: NonNullable<Awaited<ReturnType<typeof analyze>>['detection']> }> {
  const breaches: Breach[] = [];
  const s = await analyze({ inputs: [path], format: opts.format, onBreach: (b) => breaches.push(b), learningS: opts.learningS ?? 0, progress: false });
  return { breaches, detection: s.detection! };
}

/** Some ordinary background: a few hosts using a web server and DNS-like services. */
function background(tr: Trace, from: number, to: number): void {
  let port = 40000;
  for (let t = from; t < to; t += 7) {
    tr.session(t, '10.0.0.21', '10.0.0.80', port++, 443);
    tr.session(t + 3, '10.0.0.22', '198.51.100.7', port++, 443, 500);
  }
}

test('a port scan (SYN → RST on 60 ports of one host) is one Device / Suspicious Port Scan breach, explained', async () => {
  const tr = new Trace();
  background(tr, T0, T0 + 300);
  for (let p = 1; p <= 60; p++) {
    const t = T0 + 100 + p * 0.5;
    tr.add(t, frame('10.0.0.5', '10.0.0.9', 50000 + p, p, SYN));
    tr.add(t + 0.0005, frame('10.0.0.9', '10.0.0.5', p, 50000 + p, RST | ACK));
  }
  const { breaches } = await breachesOf(tr.write('port-scan.pcap'));
  assert.equal(breaches.map((b) => b.model), ['device-port-scan']);
  const b = breaches[0]!;
  assert.is(b.title, 'Device / Suspicious Port Scan');
  assert.equal(b.mitre, ['T1046']);
  assert.equal(b.device, { ip: '10.0.0.5' });
  assert.is(b.peer?.ip, '10.0.0.9');
  assert.ok(b.score >= 55 && b.score <= 100, `score ${b.score}`);
  assert.is(b.category, 'suspicious');
  // raised when the 20th fresh port was tried: at t0 + 100 + 20 × 0.5 s
  assert.is(b.time, new Date((T0 + 110) * 1000).toISOString());
  assert.match(b.summary, /^10\.0\.0\.5 tried 20 different ports on 10\.0\.0\.9 within 60 s/);
  const count = b.metrics.find((m) => m.name === 'count')!;
  assert.is(count.value, 20);
  assert.is(count.window_s, 60);
  assert.ok(b.evidence.length > 0 && b.evidence.every((e) => /^C[0-9A-Za-z]{17}$/.test(e.uid) && e.community_id.startsWith('1:')), JSON.stringify(b.evidence));
});

test('a network sweep of unanswered SYNs is detected while it runs, long before the flows time out', async () => {
  const tr = new Trace();
  background(tr, T0, T0 + 200);
  for (let h = 1; h <= 40; h++) tr.add(T0 + 50 + h, frame('10.0.0.5', `10.0.1.${h}`, 51000 + h, 445, SYN));
  const { breaches } = await breachesOf(tr.write('sweep.pcap'));
  assert.equal(breaches.map((b) => b.model), ['device-network-scan']);
  const b = breaches[0]!;
  // 25 hosts within the minute: at t0 + 75, while every probe is still open (S0 ends after 300 s)
  assert.is(b.time, new Date((T0 + 75) * 1000).toISOString());
  assert.is(b.peer?.port, 445);
  assert.match(b.summary, /contacted 25 internal hosts on port 445 within 60 s/);
});

test('the learning period holds breaches back (counted), and --learning 0 lets them through', async () => {
  const tr = new Trace();
  for (let p = 1; p <= 30; p++) tr.add(T0 + p, frame('10.0.0.5', '10.0.0.9', 50000 + p, p, SYN));
  const path = tr.write('scan-learning.pcap');
  const held = await breachesOf(path, { learningS: 86400 });
  assert.is(held.breaches.length, 0);
  assert.ok(held.detection.suppressed_learning > 0);
  const open = await breachesOf(path, { learningS: 0 });
  assert.is(open.breaches.length, 1);
  // the throttle: the scan goes on past the threshold, one breach per hour
  assert.ok(open.detection.suppressed_throttle > 0);
});

test('brute force from flow logs: 30 short SSH connections to one server in two minutes', async () => {
  const lines = ['version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status'];
  for (let i = 0; i < 30; i++) {
    const t = T0 + i * 4;
    lines.push(`2 123456789012 eni-0a 10.0.0.7 10.0.0.20 ${41000 + i} 22 6 12 2100 ${t} ${t + 2} ACCEPT OK`);
    lines.push(`2 123456789012 eni-0a 10.0.0.20 10.0.0.7 22 ${41000 + i} 6 10 2600 ${t} ${t + 2} ACCEPT OK`);
  }
  for (let i = 0; i < 20; i++) lines.push(`2 123456789012 eni-0b 10.0.0.8 10.0.0.20 ${42000 + i} 22 6 400 90000 ${T0 + i * 6} ${T0 + i * 6 + 120} ACCEPT OK`);
  const path = join(dir, 'brute.log');
  writeFileSync(path, lines.join('\n') + '\n');
  const { breaches } = await breachesOf(path, { format: 'aws-vpc' });
  assert.equal(breaches.map((b) => `${b.model} ${b.device.ip}`), ['device-brute-force 10.0.0.7']);
  assert.equal(breaches[0]!.mitre, ['T1110']);
  assert.is(breaches[0]!.peer?.port, 22);
});

test('benign generated enterprise traffic raises no breach with the learning period off', async () => {
  const path = join(dir, 'benign.pcap');
  writeSampleCapture(path, { seed: 'detect-benign-1', packets: 60_000, format: 'pcap' });
  const { breaches, detection } = await breachesOf(path);
  assert.equal(breaches.map((b) => `${b.model} ${b.device.ip} ${b.summary}`), []);
  assert.ok(detection.observations >= 0);
});

test('models are validated: unknown features and fields are refused with where they are', () => {
  const base = { id: 'x-test', title: 'Test / X', category: 'suspicious', mitre: ['T1046'], on: 'conn', metric: { kind: 'count' }, window_s: 60, threshold: 1, summary: 's', metric_label: 'm' };
  assert.throws(() => parseModels([{ ...base, filters: [{ feature: 'peer_rarty', op: '>=', value: 1 }] }], 'f.json'), (e: Error) => e instanceof ModelError && /filters\[0\]\.feature: unknown feature "peer_rarty"/.test(e.message));
  assert.throws(() => parseModels([{ ...base, filters: [], treshold: 3 }], 'f.json'), /unknown field treshold/);
  assert.throws(() => parseModels([{ ...base, filters: [], title: 'No family' }], 'f.json'), /Family \/ Name/);
  assert.throws(() => parseModels([{ ...base, filters: [], mitre: ['1046'] }], 'f.json'), /technique ids/);
  assert.throws(() => parseModels([{ ...base, filters: [{ feature: 'port', op: 'in', value: ['9-3'] }] }], 'f.json'), /bad port range/);
  const file = join(dir, 'models.json');
  writeFileSync(file, JSON.stringify({ models: [{ ...BUILTIN_MODELS[0], enabled: false }, { ...base, filters: [] }] }));
  const merged = loadModels(file);
  assert.is(merged.length, BUILTIN_MODELS.length + 1);
  assert.is(merged.find((m) => m.id === BUILTIN_MODELS[0]!.id)!.enabled, false);
});

test('the compiled gate: port lists become shared bitmaps; the core refuses an out-of-range program', () => {
  const p = compileModels(BUILTIN_MODELS);
  assert.is(p.models.length, BUILTIN_MODELS.length);
  assert.ok(p.sets.length >= 2 && p.sets.every((s) => s.length === 8192));
  const core = new WasmCore({});
  core.enableLearning({ devices: 64, endpoints: 64, pairs: 64, channels: 64, ports: 64, observations: 64 }, [], { retentionS: 86400, recountS: 3600, emitAll: false });
  core.setGateProgram(p);
  assert.throws(() => core.setGateProgram({ models: [{ kind: 1, first: 0, count: 5 }], clauses: [], sets: [] }), /refused/);
  assert.throws(() => core.setGateProgram({ models: [{ kind: 1, first: 0, count: 1 }], clauses: [{ feature: 99, op: 0, value: 0 }], sets: [] }), /refused/);
});

test('the observation layout of the core and of JS agree (names, order, size)', () => {
  const src = readFileSync(new URL('../asm/learn/observation.ts', import.meta.url), 'utf8');
  const names = [...src.matchAll(/export const FT_([A-Z0-9_]+): i32 = (\d+);/g)].map((m) => [Number(m[2]), m[1]!.toLowerCase()] as const).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
  assert.equal(names, FEATURES.map(([n]) => n));
  assert.is(Number(/NUM_FEATURES: i32 = (\d+)/.exec(src)![1]), FEATURES.length);
  assert.is(Number(/OBS_SIZE: usize = (\d+)/.exec(src)![1]), OBS_SIZE);
  assert.is(OBS_SIZE, 80 + 8 * FEATURES.length);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
