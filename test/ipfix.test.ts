// IPFIX decoding: templates (withdrawal, redefinition, caps), variable-length
// and enterprise fields, RFC 5103 biflows, every time encoding, sampling from
// options data (PSAMP selectors), sequence accounting, hostile messages,
// pmacct's expected output for real Cisco IPFIX, akvorado's expectations,
// and a seeded fuzz of mutated real messages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { SOURCE, type FlowEvent, type FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { formatAddress } from '../sensor/flows/ip-address.ts';
import { eventProblem, type NetflowLimits, type SampledFrame } from '../sensor/netflow/common.ts';
import { NetflowDecoder, sniffVersion } from '../sensor/netflow/datagram.ts';
import {
  ip4, ip6, ipfixMessage, ipfixOptionsTemplateSet, ipfixTemplateSet, ipfixWithdrawalSet, record, set, type FieldSpec, type FieldValue,
} from '../sensor/netflow/export-writer.ts';
import { CaptureWalker, decodeNetflowCaptureBytes } from '../sensor/netflow/netflow-pcap.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';

interface Ev {
  reporter: string; src: string; dst: string; srcPort: number; dstPort: number; proto: number; pkts: number; bytes: number;
  start: number; end: number; sampling: number; tcpFlags: number; revTcpFlags: number; direction: number; vlan: number;
  bidir: boolean; revPkts: number; revBytes: number; source: number; ipVersion: number;
}

function collector(limits?: Partial<NetflowLimits>) {
  const events: Ev[] = [];
  const rejects: FlowRejection[] = [];
  const problems: string[] = [];
  const frames: { f: SampledFrame; bytes: number[] }[] = [];
  const dec = new NetflowDecoder({
    sink: {
      emit(ev: FlowEvent) {
        const p = eventProblem(ev); if (p !== null) problems.push(p);
        events.push({
          reporter: ev.reporter, src: formatAddress(ev.src, ev.ipVersion), dst: formatAddress(ev.dst, ev.ipVersion), srcPort: ev.srcPort,
          dstPort: ev.dstPort, proto: ev.proto, pkts: ev.pkts, bytes: ev.bytes, start: ev.start, end: ev.end, sampling: ev.sampling,
          tcpFlags: ev.tcpFlags, revTcpFlags: ev.revTcpFlags, direction: ev.direction, vlan: ev.vlan, bidir: ev.bidir,
          revPkts: ev.revPkts, revBytes: ev.revBytes, source: ev.source, ipVersion: ev.ipVersion,
        });
      },
      reject(r) { rejects.push(r); },
    },
    onSflow(f) { frames.push({ f, bytes: Array.from(f.frame) }); },
    ...(limits ? { limits } : {}),
  });
  return { dec, events, rejects, problems, frames, kinds: () => rejects.map((r) => r.kind) };
}

const EXPORTER = '2001:db8::10';
const T0 = 1_700_000_000;
const msg = (seq: number, sets: Uint8Array[], domain = 5, exportTime = T0) => ipfixMessage({ exportTime, seq, domain }, sets);

const BASE: FieldSpec[] = [
  { id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
  { id: 6, length: 2 }, { id: 2, length: 8 }, { id: 1, length: 8 },
];
const base = (src: string, pkts: number, bytes: number): FieldValue[] => [ip4(src), ip4('10.9.9.9'), 50000, 443, 6, 0x18, pkts, bytes];

function decodeOne(fields: FieldSpec[], values: FieldValue[], limits?: Partial<NetflowLimits>) {
  const c = collector(limits);
  c.dec.decode(msg(0, [ipfixTemplateSet([{ id: 256, fields }]), set(256, [record(fields, values)])]), EXPORTER, T0);
  return c;
}

// ------------------------------------------------------------- basics ---

test('ipfix: template + data in one message; 8-byte counters; flowStart/EndMilliseconds', () => {
  const fields = [...BASE, { id: 152, length: 8 }, { id: 153, length: 8 }, { id: 61, length: 1 }, { id: 243, length: 2 }];
  const c = decodeOne(fields, [...base('10.0.0.1', 7, 7000), (T0 - 10) * 1000 + 250, (T0 - 2) * 1000, 1, 100]);
  assert.equal(c.rejects, []);
  const e = c.events[0]!;
  assert.equal([e.src, e.dst, e.srcPort, e.dstPort, e.proto, e.tcpFlags, e.pkts, e.bytes, e.direction, e.vlan],
    ['10.0.0.1', '10.9.9.9', 50000, 443, 6, 0x18, 7, 7000, 2, 100]);
  assert.equal([e.start, e.end], [T0 - 9.75, T0 - 2]);
  assert.is(e.source, SOURCE.ipfix);
  assert.is(e.reporter, `${EXPORTER}/5`);
  assert.equal(c.problems, []);
});

test('ipfix: every time encoding (s, ms, µs/ns NTP, delta µs, sysUpTime + systemInitTime, duration)', () => {
  const NTP = 2208988800;
  const ntp = (secs: number, frac: number) => (BigInt(secs + NTP) << 32n) | BigInt(Math.round(frac * 2 ** 32));
  const cases: [FieldSpec[], FieldValue[], number, number][] = [
    [[{ id: 150, length: 4 }, { id: 151, length: 4 }], [T0 - 30, T0 - 20], T0 - 30, T0 - 20],
    [[{ id: 154, length: 8 }, { id: 155, length: 8 }], [ntp(T0 - 5, 0.5), ntp(T0 - 4, 0.25)], T0 - 4.5, T0 - 3.75],
    [[{ id: 156, length: 8 }, { id: 157, length: 8 }], [ntp(T0 - 5, 0), ntp(T0 - 5, 0.5)], T0 - 5, T0 - 4.5],
    [[{ id: 158, length: 4 }, { id: 159, length: 4 }], [3_000_000, 1_500_000], T0 - 3, T0 - 1.5],
    [[{ id: 160, length: 8 }, { id: 22, length: 4 }, { id: 21, length: 4 }], [(T0 - 1000) * 1000, 990_000, 995_500], T0 - 10, T0 - 4.5],
    [[{ id: 152, length: 8 }, { id: 161, length: 4 }], [(T0 - 10) * 1000, 2500], T0 - 10, T0 - 7.5],
    [[{ id: 22, length: 4 }, { id: 21, length: 4 }], [1000, 2000], T0, T0], // no system init time known: the export time
  ];
  for (const [tf, tv, start, end] of cases) {
    const c = decodeOne([...BASE, ...tf], [...base('10.0.0.1', 1, 1), ...tv]);
    const e = c.events[0]!;
    assert.ok(Math.abs(e.start - start) < 1e-6 && Math.abs(e.end - end) < 1e-6, `${tf.map((f) => f.id)}: ${e.start}-${e.end}, want ${start}-${end}`);
  }
  // systemInitTimeMilliseconds from options data, sysUpTime-relative data after it
  const c = collector();
  const opt: FieldSpec[] = [{ id: 149, length: 4 }, { id: 160, length: 8 }];
  c.dec.decode(msg(0, [ipfixOptionsTemplateSet(300, [opt[0]!], [opt[1]!]), set(300, [record(opt, [5, (T0 - 100) * 1000])])]), EXPORTER, T0);
  const f = [...BASE, { id: 22, length: 4 }, { id: 21, length: 4 }];
  c.dec.decode(msg(1, [ipfixTemplateSet([{ id: 256, fields: f }]), set(256, [record(f, [...base('10.0.0.1', 1, 1), 90_000, 95_000])])]), EXPORTER, T0);
  assert.equal([c.events[0]!.start, c.events[0]!.end], [T0 - 10, T0 - 5]);
});

test('ipfix: records without addresses: one no_address rejection per set, counted per record', () => {
  const f: FieldSpec[] = [{ id: 2, length: 4 }, { id: 1, length: 4 }, { id: 10, length: 4 }];
  const c = collector();
  c.dec.decode(msg(0, [ipfixTemplateSet([{ id: 256, fields: f }]), set(256, [record(f, [1, 2, 3]), record(f, [4, 5, 6]), record(f, [7, 8, 9])])]), EXPORTER, T0);
  assert.equal(c.kinds(), ['no_address']);
  assert.is(c.dec.stats.noAddressRecords, 3);
  assert.is(c.events.length, 0);
});

test('ipfix: an IPv4 exporter seen through a dual-stack socket is reported as IPv4', () => {
  const c = collector();
  c.dec.decode(msg(0, [ipfixTemplateSet([{ id: 256, fields: BASE }]), set(256, [record(BASE, base('10.0.0.1', 1, 1))])]), '::ffff:198.51.100.3', T0);
  assert.is(c.events[0]!.reporter, '198.51.100.3/5');
});

test('ipfix: IPv6 records; ICMP type/code from icmpTypeCodeIPv6', () => {
  const f: FieldSpec[] = [{ id: 27, length: 16 }, { id: 28, length: 16 }, { id: 4, length: 1 }, { id: 139, length: 2 }, { id: 2, length: 4 }, { id: 1, length: 4 }];
  const c = decodeOne(f, [ip6('2001:db8::1'), ip6('2001:db8::2'), 58, (128 << 8) | 0, 1, 104]);
  assert.equal([c.events[0]!.src, c.events[0]!.dst, c.events[0]!.ipVersion, c.events[0]!.srcPort, c.events[0]!.dstPort], ['2001:db8::1', '2001:db8::2', 6, 128, 0]);
});

test('ipfix: variable-length fields (1- and 3-byte lengths) and enterprise fields are skipped by length', () => {
  const f: FieldSpec[] = [
    { id: 82, length: 65535 },                       // interfaceName, variable
    { id: 8, length: 4 },
    { id: 100, length: 6, pen: 9 },                  // Cisco enterprise field, fixed
    { id: 12, length: 4 },
    { id: 200, length: 65535, pen: 35632 },          // enterprise, variable, long (3-byte length)
    { id: 2, length: 4 }, { id: 1, length: 4 },
    { id: 315, length: 65535 },                      // dataLinkFrameSection: with addresses present, not a frame
  ];
  const long = new Array<number>(300).fill(0x41);
  const c = collector();
  c.dec.decode(msg(0, [ipfixTemplateSet([{ id: 256, fields: f }]), set(256, [
    record(f, [[0x65, 0x74, 0x68, 0x30], ip4('1.1.1.1'), [1, 2, 3, 4, 5, 6], ip4('2.2.2.2'), long, 3, 300, [1, 2, 3]]),
    record(f, [[], ip4('3.3.3.3'), [0, 0, 0, 0, 0, 0], ip4('4.4.4.4'), [], 4, 400, []]),
  ])]), EXPORTER, T0);
  assert.equal(c.events.map((e) => [e.src, e.dst, e.pkts, e.bytes]), [['1.1.1.1', '2.2.2.2', 3, 300], ['3.3.3.3', '4.4.4.4', 4, 400]]);
  assert.equal(c.rejects, []);
  assert.equal(c.frames, []);
  // a variable-length field that overruns its set: bad_record, earlier records kept
  const bad = collector();
  const s = set(256, [record(f, [[1], ip4('1.1.1.1'), [0, 0, 0, 0, 0, 0], ip4('2.2.2.2'), [], 1, 1, []]), Uint8Array.from([200, ...new Array<number>(30).fill(1)])]);
  bad.dec.decode(msg(0, [ipfixTemplateSet([{ id: 256, fields: f }]), s]), EXPORTER, T0);
  assert.is(bad.events.length, 1);
  assert.equal(bad.kinds(), ['bad_record']);
});

test('ipfix: RFC 5103 biflow — reverse-PEN counters become revPkts/revBytes/revTcpFlags', () => {
  const f: FieldSpec[] = [...BASE, { id: 2, length: 8, pen: 29305 }, { id: 1, length: 8, pen: 29305 }, { id: 6, length: 1, pen: 29305 }];
  const c = decodeOne(f, [...base('10.0.0.1', 10, 1000), 8, 4000, 0x1a]);
  const e = c.events[0]!;
  assert.equal([e.bidir, e.pkts, e.bytes, e.revPkts, e.revBytes, e.tcpFlags, e.revTcpFlags], [true, 10, 1000, 8, 4000, 0x18, 0x1a]);
});

test('ipfix: withdrawal of one template, of all templates; redefinition', () => {
  const c = collector();
  const data = (seq: number, id = 256) => msg(seq, [set(id, [record(BASE, base('10.0.0.1', 1, 100))])]);
  c.dec.decode(msg(0, [ipfixTemplateSet([{ id: 256, fields: BASE }, { id: 257, fields: BASE }])]), EXPORTER, T0);
  c.dec.decode(data(0), EXPORTER, T0);
  assert.is(c.events.length, 1);
  c.dec.decode(msg(1, [ipfixWithdrawalSet([256])]), EXPORTER, T0);
  assert.is(c.dec.stats.templatesWithdrawn, 1);
  c.dec.decode(data(1), EXPORTER, T0);
  assert.is(c.events.length, 1, 'no template any more: held, not decoded');
  c.dec.decode(data(2, 257), EXPORTER, T0);
  assert.is(c.events.length, 2, 'template 257 still there');
  c.dec.decode(msg(3, [ipfixWithdrawalSet([2])]), EXPORTER, T0); // template id = set id: all of them
  assert.is(c.dec.gauges().templates, 0);
  c.dec.finish();
  assert.equal(c.kinds(), ['no_template']);

  // redefinition: same id, other fields
  const r = collector();
  const other: FieldSpec[] = [{ id: 12, length: 4 }, { id: 8, length: 4 }, { id: 86, length: 4 }, { id: 85, length: 4 }];
  r.dec.decode(msg(0, [ipfixTemplateSet([{ id: 256, fields: BASE }]), set(256, [record(BASE, base('10.0.0.1', 1, 100))])]), EXPORTER, T0);
  r.dec.decode(msg(1, [ipfixTemplateSet([{ id: 256, fields: other }]), set(256, [record(other, [ip4('5.5.5.5'), ip4('6.6.6.6'), 9, 900])])]), EXPORTER, T0);
  assert.is(r.dec.stats.templatesRedefined, 1);
  assert.equal(r.events.map((e) => [e.src, e.dst, e.pkts, e.bytes]), [['10.0.0.1', '10.9.9.9', 1, 100], ['6.6.6.6', '5.5.5.5', 9, 900]], 'total counts when no delta counts');
});

test('ipfix: options sampling — PSAMP selectors (systematic, random n-of-N), samplingInterval default', () => {
  const c = collector();
  const opt: FieldSpec[] = [{ id: 302, length: 4 }, { id: 304, length: 2 }, { id: 305, length: 4 }, { id: 306, length: 4 }, { id: 309, length: 4 }, { id: 310, length: 4 }];
  c.dec.decode(msg(0, [ipfixOptionsTemplateSet(400, [opt[0]!], opt.slice(1)), set(400, [
    record(opt, [1, 1, 1, 99, 0, 0]),      // systematic count-based: 1 of every 100
    record(opt, [2, 3, 1, 0, 1, 256]),     // random 1-out-of-256 (as IOS XR sends, with interval 1)
  ])]), EXPORTER, T0);
  const f = [...BASE, { id: 302, length: 4 }];
  c.dec.decode(msg(2, [ipfixTemplateSet([{ id: 256, fields: f }]), set(256, [
    record(f, [...base('10.0.0.1', 1, 72), 1]), record(f, [...base('10.0.0.2', 2, 80), 2]), record(f, [...base('10.0.0.3', 1, 1), 3]),
  ])]), EXPORTER, T0);
  assert.equal(c.events.map((e) => [e.sampling, e.pkts, e.bytes]), [[100, 100, 7200], [256, 512, 20480], [1, 1, 1]]);
  // an options record without a selector sets the domain's default
  const d = collector();
  const o2: FieldSpec[] = [{ id: 149, length: 4 }, { id: 34, length: 4 }, { id: 35, length: 1 }];
  d.dec.decode(msg(0, [ipfixOptionsTemplateSet(400, [o2[0]!], o2.slice(1)), set(400, [record(o2, [5, 64, 1])])]), EXPORTER, T0);
  d.dec.decode(msg(1, [ipfixTemplateSet([{ id: 256, fields: BASE }]), set(256, [record(BASE, base('10.0.0.1', 1, 100))])]), EXPORTER, T0);
  assert.equal([d.events[0]!.sampling, d.events[0]!.pkts, d.events[0]!.bytes], [64, 64, 6400]);
  // samplingPacketInterval alone (no space) as 1-in-N, in the data record itself
  const e = decodeOne([...BASE, { id: 305, length: 4 }], [...base('10.0.0.1', 1, 100), 10]);
  assert.is(e.events[0]!.sampling, 10);
  // samplingProbability (float64): 1/p
  const p = collector();
  const o3: FieldSpec[] = [{ id: 302, length: 4 }, { id: 304, length: 2 }, { id: 311, length: 8 }];
  const prob = new Uint8Array(8); new DataView(prob.buffer).setFloat64(0, 0.001);
  p.dec.decode(msg(0, [ipfixOptionsTemplateSet(401, [o3[0]!], o3.slice(1)), set(401, [record(o3, [7, 4, prob])])]), EXPORTER, T0);
  p.dec.decode(msg(1, [ipfixTemplateSet([{ id: 256, fields: f }]), set(256, [record(f, [...base('10.0.0.1', 1, 100), 7])])]), EXPORTER, T0);
  assert.is(p.events[0]!.sampling, 1000);
});

test('ipfix: sequence numbers count data records; gaps are lost records', () => {
  const c = collector();
  const recs = (n: number) => set(256, Array.from({ length: n }, () => record(BASE, base('10.0.0.1', 1, 1))));
  c.dec.decode(msg(0, [ipfixTemplateSet([{ id: 256, fields: BASE }])]), EXPORTER, T0);
  c.dec.decode(msg(0, [recs(3)]), EXPORTER, T0);
  c.dec.decode(msg(3, [recs(2)]), EXPORTER, T0);
  assert.is(c.dec.stats.lostRecords, 0);
  c.dec.decode(msg(9, [recs(1)]), EXPORTER, T0);
  assert.is(c.dec.stats.lostRecords, 4);
  c.dec.decode(msg(10, [recs(1)], 6), EXPORTER, T0); // another domain: its own sequence
  assert.is(c.dec.stats.lostRecords, 4);
});

test('ipfix: hostile messages are counted rejections, never throws', () => {
  const c = collector({ fieldsPerTemplate: 128 });
  const send = (b: Uint8Array) => c.dec.decode(b, EXPORTER, T0);
  send(msg(0, [ipfixTemplateSet([{ id: 256, fields: [{ id: 1, length: 40000 }, { id: 2, length: 40000 }] }])]));   // record longer than any message
  send(msg(0, [ipfixTemplateSet([{ id: 257, fields: [{ id: 1, length: 0 }, { id: 2, length: 0 }] }])]));           // zero-length records
  send(msg(0, [ipfixTemplateSet([{ id: 258, fields: Array.from({ length: 200 }, () => ({ id: 1, length: 1 })) }])])); // too many fields
  send(msg(0, [ipfixTemplateSet([{ id: 7, fields: BASE }])]));                                                       // id < 256
  const noScope = ipfixOptionsTemplateSet(400, [], [{ id: 34, length: 4 }]);
  send(msg(0, [noScope]));                                                                                            // scope count 0
  const m = msg(0, [ipfixTemplateSet([{ id: 259, fields: BASE }])]);
  new DataView(m.buffer).setUint16(16 + 4 + 2, 60);                                                                  // field count beyond its set
  send(m);
  const long = msg(0, [set(256, [new Uint8Array(8)])]);
  new DataView(long.buffer).setUint16(18, 400);                                                                       // set length beyond the message
  send(long);
  const short = msg(0, [set(256, [new Uint8Array(8)])]);
  new DataView(short.buffer).setUint16(18, 2);                                                                        // set length < 4
  send(short);
  const trunc = msg(0, [ipfixTemplateSet([{ id: 260, fields: BASE }])]);
  send(trunc.subarray(0, trunc.length - 8));                                                                          // message cut short
  send(trunc.subarray(0, 10));
  const tiny = msg(0, []);
  new DataView(tiny.buffer).setUint16(2, 8);
  send(tiny);                                                                                                         // length < 16
  send(Uint8Array.from([0, 10, 0]));
  assert.equal(c.kinds(), [
    'bad_template', 'bad_template', 'bad_template', 'bad_template', 'bad_template', 'bad_template',
    'bad_set_length', 'bad_set_length', 'truncated_datagram', 'bad_set_length', 'truncated_datagram', 'bad_header', 'truncated_datagram',
  ]);
  assert.is(c.dec.gauges().templates, 0);
  assert.is(c.events.length, 0);
});

test('ipfix: thousands of templates over many domains stay capped (per exporter, domains, global)', () => {
  const c = collector({ templatesPerExporter: 64, templatesTotal: 200, domainsPerExporter: 16, exporters: 6 });
  for (let i = 0; i < 5000; i++) {
    c.dec.decode(msg(i, [ipfixTemplateSet([{ id: 256 + (i % 1000), fields: BASE }])], i % 40), `10.1.0.${i % 9}`, T0);
  }
  const g = c.dec.gauges();
  assert.ok(g.templates <= 200 && g.exporters <= 6, JSON.stringify(g));
  for (const ex of c.dec.templates.exporters.values()) {
    assert.ok(ex.templateCount <= 64 && ex.domains.size <= 16);
    let n = 0;
    for (const d of ex.domains.values()) n += d.templates.size;
    assert.is(n, ex.templateCount, 'per-exporter count is exact');
  }
  let total = 0;
  for (const ex of c.dec.templates.exporters.values()) total += ex.templateCount;
  assert.is(total, g.templates, 'global count is exact');
  assert.ok(c.dec.stats.templatesEvicted > 4000);
});

// -------------------------------------------------------- real exports ---

const AKV = 'flows/netflow_ipfix/akvorado';
function decodeCaptures(names: string[]) {
  const c = collector();
  for (const n of names) decodeNetflowCaptureBytes(readFileSync(sharedPath(n)), c.dec, basename(n), false);
  c.dec.finish();
  return c;
}

test('ipfix: akvorado captures — biflows, MPLS egress, physical interfaces, packet sections', () => {
  if (!needSharedData('akvorado IPFIX captures')) return;
  const b = decodeCaptures([`${AKV}/ipfixprobe-templates.pcap`, `${AKV}/ipfixprobe-data.pcap`]);
  assert.equal(b.events.map((e) => [e.src, e.dst, e.srcPort, e.dstPort, e.pkts, e.bytes, e.bidir, e.revPkts, e.revBytes]), [
    ['10.10.1.4', '10.10.1.1', 56166, 53, 1, 62, true, 1, 128],
    ['10.10.1.20', '10.10.1.255', 138, 138, 1, 229, true, 0, 0],
    ['10.10.1.4', '74.53.140.153', 1470, 25, 28, 21673, true, 25, 1546],
    ['192.168.1.1', '10.10.1.4', 0, 0, 4, 2304, true, 0, 0],
  ]);
  assert.is(b.events[2]!.tcpFlags, 0x1b);

  const m = decodeCaptures([`${AKV}/mpls.pcap`]);
  assert.equal(m.events.map((e) => [e.src, e.dst, e.sampling, e.pkts, e.bytes, e.direction]), [
    ['fd00::1:0:1:7:1', 'fd00::1:0:1:5:1', 10, 10, 890, 2], ['fd00::1:0:1:7:1', 'fd00::1:0:1:6:1', 10, 100, 8900, 2],
  ]);
  const p = decodeCaptures([`${AKV}/physicalinterfaces.pcap`]);
  assert.equal([p.events[0]!.src, p.events[0]!.dst, p.events[0]!.sampling, p.events[0]!.pkts, p.events[0]!.bytes, p.events[0]!.vlan],
    ['147.53.240.75', '212.82.101.24', 1000, 3000, 4506000, 4]);

  // records that carry only a dataLinkFrameSection go to the frame consumer
  const d = decodeCaptures([`${AKV}/datalink-template.pcap`, `${AKV}/datalink-data.pcap`]);
  assert.is(d.events.length, 0);
  assert.is(d.frames.length, 1);
  const f = d.frames[0]!;
  assert.equal([f.f.source, f.f.linktype, f.f.inputIfIndex, f.bytes.length], ['ipfix', 1, 582, f.f.frame.length]);
  // Ethernet: ... 0x0800, IPv4 51.51.51.51 → 52.52.52.52 (akvorado's expectation, decoded from the frame)
  const ipAt = f.bytes.findIndex((_, i) => f.bytes[i] === 51 && f.bytes[i + 1] === 51 && f.bytes[i + 2] === 51 && f.bytes[i + 3] === 51);
  assert.ok(ipAt > 14 && f.bytes[ipAt + 4] === 52, 'frame carries the sampled IPv4 header');
});

const PM = 'flows/netflow_ipfix/pmacct';
const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, 'ipv6-icmp': 58, vrrp: 112 };

interface PmRow { ip_src: string; ip_dst: string; port_src: number; port_dst: number; ip_proto: string; packets: number; bytes: number; timestamp_start?: string }

function pmacctCheck(dir: string): number {
  const pcaps = sharedFiles(`${PM}/${dir}`, (p) => p.endsWith('.pcap'));
  const c = decodeCaptures(pcaps);
  assert.equal(c.rejects, []);
  assert.equal(c.problems, []);
  const key = (s: string, d: string, sp: number, dp: number, pr: number) => `${s} ${d} ${sp} ${dp} ${pr}`;
  const ours = new Map<string, [number, number, number[]]>();
  for (const e of c.events) {
    const k = key(e.src, e.dst, e.srcPort, e.dstPort, e.proto);
    const a = ours.get(k) ?? [0, 0, []];
    a[0] += e.pkts; a[1] += e.bytes; a[2].push(Math.floor(e.start)); ours.set(k, a);
  }
  const theirs = new Map<string, [number, number, number[]]>();
  for (const line of readFileSync(sharedPath(`${PM}/${dir}/output-flow-00.json`), 'utf8').trim().split('\n')) {
    const j = JSON.parse(line) as PmRow;
    const k = key(j.ip_src, j.ip_dst, j.port_src, j.port_dst, PROTO[j.ip_proto] ?? Number(j.ip_proto));
    const a = theirs.get(k) ?? [0, 0, []];
    a[0] += j.packets; a[1] += j.bytes;
    if (j.timestamp_start !== undefined) a[2].push(Number(j.timestamp_start));
    theirs.set(k, a);
  }
  assert.equal([...ours.keys()].sort(), [...theirs.keys()].sort());
  for (const [k, t] of theirs) {
    const o = ours.get(k)!;
    assert.equal([o[0], o[1]], [t[0], t[1]], k);
    // IPFIX sysUpTime fields without systemInitTime: both take the export time as the start
    // (pmacct then reports end 0; we report end = start)
    if (t[2].length > 0) assert.equal([...o[2]].sort(), [...t[2]].sort(), `${k} start`);
  }
  return c.events.length;
}

test('pmacct 100 (IPFIX, Cisco ASR9k, IPv4+IPv6, MPLS): every flow matches nfacctd', () => {
  if (!needSharedData('pmacct 100')) return;
  assert.is(pmacctCheck('100-IPFIXv10-CISCO'), 12);
});

test('pmacct 104 (IPFIX, sampling option 1-out-of-256 by selector): renormalized counts match nfacctd', () => {
  if (!needSharedData('pmacct 104')) return;
  assert.is(pmacctCheck('104-IPFIXv10-IPv6-CISCO-sampling_option'), 3);
});

// --------------------------------------------------------------- fuzz ---

function mutate(rng: Rng, src: Uint8Array): Uint8Array {
  let b = src.slice();
  for (let i = rng.int(1, 4); i > 0 && b.length > 0; i--) {
    const at = rng.int(0, b.length - 1);
    switch (rng.int(0, 6)) {
      case 0: b[at]! ^= 1 << rng.int(0, 7); break;
      case 1: b[at] = rng.pick([0, 0xff, 0x80, 1, 255]); break;
      case 2: if (at + 1 < b.length) { b[at] = rng.pick([0, 0xff]); b[at + 1] = rng.pick([0, 0xff, 4, 2, 3]); } break;
      case 3: b = b.slice(0, at); break;
      case 4: { const len = rng.int(1, 24); const from = rng.int(0, b.length - 1); b.copyWithin(at, from, from + len); break; }
      case 5: for (let k = at; k < Math.min(b.length, at + 4); k++) b[k] = rng.int(0, 255); break;
      default: if (at + 3 < b.length) new DataView(b.buffer).setUint32(at, rng.pick([0, 0xffffffff, 0x8000ffff, 65535, 29305])); break;
    }
  }
  return b;
}

test('fuzz: thousands of mutated real IPFIX messages never throw, stay bounded, emit sane events', () => {
  if (!needSharedData('IPFIX fuzz corpus')) return;
  const corpus: { d: Uint8Array; from: string }[] = [];
  const stems: string[] = [];
  for (const f of sharedFiles('flows/netflow_ipfix', (p) => p.endsWith('.pcap'))) {
    // one exporter per test (akvorado's *-template/*-data pairs share one)
    const stem = basename(f).replace(/-(data|templates?)\.pcap$/, '');
    if (!stems.includes(stem)) stems.push(stem);
    const from = `10.0.0.${stems.indexOf(stem) + 1}`;
    const w = new CaptureWalker((pl) => { if (sniffVersion(pl) === 'ipfix') corpus.push({ d: Uint8Array.from(pl), from }); }, () => {});
    w.push(readFileSync(sharedPath(f)));
    w.end();
  }
  assert.ok(corpus.length > 20, `${corpus.length} messages`);
  const limits = { templatesPerExporter: 24, templatesTotal: 64, pendingSetsPerExporter: 6, pendingBytesPerExporter: 8192, pendingBytesTotal: 20000, exporters: 12, domainsPerExporter: 4 };
  const c = collector(limits);
  const rng = new Rng('ipfix-fuzz-1');
  let events = 0;
  for (let i = 0; i < 8000; i++) {
    // in corpus order (templates before their data), now and then from another exporter
    const base = corpus[i % corpus.length]!;
    const d = rng.chance(0.5) ? base.d : mutate(rng, base.d);
    const from = rng.chance(0.9) ? base.from : `10.9.0.${rng.int(1, 9)}`;
    try { events += c.dec.decode(d, from, T0 + i); } catch (e) { assert.unreachable(`threw: ${(e as Error).message}`); }
    if (c.events.length > 1000) c.events.length = 0;
    if (c.frames.length > 100) c.frames.length = 0;
  }
  assert.equal(c.problems, []);
  assert.not.ok(c.kinds().includes('decoder_error'), String(c.rejects.find((r) => r.kind === 'decoder_error')?.message));
  const g = c.dec.gauges();
  assert.ok(g.templates <= 64 && g.exporters <= 12 && g.heldBytes <= 20000, JSON.stringify(g));
  for (const ex of c.dec.templates.exporters.values()) assert.ok(ex.templateCount <= 24 && ex.pending.length <= 6 && ex.domains.size <= 4);
  assert.ok(events > 2500, `${events} events`);
});

test.run();
