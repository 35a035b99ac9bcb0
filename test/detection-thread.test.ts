// Detection in its own thread (threaded-detection.ts, detection-thread.ts)
// learns the packet core's pulls with a core of its own, in the same order:
// its breaches, learning counters and detection summary must be exactly
// those of detection in the packet thread. Checked on a generated two-day
// network with attacks, from a capture (the learning log: connection starts
// and DNS answers at their packets) and from AWS flow logs (records only).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze, type AnalyzeSummary } from '../sensor/pipeline/analyze.ts';
import { WasmCore } from '../sensor/core/wasm-core.ts';
import { openDetection } from '../sensor/pipeline/detection-stage.ts';
import { ThreadedDetection } from '../sensor/pipeline/threaded-detection.ts';
import { pumpCapture, flushCore } from '../sensor/pipeline/capture-pump.ts';
import { openCaptureInput } from '../sensor/sources/capture-input.ts';
import { buildScenario } from './scenario/generate.ts';
import { renderPcap } from './scenario/render-pcap.ts';
import { renderAwsFlowLogs } from './scenario/render-flowlogs.ts';
import type { Log } from '../sensor/log/logger.ts';
import { BUILTIN_MODELS } from '../sensor/models/catalogue.ts';

const dir = mkdtempSync(join(tmpdir(), 'edge-dthread-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const scn = buildScenario({ seed: 5, days: 2, workstations: 10, attacks: ['scan-network', 'brute-force', 'beacon', 'dns-tunnel', 'dga', 'exfil'] });
const pcap = join(dir, 'net.pcap');
const aws = join(dir, 'net-vpc.log');
renderPcap(pcap, scn.conns());
renderAwsFlowLogs(aws, scn.conns());
/** the MAC each originator's frames carry in the rendered capture */
const macOf = new Map<string, string>();
for (const c of scn.conns()) if (!macOf.has(c.orig_h)) macOf.set(c.orig_h, c.orig_mac.toLowerCase());

const learnCounters = (s: AnalyzeSummary) => Object.fromEntries(Object.entries(s.counters).filter(([k]) => k.startsWith('learn_') || k.startsWith('dns_')));
/** The detection summary without its sink (the targets differ by design). */
const detectionOf = (s: AnalyzeSummary) => { const { sink: _s, ...d } = s.detection!; return d; };

for (const [name, input] of [['capture', pcap], ['AWS flow logs', aws]] as const) {
  test(`${name}: breaches from the detection thread equal those of detection in the packet thread, byte for byte`, async () => {
    const inline: string[] = [];
    const a = await analyze({ inputs: [input], onBreach: (b) => inline.push(JSON.stringify(b)), progress: false, learningS: 86400 });
    const file = join(dir, `${name}.jsonl`);
    const t = await analyze({ inputs: [input], breachesTo: file, progress: false, learningS: 86400 });
    const threaded = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.ok(inline.length >= 5, `the network raises breaches (${inline.length})`);
    assert.equal(threaded, inline);
    assert.equal(t.detection!.sink, { target: file, received: inline.length, sent: inline.length, errors: 0, discarded: 0 });
    // the thread's learner counted what the packet core counted when it learned itself
    assert.ok((learnCounters(t).learn_conns ?? 0) > 1000);
    assert.equal(learnCounters(t), learnCounters(a));
    assert.equal(detectionOf(t), detectionOf(a));
    if (name === 'capture') assert.ok((t.counters.dns_answers ?? 0) > 100, 'DNS answers went through the learning log');
    // what else names the device: its MAC from the frames, its cloud interface from the flow logs
    const devices = threaded.map((l) => (JSON.parse(l) as { device: { ip: string; mac?: string; interface?: string } }).device);
    if (name === 'capture') {
      for (const d of devices) assert.is(d.mac, macOf.get(d.ip), `${d.ip}: the MAC its frames carry`);
    } else {
      const byIp = new Map<string, string | undefined>();
      for (const d of devices) {
        assert.match(d.interface ?? '', /^eni-[0-9a-f]+$/, `${d.ip}: the interface that logged it`);
        if (byIp.has(d.ip)) assert.is(d.interface, byIp.get(d.ip), `${d.ip}: one interface`);
        byIp.set(d.ip, d.interface);
      }
      assert.is(new Set(byIp.values()).size, byIp.size, 'each device its own interface');
    }
  });
}

test('--inline-detection gives the same breach file as the detection thread', async () => {
  const f1 = join(dir, 'inline.jsonl'), f2 = join(dir, 'thread.jsonl');
  await analyze({ inputs: [pcap], breachesTo: f1, inlineDetection: true, progress: false, learningS: 86400 });
  await analyze({ inputs: [pcap], breachesTo: f2, progress: false, learningS: 86400 });
  const a = readFileSync(f1, 'utf8');
  assert.ok(a.length > 0);
  assert.is(readFileSync(f2, 'utf8'), a);
});

function quietLog(): Log & { errors: Record<string, unknown>[] } {
  const errors: Record<string, unknown>[] = [];
  return { level: 'info', errors, debug() {}, info() {}, warn() {}, error(o: object) { errors.push(o as Record<string, unknown>); }, fatal() {} } as unknown as Log & { errors: Record<string, unknown>[] };
}

test('a detection thread that dies mid-run: pulls after it are dropped, the summary says it failed, the packet path goes on', async () => {
  const core = new WasmCore();
  // (a thread that vanishes without a word is noticed by taking nothing for stallMs: short here)
  const stage = new ThreadedDetection(core, join(dir, 'dies.jsonl'), { learningS: 0 }, { stallMs: 300 });
  const input = await openCaptureInput(pcap, 'auto', () => {});
  let pulls = 0, killed = false, records = 0;
  await pumpCapture(core, input, (c) => {
    stage.pull(c);
    records += c.drainRaw(() => {});
    if (++pulls === 20) { killed = true; void (stage as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate(); }
  }, () => {});
  input.source.close();
  flushCore(core, (c) => { stage.pull(c); records += c.drainRaw(() => {}); });
  assert.ok(killed && pulls > 40, `the capture goes on after the thread is gone (${pulls} pulls)`);
  assert.ok(records > 1000, 'every flow record still leaves the core');
  const log = quietLog();
  const summary = await stage.finish(core.lastTs(), log);
  assert.match(summary.error ?? '', /detection thread failed/);
  assert.is(summary.sink!.errors, 1);
  assert.ok(log.errors.some((e) => typeof e.error === 'string'), 'logged');
});

test('a model set the core cannot take fails when the stage opens, not later in the thread', () => {
  const tooMany = Array.from({ length: 65 }, (_, i) => ({ ...BUILTIN_MODELS[0]!, id: `copy-${i}` }));
  assert.throws(() => openDetection(new WasmCore(), { breachesTo: join(dir, 'x.jsonl'), models: tooMany }), /at most 64 enabled models/);
});

test.run();
