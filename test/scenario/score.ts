// Scores a run's breaches against the scenario's ground truth.
//
// A breach belongs to an attack when it names the attacking device and its
// evidence (the flows' Community IDs) includes one of the attack's own
// connections: naming the right device at the right time is not enough. An
// attack is detected when a breach of one of its expected models belongs to
// it; time to detect is from the attack's start to the first. A breach of
// another model that belongs to it is "related" (the device really is
// misbehaving). Every other breach after the learning day is a false
// positive — on the test day (the measure, per 100 device-days) and
// on the baseline days before it, reported apart.
import type { Breach } from '../../sensor/models/breach.ts';
import { communityId } from '../../sensor/flows/community-id.ts';
import { parseAddress, isV4Mapped } from '../../sensor/flows/ip-address.ts';
import type { Conn } from './conn.ts';
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
  /** false positives of the test day */
  falsePositives: Breach[];
  /** false positives of the days between the learning day and the test day, and those device-days */
  baselineFalsePositives: Breach[];
  baselineDeviceDays: number;
  /** devices of the test day and its false positives per 100 device-days */
  deviceDays: number;
  fpPer100DeviceDays: number;
}

const ts = (b: Breach) => Date.parse(b.time) / 1000;

const PROTO: Record<Conn['proto'], number> = { tcp: 6, udp: 17, icmp: 1 };
function addr(text: string): Uint8Array {
  const a = parseAddress(text)!.bytes;
  return isV4Mapped(a) ? a.subarray(12, 16) : a;
}

/** Community IDs of each attack's connections (the scenario's labelled ones), as flow records and breaches name them. */
export function attackFlows(conns: Iterable<Conn>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const c of conns) {
    if (!c.attack) continue;
    let set = out.get(c.attack);
    if (!set) out.set(c.attack, (set = new Set()));
    set.add(communityId(addr(c.orig_h), addr(c.resp_h), PROTO[c.proto], c.orig_p, c.resp_p));
  }
  return out;
}

export function score(
  scn: Pick<Scenario, 'attacks' | 'hosts' | 'testDayStart' | 'startTs'>,
  breaches: readonly Breach[],
  source: Source,
  flows: Map<string, Set<string>>,
  learningS = 86400,
): ScoreResult {
  const testDay = breaches.filter((b) => ts(b) >= scn.testDayStart);
  const claimed = new Set<Breach>();
  const attacks: AttackResult[] = scn.attacks.map((a) => {
    const mine = flows.get(a.id) ?? new Set<string>();
    const belongs = testDay.filter((b) => a.device.includes(b.device.ip) && ts(b) >= a.start - EARLY_S[source] && ts(b) <= a.end + SLACK_S &&
      b.evidence.some((e) => mine.has(e.community_id)));
    for (const b of belongs) claimed.add(b);
    const hits = belongs.filter((b) => a.expect.includes(b.model)).sort((x, y) => ts(x) - ts(y));
    const first = hits[0];
    const target = DETECT_WITHIN[a.kind];
    const r: AttackResult = { attack: a, visible: a.visible.includes(source), detected: first !== undefined, related: belongs.length - hits.length };
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
  const afterLearning = scn.startTs + learningS;
  const baselineFalsePositives = breaches.filter((b) => ts(b) >= afterLearning && ts(b) < scn.testDayStart);
  const baselineDays = Math.max(0, (scn.testDayStart - afterLearning) / 86400);
  return {
    attacks, falsePositives, deviceDays,
    baselineFalsePositives, baselineDeviceDays: Math.round(baselineDays * scn.hosts.filter((h) => h.joined === undefined).length),
    fpPer100DeviceDays: (falsePositives.length / deviceDays) * 100,
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
  const base = r.baselineDeviceDays > 0 ? (r.baselineFalsePositives.length / r.baselineDeviceDays) * 100 : 0;
  if (base > 1) failures.push(`${r.baselineFalsePositives.length} false positives on the baseline days (${base.toFixed(1)} per 100 device-days)`);
  return { ok: failures.length === 0, failures };
}
