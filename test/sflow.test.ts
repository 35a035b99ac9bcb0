// sFlow v5: flow samples (compact and expanded) with raw packet headers →
// SampledFrame objects for the packet decoder; sampled IPv4/IPv6 records →
// flow events; counter samples → interface counters. Real captures against
// tshark (frames byte for byte, sampling rates, counters), hostile input, and
// a seeded fuzz of mutated real datagrams.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SOURCE, type FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { formatAddress } from '../sensor/flows/ip-address.ts';
import { eventProblem, type SampledFrame } from '../sensor/netflow/common.ts';
import { NetflowDecoder, sniffVersion } from '../sensor/netflow/datagram.ts';
import {
  ip4, ip6, sflowCounterSample, sflowDatagram, sflowExtendedSwitch, sflowFlowSample, sflowRawHeader, sflowSampledIpv4, sflowSampledIpv6,
} from '../sensor/netflow/export-writer.ts';
import { CaptureWalker, decodeNetflowCaptureBytes } from '../sensor/netflow/netflow-pcap.ts';
import type { SflowCounters } from '../sensor/netflow/sflow.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { eth, ipv4, tcp, MAC_A, MAC_B } from './helpers/packet-bytes.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';
import { haveTshark, TSHARK } from './helpers/tshark.ts';

interface Frame { f: SampledFrame; hex: string }

function collector() {
  const events: { src: string; dst: string; srcPort: number; dstPort: number; proto: number; pkts: number; bytes: number; sampling: number; start: number; end: number; reporter: string; vlan: number; source: number; tcpFlags: number }[] = [];
  const rejects: FlowRejection[] = [];
  const problems: string[] = [];
  const frames: Frame[] = [];
  const counters: SflowCounters[] = [];
  const dec = new NetflowDecoder({
    sink: {
      emit(ev) {
        const p = eventProblem(ev); if (p !== null) problems.push(p);
        events.push({ src: formatAddress(ev.src, ev.ipVersion), dst: formatAddress(ev.dst, ev.ipVersion), srcPort: ev.srcPort, dstPort: ev.dstPort, proto: ev.proto, pkts: ev.pkts, bytes: ev.bytes, sampling: ev.sampling, start: ev.start, end: ev.end, reporter: ev.reporter, vlan: ev.vlan, source: ev.source, tcpFlags: ev.tcpFlags });
      },
      reject(r) { rejects.push(r); },
    },
    // the frame is a view into the datagram: copy what is kept
    onSflow(f) { frames.push({ f: { ...f, frame: Uint8Array.from(f.frame) }, hex: Buffer.from(f.frame).toString('hex') }); },
    onCounters(c) { counters.push(c); },
  });
  return { dec, events, rejects, problems, frames, counters, kinds: () => rejects.map((r) => r.kind) };
}

const AGENT = ip4('192.0.2.50');
const T0 = 1_700_000_000;
const packet = Uint8Array.from(eth(MAC_A, MAC_B, 0x0800, ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: 6, payload: tcp({ sport: 40000, dport: 443, flags: 0x18 }) })));

test('sflow: compact flow sample with a raw Ethernet header → a SampledFrame for the packet decoder', () => {
  const c = collector();
  const d = sflowDatagram({ agent: AGENT, subAgent: 3, seq: 1, uptime: 5000 }, [
    sflowFlowSample({ seq: 7, sourceIdIndex: 4, rate: 512, pool: 5120, drops: 2, input: 4, output: 9, records: [
      sflowRawHeader(1, packet.length + 4, packet, 4), sflowExtendedSwitch(100, 200),
    ] }),
  ]);
  assert.is(sniffVersion(d), 'sflow');
  c.dec.decode(d, '198.51.100.1', T0);
  assert.is(c.frames.length, 1);
  const { f, hex } = c.frames[0]!;
  assert.is(hex, Buffer.from(packet).toString('hex'));
  assert.equal([f.source, f.agent, f.subAgent, f.time, f.frameLength, f.headerProtocol, f.linktype, f.samplingRate, f.samplePool, f.drops, f.inputIfIndex, f.outputIfIndex, f.stripped, f.srcVlan, f.dstVlan],
    ['sflow', '192.0.2.50', 3, T0, packet.length + 4, 1, 1, 512, 5120, 2, 4, 9, 4, 100, 200]);
  assert.is(c.events.length, 0, 'a raw header is not decoded here');
  assert.is(c.dec.stats.sflowFlowSamples, 1);
  assert.equal(c.rejects, []);
});

test('sflow: expanded flow sample, raw IPv4 header (linktype 228), discarded-packet output', () => {
  const c = collector();
  const ipOnly = packet.subarray(14);
  c.dec.decode(sflowDatagram({ agent: ip6('2001:db8::50'), seq: 1 }, [
    sflowFlowSample({ expanded: true, seq: 1, sourceIdIndex: 70000, rate: 4096, input: 70000, output: 0, records: [sflowRawHeader(11, ipOnly.length, ipOnly)] }),
  ]), '2001:db8::50', T0);
  const f = c.frames[0]!.f;
  assert.equal([f.agent, f.linktype, f.headerProtocol, f.samplingRate, f.inputIfIndex, f.frame.length], ['2001:db8::50', 228, 11, 4096, 70000, ipOnly.length]);
  // compact encoding: format bits 01 = discarded packet → no output ifIndex
  const d = collector();
  d.dec.decode(sflowDatagram({ agent: AGENT, seq: 1 }, [
    sflowFlowSample({ seq: 1, sourceIdIndex: 1, rate: 10, input: 5, output: (1 << 30) | 258, records: [sflowRawHeader(1, packet.length, packet)] }),
  ]), '192.0.2.50', T0);
  assert.equal([d.frames[0]!.f.inputIfIndex, d.frames[0]!.f.outputIfIndex], [5, 0]);
});

test('sflow: sampled IPv4/IPv6 records (no raw header) become flow events scaled by the rate', () => {
  const c = collector();
  c.dec.decode(sflowDatagram({ agent: AGENT, subAgent: 1, seq: 1 }, [
    sflowFlowSample({ seq: 1, sourceIdIndex: 1, rate: 1000, input: 1, output: 2, records: [
      sflowSampledIpv4({ length: 1500, proto: 6, src: ip4('10.0.0.1'), dst: ip4('10.0.0.2'), srcPort: 1234, dstPort: 80, tcpFlags: 0x10 }), sflowExtendedSwitch(33, 33),
    ] }),
    sflowFlowSample({ seq: 2, sourceIdIndex: 1, rate: 200, input: 1, output: 2, records: [
      sflowSampledIpv6({ length: 100, proto: 17, src: ip6('2001:db8::1'), dst: ip6('2001:db8::2'), srcPort: 53, dstPort: 5353 }),
    ] }),
    // raw header and IPv4 record in one sample: only the frame (else counted twice)
    sflowFlowSample({ seq: 3, sourceIdIndex: 1, rate: 10, input: 1, output: 2, records: [
      sflowRawHeader(1, packet.length, packet), sflowSampledIpv4({ length: 60, proto: 6, src: 1, dst: 2, srcPort: 1, dstPort: 2 }),
    ] }),
  ]), '192.0.2.50', T0);
  assert.equal(c.events.map((e) => [e.src, e.dst, e.srcPort, e.dstPort, e.proto, e.pkts, e.bytes, e.sampling, e.vlan, e.tcpFlags]), [
    ['10.0.0.1', '10.0.0.2', 1234, 80, 6, 1000, 1_500_000, 1000, 33, 0x10],
    ['2001:db8::1', '2001:db8::2', 53, 5353, 17, 200, 20_000, 200, 0xffff, 0],
  ]);
  assert.equal([c.events[0]!.start, c.events[0]!.end, c.events[0]!.reporter, c.events[0]!.source], [T0, T0, '192.0.2.50/1', SOURCE.sflow]);
  assert.is(c.frames.length, 1);
  assert.equal(c.problems, []);
});

test('sflow: counter samples (compact and expanded) → interface counters', () => {
  const c = collector();
  c.dec.decode(sflowDatagram({ agent: AGENT, seq: 1, uptime: 99_000 }, [
    sflowCounterSample(11, 4, { ifIndex: 4, inOctets: 2 ** 40 + 5, inUcastPkts: 1000, inErrors: 3, outOctets: 777, outUcastPkts: 9 }),
    sflowCounterSample(12, 5, { ifIndex: 5, inOctets: 1, inUcastPkts: 2, outOctets: 3, outUcastPkts: 4, outErrors: 1 }, true),
  ]), '192.0.2.50', T0);
  assert.equal(c.counters.map((k) => [k.ifIndex, k.inOctets, k.inUcastPkts, k.inErrors, k.outOctets, k.outUcastPkts, k.outErrors, k.sequence, k.sourceIdIndex, k.uptime, k.time]), [
    [4, 2 ** 40 + 5, 1000, 3, 777, 9, 0, 11, 4, 99_000, T0],
    [5, 1, 2, 0, 3, 4, 1, 12, 5, 99_000, T0],
  ]);
  assert.equal([c.counters[0]!.ifSpeed, c.counters[0]!.ifStatus, c.counters[0]!.agent], [1e9, 3, '192.0.2.50']);
  assert.is(c.dec.stats.sflowCounterSamples, 2);
});

test('sflow: sequence gaps per (agent, sub-agent) are lost datagrams', () => {
  const c = collector();
  for (const seq of [1, 2, 5, 6]) c.dec.decode(sflowDatagram({ agent: AGENT, seq }, []), '192.0.2.50', T0);
  c.dec.decode(sflowDatagram({ agent: AGENT, subAgent: 2, seq: 100 }, []), '192.0.2.50', T0);
  assert.is(c.dec.stats.lostDatagrams, 2);
});

test('sflow: hostile datagrams are counted rejections', () => {
  const c = collector();
  const good = sflowDatagram({ agent: AGENT, seq: 1 }, [
    sflowFlowSample({ seq: 1, sourceIdIndex: 1, rate: 10, input: 1, output: 2, records: [sflowRawHeader(1, packet.length, packet)] }),
  ]);
  const send = (b: Uint8Array) => c.dec.decode(b, '192.0.2.50', T0);
  const badAddr = good.slice(); new DataView(badAddr.buffer).setUint32(4, 7); send(badAddr);             // address type 7
  send(good.subarray(0, 20));                                                                              // shorter than the header
  send(good.subarray(0, good.length - 6));                                                                 // sample cut short
  const many = good.slice(); new DataView(many.buffer).setUint32(24, 1_000_000); send(many);               // a million samples announced
  const hlen = good.slice(); new DataView(hlen.buffer).setUint32(28 + 8 + 32 + 8 + 12, 5000); send(hlen); // header length beyond its record
  const recs = good.slice(); new DataView(recs.buffer).setUint32(28 + 8 + 28, 40); send(recs);            // 40 records announced, 1 present
  const short = sflowDatagram({ agent: AGENT, seq: 2 }, [Uint8Array.from([0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0])]); send(short); // flow sample of 8 bytes
  assert.equal(c.kinds(), ['bad_header', 'truncated_datagram', 'truncated_sample', 'truncated_sample', 'bad_sample', 'truncated_sample', 'bad_sample']);
  assert.is(c.frames.length, 2, 'the intact samples still count');
});

// --------------------------------------------------------- real captures ---

function tsharkFields(path: string, fields: string[]): string[][] {
  const r = spawnSync(TSHARK, ['-r', path, '-Y', 'sflow', '-T', 'fields', '-E', 'occurrence=a', ...fields.flatMap((f) => ['-e', f])], { maxBuffer: 64 << 20 });
  // one line per packet; a field's occurrences joined by ','
  const cols: string[][] = fields.map(() => []);
  for (const line of r.stdout.toString().split('\n')) {
    if (line === '') continue;
    line.split('\t').forEach((v, i) => { if (v !== '') cols[i]!.push(...v.split(',')); });
  }
  return cols;
}

test('sflow: every sFlow capture matches tshark — frames byte for byte, rates, frame lengths, counters', () => {
  if (!needSharedData('sFlow captures')) return;
  if (!haveTshark()) { console.log('  [skip] sFlow vs tshark: no tshark'); return; }
  const files = sharedFiles('flows/sflow', (p) => p.endsWith('.pcap'));
  assert.ok(files.length >= 14);
  let frames = 0, counters = 0;
  for (const f of files) {
    const c = collector();
    decodeNetflowCaptureBytes(readFileSync(sharedPath(f)), c.dec, f);
    assert.equal(c.rejects, [], f);
    assert.equal(c.problems, [], f);
    const [headers, lengths, inOct, outOct] = tsharkFields(sharedPath(f), ['sflow_245.header', 'sflow_245.header.frame_length', 'sflow_245.ifinoct', 'sflow_245.ifoutoct']);
    // tshark shows the header with its XDR padding to 4 bytes (not always zero); the frame is header_length bytes
    assert.equal(c.frames.map((x) => x.hex), headers!.map((h, i) => h.slice(0, c.frames[i]?.hex.length ?? h.length)), `${f}: sampled headers`);
    headers!.forEach((h, i) => assert.ok(h.length - c.frames[i]!.hex.length < 8, `${f}: only padding dropped`));
    assert.equal(c.frames.map((x) => String(x.f.frameLength)), lengths, `${f}: frame lengths`);
    assert.equal(c.counters.map((k) => String(k.inOctets)), inOct, `${f}: ifInOctets`);
    assert.equal(c.counters.map((k) => String(k.outOctets)), outOct, `${f}: ifOutOctets`);
    frames += c.frames.length; counters += c.counters.length;
  }
  assert.ok(frames >= 20 && counters >= 100, `${frames} frames, ${counters} counters`);
  // sampling rates of one capture
  const c = collector();
  decodeNetflowCaptureBytes(readFileSync(sharedPath('flows/sflow/akvorado/data-1140.pcap')), c.dec);
  const [rates] = tsharkFields(sharedPath('flows/sflow/akvorado/data-1140.pcap'), ['sflow.flow_sample.sampling_rate']);
  assert.equal(c.frames.map((x) => String(x.f.samplingRate)), rates);
});

test('sflow: akvorado expectations — interfaces, VLANs, agent', () => {
  if (!needSharedData('akvorado sFlow')) return;
  const c = collector();
  decodeNetflowCaptureBytes(readFileSync(sharedPath('flows/sflow/akvorado/data-1140.pcap')), c.dec);
  const f = c.frames[0]!.f;
  assert.equal([f.agent, f.samplingRate, f.inputIfIndex, f.outputIfIndex, f.srcVlan, f.frameLength, f.linktype], ['172.16.0.3', 1024, 27, 28, 100, 1518, 1]);
  const q = collector();
  decodeNetflowCaptureBytes(readFileSync(sharedPath('flows/sflow/akvorado/data-qinq.pcap')), q.dec);
  // both 802.1Q tags are in the frame, for the packet decoder
  const b = q.frames[0]!.f.frame;
  assert.equal([b[12], b[13], b[16], b[17]], [0x81, 0x00, 0x81, 0x00]);
});

// --------------------------------------------------------------- fuzz ---

test('fuzz: thousands of mutated real sFlow datagrams never throw and emit only sane output', () => {
  if (!needSharedData('sFlow fuzz corpus')) return;
  const corpus: Uint8Array[] = [];
  for (const f of sharedFiles('flows/sflow', (p) => p.endsWith('.pcap'))) {
    const w = new CaptureWalker((pl) => { if (sniffVersion(pl) === 'sflow') corpus.push(Uint8Array.from(pl)); }, () => {});
    w.push(readFileSync(sharedPath(f)));
    w.end();
  }
  assert.ok(corpus.length >= 40, `${corpus.length} datagrams`);
  const rng = new Rng('sflow-fuzz-1');
  let frames = 0, counters = 0;
  const rejects: Record<string, number> = {};
  const problems: string[] = [];
  // the datagram being decoded: a view into a larger buffer with junk on both sides, so a frame reaching outside it is visible
  let d = new Uint8Array(0);
  const dec = new NetflowDecoder({
    sink: { emit(ev) { const p = eventProblem(ev); if (p) problems.push(p); }, reject(r) { rejects[r.kind] = (rejects[r.kind] ?? 0) + 1; } },
    onSflow(f) {
      frames++;
      // the frame is a view inside its datagram …
      if (f.frame.buffer !== d.buffer || f.frame.byteOffset < d.byteOffset || f.frame.byteOffset + f.frame.length > d.byteOffset + d.length) {
        problems.push(`frame [${f.frame.byteOffset}, +${f.frame.length}) outside datagram [${d.byteOffset}, +${d.length})`);
        return;
      }
      // … right after the raw header record's header_length field, and exactly that long (never clamped)
      const at = f.frame.byteOffset - d.byteOffset;
      const declared = at >= 4 ? new DataView(d.buffer, d.byteOffset, d.length).getUint32(at - 4) : -1;
      if (f.frame.length !== declared) problems.push(`frame of ${f.frame.length} bytes, header_length ${declared}`);
    },
    onCounters(k) { counters++; if (!Number.isFinite(k.inOctets) || !Number.isFinite(k.outOctets)) problems.push('counters'); },
    limits: { sflowAgents: 16 },
  });
  for (let i = 0; i < 6000; i++) {
    let b = corpus[i % corpus.length]!.slice();
    for (let m = rng.int(0, 4); m > 0 && b.length > 0; m--) {
      const at = rng.int(0, b.length - 1);
      switch (rng.int(0, 4)) {
        case 0: b[at]! ^= 1 << rng.int(0, 7); break;
        case 1: if (at + 3 < b.length) new DataView(b.buffer).setUint32(at, rng.pick([0, 1, 2, 3, 4, 1001, 0xffffffff, 0x7fffffff, 65536])); break;
        case 2: b = b.slice(0, at); break;
        case 3: b[at] = rng.int(0, 255); break;
        default: { const len = rng.int(1, 32); const from = rng.int(0, b.length - 1); b.copyWithin(at, from, from + len); }
      }
    }
    const host = new Uint8Array(b.length + 16).fill(0xee);
    host.set(b, 8);
    d = host.subarray(8, 8 + b.length);
    try { dec.decode(d, `10.0.0.${rng.int(1, 40)}`, T0 + i); } catch (e) { assert.unreachable(`threw: ${(e as Error).message}`); }
  }
  assert.equal(problems, []);
  assert.not.ok('decoder_error' in rejects);
  assert.ok(frames > 500 && counters > 1000, `${frames} frames, ${counters} counters`);
  assert.ok(Object.keys(rejects).length >= 2, JSON.stringify(rejects));
});

test.run();
