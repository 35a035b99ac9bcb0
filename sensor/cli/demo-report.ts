// Plain-text report of a demo run: what the sensor saw, in a form a
// security engineer reads at a glance.
import type { AnalyzeSummary } from '../pipeline/analyze.ts';
import type { FlowRecord } from '../flows/zeek-record.ts';
import type { Breach } from '../models/breach.ts';
import type { InjectedAttack } from '../sample/network.ts';

interface DemoRun {
  path: string; seed: number; genMs: number; summary: AnalyzeSummary; flows: FlowRecord[]; kept: boolean;
  /** the attack the generator injected (none if the capture ended first) */
  attack?: InjectedAttack;
  breaches: Breach[];
}

function tally<T>(items: T[], key: (t: T) => string, weight: (t: T) => number = () => 1): [string, number][] {
  const m = new Map<string, number>();
  for (const it of items) m.set(key(it), (m.get(key(it)) ?? 0) + weight(it));
  return [...m].sort((a, b) => b[1] - a[1]);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export function renderDemoReport(run: DemoRun): string {
  const { summary: s, flows } = run;
  const finals = flows.filter((f) => !f.interim);
  const lines: string[] = [];
  const hours = s.capture.span_s / 3600;
  lines.push(`edge-sensor demo — sample network, seed ${run.seed}`);
  lines.push('');
  lines.push(`Generated ${fmt(s.packets)} packets (${mb(s.inputs[0]?.bytes ?? 0)}) in ${(run.genMs / 1000).toFixed(1)} s, spanning ${hours.toFixed(1)} h of capture time.`);
  lines.push(`Analysed in ${s.wall_s.toFixed(2)} s: ${fmt(s.packets_per_s)} packets/s → ${fmt(s.flow_records)} flow records (${fmt(s.interim_records)} interim).`);
  lines.push('');
  lines.push('Flows by protocol/service:');
  for (const [k, v] of tally(finals, (f) => `${f.proto}/${f.service ?? '-'}`).slice(0, 8)) lines.push(`  ${k.padEnd(20)} ${fmt(v).padStart(8)}`);
  lines.push('');
  lines.push('TCP connection states (Zeek conn_state):');
  for (const [k, v] of tally(finals.filter((f) => f.proto === 'tcp'), (f) => f.conn_state)) lines.push(`  ${k.padEnd(8)} ${fmt(v).padStart(8)}`);
  lines.push('');
  lines.push('Top talkers by bytes sent:');
  for (const [k, v] of tally(finals, (f) => f['id.orig_h'], (f) => f.orig_ip_bytes).slice(0, 5)) lines.push(`  ${k.padEnd(40)} ${mb(v).padStart(10)}`);
  const external = new Set(finals.filter((f) => f.local_orig && !f.local_resp).map((f) => f['id.resp_h']));
  lines.push('');
  lines.push(`External destinations contacted: ${fmt(external.size)}`);
  const errs = Object.entries(s.errors);
  lines.push(`Input errors: ${errs.length ? errs.map(([k, v]) => `${k}=${v}`).join(', ') : 'none'}`);
  lines.push('');
  const t0 = s.capture.first_ts ?? 0;
  const at = (ts: number) => `+${(ts - t0).toFixed(1)} s`.padStart(9);
  if (run.attack) {
    lines.push(`Injected at ${at(run.attack.ts).trim()} from ${run.attack.device.name} (${run.attack.device.ip}):`);
    for (const step of run.attack.steps) lines.push(`  - ${step}`);
  } else {
    lines.push('No attack injected.');
  }
  lines.push('');
  lines.push(`Model breaches (${run.breaches.length}; learning period off for this short capture):`);
  for (const b of run.breaches) {
    lines.push(`  ${at(Date.parse(b.time) / 1000)}  [${String(b.score).padStart(3)}] ${b.title}  (${b.mitre.join(', ')})`);
    lines.push(`             ${b.summary}`);
  }
  if (!run.breaches.length) lines.push('  none');
  lines.push('');
  lines.push(run.kept
    ? `Capture kept at ${run.path}. Try: npx edge-sensor analyze ${run.path} --flows - , or --breaches - --learning 0`
    : 'Run "npx edge-sensor analyze <capture> --flows -" (and --breaches -) on your own capture.');
  return lines.join('\n') + '\n';
}
