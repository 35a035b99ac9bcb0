// The simulated sensors of bench/uplink.ts, in a process of their own so
// the aggregator being measured has its own core (as it would have its own
// machine): N raw streams of the real protocol (Hello, then BreachBatch after
// BreachBatch with a bounded window of unacknowledged batches, as the uplink
// client sends them), each of `per` breaches. Messages are encoded before
// the clock starts, so what this process spends while measuring is the
// transport, not building breaches.
//
//   tsx bench/uplink-load.ts ADDRESS --sensors N --per N --batch N --window N [--prefix S]
//   tsx bench/uplink-load.ts ADDRESS --latency RATE --seconds S
// prints one JSON line on stdout: { rate } or { p50, p99, max }
import { Client, Metadata, credentials, type ClientDuplexStream, type MethodDefinition } from '@grpc/grpc-js';
import { UPLINK_SERVICE, type AggregatorMessageIn, type BreachItem, type SensorMessageOut } from '../sensor/uplink/protocol.ts';

const CONNECT = UPLINK_SERVICE.Connect as MethodDefinition<SensorMessageOut, AggregatorMessageIn>;
/** A SensorMessage as its bytes: batches are encoded before the clock starts */
const encode = (m: SensorMessageOut): Buffer => CONNECT.requestSerialize(m);

const args = process.argv.slice(2);
const address = args[0]!;
const num = (name: string, dflt: number) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
const str = (name: string, dflt: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1]! : dflt; };
const T0 = Date.parse('2026-11-20T00:00:00Z');

/** Devices per simulated sensor: its breaches cycle over them, so correlation sees devices breach again, as it would. */
export const BENCH_DEVICES = 2000;

/** One breach as the sensor writes it (a real shape, ~700 bytes of JSON), every 10 ms of breach time. */
export function benchBreach(sensor: number, seq: number): BreachItem {
  const time = new Date(T0 + seq * 10).toISOString();
  const id = `${sensor.toString(16).padStart(4, '0')}${seq.toString(16).padStart(12, '0')}`;
  const k = seq % BENCH_DEVICES;
  const ip = `10.${sensor & 255}.${(k >> 8) & 255}.${k & 255}`;
  const b = {
    id, time, model: 'device-network-scan', title: 'Device / Network Scan', category: 'suspicious', score: 55, mitre: ['T1046'],
    device: { ip },
    metrics: [{ name: 'count', value: 26, threshold: '>= 25', window_s: 300, description: 'distinct hosts contacted on one port' }],
    summary: `${ip} contacted 26 hosts on port 445 in 5 minutes`,
    evidence: [{ uid: 'CabcdefGHIJ1234567', community_id: '1:LQU9qZlK+B5F3KDmev6m5PMibrg=' }],
  };
  return { seq, id, time, model: b.model, score: b.score, json: JSON.stringify(b) };
}

interface Stream { call: ClientDuplexStream<Buffer, AggregatorMessageIn>; acked: number; onAck: ((seq: number) => void)[]; close(): void }

function connect(sensor: string): Promise<Stream> {
  const client = new Client(address, credentials.createInsecure(), {});
  const call = client.makeBidiStreamRequest<Buffer, AggregatorMessageIn>(CONNECT.path, (b) => b, CONNECT.responseDeserialize, new Metadata());
  const s: Stream = { call, acked: 0, onAck: [], close: () => { call.end(); client.close(); } };
  return new Promise((resolve, reject) => {
    call.on('data', (m: AggregatorMessageIn) => {
      if (m.msg === 'welcome') { s.acked = m.welcome.acked_seq; resolve(s); }
      if (m.msg === 'ack') { s.acked = m.ack.acked_seq; for (const f of s.onAck) f(s.acked); }
    });
    call.on('error', (e) => reject(e));
    call.write(encode({ hello: { sensor_id: sensor, sensor_version: 'bench', protocol_version: 1, capabilities: [], last_seq: 0, state_id: sensor } }));
  });
}

interface Batch { last: number; bytes: Buffer }

/** Send the batches as fast as the window allows; resolves once all are acknowledged. */
function flood(s: Stream, batches: Batch[], window: number): Promise<void> {
  return new Promise((resolve) => {
    let next = 0, done = 0;
    const last = batches.at(-1)!.last;
    const pump = () => {
      while (done < next && batches[done]!.last <= s.acked) done++;
      while (next < batches.length && next - done < window) s.call.write(batches[next++]!.bytes);
    };
    s.onAck.push((acked) => { if (acked >= last) resolve(); else pump(); });
    pump();
  });
}

async function throughput(): Promise<void> {
  const n = num('--sensors', 1), per = num('--per', 10_000), batch = num('--batch', 500), window = num('--window', 8);
  const prefix = str('--prefix', 'bench');
  const work = Array.from({ length: n }, (_, i) => {
    const out: Batch[] = [];
    for (let seq = 1; seq <= per; seq += batch) {
      const items = Array.from({ length: Math.min(batch, per - seq + 1) }, (_, k) => benchBreach(i, seq + k));
      out.push({ last: items.at(-1)!.seq, bytes: encode({ breaches: { items } }) });
    }
    return out;
  });
  const streams = await Promise.all(Array.from({ length: n }, (_, i) => connect(`${prefix}-${n}-${i}`)));
  process.stdout.write('go\n');
  const t = performance.now();
  await Promise.all(streams.map((s, i) => flood(s, work[i]!, window)));
  const seconds = (performance.now() - t) / 1000;
  for (const s of streams) s.close();
  process.stdout.write(`${JSON.stringify({ rate: (per * n) / seconds, seconds })}\n`);
}

/** One sensor at `rate` breaches/s in batches every 10 ms: send-to-ack latency of each batch. */
async function latency(): Promise<void> {
  const rate = num('--latency', 5000), seconds = num('--seconds', 5);
  const s = await connect(`${str('--prefix', 'bench')}-latency-${rate}`);
  const perTick = Math.max(1, Math.round(rate / 100));
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  s.onAck.push((acked) => { for (const [seq, at] of sentAt) if (seq <= acked) { lat.push(performance.now() - at); sentAt.delete(seq); } });
  let seq = 0;
  const start = performance.now();
  for (let k = 0; k < seconds * 100; k++) {
    const items = Array.from({ length: perTick }, () => benchBreach(7, ++seq));
    sentAt.set(seq, performance.now());
    s.call.write(encode({ breaches: { items } }));
    await new Promise((r) => setTimeout(r, Math.max(0, start + (k + 1) * 10 - performance.now())));
  }
  while (sentAt.size) await new Promise((r) => setTimeout(r, 5));
  s.close();
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;
  process.stdout.write(`${JSON.stringify({ p50: q(0.5), p99: q(0.99), max: lat.at(-1)! })}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) { if (args.includes('--latency')) await latency(); else await throughput(); }
