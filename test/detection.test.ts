// Pattern of life and model breaches (issue 4, first part): the core's
// learner and gate, the model catalogue's validation, the engine's windows,
// learning period and throttle, end to end through `analyze` on small
// captures and flow logs with an attack injected — and silence on benign
// traffic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../sensor/pipeline/analyze.ts';
import type { Breach } from '../sensor/models/breach.ts';
import { BUILTIN_MODELS } from '../sensor/models/catalogue.ts';
import { compileModels } from '../sensor/models/compile.ts';
import { parseModels, ModelError, type Model } from '../sensor/models/model.ts';
import { BUILTIN_META_MODELS, MetaEngine } from '../sensor/models/meta.ts';
import { loadDetectionConfig } from '../sensor/models/detector.ts';
import { ModelEngine, scoreOf } from '../sensor/models/engine.ts';
import { FEATURES, FEATURE_INDEX, NEVER, OBS_KIND, OBS_LAYOUT, OBS_SIZE, ObservationView, type FeatureName } from '../sensor/learn/observation.ts';
import { GATE_LIMITS, GATE_OPS, WasmCore } from '../sensor/core/wasm-core.ts';
import { BreachWriter } from '../sensor/sinks/breach-writer.ts';
import { KEY_WORDS, WindowStore } from '../sensor/models/window-store.ts';
import type { FlowRecord } from '../sensor/flows/zeek-record.ts';
import { communityId } from '../sensor/flows/community-id.ts';
import { parseAddress } from '../sensor/flows/ip-address.ts';
import { cli, jsonLines } from './helpers/cli.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';
import { writeSampleCapture } from '../sensor/sample/sample-capture.ts';
import { pcapFile, type PcapRecord } from './helpers/capture-bytes.ts';
import { MAC_A, MAC_B, eth, ipv4, tcp } from './helpers/packet-bytes.ts';

const dir = mkdtempSync(join(tmpdir(), 'edge-detect-'));
const T0 = 1_700_000_000;
const SYN = 0x02, ACK = 0x10, RST = 0x04, SYNACK = 0x12, FINACK = 0x11, PSHACK = 0x18;

function frame(src: string, dst: string, sport: number, dport: number, flags: number, payload = 0): number[] {
  return eth(MAC_B, MAC_A, 0x0800, ipv4({ src, dst, proto: 6, payload: tcp({ sport, dport, flags, payload: new Array(payload).fill(0x41) }) }));
}

/** Records at time t (seconds, fractional) in order. */
class Trace {
  readonly records: PcapRecord[] = [];
  add(t: number, data: number[]): void {
    const sec = Math.floor(t);
    this.records.push({ sec, frac: Math.round((t - sec) * 1e6), data });
  }
  /** A complete, successful TCP session (handshake, one request and answer, FIN both ways). */
  session(t: number, c: string, s: string, cport: number, sport: number, bytes = 200): void {
    this.add(t, frame(c, s, cport, sport, SYN));
    this.add(t + 0.001, frame(s, c, sport, cport, SYNACK));
    this.add(t + 0.002, frame(c, s, cport, sport, ACK));
    this.add(t + 0.003, frame(c, s, cport, sport, PSHACK, bytes));
    this.add(t + 0.004, frame(s, c, sport, cport, PSHACK, bytes * 4));
    this.add(t + 0.005, frame(c, s, cport, sport, FINACK));
    this.add(t + 0.006, frame(s, c, sport, cport, FINACK));
    this.add(t + 0.007, frame(c, s, cport, sport, ACK));
  }
  write(name: string): string {
    const path = join(dir, name);
    this.records.sort((a, b) => a.sec - b.sec || a.frac - b.frac);
    writeFileSync(path, pcapFile(this.records));
    return path;
  }
}

async function breachesOf(path: string, opts: { learningS?: number; baselineS?: number; format?: 'aws-vpc' | 'zeek-conn' } = {}): Promise<{ breaches: Breach[]; flows: FlowRecord[]; detection: NonNullable<Awaited<ReturnType<typeof analyze>>['detection']> }> {
  const breaches: Breach[] = [];
  const flows: FlowRecord[] = [];
  const s = await analyze({
    inputs: [path], format: opts.format, onBreach: (b) => breaches.push(b), onRecord: (r) => flows.push(r),
    learningS: opts.learningS ?? 0, baselineS: opts.baselineS, progress: false,
  });
  return { breaches, flows, detection: s.detection! };
}

/**
 * Some ordinary background: a few hosts using a web server and an outside
 * site, at irregular times with varied sizes (a steady period to one rare
 * outside host is a beacon, and the beaconing model says so).
 */
function background(tr: Trace, from: number, to: number): void {
  let port = 40000;
  let k = 0;
  for (let t = from; t < to; t += 7) {
    k++;
    tr.session(t, '10.0.0.21', '10.0.0.80', port++, 443);
    const h = Math.imul(k, 0x9e3779b1) >>> 0;
    tr.session(t + 1 + (h % 11) / 2, '10.0.0.22', '198.51.100.7', port++, 443, 200 + ((h >>> 8) % 1400));
  }
}

test('a port scan (SYN → RST on 60 ports of one host) is one Device / Suspicious Port Scan breach, explained', async () => {
  const tr = new Trace();
  background(tr, T0, T0 + 300);
  for (let p = 1; p <= 60; p++) {
    const t = T0 + 100 + p * 0.5;
    tr.add(t, frame('10.0.0.5', '10.0.0.9', 50000 + p, p, SYN));
    tr.add(t + 0.0005, frame('10.0.0.9', '10.0.0.5', p, 50000 + p, RST | ACK));
  }
  const { breaches, flows, detection } = await breachesOf(tr.write('port-scan.pcap'));
  // the learning tables' memory is reported: what a tracked device, peer and channel cost
  const tables = Object.fromEntries(detection.tables.map((t) => [t.name, t]));
  assert.equal(Object.keys(tables), ['devices', 'endpoints', 'pairs', 'channels', 'client_ports', 'beacons', 'dns_names', 'dns_domains', 'dns_askers']);
  // the scanner, the background's two clients and the web server that answers them; the scan's
  // target only rejected (a host that never answers does not become a device)
  assert.is(tables.devices!.used, 4);
  assert.is(tables.channels!.used >= 60, true);
  for (const t of detection.tables) {
    // a table uses a power-of-two share of its capacity, at most half full unless at its capacity
    assert.is(t.bytes, t.active * (t.entry_bytes + 4));
    assert.ok(t.active <= t.capacity && (t.active & (t.active - 1)) === 0, `${t.name}: ${t.active} of ${t.capacity}`);
    assert.ok(t.used <= t.active / 2 || t.active === t.capacity, `${t.name}: ${t.used} in ${t.active}`);
  }
  assert.equal(breaches.map((b) => b.model), ['device-port-scan']);
  const b = breaches[0]!;
  assert.is(b.title, 'Device / Suspicious Port Scan');
  assert.equal(b.mitre, ['T1046']);
  assert.equal(b.device, { ip: '10.0.0.5', mac: MAC_A }); // the MAC its frames carry
  assert.equal(b.peer, { ip: '10.0.0.9', port: 21 });
  assert.is(b.score, 55); // at the threshold: the category's base
  assert.is(b.port, undefined);
  assert.is(b.category, 'suspicious');
  // the first port of the burst stays in the core (pair_fresh >= 1.5): raised
  // when the 21st was tried, at t0 + 100 + 21 × 0.5 s
  assert.is(b.time, new Date((T0 + 110.5) * 1000).toISOString());
  assert.match(b.summary, /^10\.0\.0\.5 tried 20 different ports on 10\.0\.0\.9 within 60 s/);
  const count = b.metrics.find((m) => m.name === 'count')!;
  assert.is(count.value, 20);
  assert.is(count.window_s, 60);
  // the evidence is the scan's last five probes, as the flow records name them
  const probe = new Map(flows.filter((f) => f['id.orig_h'] === '10.0.0.5' && f['id.resp_h'] === '10.0.0.9').map((f) => [f['id.resp_p'], f]));
  assert.equal(b.evidence, [17, 18, 19, 20, 21].map((p) => ({ uid: probe.get(p)!.uid, community_id: probe.get(p)!.community_id })));
  assert.is(b.metrics.find((m) => m.name === 'channel_gap_s')!.value, null); // never used before
});

test('a network sweep of unanswered SYNs is detected while it runs, long before the flows time out', async () => {
  const tr = new Trace();
  background(tr, T0, T0 + 200);
  for (let h = 1; h <= 40; h++) tr.add(T0 + 50 + h, frame('10.0.0.5', `10.0.1.${h}`, 51000 + h, 445, SYN));
  const { breaches } = await breachesOf(tr.write('sweep.pcap'));
  assert.equal(breaches.map((b) => b.model), ['device-network-scan']);
  const b = breaches[0]!;
  // 25 hosts counted within the minute (the first stays in the core): at
  // t0 + 76, while every probe is still open (S0 ends after 300 s)
  assert.is(b.time, new Date((T0 + 76) * 1000).toISOString());
  assert.is(b.port, 445);
  assert.is(b.peer, undefined); // a sweep has no one peer
  assert.match(b.summary, /contacted 25 internal hosts on port 445 within 60 s/);
});

test('the learning period holds breaches back (counted), and --learning 0 lets them through', async () => {
  const tr = new Trace();
  for (let p = 1; p <= 30; p++) tr.add(T0 + p, frame('10.0.0.5', '10.0.0.9', 50000 + p, p, SYN));
  const path = tr.write('scan-learning.pcap');
  const held = await breachesOf(path, { learningS: 86400 });
  assert.is(held.breaches.length, 0);
  assert.is(held.detection.suppressed_learning, 10); // probes 21 to 30, each past the threshold
  const open = await breachesOf(path, { learningS: 0 });
  assert.is(open.breaches.length, 1);
  // the throttle: the scan goes on past the threshold, one breach per hour
  assert.is(open.detection.suppressed_throttle, 9);
});

test('the learning period runs from the capture\'s start, not from the first observation a model passes', async () => {
  // a day and a bit of ordinary sessions (none of which passes a model's filters), then a scan
  const tr = new Trace();
  for (let t = T0; t < T0 + 90_000; t += 3600) tr.session(t, '10.0.0.21', '10.0.0.80', 40000 + (t - T0) / 3600, 443);
  for (let p = 1; p <= 30; p++) tr.add(T0 + 90_000 + p, frame('10.0.0.5', '10.0.0.9', 50000 + p, p, SYN));
  const { breaches, detection } = await breachesOf(tr.write('late-scan.pcap'), { learningS: 86400 });
  assert.equal(breaches.map((b) => b.model), ['device-port-scan']);
  assert.is(detection.suppressed_learning, 0);
});

test('brute force from flow logs: 30 short SSH connections to one server in two minutes; 30 short SMB sessions fetching files are not', async () => {
  const lines = ['version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status'];
  for (let i = 0; i < 30; i++) {
    const t = T0 + i * 4;
    lines.push(`2 123456789012 eni-0a 10.0.0.7 10.0.0.20 ${41000 + i} 22 6 12 2100 ${t} ${t + 2} ACCEPT OK`);
    lines.push(`2 123456789012 eni-0a 10.0.0.20 10.0.0.7 22 ${41000 + i} 6 10 2600 ${t} ${t + 2} ACCEPT OK`);
  }
  for (let i = 0; i < 20; i++) lines.push(`2 123456789012 eni-0b 10.0.0.8 10.0.0.20 ${42000 + i} 22 6 400 90000 ${T0 + i * 6} ${T0 + i * 6 + 120} ACCEPT OK`);
  // a workstation fetching files from its file server in 30 short SMB sessions (150 KB each) is not guessing passwords
  for (let i = 0; i < 30; i++) {
    const t = T0 + i * 5;
    lines.push(`2 123456789012 eni-0c 10.0.0.9 10.0.0.30 ${43000 + i} 445 6 40 5000 ${t} ${t + 3} ACCEPT OK`);
    lines.push(`2 123456789012 eni-0c 10.0.0.30 10.0.0.9 445 ${43000 + i} 6 110 150000 ${t} ${t + 3} ACCEPT OK`);
  }
  const path = join(dir, 'brute.log');
  writeFileSync(path, lines.join('\n') + '\n');
  const { breaches } = await breachesOf(path, { format: 'aws-vpc' });
  assert.equal(breaches.map((b) => `${b.model} ${b.device.ip}`), ['device-brute-force 10.0.0.7']);
  assert.equal(breaches[0]!.mitre, ['T1110']);
  assert.is(breaches[0]!.peer?.port, 22);
});

test('the week profile: 50 MB sent at 03:00 by a device only ever active in office hours is a breach; the same at 11:00 is not', async () => {
  const MONDAY = 1767571200; // 2026-01-05 00:00 UTC
  const head = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';
  const office = (): string[] => {
    const lines: string[] = [];
    let port = 30000;
    for (let day = 0; day < 14; day++) {
      if (day % 7 >= 5) continue; // weekends off
      for (let m = 9 * 60; m < 17 * 60; m += 10) {
        const t = MONDAY + day * 86400 + m * 60;
        lines.push(`2 123456789012 eni-0a 10.0.0.5 198.51.100.${1 + (m % 7)} ${port++} 443 6 20 9000 ${t} ${t + 5} ACCEPT OK`);
      }
    }
    return lines;
  };
  const upload = (t: number) => `2 123456789012 eni-0a 10.0.0.5 203.0.113.9 ${60000} 443 6 40000 50000000 ${t} ${t + 300} ACCEPT OK`;
  const night = join(dir, 'week-night.log');
  writeFileSync(night, [head, ...office(), upload(MONDAY + 14 * 86400 + 3 * 3600)].join('\n') + '\n');
  const day = join(dir, 'week-day.log');
  writeFileSync(day, [head, ...office(), upload(MONDAY + 14 * 86400 + 11 * 3600)].join('\n') + '\n');
  const atNight = await breachesOf(night, { format: 'aws-vpc', learningS: 86400 });
  const odd = atNight.breaches.filter((b) => b.model === 'unusual-activity-transfer-at-unusual-hour');
  assert.is(odd.length, 1);
  assert.match(odd[0]!.summary, /^10\.0\.0\.5 sent 50 MB to 203\.0\.113\.9 at an hour of the week it is almost never active \(0 ×/);
  const atDay = await breachesOf(day, { format: 'aws-vpc', learningS: 86400 });
  assert.is(atDay.breaches.filter((b) => b.model === 'unusual-activity-transfer-at-unusual-hour').length, 0);
});

test('a server calling new outside hosts breaches on a port new to it, not on the port it has used as a client for days (a mail server on 25)', async () => {
  const head = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';
  const lines: string[] = [];
  const line = (src: string, dst: string, sp: number, dp: number, t: number) => `2 123456789012 eni-0a ${src} ${dst} ${sp} ${dp} 6 10 4000 ${t} ${t + 2} ACCEPT OK`;
  let sp = 20000;
  for (const day of [0, 1, 2]) {
    // it mostly answers: 300 connections a day from internal clients
    for (let k = 0; k < 300; k++) lines.push(line(`10.0.1.${1 + (k % 200)}`, '10.0.0.25', sp++, 443, T0 + day * 86400 + k * 200));
    // and delivers mail to two outside hosts a day
    for (let k = 0; k < 2; k++) lines.push(line('10.0.0.25', `203.0.113.${day * 2 + k + 1}`, sp++, 25, T0 + day * 86400 + 1000 + k * 60));
  }
  const t = T0 + 2 * 86400 + 30_000;
  // three new mail hosts within minutes: its job
  for (let k = 0; k < 3; k++) lines.push(line('10.0.0.25', `198.51.100.${1 + k}`, sp++, 25, t + k * 60));
  // three new hosts on a port it never called out on: a foothold calling home
  for (let k = 0; k < 3; k++) lines.push(line('10.0.0.25', `198.51.100.${11 + k}`, sp++, 4444, t + 1000 + k * 60));
  lines.sort((a, b) => Number(a.split(' ')[10]) - Number(b.split(' ')[10]));
  const path = join(dir, 'mail-server.log');
  writeFileSync(path, [head, ...lines.filter((l) => l !== head)].join('\n') + '\n');
  const { breaches } = await breachesOf(path, { format: 'aws-vpc' });
  const server = breaches.filter((b) => b.model === 'server-new-external-connections');
  assert.equal(server.map((b) => [b.device.ip, b.peer?.ip ?? b.summary.match(/the latest (\S+)/)?.[1]]), [['10.0.0.25', '198.51.100.13']]);
  assert.match(server[0]!.summary, /on port 4444/);
});

test('real captures (../shared/data/pcap): detection runs over every one without failing, and the benign ones raise no critical breach even with no learning period', async () => {
  if (!needSharedData('detection over the shared captures')) return;
  const files = sharedFiles('pcap', (f) => /\.(pcap|pcapng|cap|gz)$/.test(f));
  assert.ok(files.length >= 100, `${files.length} captures`);
  let benign = 0, benignFlows = 0;
  const critical: string[] = [];
  for (const f of files) {
    const { breaches, flows } = await breachesOf(sharedPath(f));
    if (!f.startsWith('pcap/benign/')) continue;
    benign++;
    benignFlows += flows.length;
    for (const b of breaches) if (b.category === 'critical') critical.push(`${f}: ${b.model} ${b.summary}`);
  }
  assert.ok(benign >= 14 && benignFlows > 1000, `${benign} benign captures, ${benignFlows} flows`);
  assert.equal(critical, []);
});

test('a real labelled malware capture (Stratosphere CTU-SME-11, RemcosRAT, as a Zeek conn.log): its command-and-control retry loop breaches on the infected host, and nothing else does; a real vertical port scan is a port scan only', async () => {
  if (!needSharedData('the labelled RemcosRAT capture')) return;
  const path = sharedPath('flows/zeek_conn/stratosphere/test18-ctu-sme-11-labeled/zeek-labeled__conn.log.labeled');
  // the labels: 192.168.1.107 → 66.63.168.35:5888 is Malicious (data exfiltration channel, rejected 719 times)
  const labelled = readFileSync(path, 'utf8').split('\n').filter((l) => l.includes('\tMalicious\t'));
  assert.ok(labelled.length >= 700 && labelled.every((l) => l.includes('66.63.168.35')));
  const first = Math.min(...labelled.map((l) => Number(l.split('\t')[0])));
  const { breaches } = await breachesOf(path, { format: 'zeek-conn' });
  assert.equal(breaches.map((b) => [b.model, b.device.ip, b.peer?.ip]), [['anomalous-failed-connections-rare-endpoint', '192.168.1.107', '66.63.168.35']]);
  const b = breaches[0]!;
  assert.ok(Date.parse(b.time) / 1000 - first < 120, `detected ${Date.parse(b.time) / 1000 - first} s after the first attempt`);
  assert.equal(b.mitre, ['T1071', 'T1571']);
  assert.is(b.evidence.length, 5);
  // a real vertical port scan (nmap against scanme) fails on many ports: it is a port scan, not a retry loop
  const scan = await breachesOf(sharedPath('flows/zeek_conn/stratosphere/port-scans-vertical/vertical__conn.log'), { format: 'zeek-conn' });
  assert.equal(scan.breaches.map((x) => [x.model, x.device.ip, x.peer?.ip]), [['device-port-scan', '192.168.1.9', '45.33.32.156']]);
});

test('learning tables grow while half full: 20 k peers of one device are all kept and found again after the tables doubled', async () => {
  const head = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';
  const lines = [head];
  const peer = (i: number) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  for (let i = 0; i < 20_000; i++) lines.push(`2 123456789012 eni-0a 10.0.0.5 ${peer(i)} ${10_000 + (i % 50_000)} 443 6 4 900 ${T0 + i} ${T0 + i + 1} ACCEPT OK`);
  // the first 100 peers again, once every table has doubled several times
  for (let i = 0; i < 100; i++) lines.push(`2 123456789012 eni-0a 10.0.0.5 ${peer(i)} ${61_000 + i} 443 6 4 900 ${T0 + 30_000 + i} ${T0 + 30_001 + i} ACCEPT OK`);
  const path = join(dir, 'many-peers.log');
  writeFileSync(path, lines.join('\n') + '\n');
  const { detection } = await breachesOf(path, { format: 'aws-vpc' });
  const t = Object.fromEntries(detection.tables.map((x) => [x.name, x]));
  // a periodicity ring only for the peers contacted more than once (the first contact seeds it at the second)
  assert.is(t.beacons!.used, 100);
  assert.is(t.beacons!.active, 1024);
  for (const name of ['endpoints', 'pairs', 'channels'] as const) {
    // found again, not learned twice: exactly one entry per peer, none forgotten
    assert.is(t[name]!.used, 20_000, name);
    assert.is(t[name]!.evictions, 0, name);
    assert.is(t[name]!.active, Math.min(65_536, t[name]!.capacity), `${name}: grew from 1024 to the power of two keeping it at most half full (or its capacity)`);
  }
  assert.is(t.devices!.active, 1024);
});

test('the breach sink writes what a batch raised together, at the end of the batch', () => {
  const path = join(dir, 'batched.jsonl');
  const w = new BreachWriter(path);
  const { breaches } = runEngine({ ...TEST_MODEL, threshold: 1, throttle_s: 0 }, [{ ts: 1 }, { ts: 2 }, { ts: 3 }]);
  for (const b of breaches) w.write(b);
  assert.is(readFileSync(path, 'utf8'), '', 'held until the batch ends');
  w.flush();
  assert.equal(readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id), breaches.map((b) => b.id));
  const c = w.close();
  assert.equal({ received: c.received, sent: c.sent, errors: c.errors, discarded: c.discarded }, { received: 3, sent: 3, errors: 0, discarded: 0 });
  // a storm within one batch is written every 1,024 breaches, not held without bound
  const stormPath = join(dir, 'storm.jsonl');
  const storm = new BreachWriter(stormPath);
  for (let k = 0; k < 1500; k++) storm.write(breaches[k % 3]!);
  assert.is(readFileSync(stormPath, 'utf8').trim().split('\n').length, 1024);
  assert.is(storm.close().sent, 1500);
  assert.is(readFileSync(stormPath, 'utf8').trim().split('\n').length, 1500);
});

test('window store: doubling from 256 slots keeps every window and its buckets, evidence and key; past maxKeys each new window forgets one, and those kept are found', () => {
  const store = new WindowStore(8192);
  const key = new Uint32Array(KEY_WORDS);
  const peer = new Uint32Array([0, 0, 0xffff, 0]);
  const keyOf = (n: number) => { key.fill(0); key[2] = 0xffff; key[3] = 0x0a000000 + n; key[8] = 443; return key; };
  for (let n = 0; n < 5000; n++) {
    const s = store.slotFor(keyOf(n), 100, n + 1);
    assert.ok(store.created);
    store.add(s, 100, n);
    peer[3] = 0xc6336400 + (n & 255);
    store.evidence(s, 100, n, 1000 + n, 40000, 443, 6, true, peer);
  }
  assert.is(store.size, 5000);
  for (let n = 0; n < 5000; n += 7) {
    const s = store.slotFor(keyOf(n), 101, 10_000 + n);
    assert.not.ok(store.created, `window ${n} found again after the doublings`);
    assert.equal([...store.key(s)], [...keyOf(n)]);
    assert.is(store.total(s), n);
    assert.equal(store.evidenceFlows(s).map((e) => [e.serial, e.flowTs, e.devPort, e.peerPort, e.proto, e.originator, e.peer[3]]), [[n, 1000 + n, 40000, 443, 6, true, 0xc6336400 + (n & 255)]]);
  }
  assert.is(store.forgotten, 0);
  // past maxKeys every new window forgets one: exactly maxKeys are kept, and each kept one is still found
  for (let n = 5000; n < 12_000; n++) store.slotFor(keyOf(n), 102, 20_000 + n);
  assert.is(store.size, 8192);
  assert.is(store.forgotten, 12_000 - 8192);
  // (removals shift entries back: none of those kept is lost to a broken probe chain)
  let found = 0;
  for (let n = 0; n < 12_000; n++) if (store.find(keyOf(n)) >= 0) found++;
  assert.is(found, 8192);
  // what is forgotten is what was touched least recently: the newest windows are all kept, with their buckets
  for (let n = 11_900; n < 12_000; n++) {
    const s = store.find(keyOf(n));
    assert.ok(s >= 0, `window ${n}, among the newest, kept`);
    assert.is(store.newest(s), 102);
  }
});

test('an internet scan of a /16 is not learned: no 65 k devices, a known device keeps its history, and the scanner is still rare for our devices', async () => {
  const tr = new Trace();
  tr.session(T0, '10.0.0.5', '203.0.113.7', 40000, 443);
  for (let i = 0; i < 65536; i++) tr.add(T0 + 10 + i / 1000, frame('198.51.100.66', `10.5.${i >> 8}.${i & 255}`, 50000, 445, SYN));
  tr.session(T0 + 200, '10.0.0.5', '198.51.100.66', 40001, 443); // one of ours then talks to the scanner
  const { detection } = await breachesOf(tr.write('internet-scan.pcap'));
  const devices = detection.tables.find((t) => t.name === 'devices')!;
  assert.is(devices.used, 1);
  assert.is(devices.evictions, 0);
  // rarity of the scanner for 10.0.0.5: its probes of 65 k addresses do not make it "common"
  const probe = parseModels([{ id: 'probe-rare', title: 'Probe / Rare', category: 'informational', mitre: [], on: 'conn', filters: [
    { feature: 'direction', op: '==', value: 1 }, { feature: 'peer_rarity', op: '>=', value: 100 }],
  metric: { kind: 'count' }, group: ['peer'], window_s: 60, threshold: 1, throttle_s: 0, baseline: false, summary: 'x', metric_label: 'x' }], 'probe');
  const rare: Breach[] = [];
  const s = await analyze({ inputs: [join(dir, 'internet-scan.pcap')], onBreach: (b) => rare.push(b), models: probe, metas: [], learningS: 0, progress: false });
  assert.ok(s.counters.learn_unanswered! >= 65536, String(s.counters.learn_unanswered));
  assert.ok(rare.some((b) => b.peer?.ip === '198.51.100.66'));
});

test('a flow\'s end is judged with what its start learned (carried by serial), and read from the tables when 32 k flows opened meanwhile', async () => {
  const tr = new Trace();
  // two long connections to rare outside peers: A open across 33 k other flows (its start's carry is
  // overwritten: its end reads the tables), B across a few (its end reads the carry)
  const long = (c: string, s: string, cport: number, from: number, to: number) => {
    tr.add(from, frame(c, s, cport, 443, SYN));
    tr.add(from + 0.001, frame(s, c, 443, cport, SYNACK));
    tr.add(from + 0.002, frame(c, s, cport, 443, ACK));
    for (let t = from + 1; t < to; t += 120) tr.add(t, frame(c, s, cport, 443, PSHACK, 100));
    tr.add(to, frame(c, s, cport, 443, FINACK));
    tr.add(to + 0.001, frame(s, c, 443, cport, FINACK));
    tr.add(to + 0.002, frame(c, s, cport, 443, ACK));
  };
  long('10.0.0.5', '198.51.100.66', 41000, T0, T0 + 700);
  long('10.0.0.7', '198.51.100.77', 41001, T0 + 650, T0 + 700);
  for (let i = 0; i < 33_000; i++) tr.session(T0 + 1 + i * 0.018, '10.0.0.6', '10.0.0.80', 1024 + (i % 60000), 80);
  const path = tr.write('carry.pcap');
  const model = parseModels([{ id: 'long-rare', title: 'Test / Long Rare', category: 'informational', mitre: [], on: 'end', filters: [
    { feature: 'port', op: '==', value: 443 }, { feature: 'peer_rarity', op: '>=', value: 100 }, { feature: 'channel_age_s', op: '>=', value: 45 },
    { feature: 'pair_conns', op: '>=', value: 0.5 }, { feature: 'peer_age_s', op: '>=', value: 45 }],
  metric: { kind: 'count' }, group: ['peer'], window_s: 3600, threshold: 1, throttle_s: 0, baseline: false, summary: 'x', metric_label: 'x' }], 'carry');
  // in the packet thread, and in the detection thread (breaches to a file)
  for (const threaded of [false, true]) {
    let got: Breach[] = [];
    const out = join(dir, 'carry.jsonl');
    await analyze({ inputs: [path], ...(threaded ? { breachesTo: out } : { onBreach: (b: Breach) => got.push(b) }), models: model, metas: [], learningS: 0, progress: false });
    if (threaded) got = jsonLines<Breach>(readFileSync(out, 'utf8'));
    const metric = (b: Breach, name: string) => b.metrics.find((m) => m.name === name)?.value;
    assert.equal(got.map((b) => [b.device.ip, b.peer?.ip, metric(b, 'channel_age_s'), metric(b, 'peer_age_s'), metric(b, 'peer_rarity')]), [
      ['10.0.0.5', '198.51.100.66', 700, 700, 100],
      ['10.0.0.7', '198.51.100.77', 50, 50, 100],
    ], threaded ? 'thread' : 'inline');
  }
});

test('benign generated enterprise traffic raises no breach with the learning period off', async () => {
  const path = join(dir, 'benign.pcap');
  writeSampleCapture(path, { seed: 'detect-benign-1', packets: 60_000, format: 'pcap' });
  const { breaches, detection } = await breachesOf(path);
  assert.equal(breaches.map((b) => `${b.model} ${b.device.ip} ${b.summary}`), []);
  // what passed a filter: the baseline models' candidates, held back (every device is minutes old)
  assert.ok(detection.observations > 0);
  assert.ok(detection.suppressed_baseline > 0);
  assert.is(detection.suppressed_learning + detection.suppressed_throttle, 0);
});

test('models are validated: unknown features and fields are refused with where they are', () => {
  const base = { id: 'x-test', title: 'Test / X', category: 'suspicious', mitre: ['T1046'], on: 'conn', metric: { kind: 'count' }, window_s: 60, threshold: 1, summary: 's', metric_label: 'm' };
  assert.throws(() => parseModels([{ ...base, filters: [{ feature: 'peer_rarty', op: '>=', value: 1 }] }], 'f.json'), (e: Error) => e instanceof ModelError && /filters\[0\]\.feature: unknown feature "peer_rarty"/.test(e.message));
  assert.throws(() => parseModels([{ ...base, filters: [], treshold: 3 }], 'f.json'), /unknown field treshold/);
  assert.throws(() => parseModels([{ ...base, filters: [], title: 'No family' }], 'f.json'), /Family \/ Name/);
  assert.throws(() => parseModels([{ ...base, filters: [], mitre: ['1046'] }], 'f.json'), /technique ids/);
  assert.throws(() => parseModels([{ ...base, filters: [{ feature: 'port', op: 'in', value: ['9-3'] }] }], 'f.json'), /bad port range/);
  const file = join(dir, 'models.json');
  writeFileSync(file, JSON.stringify({ models: [{ ...BUILTIN_MODELS[0], enabled: false }, { ...base, filters: [] }] }));
  const merged = loadDetectionConfig(file).models;
  assert.is(merged.length, BUILTIN_MODELS.length + 1);
  assert.is(merged.find((m) => m.id === BUILTIN_MODELS[0]!.id)!.enabled, false);
});

test('the compiled gate: port lists become shared bitmaps; the core refuses an out-of-range program', () => {
  const p = compileModels(BUILTIN_MODELS);
  assert.is(p.models.length, BUILTIN_MODELS.length);
  // four distinct port lists: authentication services, administration, common outbound, polling protocols (DNS, NTP)
  assert.is(p.sets.length, 4);
  const bit = (set: Uint8Array, port: number) => (set[port >> 3]! >> (port & 7)) & 1;
  const brute = BUILTIN_MODELS.findIndex((m) => m.id === 'device-brute-force');
  const inClause = p.clauses[p.models[brute]!.first + 1]!;
  assert.is(inClause.op, GATE_OPS.in);
  assert.is(bit(p.sets[inClause.value]!, 22), 1);
  assert.is(bit(p.sets[inClause.value]!, 443), 0);
  const core = new WasmCore({});
  core.enableLearning({ devices: 64, endpoints: 64, pairs: 64, channels: 64, ports: 64, observations: 64 }, [], { retentionS: 86400, recountS: 3600, emitAll: false });
  assert.equal(core.gateLimits(), { ...GATE_LIMITS });
  core.setGateProgram(p);
  assert.throws(() => core.setGateProgram({ models: [{ kind: 1, first: 0, count: 5 }], clauses: [], sets: [] }), /refused/);
  assert.throws(() => core.setGateProgram({ models: [{ kind: 1, first: 0, count: 1 }], clauses: [{ feature: 99, op: 0, value: 0 }], sets: [] }), /refused/);
  // too big for the core's room: refused before a byte is written
  assert.throws(() => core.setGateProgram({ models: [], clauses: [], sets: new Array(GATE_LIMITS.sets + 1).fill(new Uint8Array(8192)) }), /at most/);
  assert.throws(() => compileModels(new Array(GATE_LIMITS.models + 1).fill(BUILTIN_MODELS[0])), /at most 64/);
});

test('the observation layout and the gate of the core and of JS agree (names, order, offsets, operators, room)', () => {
  const src = readFileSync(new URL('../asm/learn/observation.ts', import.meta.url), 'utf8');
  const names = [...src.matchAll(/export const FT_([A-Z0-9_]+): i32 = (\d+);/g)].map((m) => [Number(m[2]), m[1]!.toLowerCase()] as const).sort((a, b) => a[0] - b[0]).map((x) => x[1]);
  assert.equal(names, FEATURES.map(([n]) => n));
  assert.is(Number(/NUM_FEATURES: i32 = (\d+)/.exec(src)![1]), FEATURES.length);
  assert.is(Number(/OBS_SIZE: usize = (\d+)/.exec(src)![1]), OBS_SIZE);
  assert.is(OBS_LAYOUT.NAME, OBS_LAYOUT.FEATURES + 8 * FEATURES.length);
  assert.is(OBS_SIZE, OBS_LAYOUT.NAME + 64);
  const offsets = Object.fromEntries([...src.matchAll(/export const O_([A-Z_]+): usize = (\d+);/g)].map((m) => [m[1]!, Number(m[2])]));
  assert.equal(offsets, { ...OBS_LAYOUT });
  assert.is(Number(/OBS_CONN: u32 = (\d+)/.exec(src)![1]), OBS_KIND.conn);
  assert.is(Number(/OBS_END: u32 = (\d+)/.exec(src)![1]), OBS_KIND.end);
  assert.is(Number(/OBS_DNS: u32 = (\d+)/.exec(src)![1]), OBS_KIND.dns);
  const gate = readFileSync(new URL('../asm/learn/gate.ts', import.meta.url), 'utf8');
  const op = (name: string) => Number(new RegExp(`OP_${name}: u32 = (\\d+)`).exec(gate)![1]);
  assert.equal({ ...GATE_OPS }, { '>=': op('GE'), '>': op('GT'), '<=': op('LE'), '<': op('LT'), '==': op('EQ'), '!=': op('NE'), in: op('IN_SET'), 'not in': op('NOT_IN_SET') });
});

test('the learner: rarity across devices, one CONN and one END per connection (sFlow samples included), features in place', () => {
  const core = new WasmCore({});
  core.enableLearning({ devices: 64, endpoints: 64, pairs: 64, channels: 64, ports: 64, observations: 256 }, [{ net: parseAddress('10.0.0.0')!.bytes, mask: parseAddress('255.255.0.0')!.bytes.map((b, i) => (i < 12 ? 0xff : b)) }], { retentionS: 86400, recountS: 3600, emitAll: true });
  const seen: { kind: string; device: string; peer: string; f: Record<string, number> }[] = [];
  const view = new ObservationView();
  const pull = () => core.drainObservations((bytes, n) => {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) {
      const o = view.select(bytes, dv, i);
      seen.push({ kind: o.kind, device: o.device(), peer: o.peer(), f: Object.fromEntries(FEATURES.map(([name], k) => [name, o.feature(k)])) });
    }
  });
  const syn = (src: string, dst: string, sport: number) => new Uint8Array(frame(src, dst, sport, 443, SYN));
  core.ingestFrame(syn('10.0.0.1', '198.51.100.9', 40001), 54, 1, T0);
  core.ingestFrame(syn('10.0.0.2', '198.51.100.9', 40002), 54, 1, T0 + 1);
  core.ingestSampledFrame(syn('10.0.0.3', '198.51.100.7', 40003), 54, 1, T0 + 2, 100, 8); // an sFlow sample
  pull();
  while (!core.flushAll()) { pull(); core.drainRaw(() => {}); }
  pull();
  core.drainRaw(() => {});
  assert.equal(seen.map((o) => `${o.kind} ${o.device} ${o.peer}`), [
    'conn 10.0.0.1 198.51.100.9', 'conn 10.0.0.2 198.51.100.9', 'conn 10.0.0.3 198.51.100.7',
    'end 10.0.0.1 198.51.100.9', 'end 10.0.0.2 198.51.100.9', 'end 10.0.0.3 198.51.100.7',
  ]);
  const [a, b] = seen;
  // the first device to meet the peer: nobody else did (100); the second: the one other active device did (0)
  assert.equal([a!.f.peer_rarity, a!.f.peer_devices, a!.f.peer_age_s, a!.f.channel_gap_s, a!.f.direction, a!.f.port, a!.f.originator], [100, 0, 0, NEVER, 1, 443, 1]);
  assert.equal([b!.f.peer_rarity, b!.f.peer_devices, b!.f.peer_age_s], [0, 1, 1]);
  assert.is(seen[3]!.f.failed, 1); // an unanswered SYN
  assert.is(core.counter('C_LEARN_CONNS'), 3);
  assert.is(core.counter('C_LEARN_ENDS'), 3);
});

// ---- the engine alone, over observations written by hand

const TEST_MODEL: Model = {
  id: 'test-count', title: 'Test / Count', category: 'suspicious', mitre: ['T1046'], priority: 3, on: 'conn', filters: [],
  metric: { kind: 'count' }, group: ['peer'], window_s: 60, threshold: 3, throttle_s: 3600, baseline: false,
  summary: '{device} {peer} {port} {value} {value_bytes} {threshold} {window} {peer_rarity} {channel_gap_s} {device_age_s} {nope}', metric_label: 'count',
  exclude_tags: [], adaptive: false, skip_group_port: false, enabled: true,
};

interface ObsSpec { ts: number; device?: string; peer?: string; port?: number; serial?: number; features?: Partial<Record<FeatureName, number>> }

/** Run the engine over observations (all passing model 0) and collect its breaches. */
function runEngine(model: Model, obs: ObsSpec[], opts: { maxKeys?: number; learningS?: number; baselineS?: number } = {}) {
  const breaches: Breach[] = [];
  const engine = new ModelEngine([model], { learningS: opts.learningS ?? 0, baselineS: opts.baselineS ?? 0, maxKeys: opts.maxKeys, onBreach: (b) => breaches.push(b) });
  const bytes = new Uint8Array(OBS_SIZE);
  const dv = new DataView(bytes.buffer);
  const view = new ObservationView();
  const L = OBS_LAYOUT;
  for (const [i, o] of obs.entries()) {
    bytes.fill(0);
    dv.setUint32(L.KIND, OBS_KIND[model.on], true);
    dv.setUint32(L.MODELS_LO, 1, true);
    dv.setFloat64(L.TS, o.ts, true);
    dv.setFloat64(L.SERIAL, o.serial ?? i + 1, true);
    dv.setFloat64(L.FLOW_TS, o.ts, true);
    bytes.set(parseAddress(o.device ?? '10.0.0.1')!.bytes, L.DEVICE);
    bytes.set(parseAddress(o.peer ?? '10.0.0.2')!.bytes, L.PEER);
    dv.setUint16(L.DEVICE_PORT, 40000 + i, true);
    dv.setUint16(L.PEER_PORT, o.port ?? 22, true);
    bytes[L.PROTO] = 6;
    const f = { originator: 1, port: o.port ?? 22, proto: 6, device_age_s: 1e6, ...o.features };
    for (const [name, v] of Object.entries(f)) dv.setFloat64(L.FEATURES + 8 * FEATURE_INDEX[name as FeatureName], v, true);
    engine.observe(view.select(bytes, dv, 0));
  }
  return { breaches, counters: engine.counters };
}

test('engine: the window counts within its span, a breach fills the summary, evidence and scores', () => {
  const { breaches } = runEngine(TEST_MODEL, [{ ts: 1000 }, { ts: 1070 }, { ts: 1071 }, { ts: 1072, features: { peer_rarity: 97.5, channel_gap_s: NEVER } }]);
  assert.is(breaches.length, 1); // the first one left the 60 s window before the third arrived
  const b = breaches[0]!;
  assert.is(b.summary, '10.0.0.1 10.0.0.2 22 3 3 bytes 3 60 s 97.5 never 11.57 days {nope}');
  assert.is(b.evidence.length, 3); // only what is in the window
  assert.is(b.evidence[0]!.community_id, communityId(new Uint8Array([10, 0, 0, 1]), new Uint8Array([10, 0, 0, 2]), 6, 40001, 22));
  assert.is(scoreOf({ category: 'suspicious', threshold: 3 }, 3), 55);
  assert.is(scoreOf({ category: 'suspicious', threshold: 3 }, 30), 80);
  assert.is(scoreOf({ category: 'critical', threshold: 3 }, 3000), 100);
  assert.is(scoreOf({ category: 'informational', threshold: 0 }, 0), 45);
});

test('engine: a threshold adapts to a network whose windows routinely pass it, and says so; a quiet network keeps the model\'s own', () => {
  const model: Model = { ...TEST_MODEL, group: [], threshold: 10, throttle_s: 3600, adaptive: true };
  const obs: ObsSpec[] = [];
  // 600 devices each reach 14 in a minute (discovery chatter nobody tagged), and come back later (ending their window period)
  for (let d = 0; d < 600; d++) {
    const t = 1000 + d * 200;
    const device = `10.1.${d >> 8}.${d & 255}`;
    for (let k = 0; k < 14; k++) obs.push({ ts: t + k, device });
    obs.push({ ts: t + 150, device });
  }
  const t1 = 1000 + 600 * 200;
  for (let k = 0; k < 14; k++) obs.push({ ts: t1 + k, device: '10.9.0.1' }); // as routine: no breach now
  for (let k = 0; k < 25; k++) obs.push({ ts: t1 + 100 + k * 0.5, device: '10.9.0.2' }); // far past this network's tail
  const { breaches, counters } = runEngine(model, obs);
  const late = breaches.filter((b) => b.device.ip.startsWith('10.9.'));
  assert.equal(late.map((b) => [b.device.ip, b.metrics[0]!.value, b.metrics[0]!.threshold]), [['10.9.0.2', 20, '>= 20']]);
  assert.match(late[0]!.metrics[0]!.description, /threshold adapted to this network: 1\.25 × its 99\.9th percentile of window peaks; the model's own is 10/);
  assert.ok(counters.suppressed_adaptive > 0);
  // the first devices breached at the model's own threshold, before the network's tail was known
  assert.is(breaches[0]!.metrics[0]!.threshold, '>= 10');
  // without adaptation the routine device breaches too
  const fixed = runEngine({ ...model, adaptive: false }, obs);
  assert.ok(fixed.breaches.some((b) => b.device.ip === '10.9.0.1'));
});

test('meta models: three models on one device within hours is one Large Number of Model Breaches; an anomaly followed by two others is Anomaly Followed By Multiple Breaches; throttled, tagged devices excluded, metas never count metas', () => {
  const at = (s: number) => new Date((T0 + s) * 1000).toISOString();
  const breach = (model: string, title: string, s: number, device = '10.0.0.5'): Breach => ({
    id: `${model}-${s}`, time: at(s), model, title, category: 'suspicious', score: 55, mitre: ['T1046'], device: { ip: device },
    metrics: [], summary: '', evidence: [{ uid: `C${s}`, community_id: `1:${s}` }],
  });
  const meta = new MetaEngine(BUILTIN_META_MODELS);
  const none = () => false;
  assert.equal(meta.judge(breach('a', 'Device / A', 0), none), []);
  assert.equal(meta.judge(breach('a', 'Device / A', 60), none), []); // the same model again: not distinct
  const third = meta.judge(breach('b', 'Device / B', 3600), none);
  assert.equal(third, []);
  const large = meta.judge(breach('c', 'Device / C', 7200), none);
  assert.equal(large.map((b) => b.model), ['meta-large-number-of-breaches']);
  assert.equal(large[0]!.related, ['a-0', 'a-60', 'b-3600', 'c-7200']);
  assert.equal(large[0]!.mitre, ['T1046']);
  assert.is(large[0]!.metrics[0]!.value, 3);
  assert.match(large[0]!.summary, /^10\.0\.0\.5 breached 3 different models within 6 h: Device \/ A; Device \/ B; Device \/ C\.$/);
  assert.equal(meta.judge(breach('d', 'Device / D', 7300), none), []); // throttled for a day

  // an anomaly, then two other models within the hour, on another device
  const m2 = new MetaEngine(BUILTIN_META_MODELS.filter((m) => m.id === 'meta-anomaly-followed-by-breaches'));
  assert.equal(m2.judge(breach('x', 'Device / X', 0, '10.0.0.6'), none), []); // before the anomaly: does not follow it
  assert.equal(m2.judge(breach('new-port', 'Anomalous Connection / New External Port', 100, '10.0.0.6'), none), []);
  assert.equal(m2.judge(breach('y', 'Device / Y', 200, '10.0.0.6'), none), []);
  const followed = m2.judge(breach('z', 'Compromise / Z', 300, '10.0.0.6'), none);
  assert.equal(followed.map((b) => [b.model, b.category, b.related]), [['meta-anomaly-followed-by-breaches', 'critical', ['y-200', 'z-300']]]);
  assert.match(followed[0]!.summary, /showed an anomaly \(Anomalous Connection \/ New External Port\) followed by 2 other breaches within 60 min/);

  // a device whose tags the meta model excludes
  const tagged = new MetaEngine([{ ...BUILTIN_META_MODELS[0]!, exclude_tags: ['lab'] }]);
  const lab = (_d: string, tags: readonly string[]) => tags.includes('lab');
  for (const [k, m] of ['a', 'b', 'c'].entries()) assert.equal(tagged.judge(breach(m, `Device / ${m}`, k * 60, '10.0.0.7'), lab), []);
});

test('engine: a throttle outlives its forgotten window; forgetting counted', () => {
  const obs: ObsSpec[] = [];
  // device A reaches the threshold, B pushes A's window out (maxKeys 1), A again within the hour
  for (const [t, peer] of [[0, 'a'], [1, 'a'], [2, 'a'], [3, 'b'], [4, 'a'], [5, 'a'], [6, 'a']] as const) obs.push({ ts: 5000 + t, peer: peer === 'a' ? '10.0.0.2' : '10.0.0.3' });
  const { breaches, counters } = runEngine(TEST_MODEL, obs, { maxKeys: 1 });
  assert.is(breaches.length, 1);
  assert.is(counters.windows_forgotten, 2);
  assert.is(counters.suppressed_throttle, 1);
  // throttles themselves are bounded: with room for one, a second key's breach forgets the first's
  const two = runEngine(TEST_MODEL, [0, 1, 2, 3, 4, 5].map((t) => ({ ts: 100 + t, peer: t < 3 ? '10.0.0.2' : '10.0.0.3' })), { maxKeys: 1 });
  assert.is(two.breaches.length, 2);
  assert.is(two.counters.throttles_forgotten, 1);
});

test('engine: a flood of new keys is bounded and forgets the least recently touched; a window kept busy survives it and breaches', () => {
  const obs: ObsSpec[] = [];
  const busy = '192.0.2.77';
  for (let n = 0; n < 20_000; n++) {
    // every fifth observation is the busy peer; the rest are each a peer never seen again
    const peer = n % 5 === 0 ? busy : `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
    obs.push({ ts: 9000 + n * 0.002, peer });
  }
  const model = { ...TEST_MODEL, threshold: 3000, window_s: 3600 };
  const { breaches, counters } = runEngine(model, obs, { maxKeys: 64 });
  // 16,001 distinct windows through room for 64: all but 64 forgotten, none of them the busy one
  assert.is(counters.windows_forgotten, 16_001 - 64);
  assert.is(counters.late, 0);
  assert.equal(breaches.map((b) => b.peer?.ip), [busy]);
  assert.is(breaches[0]!.metrics[0]!.value, 3000);
  assert.is(breaches[0]!.evidence.length, 5);
});

test('engine: out-of-order observations: within the window they count, a window older are dropped', () => {
  const { breaches, counters } = runEngine(TEST_MODEL, [{ ts: 2000 }, { ts: 1900 }, { ts: 1990 }, { ts: 1995 }]);
  assert.is(counters.late, 1);
  assert.is(breaches.length, 1);
  assert.is(breaches[0]!.time, new Date(1995 * 1000).toISOString());
});

test('engine: baseline models hold a young device back; the learning period holds every non-compliance model', () => {
  const base: Model = { ...TEST_MODEL, baseline: true, threshold: 1 };
  const young = runEngine(base, [{ ts: 10, features: { device_age_s: 100 } }, { ts: 20, features: { device_age_s: 4000 } }], { baselineS: 3600 });
  assert.is(young.counters.suppressed_baseline, 1);
  assert.is(young.breaches.length, 1);
  const learning = runEngine({ ...TEST_MODEL, threshold: 1 }, [{ ts: 10 }, { ts: 10 + 86400 }], { learningS: 86400 });
  assert.is(learning.counters.suppressed_learning, 1);
  assert.is(learning.breaches.length, 1);
  const compliance = runEngine({ ...TEST_MODEL, threshold: 1, category: 'compliance' }, [{ ts: 10 }], { learningS: 86400 });
  assert.is(compliance.breaches.length, 1);
});

test('the breach sink: a failed write is counted once and breaks it, later breaches are discarded', () => {
  const w = new BreachWriter('/dev/full');
  const { breaches } = runEngine({ ...TEST_MODEL, threshold: 1, throttle_s: 0 }, [{ ts: 1 }, { ts: 2 }, { ts: 3 }]);
  for (const b of breaches) w.write(b);
  const c = w.close();
  assert.equal({ received: c.received, sent: c.sent, errors: c.errors, discarded: c.discarded }, { received: 3, sent: 0, errors: 1, discarded: 3 });
  assert.match(c.error!, /ENOSPC|no space/i);
});

test('CLI: detection flags as a user meets them — usage errors name the flag, breaches to a file', () => {
  const tr = new Trace();
  for (let p = 1; p <= 30; p++) tr.add(T0 + p, frame('10.0.0.5', '10.0.0.9', 50000 + p, p, SYN));
  const pcap = tr.write('cli-scan.pcap');
  const bad = join(dir, 'bad-models.json');
  writeFileSync(bad, JSON.stringify([{ id: 'x-bad', title: 'X / Bad' }]));
  const notJson = join(dir, 'not-json.json');
  writeFileSync(notJson, '{ models: ');
  const badTags = join(dir, 'bad-tags.json');
  writeFileSync(badTags, JSON.stringify({ tags: { 'security-scanner': ['10.0.0.300'] } }));
  const badTagName = join(dir, 'bad-tag-name.json');
  writeFileSync(badTagName, JSON.stringify({ tags: { 'Security Scanner': ['10.0.0.5'] } }));
  const badMeta = join(dir, 'bad-meta.json');
  writeFileSync(badMeta, JSON.stringify({ meta_models: [{ id: 'meta-x', title: 'Device / X', category: 'suspicious', window_s: 60, threshold: 2, summary: 's', treshold: 3 }] }));
  const badTop = join(dir, 'bad-top.json');
  writeFileSync(badTop, JSON.stringify({ modles: [] }));
  for (const [args, message] of [
    [['--breaches', join(dir, 'no', 'such', 'dir', 'b.jsonl')], /--breaches .*no such file or directory/i],
    [['--flows', '-', '--breaches', '-'], /cannot both go to stdout/],
    [['--learning', '0'], /--learning is about detection: it needs --breaches/],
    [['--breaches', '-', '--models', join(dir, 'missing.json')], /--models: .*missing\.json: ENOENT/],
    [['--breaches', '-', '--models', notJson], /--models: .*not-json\.json: .*JSON/],
    [['--breaches', '-', '--models', bad], /--models: .*model x-bad.*category/],
    [['--breaches', '-', '--models', badTags], /--models: .*\.tags: tag "security-scanner": invalid network "10\.0\.0\.300"/],
    [['--breaches', '-', '--models', badTagName], /--models: .*\.tags: tag "Security Scanner": lowercase/],
    [['--breaches', '-', '--models', badMeta], /--models: .*\.meta_models\[0\]: unknown field treshold/],
    [['--breaches', '-', '--models', badTop], /--models: .*unknown field modles \(known: models, meta_models, tags\)/],
    [['--similar', '10.0.0.5'], /--similar is about detection: it needs --breaches/],
    [['--breaches', '-', '--similar', '10.0.0.5,not-an-ip'], /--similar: "not-an-ip" is not an IP address/],
  ] as const) {
    const r = cli(['analyze', pcap, ...args]);
    assert.is(r.code, 2, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const out = join(dir, 'cli-breaches.jsonl');
  const ok = cli(['analyze', pcap, '--learning', '0', '--breaches', out]);
  assert.is(ok.code, 0, ok.stderr);
  // the file is opened and closed by the packet thread (a worker closing it made Node warn, now and then)
  assert.not.match(ok.stderr, /Warning/);
  assert.equal(jsonLines<Breach>(readFileSync(out, 'utf8')).map((b) => b.model), ['device-port-scan']);
  const summary = JSON.parse(ok.stdout) as { detection: { breaches: number; sink: { sent: number } } };
  assert.is(summary.detection.breaches, 1);
  assert.is(summary.detection.sink.sent, 1);
  // breaches to stdout: the summary moves to stderr
  const toStdout = cli(['analyze', pcap, '--learning', '0', '--breaches', '-']);
  assert.equal(jsonLines<Breach>(toStdout.stdout).map((b) => b.model), ['device-port-scan']);
  assert.match(toStdout.stderr, /"detection"/);
  const full = cli(['analyze', pcap, '--learning', '0', '--breaches', '/dev/full']);
  assert.is(full.code, 1);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
