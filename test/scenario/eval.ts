// npm run eval: the detection evaluation. For each seed and input variant it
// generates the scenario (days of a simulated enterprise network, attacks on
// the last day), renders it as a capture or as cloud flow logs, runs the
// sensor's analyze pipeline with the built-in models over it, and scores the
// breaches against the ground truth: per attack kind detected or not and the
// time to detect, and false-positive breaches per 100 device-days on the
// test day. Exits 1 when a target is missed, so CI could gate on it.
//
//   npm run eval -- [--seeds 1,2,3] [--variants pcap,pcap-v4,aws,azure]
//                   [--days 4] [--workstations 30] [--keep DIR] [--json]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { analyze } from '../../sensor/pipeline/analyze.ts';
import type { Breach } from '../../sensor/models/breach.ts';
import { ATTACK_KINDS } from './attacks.ts';
import { buildScenario, SCENARIO_TAGS } from './generate.ts';
import { attackFlows, meetsTargets, score, type ScoreResult } from './score.ts';
import { VARIANTS, type Variant } from './variants.ts';

export interface RunResult {
  variant: string;
  seed: number;
  result: ScoreResult;
  conns: number;
  inputBytes: number;
  renderS: number;
  analyzeS: number;
}

/** One seed of one variant: generate, render, analyze, score. */
export async function evaluate(v: Variant, seed: number, o: { days: number; workstations: number; dir: string }): Promise<RunResult> {
  const scn = buildScenario({ seed, days: o.days, workstations: o.workstations, ...v.scenario });
  let t = performance.now();
  const { inputs, format } = v.render(scn, o.dir);
  const renderS = (performance.now() - t) / 1000;
  const inputBytes = inputs.reduce((n, p) => n + sizeOf(p), 0);
  const breaches: Breach[] = [];
  t = performance.now();
  const summary = await analyze({ inputs, format, onBreach: (b) => breaches.push(b), tags: SCENARIO_TAGS, progress: false });
  const analyzeS = (performance.now() - t) / 1000;
  const conns = summary.flow_records;
  return { variant: v.name, seed, result: score(scn, breaches, v.source, attackFlows(scn.conns())), conns, inputBytes, renderS, analyzeS };
}

/** Bytes of a file, or of every file below a folder (Azure's hourly blobs). */
function sizeOf(p: string): number {
  try {
    const st = statSync(p);
    if (!st.isDirectory()) return st.size;
    return readdirSync(p).reduce((n, f) => n + sizeOf(join(p, f)), 0);
  } catch { return 0; }
}

function fmtTtd(s: number | undefined): string {
  if (s === undefined) return '';
  return s < 120 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`;
}

/** The report: one table per run, then per attack kind over all runs. */
export function report(runs: RunResult[]): string {
  const lines: string[] = [];
  for (const r of runs) {
    const ok = meetsTargets(r.result);
    lines.push(`## ${r.variant}, seed ${r.seed}: ${ok.ok ? 'targets met' : `MISSED: ${ok.failures.join('; ')}`}`);
    lines.push(`${r.conns} flow records, ${(r.inputBytes / 2 ** 20).toFixed(0)} MiB input, rendered in ${r.renderS.toFixed(1)} s, analyzed in ${r.analyzeS.toFixed(1)} s`);
    lines.push('| attack | device | detected by | score | time to detect | target |');
    lines.push('|---|---|---|--:|--:|--:|');
    for (const a of r.result.attacks) {
      const det = !a.visible ? 'not visible in this input' : a.detected ? a.model! : '**missed**';
      lines.push(`| ${a.attack.kind} | ${a.attack.deviceName} | ${det} | ${a.score ?? ''} | ${fmtTtd(a.ttd)} | ${a.target ? fmtTtd(a.target) : ''} |`);
    }
    lines.push(`false positives on the test day: ${r.result.falsePositives.length} over ${r.result.deviceDays} devices = ${r.result.fpPer100DeviceDays.toFixed(2)} per 100 device-days (target ≤ 1); on the baseline days after the learning day: ${r.result.baselineFalsePositives.length} over ${r.result.baselineDeviceDays} device-days`);
    for (const b of r.result.falsePositives.slice(0, 10)) lines.push(`  FP ${b.time} ${b.model} (${b.score}): ${b.summary}`);
    for (const b of r.result.baselineFalsePositives.slice(0, 5)) lines.push(`  FP on a baseline day: ${b.time} ${b.model} (${b.score}): ${b.summary}`);
    lines.push('');
  }
  lines.push('## per attack kind, all runs');
  lines.push('| attack | detected | median time to detect | worst |');
  lines.push('|---|--:|--:|--:|');
  for (const kind of ATTACK_KINDS) {
    const rs = runs.flatMap((r) => r.result.attacks.filter((a) => a.attack.kind === kind && a.visible));
    if (!rs.length) continue;
    const ttds = rs.filter((a) => a.detected).map((a) => a.ttd!).sort((a, b) => a - b);
    lines.push(`| ${kind} | ${ttds.length}/${rs.length} | ${fmtTtd(ttds[Math.floor((ttds.length - 1) / 2)])} | ${fmtTtd(ttds[ttds.length - 1])} |`);
  }
  const fp = runs.reduce((n, r) => n + r.result.falsePositives.length, 0);
  const dd = runs.reduce((n, r) => n + r.result.deviceDays, 0);
  const bfp = runs.reduce((n, r) => n + r.result.baselineFalsePositives.length, 0);
  const bdd = runs.reduce((n, r) => n + r.result.baselineDeviceDays, 0);
  lines.push(`\nfalse positives on the test days: ${fp} over ${dd} device-days = ${((fp / dd) * 100).toFixed(2)} per 100 device-days; on the baseline days after learning: ${bfp} over ${bdd} device-days = ${bdd ? ((bfp / bdd) * 100).toFixed(2) : '0.00'} per 100`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '1,2,3' },
      variants: { type: 'string', default: VARIANTS.map((v) => v.name).join(',') },
      days: { type: 'string', default: '4' },
      workstations: { type: 'string', default: '30' },
      keep: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const seeds = values.seeds!.split(',').map(Number);
  const names = values.variants!.split(',');
  const unknown = names.filter((n) => !VARIANTS.some((v) => v.name === n));
  if (unknown.length) throw new Error(`unknown variant ${unknown.join(', ')} (known: ${VARIANTS.map((v) => v.name).join(', ')})`);
  const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'edge-eval-'));
  const runs: RunResult[] = [];
  try {
    for (const name of names) {
      const v = VARIANTS.find((x) => x.name === name)!;
      for (const seed of seeds) {
        process.stderr.write(`eval: ${name} seed ${seed} …\n`);
        runs.push(await evaluate(v, seed, { days: Number(values.days), workstations: Number(values.workstations), dir }));
      }
    }
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
  if (values.json) process.stdout.write(JSON.stringify(runs.map((r) => ({ ...r, result: { ...r.result, falsePositives: r.result.falsePositives.map((b) => ({ time: b.time, model: b.model, device: b.device.ip, summary: b.summary })) } })), null, 1) + '\n');
  else process.stdout.write(report(runs) + '\n');
  process.exitCode = runs.every((r) => meetsTargets(r.result).ok) ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => { process.stderr.write(`eval: ${(e as Error).message}\n`); process.exitCode = 2; });
}
