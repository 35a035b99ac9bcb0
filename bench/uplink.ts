// The uplink into the aggregator, a section of `npm run bench` (issue 6:
// "breaches/s from N sensors (N = 1, 10, 50) into one aggregator with
// storage and correlation, and p50/p99 delivery latency at a steady rate
// … Target: at least 100k breaches/s stored, p99 below 50 ms at 5k
// breaches/s").
//
// Sensors are simulated in this process as raw grpc-js streams of the real
// protocol (Hello, then BreachBatch after BreachBatch with a bounded window
// of unacknowledged batches, as the uplink client sends them): what is
// measured is the aggregator — validation, the LMDB commit per batch
// (synced), the cumulative acks. The peer in the same run is grpc-js itself:
// a server that acks each batch at once, without validating or storing,
// over the same stream, so the ratio says what storage and validation cost
// over the transport. The aggregator here runs without the incident
// correlator the `aggregator` command feeds (it takes ~300 k breaches/s
// alone): these figures are delivery and storage.
//
//   npx tsx bench/uplink.ts [--breaches N (200000)] [--batch N (100)] [--no-write]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metadata, Server, ServerCredentials, credentials, type ClientDuplexStream, type ServerDuplexStream } from '@grpc/grpc-js';
import { startAggregatorServer } from '../sensor/aggregator/grpc-server.ts';
import { openAggregatorStore } from '../sensor/aggregator/aggregator-store.ts';
import type { Log } from '../sensor/log/logger.ts';
import { UPLINK_SERVICE, UplinkClient, type AggregatorMessageIn, type BreachItem, type SensorMessageOut } from '../sensor/uplink/protocol.ts';
import { writeResultsSection } from './measure.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => { const i = args.indexOf(name); return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt; };
const TOTAL = Math.max(1000, Number(flag('--breaches', '200000')));
const BATCH = Math.max(1, Math.min(1000, Number(flag('--batch', '100'))));
const WRITE = !args.includes('--no-write');
const WINDOW = 8;
const STORED_TARGET = 100_000;
const LATENCY_RATE = 5000;
const LATENCY_TARGET_MS = 50;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const quiet: Log = { level: 'error', debug() {}, info() {}, warn() {}, error() {}, fatal() {} } as unknown as Log;
const T0 = Date.parse('2026-11-20T00:00:00Z');

/** One breach as the sensor writes it (a real shape, ~700 bytes of JSON). */
function item(sensor: number, seq: number): BreachItem {
  const time = new Date(T0 + seq * 10).toISOString();
  const id = `${sensor.toString(16).padStart(4, '0')}${seq.toString(16).padStart(12, '0')}`;
  const b = {
    id, time, model: 'device-network-scan', title: 'Device / Network Scan', category: 'suspicious', score: 55, mitre: ['T1046'],
    device: { ip: `10.${sensor & 255}.${(seq >> 8) & 255}.${seq & 255}` },
    metrics: [{ name: 'count', value: 26, threshold: '>= 25', window_s: 300, description: 'distinct hosts contacted on one port' }],
    summary: `10.${sensor & 255}.${(seq >> 8) & 255}.${seq & 255} contacted 26 hosts on port 445 in 5 minutes`,
    evidence: [{ uid: 'CabcdefGHIJ1234567', community_id: '1:LQU9qZlK+B5F3KDmev6m5PMibrg=' }],
  };
  return { seq, id, time, model: b.model, score: b.score, json: JSON.stringify(b) };
}

interface Stream { call: ClientDuplexStream<SensorMessageOut, AggregatorMessageIn>; acked: number; onAck: ((seq: number) => void)[]; close(): void }

function connect(address: string, sensor: string): Promise<Stream> {
  const client = new UplinkClient(address, credentials.createInsecure(), {});
  const call = (client as unknown as { Connect(md: Metadata): ClientDuplexStream<SensorMessageOut, AggregatorMessageIn> }).Connect(new Metadata());
  const s: Stream = { call, acked: 0, onAck: [], close: () => { call.end(); client.close(); } };
  return new Promise((resolve, reject) => {
    call.on('data', (m: AggregatorMessageIn) => {
      if (m.msg === 'welcome') { s.acked = m.welcome.acked_seq; resolve(s); }
      if (m.msg === 'ack') { s.acked = m.ack.acked_seq; for (const f of s.onAck) f(s.acked); }
    });
    call.on('error', (e) => reject(e));
    call.write({ hello: { sensor_id: sensor, sensor_version: 'bench', protocol_version: 1, capabilities: [], last_seq: 0, state_id: sensor } });
  });
}

/** Send `count` breaches as fast as the window allows; resolves once all are acknowledged. */
function flood(s: Stream, batches: BreachItem[][]): Promise<void> {
  return new Promise((resolve) => {
    let next = 0;
    const last = batches.at(-1)!.at(-1)!.seq;
    const pump = () => {
      while (next < batches.length && batches[next]![0]!.seq - 1 - s.acked < WINDOW * BATCH) s.call.write({ breaches: { items: batches[next++]! } });
    };
    s.onAck.push((acked) => { if (acked >= last) resolve(); else pump(); });
    pump();
  });
}

function batchesOf(sensor: number, count: number): BreachItem[][] {
  const out: BreachItem[][] = [];
  for (let seq = 1; seq <= count; seq += BATCH) out.push(Array.from({ length: Math.min(BATCH, count - seq + 1) }, (_, k) => item(sensor, seq + k)));
  return out;
}

/** A grpc-js server that acks each batch at once: the transport alone. */
async function rawServer(): Promise<{ address: string; close(): Promise<void> }> {
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
  return { address: `127.0.0.1:${port}`, close: () => new Promise((res) => server.tryShutdown(() => res())) };
}

async function aggregator(): Promise<{ address: string; close(): Promise<void>; stored(): number }> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-bench-uplink-'));
  const store = openAggregatorStore(dir);
  const server = await startAggregatorServer({ address: '127.0.0.1:0', store, credentials: ServerCredentials.createInsecure(), authorize: () => true, logger: quiet });
  return {
    address: `127.0.0.1:${server.port}`, stored: () => server.stats().stored,
    close: async () => { await server.close(500); await store.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** N sensors at once, TOTAL breaches between them: breaches per second acknowledged. */
async function throughput(address: string, n: number): Promise<number> {
  const per = Math.ceil(TOTAL / n);
  const streams = await Promise.all(Array.from({ length: n }, (_, i) => connect(address, `bench-${n}-${i}`)));
  const work = streams.map((_, i) => batchesOf(i, per));
  const t = performance.now();
  await Promise.all(streams.map((s, i) => flood(s, work[i]!)));
  const s = (performance.now() - t) / 1000;
  for (const x of streams) x.close();
  return (per * n) / s;
}

/** One sensor at `rate` breaches/s in batches every 10 ms: send-to-ack latency of each batch. */
async function latency(address: string, rate: number, seconds: number): Promise<{ p50: number; p99: number; max: number }> {
  const s = await connect(address, `bench-latency-${rate}`);
  const perTick = Math.max(1, Math.round(rate / 100));
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  s.onAck.push((acked) => { for (const [seq, at] of sentAt) if (seq <= acked) { lat.push(performance.now() - at); sentAt.delete(seq); } });
  let seq = 0;
  const ticks = seconds * 100;
  const start = performance.now();
  for (let k = 0; k < ticks; k++) {
    const items = Array.from({ length: perTick }, () => item(7, ++seq));
    sentAt.set(seq, performance.now());
    s.call.write({ breaches: { items } });
    const due = start + (k + 1) * 10;
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
  }
  while (sentAt.size) await new Promise((r) => setTimeout(r, 5));
  s.close();
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;
  return { p50: q(0.5), p99: q(0.99), max: lat.at(-1)! };
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const rows: string[][] = [];
  let best = 0;
  for (const n of [1, 10, 50]) {
    const raw = await rawServer();
    const rawRate = await throughput(raw.address, n);
    await raw.close();
    const agg = await aggregator();
    const rate = await throughput(agg.address, n);
    const stored = agg.stored();
    await agg.close();
    best = Math.max(best, rate);
    say(`${n} sensor(s): stored ${Math.round(rate)}/s (${stored} stored), grpc-js alone ${Math.round(rawRate)}/s`);
    rows.push([`${n} sensor${n === 1 ? '' : 's'}, batches of ${BATCH}`, `${Math.round(rate).toLocaleString('en-US')}/s`, `${Math.round(rawRate).toLocaleString('en-US')}/s`, `${(rate / rawRate).toFixed(2)}×`, `${stored.toLocaleString('en-US')} stored`]);
  }
  const agg = await aggregator();
  const lat = await latency(agg.address, LATENCY_RATE, 5);
  await agg.close();
  say(`latency at ${LATENCY_RATE}/s: p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms`);
  const load1 = loadavg();
  const table = [
    '| sensors | stored by the aggregator | grpc-js alone (acks, no storage) | ratio | note |',
    '|---|--:|--:|--:|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  const verdict = `best ${Math.round(best).toLocaleString('en-US')} breaches/s stored against a target of ${STORED_TARGET.toLocaleString('en-US')}/s: ${best >= STORED_TARGET ? 'met' : '**not met**'}; ` +
    `at a steady ${LATENCY_RATE.toLocaleString('en-US')} breaches/s (batches every 10 ms) delivery latency p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, max ${lat.max.toFixed(1)} ms against p99 < ${LATENCY_TARGET_MS} ms: ${lat.p99 < LATENCY_TARGET_MS ? 'met' : '**not met**'}`;
  const load = `load average ${load0.map((x) => x.toFixed(2)).join(' / ')} at start, ${load1.map((x) => x.toFixed(2)).join(' / ')} at the end, ${cpus().length} cores`;
  process.stdout.write(`\nuplink: ${TOTAL.toLocaleString('en-US')} breaches per run; ${load}\n\n${table.join('\n')}\n\n${verdict}.\n`);
  if (WRITE) {
    writeResultsSection(root, '## Uplink (bench/uplink.ts)', [
      `${TOTAL.toLocaleString('en-US')} breaches (~700 bytes of JSON each) per run from N sensors simulated in process as raw streams of the protocol, ${WINDOW} batches in flight each, into the aggregator on loopback (validation, an LMDB commit per batch, synced; without the incident correlator), and into a grpc-js server that only acks, in the same run; ${load}.`,
      '', ...table, '', `${verdict}.`,
    ]);
    say('appended to bench/RESULTS.md');
  }
}

await main();
