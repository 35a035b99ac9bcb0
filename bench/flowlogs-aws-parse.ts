// How fast the AWS VPC flow-log parser turns default-format (version 2)
// record lines into flow events: N seeded random lines are generated in
// memory, then parsed and emitted into a sink that only counts. Parsing only:
// no file reading, no gunzip, no line splitting (`--reader` also times the
// whole reader over the same bytes written to a temporary file).
//
//   npx tsx bench/flowlogs-aws-parse.ts [--records N] [--runs R] [--seed S] [--reader]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AWS_FLOW, AWS_NODATA, AwsVpcParser } from '../sensor/flowlogs/aws-vpc.ts';
import { readAwsVpc } from '../sensor/flowlogs/aws-vpc-reader.ts';
import type { FlowEvent, FlowEventSink, FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { Rng } from '../sensor/sample/rng.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}
const N = Number(arg('records', '2000000'));
const RUNS = Number(arg('runs', '5'));
const SEED = arg('seed', 'aws-vpc-bench-1');

/** Default-format lines as one buffer: ~300 ENIs, 97% IPv4, 1% NODATA, a mix of TCP/UDP/ICMP. */
export function generateAwsLines(n: number, seed: string | number): { buf: Buffer; starts: Int32Array; ends: Int32Array } {
  const rng = new Rng(seed);
  const enis = Array.from({ length: 300 }, () => `eni-${rng.u32().toString(16).padStart(8, '0')}${rng.u32().toString(16).padStart(9, '0').slice(0, 9)}`);
  const ip4 = () => rng.chance(0.7) ? `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}` : `${rng.int(1, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
  const ip6 = () => `2001:db8:${rng.int(0, 0xffff).toString(16)}::${rng.int(1, 0xffff).toString(16)}`;
  const parts: string[] = [];
  let t = 1_700_000_000;
  let eni = rng.pick(enis);
  for (let i = 0; i < n; i++) {
    if (rng.chance(0.05)) eni = rng.pick(enis); // S3 objects group records by ENI
    if (rng.chance(0.01)) { parts.push(`2 123456789012 ${eni} - - - - - - - ${t} ${t + 60} - NODATA`); continue; }
    const v6 = rng.chance(0.03);
    const proto = rng.weighted([6, 17, 1], [0.8, 0.17, 0.03]);
    const sp = proto === 1 ? 0 : rng.int(1024, 65535), dp = proto === 1 ? 0 : rng.pick([443, 80, 22, 53, 3306, 8080]);
    const pk = rng.lognormalInt(10, 1.5, 1, 1e7);
    const by = pk * rng.int(40, 1500);
    if (rng.chance(0.01)) t += 60;
    parts.push(`2 123456789012 ${eni} ${v6 ? ip6() : ip4()} ${v6 ? ip6() : ip4()} ${sp} ${dp} ${proto} ${pk} ${by} ${t} ${t + rng.int(0, 59)} ${rng.chance(0.9) ? 'ACCEPT' : 'REJECT'} OK`);
  }
  const buf = Buffer.from(`${parts.join('\n')}\n`, 'latin1');
  const starts = new Int32Array(n), ends = new Int32Array(n);
  let pos = 0;
  for (let i = 0; i < n; i++) { const nl = buf.indexOf(10, pos); starts[i] = pos; ends[i] = nl; pos = nl + 1; }
  return { buf, starts, ends };
}

class CountingSink implements FlowEventSink {
  events = 0; rejects = 0; bytes = 0;
  emit(ev: FlowEvent): void { this.events++; this.bytes += ev.bytes; }
  reject(_r: FlowRejection): void { this.rejects++; }
}

function main(): void {
  const { buf, starts, ends } = generateAwsLines(N, SEED);
  console.error(`${N} lines, ${(buf.length / 1e6).toFixed(1)} MB (seed ${SEED})`);
  let best = Infinity, bestCpu = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const parser = new AwsVpcParser();
    const sink = new CountingSink();
    let nodata = 0;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      const res = parser.parse(buf, starts[i]!, ends[i]!);
      if (res === AWS_FLOW) sink.emit(parser.ev);
      else if (res === AWS_NODATA) nodata++;
      else sink.reject({ kind: parser.errorKind, input: 'bench', message: parser.errorMessage });
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cu = process.cpuUsage(c0);
    const cpu = (cu.user + cu.system) / 1e6;
    if (sink.rejects !== 0) throw new Error(`${sink.rejects} rejections: generator and parser disagree`);
    best = Math.min(best, s);
    bestCpu = Math.min(bestCpu, cpu);
    console.error(`run ${r + 1}: ${s.toFixed(3)} s (cpu ${cpu.toFixed(3)} s), ${sink.events} events, ${nodata} NODATA, ${parser.reporters.misses} reporter misses`);
  }
  // CPU time is the figure to quote on a shared machine: wall time includes waiting for a core.
  console.log(`parse+emit: ${(N / bestCpu / 1e6).toFixed(2)} M records/s, ${(buf.length / bestCpu / 1e6).toFixed(0)} MB/s per CPU-second `
    + `(wall: ${(N / best / 1e6).toFixed(2)} M/s; best of ${RUNS}, ${N} default-format records)`);
}

async function reader(): Promise<void> {
  const { buf } = generateAwsLines(N, SEED);
  const dir = mkdtempSync(join(tmpdir(), 'aws-bench-'));
  try {
    const f = join(dir, 'flows.log');
    writeFileSync(f, buf);
    let best = Infinity;
    for (let r = 0; r < RUNS; r++) {
      const sink = new CountingSink();
      const t0 = process.hrtime.bigint();
      const sum = await readAwsVpc(f, sink);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      best = Math.min(best, s);
      console.error(`reader run ${r + 1}: ${s.toFixed(3)} s, ${sum.records} records`);
    }
    console.log(`reader (file → lines → parse → emit): ${(N / best / 1e6).toFixed(2)} M records/s, ${(buf.length / best / 1e6).toFixed(0)} MB/s`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

// Run only as a script: bench/flow-sources.ts imports generateAwsLines from here.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, ''))) {
  main();
  if (process.argv.includes('--reader')) await reader();
}
