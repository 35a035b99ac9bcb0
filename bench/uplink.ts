// The uplink into the aggregator, a section of `npm run bench` (issue 6:
// "breaches/s from N sensors (N = 1, 10, 50) into one aggregator with
// storage and correlation, and p50/p99 delivery latency at a steady rate
// … Target: at least 100k breaches/s stored, p99 below 50 ms at 5k
// breaches/s").
//
// The aggregator runs here, as the `aggregator` command runs it: the gRPC
// server, the LMDB store (a synced commit before every ack, commits grouped
// across batches and sensors) and the incident correlator fed with every
// stored breach. The sensors are simulated in another process
// (bench/uplink-load.ts) as raw streams of the real protocol with a bounded
// window of unacknowledged batches, as the uplink client sends them, their
// messages encoded before the clock starts: on this 2-core machine the
// aggregator gets one core, as it would get its own machine. Each sensor's
// breaches cycle over 2,000 devices, so correlation sees devices breach
// again.
//
// Three servers per row, in the same run: the aggregator with correlation
// (what users run), without it (delivery and storage alone), and the peer,
// a grpc-js server that acks each batch at once without validating or
// storing, over the same stream: the ratio says what validation, storage
// and correlation cost over the transport.
//
//   npx tsx bench/uplink.ts [--breaches N (200000)] [--batch N (500, the uplink client's)] [--no-write]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance as perf } from 'node:perf_hooks';
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { startAggregatorServer } from '../sensor/aggregator/grpc-server.ts';
import { openAggregatorStore } from '../sensor/aggregator/aggregator-store.ts';
import { IncidentService } from '../sensor/aggregator/incident-service.ts';
import type { Log } from '../sensor/log/logger.ts';
import { UPLINK_SERVICE } from '../sensor/uplink/protocol.ts';
import { writeResultsSection } from './measure.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => { const i = args.indexOf(name); return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt; };
const TOTAL = Math.max(1000, Number(flag('--breaches', '200000')));
const BATCH = Math.max(1, Math.min(1000, Number(flag('--batch', '500'))));
const WRITE = !args.includes('--no-write');
const WINDOW = 8;
const STORED_TARGET = 100_000;
const LATENCY_RATE = 5000;
const LATENCY_TARGET_MS = 50;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const quiet: Log = { level: 'error', debug() {}, info() {}, warn() {}, error() {}, fatal() {} } as unknown as Log;

interface Target { address: string; close(): Promise<void>; stored(): number }

/**
 * Run the load process against `address`; resolves with its result line.
 * While it floods (from its "go" line to its end), the main thread's
 * utilization and this process's CPU time (every thread) are measured.
 */
function load(address: string, extra: string[]): Promise<{ rate: number; seconds: number; elu: number; cpuMs: number } & Record<string, number>> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'uplink-load.ts'), address, '--batch', String(BATCH), '--window', String(WINDOW), ...extra], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
  let out = '';
  let elu0 = perf.eventLoopUtilization();
  let cpu0 = process.cpuUsage();
  child.stdout.on('data', (d: Buffer) => {
    out += String(d);
    if (out.startsWith('go\n')) { out = out.slice(3); elu0 = perf.eventLoopUtilization(); cpu0 = process.cpuUsage(); }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const elu = perf.eventLoopUtilization(elu0).utilization;
      const cpu = process.cpuUsage(cpu0);
      if (code !== 0) return reject(new Error(`bench/uplink-load.ts exited with ${code}`));
      resolve({ ...JSON.parse(out.trim()), elu, cpuMs: (cpu.user + cpu.system) / 1000 });
    });
  });
}

/** A grpc-js server that acks each batch at once: the transport alone. */
async function rawServer(): Promise<Target> {
  const server = new Server();
  server.addService(UPLINK_SERVICE, {
    Connect: (call: ServerDuplexStream<{ hello?: unknown; breaches?: { items: { seq: number }[] } }, unknown>) => {
      call.on('data', (m) => {
        if (m.hello) call.write({ welcome: { aggregator_id: 'raw', protocol_version: 1, acked_seq: 0, max_batch_items: 1000, max_message_bytes: 4 << 20 } });
        else if (m.breaches) call.write({ ack: { acked_seq: m.breaches.items.at(-1)!.seq } });
      });
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return { address: `127.0.0.1:${port}`, stored: () => 0, close: () => new Promise((res) => server.tryShutdown(() => res())) };
}

async function aggregator(correlate: boolean): Promise<Target & { incidents: () => number }> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-bench-uplink-'));
  const store = openAggregatorStore(dir);
  const incidents = new IncidentService();
  const server = await startAggregatorServer({
    address: '127.0.0.1:0', store, credentials: ServerCredentials.createInsecure(), authorize: () => true, logger: quiet,
    ...(correlate ? { onStored: (sensor: string, items: Parameters<IncidentService['addStored']>[1]) => incidents.addStored(sensor, items) } : {}),
  });
  return {
    address: `127.0.0.1:${server.port}`, stored: () => server.stats().stored, incidents: () => incidents.correlator.size,
    close: async () => { await server.close(500); await store.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

async function main(): Promise<void> {
  const load0 = loadavg();
  const rows: string[][] = [];
  let best = 0;
  for (const n of [1, 10, 50]) {
    const per = Math.ceil(TOTAL / n);
    const flood = ['--sensors', String(n), '--per', String(per)];
    const raw = await rawServer();
    const rawRun = await load(raw.address, flood);
    await raw.close();
    const plain = await aggregator(false);
    const plainRun = await load(plain.address, [...flood, '--prefix', 'plain']);
    const plainStored = plain.stored();
    await plain.close();
    const full = await aggregator(true);
    const fullRun = await load(full.address, [...flood, '--prefix', 'full']);
    const stored = full.stored(), incidents = full.incidents();
    await full.close();
    best = Math.max(best, fullRun.rate);
    const usPer = (fullRun.cpuMs * 1000) / stored;
    say(`${n} sensor(s): stored with correlation ${fmt(fullRun.rate)}/s (${stored} stored, ${incidents} incidents), without ${fmt(plainRun.rate)}/s (${plainStored}), grpc-js alone ${fmt(rawRun.rate)}/s; main thread ${(fullRun.elu * 100).toFixed(0)}% busy, ${usPer.toFixed(1)} µs CPU a breach`);
    rows.push([
      `${n} sensor${n === 1 ? '' : 's'}`, `${fmt(fullRun.rate)}/s`, `${fmt(plainRun.rate)}/s`, `${fmt(rawRun.rate)}/s`, `${(fullRun.rate / rawRun.rate).toFixed(2)}×`,
      `${(fullRun.elu * 100).toFixed(0)}%`, `${usPer.toFixed(1)} µs`, `${fmt(stored)} stored, ${fmt(incidents)} incidents`,
    ]);
  }
  const agg = await aggregator(true);
  const lat = await load(agg.address, ['--latency', String(LATENCY_RATE), '--seconds', '5']);
  await agg.close();
  say(`latency at ${LATENCY_RATE}/s: p50 ${lat.p50!.toFixed(1)} ms, p99 ${lat.p99!.toFixed(1)} ms`);
  const load1 = loadavg();
  const table = [
    '| sensors | stored, with correlation | stored, without | grpc-js alone (acks, no storage) | ratio (with correlation) | aggregator main thread busy | aggregator CPU a breach (all threads) | note |',
    '|---|--:|--:|--:|--:|--:|--:|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  const verdict = `best ${fmt(best)} breaches/s stored and correlated against a target of ${fmt(STORED_TARGET)}/s: ${best >= STORED_TARGET ? 'met' : '**not met**'}; ` +
    `at a steady ${fmt(LATENCY_RATE)} breaches/s (batches every 10 ms) delivery latency p50 ${lat.p50!.toFixed(1)} ms, p99 ${lat.p99!.toFixed(1)} ms, max ${lat.max!.toFixed(1)} ms against p99 < ${LATENCY_TARGET_MS} ms: ${lat.p99! < LATENCY_TARGET_MS ? 'met' : '**not met**'}`;
  const loads = `load average ${load0.map((x) => x.toFixed(2)).join(' / ')} at start, ${load1.map((x) => x.toFixed(2)).join(' / ')} at the end, ${cpus().length} cores`;
  process.stdout.write(`\nuplink: ${fmt(TOTAL)} breaches per run, batches of ${BATCH}; ${loads}\n\n${table.join('\n')}\n\n${verdict}.\n`);
  if (WRITE) {
    writeResultsSection(root, '## Uplink (bench/uplink.ts)', [
      `${fmt(TOTAL)} breaches (~700 bytes of JSON each, cycling over 2,000 devices a sensor) per run from N sensors simulated in another process (bench/uplink-load.ts) as raw streams of the protocol, batches of ${BATCH}, ${WINDOW} in flight each, into the aggregator on loopback (validation, LMDB commits synced before each ack and grouped across batches, and the incident correlator), into the same without correlation, and into a grpc-js server that only acks, in the same run; ${loads}.`,
      '', ...table, '', `${verdict}.`,
    ]);
    say('appended to bench/RESULTS.md');
  }
}

await main();
