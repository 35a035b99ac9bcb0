// Makes a generated capture by hand:
//   node --import tsx sensor/sample/sample-capture-cli.ts OUT [--packets N] [--seed S]
//        [--format pcap|pcapng] [--hosts N] [--gzip] [--ns] [--truth FILE.jsonl]
// Its own file, not a "run if main" guard in sample-capture.ts: in the CLI's
// bundle every module shares one import.meta.url, so such a guard ran this
// command whenever the bundle was started directly (`node build/js/cli/main.cjs`).

import type { CaptureFormat } from "./capture-writer.ts";
import { writeSampleCapture, type SampleCaptureOptions } from "./sample-capture.ts";

function main(argv: string[]): void {
  const out = argv[0];
  if (!out || out.startsWith("-")) {
    process.stderr.write("usage: sample-capture-cli.ts OUT [--packets N] [--seed S] [--format pcap|pcapng] [--hosts N] [--gzip] [--ns] [--truth FILE]\n");
    process.exit(2);
  }
  const opts: SampleCaptureOptions = {};
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--packets") opts.packets = Number(val());
    else if (a === "--seed") { const v = val(); opts.seed = /^\d+$/.test(v) ? Number(v) : v; }
    else if (a === "--format") opts.format = val() as CaptureFormat;
    else if (a === "--hosts") opts.hosts = Number(val());
    else if (a === "--duration") opts.durationS = Number(val());
    else if (a === "--gzip") opts.gzip = true;
    else if (a === "--ns") opts.nanosecond = true;
    else if (a === "--truth") opts.truthPath = val();
    else throw new Error(`unknown option ${a}`);
  }
  const r = writeSampleCapture(out, opts);
  const { flows: _flows, hosts: _hosts, ...rest } = r;
  process.stdout.write(JSON.stringify({ ...rest, packetsPerSecond: Math.round(r.packets / (r.elapsedMs / 1000)) }, null, 2) + "\n");
}

main(process.argv.slice(2));
