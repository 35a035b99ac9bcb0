// Scores a run's breaches against the scenario's ground truth.
//
// An attack is detected when a breach of one of its expected models names its
// device, no earlier than the attack's first connection and no later than an
// hour after its last. Time to detect is from the attack's start to the first
// such breach. Any other breach on the attacking device while the attack runs
// (and an hour after) is "related": the device really is misbehaving. Every
// remaining breach of the test day is a false positive; they are counted per
// 100 device-days, the measure.
import type { Breach } from '../../sensor/models/breach.ts';
import { DETECT_WITHIN, type AttackTruth, type Source } from './attacks.ts';
import type { Scenario } from './generate.ts';

const SLACK_S = 3600;
/**
 * Flow logs time a record by its aggregation window, so a breach can carry a
 * time up to a window before the attack's first packet (AWS's default window
 * is 60 s; a little more for clock rounding).
 */
const EARLY_S: Record<Source, number> = { pcap: 1, flows: 75 };

export interface AttackResult {
  attack: AttackTruth;
  /** false: this input cannot show the attack (DNS content in a flow log) */
  visible: boolean;
  detected: boolean;
  model?: string;
  score?: number;
  /** seconds from the attack's start to its first detecting breach */
  ttd?: number;
  /** detection time target, seconds (where the issue sets one) */
  target?: number;
  onTime?: boolean;
  /** breaches of other models on the device during the attack */
  related: number;
}

export interface ScoreResult {
  attacks: AttackResult[];
  falsePositives: Breach[];
  /** devices of the test day and its false positives per 100 device-days */
  deviceDays: number;
  fpPer100DeviceDays: number;
  /** breaches before the test day (learning and baseline days), for information */
  earlier: number;
  earlierBreaches: Breach[];
  testDay: number;
}

const ts = (b: Breach) => Date.parse(b.time) / 1000;

export function score(scn: Pick<Scenario, 'attacks' | 'hosts' | 'testDayStart'>, breaches: readonly Breach[], source: Source): ScoreResult {
  const testDay = breaches.filter((b) => ts(b) >= scn.testDayStart);
  const claimed = new Set<Breach>();
  const attacks: AttackResult[] = scn.attacks.map((a) => {
    const onDevice = testDay.filter((b) => a.device.includes(b.device.ip) && ts(b) >= a.start - EARLY_S[source] && ts(b) <= a.end + SLACK_S);
    for (const b of onDevice) claimed.add(b);
    const hits = onDevice.filter((b) => a.expect.includes(b.model)).sort((x, y) => ts(x) - ts(y));
    const first = hits[0];
    const target = DETECT_WITHIN[a.kind];
    const r: AttackResult = { attack: a, visible: a.visible.includes(source), detected: first !== undefined, related: onDevice.length - hits.length };
    if (first) {
      r.model = first.model;
      r.score = first.score;
      r.ttd = Math.max(0, ts(first) - a.start);
      if (target !== undefined) { r.target = target; r.onTime = r.ttd <= target; }
    } else if (target !== undefined) r.target = target;
    return r;
  });
  const falsePositives = testDay.filter((b) => !claimed.has(b));
  const deviceDays = scn.hosts.length;
  return {
    attacks, falsePositives, deviceDays,
    fpPer100DeviceDays: (falsePositives.length / deviceDays) * 100,
    earlier: breaches.length - testDay.length, earlierBreaches: breaches.filter((b) => ts(b) < scn.testDayStart), testDay: testDay.length,
  };
}

/** Did this run meet the targets? (every visible attack detected, on time, FP ≤ 1 per 100 device-days) */
export function meetsTargets(r: ScoreResult): { ok: boolean; failures: string[] } {
  const failures: string[] = [];
  for (const a of r.attacks) {
    if (!a.visible) continue;
    if (!a.detected) failures.push(`${a.attack.id} not detected`);
    else if (a.onTime === false) failures.push(`${a.attack.id} detected after ${Math.round(a.ttd!)} s (target ${a.target} s)`);
  }
  if (r.fpPer100DeviceDays > 1) failures.push(`${r.falsePositives.length} false positives (${r.fpPer100DeviceDays.toFixed(1)} per 100 device-days)`);
  return { ok: failures.length === 0, failures };
}
