// `edge-sensor demo` (what `npm start` runs): generate a small seeded sample
// network with an injected attack as a capture, run the sensor over it (flows
// and detection), print what it saw, then deliver its breaches to an
// in-process aggregator over the uplink and print the incidents it
// correlated and its API address. No external services, no downloads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../pipeline/analyze.ts';
import type { FlowRecord } from '../flows/zeek-record.ts';
import { writeSampleCapture } from '../sample/sample-capture.ts';
import { numberFlag, parse } from './args.ts';
import { renderDemoReport } from './demo-report.ts';
import { renderIncidents, runDemoAggregator } from './demo-aggregator.ts';
import { logger } from '../log/logger.ts';
import type { Breach } from '../models/breach.ts';

/** Share of the sample's packets planned before the generator injects its attack. */
const ATTACK_AFTER = 0.4;

export const DEMO_HELP = `Usage: edge-sensor demo [options]

Generate a seeded sample enterprise network (workstations, servers, DNS,
web, SSH, file shares, some IPv6 and VLANs) with an attack injected from one
workstation (a network sweep, a port scan, SSH password guessing) as a pcap,
analyse it with the sensor (flows and detection) and print what it found.
Then the breaches go to an aggregator started in this process (loopback,
plaintext, a port the system picks) through the sensor's uplink, and the
incidents it correlates are printed with its HTTP API address. On a
terminal the aggregator keeps serving until Ctrl-C, so the API can be
browsed; otherwise (or with --no-serve) the demo ends there.

Options:
  --seed N       generator seed (default 1)
  --packets N    approximate packets to generate (default 50000)
  --keep DIR     keep the generated capture (and the sensor's and aggregator's data) in DIR instead of a temp dir
  --no-serve     end after printing, even on a terminal
  -h, --help     this help
`;

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { seed: { type: 'string' }, packets: { type: 'string' }, keep: { type: 'string' }, 'no-serve': { type: 'boolean' } });
  if (values.help) { process.stdout.write(DEMO_HELP); return 0; }
  const seed = numberFlag(values.seed, 'seed', { integer: true }) ?? 1;
  const packets = numberFlag(values.packets, 'packets', { min: 100, integer: true }) ?? 50_000;
  const dir = (values.keep as string | undefined) ?? mkdtempSync(join(tmpdir(), 'edge-sensor-demo-'));
  const path = join(dir, `sample-seed${seed}.pcap`);
  try {
    const genStart = Date.now();
    const sample = writeSampleCapture(path, { seed, packets, format: 'pcap', attackAfter: ATTACK_AFTER });
    const genMs = Date.now() - genStart;
    const flows: FlowRecord[] = [];
    const breaches: Breach[] = [];
    // a capture this short has no day to learn from: learning period off, as an analyst would run it
    const summary = await analyze({ inputs: [path], onRecord: (r) => flows.push(r), onBreach: (b) => breaches.push(b), learningS: 0, progress: false });
    process.stdout.write(renderDemoReport({ path, seed, genMs, summary, flows, kept: values.keep !== undefined, attack: sample.attack, breaches }));
    const agg = await runDemoAggregator(dir, breaches, logger());
    try {
      process.stdout.write(`\n${renderIncidents(agg)}`);
      if (process.stdout.isTTY && !values['no-serve']) {
        process.stdout.write('  serving until Ctrl-C …\n');
        await new Promise<void>((resolve) => { process.once('SIGINT', () => resolve()); process.once('SIGTERM', () => resolve()); });
      }
    } finally {
      await agg.close();
    }
    return summary.inputs.every((i) => i.ok) && agg.delivered === breaches.length ? 0 : 1;
  } finally {
    if (values.keep === undefined) rmSync(dir, { recursive: true, force: true });
  }
}
