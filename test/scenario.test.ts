// The detection evaluation in small: a two-day scenario (one day of
// baseline, the test day with attacks and benign look-alikes), rendered as a
// capture, analyzed with the built-in models, scored against the ground
// truth. `npm run eval` runs the full-size version over several seeds and
// inputs; this keeps the pipeline from generator to scorer honest in CI.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../sensor/pipeline/analyze.ts';
import type { Breach } from '../sensor/models/breach.ts';
import { buildScenario, SCENARIO_TAGS } from './scenario/generate.ts';
import { renderPcap } from './scenario/render-pcap.ts';
import { attackFlows, score } from './scenario/score.ts';
import { ATTACK_KINDS } from './scenario/attacks.ts';

const dir = mkdtempSync(join(tmpdir(), 'edge-scenario-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const ATTACKS = ['scan-network', 'brute-force', 'beacon', 'lateral', 'dns-tunnel', 'dga'] as const;

async function run(seed: number, tags: Record<string, string[]> | undefined) {
  const scn = buildScenario({ seed, days: 2, workstations: 10, attacks: ATTACKS });
  const path = join(dir, `s${seed}.pcap`);
  renderPcap(path, scn.conns());
  const breaches: Breach[] = [];
  await analyze({ inputs: [path], onBreach: (b) => breaches.push(b), tags, progress: false, learningS: 86400 });
  return { scn, breaches, result: score(scn, breaches, 'pcap', attackFlows(scn.conns())) };
}

test('the generator is deterministic: same seed, same connections; another seed, another network', () => {
  const a = [...buildScenario({ seed: 7, days: 2, workstations: 4, attacks: ['beacon'] }).conns()].slice(0, 2000);
  const b = [...buildScenario({ seed: 7, days: 2, workstations: 4, attacks: ['beacon'] }).conns()].slice(0, 2000);
  const c = [...buildScenario({ seed: 8, days: 2, workstations: 4, attacks: ['beacon'] }).conns()].slice(0, 2000);
  assert.equal(a, b);
  assert.not.equal(a, c);
  for (let i = 1; i < a.length; i++) assert.ok(a[i]!.ts >= a[i - 1]!.ts, 'connections in start order');
});

test('every attack kind is injected on the test day, labelled, on a device of the network', () => {
  const scn = buildScenario({ seed: 3, days: 2, workstations: 12 });
  const labelled = new Map<string, number>();
  for (const c of scn.conns()) if (c.attack) labelled.set(c.attack, (labelled.get(c.attack) ?? 0) + 1);
  assert.equal(scn.attacks.map((a) => a.kind), [...ATTACK_KINDS]);
  for (const a of scn.attacks) {
    assert.ok(a.start >= scn.testDayStart && a.end > a.start, `${a.id} on the test day`);
    assert.ok((labelled.get(a.id) ?? 0) > 0, `${a.id} has labelled connections`);
    assert.ok(scn.hosts.some((h) => a.device.includes(h.ipv4)), `${a.id} comes from a known device`);
  }
});

test('the scorer credits a breach to an attack only through its evidence; anything else after the learning day is a false positive', () => {
  const day = 86400, start = 1767571200;
  const attack = { id: 'beacon-1', kind: 'beacon' as const, device: ['10.1.0.5'], deviceName: 'ws', start: start + 2 * day + 36000, end: start + 2 * day + 40000, expect: ['compromise-beaconing-rare-endpoint'], visible: ['pcap', 'flows'] as ('pcap' | 'flows')[], what: '' };
  const scn = { attacks: [attack], hosts: [{ name: 'ws', role: 'workstation' as const, job: 'workstation', ipv4: '10.1.0.5' }, { name: 'srv', role: 'server' as const, job: 'web', ipv4: '10.10.0.12' }], testDayStart: start + 2 * day, startTs: start };
  const flows = attackFlows([{ ts: attack.start, duration: 1, proto: 'tcp', orig_h: '10.1.0.5', orig_p: 40000, resp_h: '198.18.9.9', resp_p: 443, orig_bytes: 1, resp_bytes: 1, state: 'SF', orig_mac: '', resp_mac: '', kind: 'x', attack: 'beacon-1' }]);
  const cid = [...flows.get('beacon-1')!][0]!;
  const b = (s: number, device: string, model: string, community_id: string): Breach => ({
    id: `${model}${s}`, time: new Date(s * 1000).toISOString(), model, title: 'X / Y', category: 'critical', score: 75, mitre: [], device: { ip: device }, metrics: [], summary: '', evidence: [{ uid: 'C1', community_id }],
  });
  const right = b(attack.start + 700, '10.1.0.5', 'compromise-beaconing-rare-endpoint', cid);
  const unrelated = b(attack.start + 800, '10.1.0.5', 'compromise-beaconing-rare-endpoint', '1:somethingelse='); // right device, model and time, not its flows
  const learning = b(start + 3600, '10.10.0.12', 'device-network-scan', '1:x='); // during the learning day: not counted
  const baseline = b(start + day + 3600, '10.10.0.12', 'device-network-scan', '1:x=');
  const r = score(scn, [learning, baseline, right, unrelated], 'pcap', flows);
  assert.is(r.attacks[0]!.detected, true);
  assert.is(r.attacks[0]!.ttd, 700);
  assert.equal(r.falsePositives, [unrelated]);
  assert.equal(r.baselineFalsePositives, [baseline]);
  assert.is(r.baselineDeviceDays, 2);
  assert.is(r.fpPer100DeviceDays, 50);
  // only the unrelated breach: not detected
  assert.is(score(scn, [unrelated], 'pcap', flows).attacks[0]!.detected, false);
  // a flow log's window start may precede the attack's first packet by up to a window; a capture's may not
  const early = b(attack.start - 50, '10.1.0.5', 'compromise-beaconing-rare-endpoint', cid);
  assert.is(score(scn, [early], 'flows', flows).attacks[0]!.detected, true);
  assert.is(score(scn, [early], 'pcap', flows).attacks[0]!.detected, false);
});

test('two days of a small network: each injected attack detected by its model family on its device, no false positive', async () => {
  const { result } = await run(11, SCENARIO_TAGS);
  for (const a of result.attacks) {
    assert.ok(a.detected, `${a.attack.id} (${a.attack.what}) detected`);
    assert.ok(a.attack.expect.includes(a.model!));
    if (a.target !== undefined) assert.ok(a.onTime, `${a.attack.id} detected in ${a.ttd} s (target ${a.target} s)`);
  }
  assert.equal(result.falsePositives.map((b) => `${b.model} ${b.device.ip} ${b.summary}`), []);
  assert.equal(result.baselineFalsePositives.map((b) => `${b.model} ${b.device.ip} ${b.summary}`), []);
});

test('the nightly vulnerability scan breaches unless its scanner carries the security-scanner tag', async () => {
  const untagged = await run(11, undefined);
  const scanner = untagged.breaches.filter((b) => b.device.ip === '10.10.0.18' && b.time >= new Date(untagged.scn.testDayStart * 1000).toISOString());
  assert.ok(scanner.some((b) => b.model === 'device-network-scan'), 'the scanner is a scanner');
  const tagged = await run(11, SCENARIO_TAGS);
  assert.is(tagged.breaches.filter((b) => b.device.ip === '10.10.0.18').length, 0);
});

test.run();
