// `edge-sensor demo` (what `npm start` runs): generate a small seeded sample
// network as a capture, run the sensor over it and print what it saw. No
// external services, no downloads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../pipeline/analyze.ts';
import type { FlowRecord } from '../flows/zeek-record.ts';
import { writeSampleCapture } from '../sample/sample-capture.ts';
import { numberFlag, parse } from './args.ts';
import { renderDemoReport } from './demo-report.ts';

export const DEMO_HELP = `Usage: edge-sensor demo [options]

Generate a seeded sample enterprise network (workstations, servers, DNS,
web, SSH, file shares, some IPv6 and VLANs) as a pcap, analyse it with the
sensor and print a summary of the flows it found.

Options:
  --seed N       generator seed (default 1)
  --packets N    approximate packets to generate (default 50000)
  --keep DIR     keep the generated capture in DIR instead of a temp dir
  -h, --help     this help
`;

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { seed: { type: 'string' }, packets: { type: 'string' }, keep: { type: 'string' } });
  if (values.help) { process.stdout.write(DEMO_HELP); return 0; }
  const seed = numberFlag(values.seed, 'seed', { integer: true }) ?? 1;
  const packets = numberFlag(values.packets, 'packets', { min: 100, integer: true }) ?? 50_000;
  const dir = (values.keep as string | undefined) ?? mkdtempSync(join(tmpdir(), 'edge-sensor-demo-'));
  const path = join(dir, `sample-seed${seed}.pcap`);
  try {
    const genStart = Date.now();
    await writeSampleCapture(path, { seed, packets, format: 'pcap' });
    const genMs = Date.now() - genStart;
    const flows: FlowRecord[] = [];
    const summary = await analyze({ inputs: [path], onRecord: (r) => flows.push(r), progress: false });
    process.stdout.write(renderDemoReport({ path, seed, genMs, summary, flows, kept: values.keep !== undefined }));
    return summary.inputs.every((i) => i.ok) ? 0 : 1;
  } finally {
    if (values.keep === undefined) rmSync(dir, { recursive: true, force: true });
  }
}
