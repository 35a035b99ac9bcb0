// Property tests against known ground truth: the seeded traffic generator
// (sensor/sample/) plans every connection in full before writing its
// packets, so it knows exactly what Zeek's conn.log must say about each one
// (packets, IP bytes, payload bytes, conn_state). For several seeds and every
// file flavour (pcap / pcapng, little / big endian, µs / ns timestamps, gzip,
// snap-truncated frames) each expected connection must come out of the
// analyzer as exactly one flow with exactly those numbers — and no flow may
// come out that the generator did not make.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { analyzeToArray } from '../sensor/pipeline/analyze.ts';
import type { FlowRecord } from '../sensor/flows/zeek-record.ts';
import { writeSampleCapture, type SampleCaptureOptions } from '../sensor/sample/sample-capture.ts';
import type { ExpectedFlow } from '../sensor/sample/network.ts';
import { normAddr } from './helpers/tshark.ts';

const dir = mkdtempSync(join(tmpdir(), 'edge-ground-truth-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });

const PACKETS = 6000;

interface Flavour { name: string; opts: SampleCaptureOptions }

const FLAVOURS: Flavour[] = [
  { name: 'pcap LE µs', opts: { seed: 101, format: 'pcap' } },
  { name: 'pcap BE ns', opts: { seed: 102, format: 'pcap', bigEndian: true, nanosecond: true } },
  { name: 'pcap LE ns gzip', opts: { seed: 103, format: 'pcap', nanosecond: true, gzip: true } },
  { name: 'pcap BE µs snaplen 96', opts: { seed: 104, format: 'pcap', bigEndian: true, snaplen: 96 } },
  // pcapng default interfaces: Ethernet µs, Ethernet ns, raw IP µs.
  { name: 'pcapng LE (Ethernet µs + ns, raw IP)', opts: { seed: 105, format: 'pcapng' } },
  { name: 'pcapng BE (Ethernet µs + ns, raw IP)', opts: { seed: 106, format: 'pcapng', bigEndian: true } },
  { name: 'pcap LE µs, IPv6-heavy, VLAN-heavy', opts: { seed: 107, format: 'pcap', ipv6Share: 0.6, vlanShare: 0.6 } },
  // the demo's injected attack (a sweep of unanswered SYNs, a refused port scan, SSH guesses): its connections too
  { name: 'pcap LE µs with the demo attack', opts: { seed: 108, format: 'pcap', attackAfter: 0.3 } },
];

function flowKey(proto: string, oh: string, op: number, rh: string, rp: number): string {
  return `${proto} ${normAddr(oh)}|${op} ${normAddr(rh)}|${rp}`;
}

/** Every difference between the generator's truth and our flows, as readable lines. */
function compare(expected: ExpectedFlow[], flows: FlowRecord[]): string[] {
  const problems: string[] = [];
  const ours = new Map<string, FlowRecord[]>();
  for (const f of flows) {
    const k = flowKey(f.proto, f['id.orig_h'], f['id.orig_p'], f['id.resp_h'], f['id.resp_p']);
    ours.set(k, [...(ours.get(k) ?? []), f]);
  }
  const byKey = new Map<string, ExpectedFlow[]>();
  for (const e of expected) {
    const k = flowKey(e.proto, e.orig_h, e.orig_p, e.resp_h, e.resp_p);
    byKey.set(k, [...(byKey.get(k) ?? []), e]);
  }
  for (const [k, exps] of byKey) {
    const got = (ours.get(k) ?? []).slice().sort((a, b) => a.ts - b.ts);
    ours.delete(k);
    const want = exps.slice().sort((a, b) => a.ts - b.ts);
    if (got.length !== want.length) {
      const rev = [...ours.keys()].find((x) => x === flowKey(want[0]!.proto, want[0]!.resp_h, want[0]!.resp_p, want[0]!.orig_h, want[0]!.orig_p));
      problems.push(`${k} (${want[0]!.kind}): expected ${want.length} flow(s), got ${got.length}${rev ? ' (a flow with orig and resp swapped exists)' : ''}`);
      continue;
    }
    want.forEach((e, i) => {
      const g = got[i]!;
      const d: string[] = [];
      const eq = (name: string, a: unknown, b: unknown) => { if (a !== b) d.push(`${name} ${String(a)}≠${String(b)}`); };
      eq('orig_pkts', g.orig_pkts, e.orig_pkts);
      eq('resp_pkts', g.resp_pkts, e.resp_pkts);
      eq('orig_ip_bytes', g.orig_ip_bytes, e.orig_ip_bytes);
      eq('resp_ip_bytes', g.resp_ip_bytes, e.resp_ip_bytes);
      eq('conn_state', g.conn_state, e.conn_state);
      eq('vlan', g.vlan, e.vlan);
      // Zeek leaves duration and payload bytes unset for single-packet
      // connections; otherwise they must be exact.
      if (e.last_ts > e.ts) {
        eq('orig_bytes', g.orig_bytes, e.orig_bytes);
        eq('resp_bytes', g.resp_bytes, e.resp_bytes);
        if (g.duration === undefined || Math.abs(g.duration - (e.last_ts - e.ts)) > 3e-6) d.push(`duration ${g.duration}≠${e.last_ts - e.ts}`);
      } else {
        eq('orig_bytes (unset: one packet)', g.orig_bytes, undefined);
        eq('duration (unset: one packet)', g.duration, undefined);
      }
      // µs files floor the ns schedule; ns files are rounded to µs on output.
      // (f64 near 1.7e9 s resolves ~0.24 µs, hence the margin.)
      if (Math.abs(g.ts - e.ts) > 1.5e-6) d.push(`ts ${g.ts}≠${e.ts}`);
      if (d.length) problems.push(`${k} (${e.kind}, expected ${e.conn_state}): ${d.join(', ')}`);
    });
  }
  for (const [k, fs] of ours) problems.push(`${k}: ${fs.length} flow(s) that the generator never made (${fs.map((f) => `${f.orig_pkts}+${f.resp_pkts} pkts ${f.conn_state}`).join('; ')})`);
  return problems;
}

for (const fl of FLAVOURS) {
  test(`ground truth, ${fl.name}: every generated connection is one flow with exact packets, bytes and conn_state`, async () => {
    const ext = fl.opts.format === 'pcapng' ? 'pcapng' : 'pcap';
    const path = join(dir, `${fl.opts.seed}.${ext}${fl.opts.gzip ? '.gz' : ''}`);
    const truth = writeSampleCapture(path, { packets: PACKETS, hosts: 30, ...fl.opts });
    assert.ok(truth.flows.length > 50, `generator made ${truth.flows.length} connections`);
    const all = await analyzeToArray([path], { log: silent });
    const { summary } = all;
    assert.is(summary.packets, truth.packets, 'every frame read');
    // Connections longer than the active timeout (30 min) also get interim
    // records: snapshots whose counts the final record (same uid) includes.
    const flows = all.flows.filter((f) => !f.interim);
    for (const i of all.flows.filter((f) => f.interim)) {
      const fin = flows.find((f) => f.uid === i.uid);
      assert.ok(fin, `interim record ${i.uid} has a final record`);
      assert.ok(i.orig_pkts <= fin.orig_pkts && i.resp_pkts <= fin.resp_pkts && i.ts === fin.ts, `interim ${i.uid} is a prefix of its final record`);
    }
    const inFlows = flows.reduce((s, f) => s + f.orig_pkts + f.resp_pkts, 0);
    assert.is(inFlows, truth.ipPackets, 'IP frames in flows (the rest are ARP)');
    const problems = compare(truth.flows, flows);
    assert.equal(problems.slice(0, 25), [], `${problems.length} differences from the ground truth (first 25 shown)`);
    assert.is(flows.length, truth.flows.length, 'one flow per connection');
    if (fl.opts.attackAfter !== undefined) {
      assert.ok(truth.attack, 'the attack was injected');
      assert.is(truth.flows.filter((f) => f.kind.startsWith('attack-')).length, 130, '40 sweep probes, 60 scanned ports, 30 guesses');
    }
  });
}

test('the flavours cover what they claim: TCP states, UDP, ICMP, IPv6 and VLANs', () => {
  const seen = new Set<string>();
  for (const fl of FLAVOURS.slice(0, 3)) {
    const r = writeSampleCapture(join(dir, `cover-${fl.opts.seed}.pcap`), { packets: PACKETS, hosts: 30, ...fl.opts, format: 'pcap', gzip: false });
    for (const f of r.flows) {
      seen.add(`${f.proto}:${f.conn_state}`);
      if (f.ip_version === 6) seen.add('ipv6');
      if (f.vlan !== undefined) seen.add('vlan');
    }
  }
  for (const s of ['tcp:SF', 'tcp:S0', 'tcp:REJ', 'udp:SF', 'icmp:OTH', 'ipv6', 'vlan']) assert.ok(seen.has(s), `no ${s} connection in the generated traffic`);
});

test.run();
