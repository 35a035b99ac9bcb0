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
import { MAX_IN_FLIGHT } from '../sensor/pipeline/detection-ring.ts';
import { pumpCapture, flushCore } from '../sensor/pipeline/capture-pump.ts';
import { openCaptureInput } from '../sensor/sources/capture-input.ts';
import { buildScenario } from './scenario/generate.ts';
import { renderPcap } from './scenario/render-pcap.ts';
import { renderAwsFlowLogs } from './scenario/render-flowlogs.ts';
import type { Log } from '../sensor/log/logger.ts';
import { BUILTIN_MODELS } from '../sensor/models/catalogue.ts';
import { LocalNets } from '../sensor/flows/local-nets.ts';
import { StateKeeper } from '../sensor/pipeline/state-keeper.ts';

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

const T0 = 1_700_000_000;

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
  assert.ok(log.errors.some((e) => typeof e.error === 'string' && (e.records_not_learned as number) > 0), 'logged, with the records its dropped pulls held');
});

test('a detection thread that throws says so in shared memory: a packet thread waiting for room stops waiting at once (not after stallMs) and drops the pulls after it', async () => {
  const core = new WasmCore();
  // a stall would end the wait after 20 s and say "took nothing": the error must be the thread's own
  const stage = new ThreadedDetection(core, join(dir, 'throws.jsonl'), { learningS: 0 }, { stallMs: 20_000 });
  const pullOf = (log: Uint8Array) => ({ takeLearnBatch: (cb: (log: Uint8Array, records: Uint8Array, n: number) => void) => cb(log, new Uint8Array(0), 0) }) as unknown as WasmCore;
  // a pull whose log is cut mid-entry (the thread's core refuses it: the thread fails), then pulls
  // large enough to publish a slot each: the ring fills and the last waits for room, synchronously,
  // before the thread has even started; only the thread's word in shared memory can end that wait early
  stage.pull(pullOf(new Uint8Array(12)));
  const big = new Uint8Array(3 << 20);
  for (let k = 0; k < MAX_IN_FLIGHT; k++) stage.pull(pullOf(big));
  let records = 0;
  const input = await openCaptureInput(pcap, 'auto', () => {});
  await pumpCapture(core, input, (c) => { stage.pull(c); records += c.drainRaw(() => {}); }, () => {});
  input.source.close();
  flushCore(core, (c) => { stage.pull(c); records += c.drainRaw(() => {}); });
  assert.ok(records > 1000);
  const log = quietLog();
  const summary = await stage.finish(core.lastTs(), log);
  assert.match(summary.error ?? '', /not whole entries/);
  assert.ok(log.errors.some((e) => (e.records_not_learned as number) >= records), 'every later pull dropped, counted');
});

test('with --state, a detection thread that dies after it was asked for its part of the last snapshot does not hang the end: the keeper stops waiting, says so, and the state stays at the snapshot before', async () => {
  const core = new WasmCore();
  const log = quietLog();
  const keeper = await StateKeeper.open({ dir: join(dir, 'state-dies') }, log, true);
  const stage = new ThreadedDetection(core, join(dir, 'state-dies.jsonl'), { learningS: 0 }, { state: { writer: keeper.writer, restore: null } });
  // a pull whose log is cut mid-entry: the thread fails on the slot the snapshot publishes, before it sends its part
  stage.pull({ takeLearnBatch: (cb: (log: Uint8Array, records: Uint8Array, n: number) => void) => cb(new Uint8Array(12), new Uint8Array(0), 0) } as unknown as WasmCore);
  const finished = keeper.finish(core, stage, null, true);
  const result = await Promise.race([finished, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref())]);
  assert.ok(result !== 'hung', 'the last snapshot does not wait forever for a part that will not come');
  assert.ok(log.errors.some((e) => e.state !== undefined), 'logged');
  assert.is(result.snapshots.written, 0, 'nothing half-written');
  const summary = await stage.finish(core.lastTs(), log);
  assert.match(summary.error ?? '', /not whole entries/);
});

test('a live input\'s detection thread that falls behind sheds learning instead of holding up the packet thread: every connection start learned or shed, counted, warned', async () => {
  const core = new WasmCore();
  const warns: Record<string, unknown>[] = [];
  const log = { ...quietLog(), warn(o: object) { warns.push(o as Record<string, unknown>); } } as unknown as Log;
  const stage = new ThreadedDetection(core, join(dir, 'shed.jsonl'), { learningS: 0 }, { shedWhenBehind: true, log });
  // pulls of 16 k connection starts each (a full 1 MiB learning log): filled far faster than learned
  const PER = 16_384, PULLS = 100;
  const entries = new Uint8Array(PER * 64);
  const dv = new DataView(entries.buffer);
  const pullOf = (log: Uint8Array) => ({ takeLearnBatch: (cb: (log: Uint8Array, records: Uint8Array, n: number) => void) => cb(log, new Uint8Array(0), 0) }) as unknown as WasmCore;
  for (let k = 0; k < PULLS; k++) {
    for (let i = 0; i < PER; i++) {
      const e = i * 64, n = k * PER + i;
      dv.setUint32(e, 1, true); // CONN
      dv.setUint32(e + 4, 64, true);
      dv.setFloat64(e + 8, T0 + n / 1000, true);
      dv.setFloat64(e + 16, n + 1, true); // serial
      entries.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, (n >> 8) & 63, n & 255], e + 24); // ::ffff:10.0.x.y
      entries.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, n % 200], e + 40);
      dv.setUint16(e + 56, 40_000 + (n % 20_000), true);
      dv.setUint16(e + 58, 443, true);
      dv.setUint32(e + 60, 6, true);
    }
    stage.pull(pullOf(entries));
  }
  const summary = await stage.finish(T0 + PULLS * PER / 1000, quietLog());
  const counters: Record<string, number> = {};
  stage.mergeCounters(counters);
  assert.ok(summary.shed, 'the summary says what was shed');
  assert.ok(summary.shed!.pulls > 0, `pulls shed: ${summary.shed!.pulls}`);
  assert.ok(summary.shed!.pulls < PULLS, 'the thread learned some');
  assert.is(summary.shed!.log_bytes, summary.shed!.pulls * PER * 64);
  // nothing lost uncounted: each start was learned by the thread or shed here
  assert.is(counters.learn_conns! + summary.shed!.log_bytes / 64, PULLS * PER);
  assert.is(summary.error, undefined);
  assert.ok(warns.length >= 1 && warns[0]!.pulls === 1, 'warned at the first shed pull (then at most every 10 s)');
  // a file (no shedding) waits instead: nothing shed, no shed field
  const files = new ThreadedDetection(new WasmCore(), join(dir, 'noshed.jsonl'), { learningS: 0 });
  files.pull(pullOf(entries));
  const s2 = await files.finish(T0 + 100, quietLog());
  assert.is(s2.shed, undefined);
});

test('a shipped batch the learner cannot take is refused (no learning set up, too many records, a log too long or cut mid-entry; a learning core cannot ship its log); a malformed entry is counted and the records after it still learned', async () => {
  // a real pull of the capture: its learning log (connection starts, DNS) and its records, as the packet core ships them
  const packetCore = new WasmCore();
  packetCore.enableLearnLog();
  assert.throws(() => packetCore.enableLearning({}, [], { retentionS: 86400, recountS: 3600, emitAll: true }), /ships its learning log/);
  let shipped: { log: Uint8Array; records: Uint8Array; count: number } | null = null;
  // DNS entries of every shipped log, and those holding a bare question (QR 0, one question): the packet path logs none
  let dnsEntries = 0, questions = 0;
  const input = await openCaptureInput(pcap, 'auto', () => {});
  await pumpCapture(packetCore, input, (c) => {
    c.takeLearnBatch((log, records, count) => {
      if (!shipped && log.length > 0 && count > 0) shipped = { log: log.slice(), records: records.slice(), count };
      const v = new DataView(log.buffer, log.byteOffset, log.byteLength);
      for (let at = 0; at < log.length; at += v.getUint32(at + 4, true)) {
        if (v.getUint32(at, true) !== 2) continue;
        dnsEntries++;
        const hdr = at + 80 + (log[at + 60] === 6 ? 2 : 0);
        if ((log[hdr + 2]! & 0x80) === 0 && log[hdr + 4] === 0 && log[hdr + 5] === 1) questions++;
      }
    });
    c.drainRaw(() => {});
  }, () => {});
  input.source.close();
  assert.ok(dnsEntries > 0, 'the capture\'s DNS answers are logged');
  assert.is(questions, 0, 'no bare question is logged');
  assert.is(packetCore.counters().dns_queries, dnsEntries, 'each question counted where it was left out (one per answer here)');
  const batch = shipped as { log: Uint8Array; records: Uint8Array; count: number } | null;
  assert.ok(batch, 'a pull with both log entries and records');
  const learner = () => {
    const core = new WasmCore();
    core.enableLearning({}, new LocalNets().networks, { retentionS: 86400, recountS: 3600, emitAll: true });
    return core;
  };
  const none = () => {};
  assert.throws(() => new WasmCore().learnShipped(batch.log, batch.records, batch.count, none), /enableLearning\(\) first/);
  const refuse = learner();
  assert.throws(() => refuse.enableLearnLog(), /learns itself/);
  assert.throws(() => refuse.learnShipped(batch.log, batch.records, refuse.outputCapacity + 1, none), /batch of \d+ records does not fit/);
  assert.throws(() => refuse.learnShipped(new Uint8Array(refuse.learnLogCapacity + 8), batch.records, batch.count, none), /learning log of \d+ bytes does not fit/);
  assert.throws(() => refuse.learnShipped(batch.log.subarray(0, 12), batch.records, batch.count, none), /not whole entries/);

  // whole: every entry and record learned
  const whole = learner();
  whole.learnShipped(batch.log, batch.records, batch.count, none);
  const all = whole.counters();
  assert.is(all.learn_log_dropped ?? 0, 0);
  const replayed = (k: Record<string, number>) => (k.learn_conns ?? 0) + (k.dns_answers ?? 0) + (k.dns_queries ?? 0) + (k.learn_not_local ?? 0) + (k.learn_unanswered ?? 0);
  assert.ok(replayed(all) > 1, `the log holds several entries (${replayed(all)})`);
  // the second entry given a kind no log has: the first is learned, the rest of the log counted as dropped, the records still learned
  const bad = batch.log.slice();
  const second = new DataView(bad.buffer).getUint32(4, true);
  new DataView(bad.buffer).setUint32(second, 99, true);
  const cut = learner();
  cut.learnShipped(bad, batch.records, batch.count, none);
  const c = cut.counters();
  assert.is(c.learn_log_dropped, 1);
  assert.ok(replayed(c) <= 1, 'only the first entry replayed');
  assert.is(c.learn_ends, all.learn_ends, 'the records after the log are learned all the same');
  assert.ok((c.learn_ends ?? 0) > 0);
});

test('a model set the core cannot take fails when the stage opens, not later in the thread', () => {
  const tooMany = Array.from({ length: 65 }, (_, i) => ({ ...BUILTIN_MODELS[0]!, id: `copy-${i}` }));
  assert.throws(() => openDetection(new WasmCore(), { breachesTo: join(dir, 'x.jsonl'), models: tooMany }), /at most 64 enabled models/);
});

test.run();
