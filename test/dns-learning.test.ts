// DNS in the packet path: answers on port 53 are parsed in the core
// (asm/dns.ts), learned per device (asm/learn/dns-learner.ts) and judged by
// the DNS models. Captures are rendered from hand-made connections with the
// scenario's renderer, so every message is real DNS wire format.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyze } from '../sensor/pipeline/analyze.ts';
import type { Breach } from '../sensor/models/breach.ts';
import type { Conn, DnsExchange } from './scenario/conn.ts';
import { renderPcap } from './scenario/render-pcap.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { writeFileSync } from 'node:fs';
import { pcapHeader, pcapRecord } from './helpers/capture-bytes.ts';
import { MAC_A, MAC_B, eth, ipv4, udp } from './helpers/packet-bytes.ts';
import { dnsResponseMessage } from './scenario/dns-wire.ts';

const dir = mkdtempSync(join(tmpdir(), 'edge-dns-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1767600000;
let port = 40000;
function dnsConn(t: number, client: string, dns: DnsExchange, proto: 'udp' | 'tcp' = 'udp'): Conn {
  return {
    ts: t, duration: 0.002, proto, orig_h: client, orig_p: port++, resp_h: '10.10.0.10', resp_p: 53, orig_bytes: 0, resp_bytes: 0,
    state: 'SF', orig_mac: '02:00:00:00:00:01', resp_mac: '00:00:0c:07:ac:01', dns, kind: 'dns',
  };
}

async function run(name: string, conns: Conn[]): Promise<{ breaches: Breach[]; counters: Record<string, number>; flows: number }> {
  conns.sort((a, b) => a.ts - b.ts);
  const path = join(dir, name);
  renderPcap(path, conns);
  const breaches: Breach[] = [];
  const s = await analyze({ inputs: [path], onBreach: (b) => breaches.push(b), learningS: 0, progress: false });
  return { breaches, counters: s.counters, flows: s.flow_records };
}

const rng = new Rng('dns-learning');
const label = (n: number) => Array.from({ length: n }, () => 'abcdefghijklmnopqrstuvwxyz234567'[rng.int(0, 31)]).join('');

test('a TXT tunnel under one domain is one DNS Tunnelling breach naming the domain; a device repeating a few names is quiet', async () => {
  const conns: Conn[] = [];
  for (let k = 0; k < 80; k++) {
    conns.push(dnsConn(T0 + k * 0.5, '10.1.0.5', { qname: `${label(50)}.${label(30)}.t.exfil-example.com`, qtype: 16, rcode: 0, answers: [], txt: [label(120)], ttl: 0 }));
    // a busy but ordinary device: the same handful of names, again and again
    conns.push(dnsConn(T0 + k * 0.5 + 0.1, '10.1.0.6', { qname: `${['www', 'api', 'cdn', 'login'][k % 4]}.example.org`, qtype: 1, rcode: 0, answers: ['198.51.100.7'], ttl: 60 }));
  }
  const { breaches, counters } = await run('tunnel.pcap', conns);
  assert.equal(breaches.map((b) => [b.model, b.device.ip, b.domain]), [['dns-tunnelling', '10.1.0.5', 'exfil-example.com']]);
  assert.match(breaches[0]!.summary, /^10\.1\.0\.5 asked 40 never-repeated names of \d+ characters under exfil-example\.com within 5 min/);
  assert.equal(breaches[0]!.mitre, ['T1071.004', 'T1572']);
  assert.is(counters.dns_answers, 160);
  assert.is(counters.dns_queries, 160);
  assert.is(counters.dns_malformed ?? 0, 0);
});

test('an NXDOMAIN burst for made-up domains is a DGA breach; a few typos are not', async () => {
  const conns: Conn[] = [];
  for (let k = 0; k < 40; k++) conns.push(dnsConn(T0 + k * 3, '10.1.0.7', { qname: `${label(14)}.net`, qtype: 1, rcode: 3, answers: [], ttl: 0 }));
  for (let k = 0; k < 4; k++) conns.push(dnsConn(T0 + k * 20, '10.1.0.8', { qname: `wwww.typo${k}.com`, qtype: 1, rcode: 3, answers: [], ttl: 0 }));
  const { breaches } = await run('dga.pcap', conns);
  assert.equal(breaches.map((b) => [b.model, b.device.ip]), [['dns-dga-nxdomain', '10.1.0.7']]);
  // the 25th new non-existent domain: the first four stay in the core (dns_nx_domains ≥ 5)
  assert.is(breaches[0]!.metrics[0]!.value, 25);
});

test('a resolver forwarding its clients\' questions is not judged for them: the DGA breach is on the client', async () => {
  const conns: Conn[] = [];
  for (let k = 0; k < 40; k++) {
    const name = `${label(14)}.net`;
    conns.push(dnsConn(T0 + k * 3, '10.1.0.7', { qname: name, qtype: 1, rcode: 3, answers: [], ttl: 0 }));
    // the resolver (10.10.0.10) asks upstream for the same name
    conns.push({ ...dnsConn(T0 + k * 3 + 0.001, '10.10.0.10', { qname: name, qtype: 1, rcode: 3, answers: [], ttl: 0 }), resp_h: '192.0.2.53' });
  }
  const { breaches } = await run('forwarded.pcap', conns);
  assert.equal(breaches.map((b) => [b.model, b.device.ip]), [['dns-dga-nxdomain', '10.1.0.7']]);
});

test('answers nobody asked for (spoofed NXDOMAINs from outside) are counted, not learned', async () => {
  const records: number[] = [...pcapHeader()];
  for (let k = 0; k < 40; k++) {
    const msg = [...dnsResponseMessage(k, { qname: `${label(14)}.com`, qtype: 1, rcode: 3, answers: [], ttl: 0 })];
    const frame = eth(MAC_B, MAC_A, 0x0800, ipv4({ src: '203.0.113.53', dst: '10.1.0.9', proto: 17, payload: udp(53, 33000 + k, msg) }));
    records.push(...pcapRecord({ sec: T0 + k * 3, frac: 0, data: frame }));
  }
  const path = join(dir, 'spoofed.pcap');
  writeFileSync(path, Uint8Array.from(records));
  const breaches: Breach[] = [];
  const s = await analyze({ inputs: [path], onBreach: (b) => breaches.push(b), learningS: 0, progress: false });
  assert.equal(breaches.map((b) => b.model), []);
  assert.is(s.counters.dns_unsolicited, 40);
  assert.is(s.counters.dns_answers ?? 0, 0);
});

test('DNS over TCP is parsed; a port-53 payload that is not DNS is counted and its flow still written', async () => {
  const conns: Conn[] = [
    dnsConn(T0, '10.1.0.9', { qname: 'big.example.com', qtype: 28, rcode: 0, answers: ['2001:db8::1'], ttl: 30 }, 'tcp'),
    // no DNS message: the renderer fills the datagrams with zeros
    { ...dnsConn(T0 + 1, '10.1.0.9', { qname: 'x.example.com', qtype: 1, rcode: 0, answers: [], ttl: 0 }), dns: undefined, orig_bytes: 40, resp_bytes: 60 },
  ];
  delete conns[1]!.dns;
  const { counters, flows } = await run('tcp-and-garbage.pcap', conns);
  assert.is(flows, 2);
  assert.is(counters.dns_answers, 1);
  assert.is(counters.dns_queries, 1);
  assert.is(counters.dns_malformed, 2);
});


test('each DNS table counts its own evictions: 40 k domains new to one device overflow the domains table (32 k), the names table (64 k) barely, the askers not', async () => {
  const conns: Conn[] = [];
  for (let k = 0; k < 40_000; k++) {
    const c = dnsConn(T0 + k * 0.01, '10.1.0.9', { qname: `www.d${k}.example`, qtype: 1, rcode: 0, answers: ['198.51.100.7'], ttl: 60 });
    c.orig_p = 20_000 + k; // one flow each (the shared port counter would wrap past 65535)
    conns.push(c);
  }
  conns.sort((a, b) => a.ts - b.ts);
  const path = join(dir, 'many-domains.pcap');
  renderPcap(path, conns);
  const s = await analyze({ inputs: [path], onBreach: () => {}, learningS: 0, progress: false });
  const t = Object.fromEntries(s.detection!.tables.map((x) => [x.name, x]));
  assert.is(t.dns_domains!.capacity, 32_768);
  assert.ok(t.dns_domains!.evictions >= 40_000 - 32_768, `domains forgotten: ${t.dns_domains!.evictions}`);
  assert.is(t.dns_domains!.used + t.dns_domains!.evictions, 40_000, 'every domain made once: kept or forgotten');
  // the names table (64 k) holds nearly all: a few forgotten where a probe window filled, its own count
  assert.is(t.dns_names!.used + t.dns_names!.evictions, 40_000);
  assert.ok(t.dns_names!.evictions < 400, `names forgotten: ${t.dns_names!.evictions}`);
  assert.is(t.dns_askers!.used, 2); // the asking device, and the local resolver that answered
  assert.is(t.dns_askers!.evictions, 0);
  assert.is(s.counters.learn_dns_domain_evictions, t.dns_domains!.evictions);
  assert.is(s.counters.learn_dns_evictions ?? 0, t.dns_names!.evictions);
  assert.is(s.counters.learn_dns_asker_evictions ?? 0, 0);
});

test.run();
