// NetFlow v5 and v9 decoding, the export-capture reader, and conformance on
// real exports: akvorado's test captures (its expected values), pmacct's
// nfacctd expected output for real Cisco exports, tshark's per-record counts,
// and a seeded fuzz of mutated real datagrams.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { SOURCE, type FlowEvent, type FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { formatAddress } from '../sensor/flows/ip-address.ts';
import { eventProblem, type NetflowLimits } from '../sensor/netflow/common.ts';
import { NetflowDecoder, sniffVersion } from '../sensor/netflow/datagram.ts';
import {
  ip4, record, set, v5Datagram, v9Datagram, v9OptionsTemplateSet, v9TemplateSet, type FieldSpec, type V5Record,
} from '../sensor/netflow/export-writer.ts';
import { CaptureWalker, decodeNetflowCaptureBytes, readNetflowCapture } from '../sensor/netflow/netflow-pcap.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { block, epb, idb, pcapFile, pcapng, shb } from './helpers/capture-bytes.ts';
import { eth, ipv4, ipv6, ext6, frag6, tag, udp, MAC_A, MAC_B } from './helpers/packet-bytes.ts';
import { needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';
import { haveTshark, TSHARK } from './helpers/tshark.ts';

// ------------------------------------------------------------ helpers ---

interface Ev {
  source: number; reporter: string; src: string; dst: string; srcPort: number; dstPort: number; proto: number;
  pkts: number; bytes: number; start: number; end: number; sampling: number; tcpFlags: number;
  direction: number; vlan: number; action: number; bidir: boolean; revPkts: number; revBytes: number;
}

function snapshot(ev: FlowEvent): Ev {
  return {
    source: ev.source, reporter: ev.reporter, src: formatAddress(ev.src, ev.ipVersion), dst: formatAddress(ev.dst, ev.ipVersion),
    srcPort: ev.srcPort, dstPort: ev.dstPort, proto: ev.proto, pkts: ev.pkts, bytes: ev.bytes, start: ev.start, end: ev.end,
    sampling: ev.sampling, tcpFlags: ev.tcpFlags, direction: ev.direction, vlan: ev.vlan, action: ev.action,
    bidir: ev.bidir, revPkts: ev.revPkts, revBytes: ev.revBytes,
  };
}

function collector(limits?: Partial<NetflowLimits>) {
  const events: Ev[] = [];
  const rejects: FlowRejection[] = [];
  const problems: string[] = [];
  const dec = new NetflowDecoder({
    sink: {
      emit(ev) { const p = eventProblem(ev); if (p !== null) problems.push(p); events.push(snapshot(ev)); },
      reject(r) { rejects.push(r); },
    },
    ...(limits ? { limits } : {}),
  });
  return { dec, events, rejects, problems, kinds: () => rejects.map((r) => r.kind) };
}

const EXPORTER = '192.0.2.10';
const T0 = 1_700_000_000;

/** UDP payloads of a capture, with the source address of each. */
function capturePayloads(path: string): { payload: Uint8Array; from: string; time: number }[] {
  const out: { payload: Uint8Array; from: string; time: number }[] = [];
  const w = new CaptureWalker((payload, from, time) => out.push({ payload: Uint8Array.from(payload), from, time }), () => {});
  w.push(readFileSync(path));
  w.end();
  return out;
}

function decodeCaptures(paths: string[], limits?: Partial<NetflowLimits>) {
  const c = collector(limits);
  for (const p of paths) decodeNetflowCaptureBytes(readFileSync(p), c.dec, basename(p), false);
  c.dec.finish();
  return c;
}

const AKV = 'flows/netflow_ipfix/akvorado';
const akv = (...names: string[]) => names.map((n) => sharedPath(`${AKV}/${n}.pcap`));

// ---------------------------------------------------------------- v5 ---

function v5rec(o: Partial<V5Record> = {}): V5Record {
  return { src: ip4('10.0.0.1'), dst: ip4('10.0.0.2'), pkts: 3, bytes: 300, first: 1000, last: 2000, srcPort: 1234, dstPort: 80, proto: 6, tcpFlags: 0x1b, ...o };
}

test('v5: fields, absolute times from uptime, reporter = exporter/engine', () => {
  const c = collector();
  const d = v5Datagram({ uptime: 10_000, secs: T0, nsecs: 500_000_000, seq: 0, engineType: 1, engineId: 7 }, [v5rec(), v5rec({ proto: 17, srcPort: 53, dstPort: 5353, first: 9000, last: 9500 })]);
  assert.is(c.dec.decode(d, EXPORTER, T0), 2);
  const [a, b] = c.events;
  assert.equal({ src: a!.src, dst: a!.dst, sp: a!.srcPort, dp: a!.dstPort, proto: a!.proto, pkts: a!.pkts, bytes: a!.bytes, flags: a!.tcpFlags },
    { src: '10.0.0.1', dst: '10.0.0.2', sp: 1234, dp: 80, proto: 6, pkts: 3, bytes: 300, flags: 0x1b });
  assert.is(a!.source, SOURCE.netflow_v5);
  assert.is(a!.reporter, `${EXPORTER}/1.7`);
  assert.ok(Math.abs(a!.start - (T0 + 0.5 - 9)) < 1e-6, `start ${a!.start}`);
  assert.ok(Math.abs(a!.end - (T0 + 0.5 - 8)) < 1e-6);
  assert.ok(Math.abs(b!.start - (T0 + 0.5 - 1)) < 1e-6);
  assert.is(b!.tcpFlags, 0, 'TCP flags only for TCP');
  assert.equal(c.problems, []);
});

test('v5: 32-bit uptime wrap, header sampling applied, ICMP type/code from the port', () => {
  const c = collector();
  // uptime wrapped to 5 s; the flow started 4.096 s before the wrap
  const d = v5Datagram({ uptime: 5000, secs: T0, seq: 0, sampling: (1 << 14) | 100 }, [
    v5rec({ first: 0xfffff000, last: 4000 }),
    v5rec({ proto: 1, srcPort: 0, dstPort: (8 << 8) | 0, first: 4000, last: 4000 }),
  ]);
  c.dec.decode(d, EXPORTER, T0);
  const [a, b] = c.events;
  assert.ok(Math.abs(a!.start - (T0 - 9.096)) < 1e-6, `start ${a!.start}`);
  assert.ok(Math.abs(a!.end - (T0 - 1)) < 1e-6);
  assert.is(a!.sampling, 100);
  assert.is(a!.pkts, 300);
  assert.is(a!.bytes, 30_000);
  assert.equal([b!.srcPort, b!.dstPort], [8, 0], 'ICMP echo request: type 8 code 0');
});

test('v5: sequence gaps counted as lost records; malformed headers rejected by kind', () => {
  const c = collector();
  c.dec.decode(v5Datagram({ uptime: 1, secs: T0, seq: 100 }, [v5rec(), v5rec()]), EXPORTER, T0);
  c.dec.decode(v5Datagram({ uptime: 2, secs: T0, seq: 102 }, [v5rec()]), EXPORTER, T0);
  c.dec.decode(v5Datagram({ uptime: 3, secs: T0, seq: 110 }, [v5rec()]), EXPORTER, T0);
  assert.is(c.dec.stats.lostRecords, 7);
  c.dec.decode(v5Datagram({ uptime: 3, secs: T0, seq: 3 }, [v5rec()]), EXPORTER, T0);
  assert.is(c.dec.stats.sequenceResets, 1, 'a jump backwards is a restart, not loss');
  assert.is(c.dec.stats.lostRecords, 7);

  const good = v5Datagram({ uptime: 1, secs: T0, seq: 0 }, [v5rec(), v5rec()]);
  c.dec.decode(good.subarray(0, 20), EXPORTER, T0);
  c.dec.decode(good.subarray(0, good.length - 10), EXPORTER, T0); // second record cut
  c.dec.decode(v5Datagram({ uptime: 1, secs: T0, seq: 0 }, [], 0), EXPORTER, T0);
  c.dec.decode(v5Datagram({ uptime: 1, secs: T0, seq: 0 }, [v5rec()], 31), EXPORTER, T0);
  assert.equal(c.kinds(), ['truncated_datagram', 'truncated_datagram', 'bad_header', 'bad_header']);
  assert.is(c.events.length, 5 + 1, 'the complete record of the cut datagram is kept');
});

test('v5: akvorado nfv5.pcap matches tshark record by record', () => {
  if (!needSharedData('v5 capture')) return;
  const c = decodeCaptures(akv('nfv5'));
  assert.is(c.events.length, 29);
  const first = c.events[0]!;
  // akvorado's expected first flow
  assert.equal([first.src, first.dst, first.srcPort, first.dstPort, first.pkts, first.bytes, first.tcpFlags],
    ['161.202.212.212', '202.152.70.24', 30104, 11963, 1, 133, 0x18]);
  // header uptime 2874339 s, first switched 2874324 s, export 1680626679
  assert.is(first.start, 1680626679 - 15);
  if (!haveTshark()) { console.log('  [skip] tshark comparison: no tshark'); return; }
  const r = spawnSync(TSHARK, ['-r', akv('nfv5')[0]!, '-d', 'udp.port==9990,cflow', '-T', 'fields', '-E', 'occurrence=a',
    '-e', 'cflow.srcaddr', '-e', 'cflow.dstaddr', '-e', 'cflow.srcport', '-e', 'cflow.dstport', '-e', 'cflow.protocol', '-e', 'cflow.packets', '-e', 'cflow.octets']);
  const cols = r.stdout.toString().trim().split('\t').map((c) => c.split(','));
  for (let i = 0; i < 29; i++) {
    const e = c.events[i]!;
    assert.equal([e.src, e.dst, String(e.srcPort), String(e.dstPort), String(e.proto), String(e.pkts), String(e.bytes)],
      cols.map((col) => col[i]), `record ${i}`);
  }
});

// ---------------------------------------------------------------- v9 ---

const V9_FIELDS: FieldSpec[] = [
  { id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
  { id: 6, length: 1 }, { id: 2, length: 4 }, { id: 1, length: 4 }, { id: 22, length: 4 }, { id: 21, length: 4 },
  { id: 61, length: 1 }, { id: 58, length: 2 },
];
/** A record of V9_FIELDS (+ `extra` fields with their values). */
function v9rec(src: string, pkts: number, bytes: number, first = 9000, last = 9500, extra: [FieldSpec, number][] = []): Uint8Array {
  return record([...V9_FIELDS, ...extra.map((e) => e[0])], [ip4(src), ip4('10.9.9.9'), 40000, 443, 6, 0x12, pkts, bytes, first, last, 1, 42, ...extra.map((e) => e[1])]);
}
const v9hdr = (seq: number, uptime = 10_000, sourceId = 3) => ({ uptime, secs: T0, seq, sourceId });
const v9tpl = (seq: number, id = 300, fields = V9_FIELDS) => v9Datagram(v9hdr(seq), [v9TemplateSet([{ id, fields }])]);

test('v9: template then data; times from sysUptime; direction, VLAN, flags', () => {
  const c = collector();
  c.dec.decode(v9tpl(0), EXPORTER, T0);
  c.dec.decode(v9Datagram(v9hdr(1), [set(300, [v9rec('10.0.0.1', 5, 500), v9rec('10.0.0.2', 1, 60, 7000, 8000)])]), EXPORTER, T0);
  assert.is(c.events.length, 2);
  const a = c.events[0]!;
  assert.equal([a.src, a.dst, a.srcPort, a.dstPort, a.proto, a.tcpFlags, a.pkts, a.bytes, a.direction, a.vlan, a.sampling],
    ['10.0.0.1', '10.9.9.9', 40000, 443, 6, 0x12, 5, 500, 2, 42, 1]);
  assert.is(a.source, SOURCE.netflow_v9);
  assert.is(a.reporter, `${EXPORTER}/3`);
  assert.is(a.start, T0 - 1);
  assert.is(a.end, T0 - 0.5);
  assert.is(c.events[1]!.start, T0 - 3);
  assert.equal(c.problems, []);
  assert.is(c.dec.stats.templatesAdded, 1);
});

test('v9: uptime wrap between first switched and export', () => {
  const c = collector();
  c.dec.decode(v9tpl(0, 300), EXPORTER, T0);
  // uptime wrapped to 1 s; first switched 1 s before the wrap, last 0.5 s after it
  c.dec.decode(v9Datagram(v9hdr(1, 1000), [set(300, [v9rec('10.0.0.1', 1, 60, 0xfffffc18, 500)])]), EXPORTER, T0);
  assert.is(c.events[0]!.start, T0 - 2);
  assert.is(c.events[0]!.end, T0 - 0.5);
});

test('v9: data before its template is held, then decoded when the template arrives', () => {
  const c = collector();
  c.dec.decode(v9Datagram(v9hdr(0), [set(300, [v9rec('10.0.0.1', 5, 500)])]), EXPORTER, T0);
  assert.is(c.events.length, 0);
  assert.is(c.dec.stats.pendingHeld, 1);
  c.dec.decode(v9tpl(1), EXPORTER, T0 + 1);
  assert.is(c.events.length, 1);
  assert.is(c.events[0]!.src, '10.0.0.1');
  assert.is(c.dec.stats.pendingDecoded, 1);
  // the same template again is a refresh, not a redefinition
  c.dec.decode(v9tpl(2), EXPORTER, T0 + 2);
  assert.is(c.dec.stats.templatesRefreshed, 1);
  assert.is(c.dec.stats.templatesRedefined, 0);
  assert.equal(c.rejects, []);
});

test('v9: held data is bounded per exporter; never-resolved data is dropped and counted', () => {
  const c = collector({ pendingSetsPerExporter: 8 });
  for (let i = 0; i < 100; i++) c.dec.decode(v9Datagram(v9hdr(i), [set(400 + i, [v9rec('10.0.0.1', 1, 60)])]), EXPORTER, T0);
  assert.ok(c.dec.gauges().heldSets <= 8, `held ${c.dec.gauges().heldSets}`);
  assert.is(c.dec.stats.pendingDropped, 92);
  c.dec.finish();
  assert.is(c.dec.stats.pendingDropped, 100);
  assert.is(c.kinds().filter((k) => k === 'no_template').length, 100);
  // expiry: held data older than pendingMaxAge is dropped at the next hold
  const e = collector({ pendingMaxAge: 10 });
  e.dec.decode(v9Datagram(v9hdr(0), [set(300, [v9rec('10.0.0.1', 1, 60)])]), EXPORTER, T0);
  e.dec.decode(v9Datagram(v9hdr(1), [set(301, [v9rec('10.0.0.1', 1, 60)])]), EXPORTER, T0 + 60);
  e.dec.decode(v9tpl(2, 300), EXPORTER, T0 + 61);
  assert.is(e.events.length, 0, 'expired data is not decoded');
  assert.is(e.dec.stats.pendingDropped, 1);
});

test('v9: template redefinition changes how later data is read', () => {
  const c = collector();
  c.dec.decode(v9tpl(0), EXPORTER, T0);
  c.dec.decode(v9Datagram(v9hdr(1), [set(300, [v9rec('10.0.0.1', 5, 500)])]), EXPORTER, T0);
  const shorter: FieldSpec[] = [{ id: 12, length: 4 }, { id: 8, length: 4 }, { id: 2, length: 8 }];
  c.dec.decode(v9tpl(2, 300, shorter), EXPORTER, T0);
  c.dec.decode(v9Datagram(v9hdr(3), [set(300, [record(shorter, [ip4('10.1.1.1'), ip4('10.2.2.2'), 7])])]), EXPORTER, T0);
  assert.is(c.dec.stats.templatesRedefined, 1);
  assert.equal([c.events[1]!.src, c.events[1]!.dst, c.events[1]!.pkts], ['10.2.2.2', '10.1.1.1', 7]);
  assert.is(c.events[1]!.start, T0, 'no time fields: the export time');
});

test('v9: options data sets the sampling rate (default and per sampler id)', () => {
  const c = collector();
  // options template: scope System, SAMPLING_INTERVAL 34, SAMPLING_ALGORITHM 35
  c.dec.decode(v9Datagram(v9hdr(0), [v9OptionsTemplateSet(260, [{ id: 1, length: 4 }], [{ id: 34, length: 4 }, { id: 35, length: 1 }])]), EXPORTER, T0);
  c.dec.decode(v9Datagram(v9hdr(1), [set(260, [record([{ id: 1, length: 4 }, { id: 34, length: 4 }, { id: 35, length: 1 }], [0, 512, 2])])]), EXPORTER, T0);
  c.dec.decode(v9tpl(2), EXPORTER, T0);
  c.dec.decode(v9Datagram(v9hdr(3), [set(300, [v9rec('10.0.0.1', 5, 500)])]), EXPORTER, T0);
  assert.equal([c.events[0]!.pkts, c.events[0]!.bytes, c.events[0]!.sampling], [2560, 256_000, 512]);
  assert.is(c.dec.stats.optionsRecords, 1);

  // sampler ids: FLOW_SAMPLER_ID 48 → FLOW_SAMPLER_RANDOM_INTERVAL 50; records name their sampler
  const s = collector();
  const optFields: FieldSpec[] = [{ id: 1, length: 4 }, { id: 48, length: 2 }, { id: 49, length: 1 }, { id: 50, length: 4 }];
  s.dec.decode(v9Datagram(v9hdr(0), [v9OptionsTemplateSet(261, [optFields[0]!], optFields.slice(1))]), EXPORTER, T0);
  s.dec.decode(v9Datagram(v9hdr(1), [set(261, [record(optFields, [0, 1, 2, 100]), record(optFields, [0, 2, 2, 1000])])]), EXPORTER, T0);
  const sampler: FieldSpec = { id: 48, length: 2 };
  s.dec.decode(v9tpl(2, 301, [...V9_FIELDS, sampler]), EXPORTER, T0);
  const rec = (src: string, id: number) => v9rec(src, 1, 100, 9000, 9500, [[sampler, id]]);
  s.dec.decode(v9Datagram(v9hdr(3), [set(301, [rec('10.0.0.1', 2), rec('10.0.0.2', 1), rec('10.0.0.3', 9)])]), EXPORTER, T0);
  assert.equal(s.events.map((e) => e.sampling), [1000, 100, 1], 'unknown sampler id and no default: unsampled');
  assert.equal(s.events.map((e) => e.bytes), [100_000, 10_000, 100]);
});

test('v9: sequence gaps are lost datagrams, per (exporter, source id)', () => {
  const c = collector();
  c.dec.decode(v9tpl(10), EXPORTER, T0);
  c.dec.decode(v9tpl(11), EXPORTER, T0);
  c.dec.decode(v9tpl(14), EXPORTER, T0);
  assert.is(c.dec.stats.lostDatagrams, 2);
  c.dec.decode(v9Datagram({ uptime: 1, secs: T0, seq: 500, sourceId: 9 }, [v9TemplateSet([{ id: 300, fields: V9_FIELDS }])]), EXPORTER, T0);
  c.dec.decode(v9Datagram({ uptime: 1, secs: T0, seq: 7, sourceId: 3 }, []), '192.0.2.99', T0);
  assert.is(c.dec.stats.lostDatagrams, 2, 'other domains and exporters have their own sequence');
  c.dec.decode(v9tpl(0), EXPORTER, T0);
  assert.is(c.dec.stats.sequenceResets, 1);
});

test('v9: hostile templates and FlowSets are counted rejections', () => {
  const c = collector({ fieldsPerTemplate: 64 });
  const hdr = v9hdr(0);
  const tplSet = (id: number, fields: FieldSpec[]) => v9Datagram(hdr, [v9TemplateSet([{ id, fields }])]);
  c.dec.decode(tplSet(10, V9_FIELDS), EXPORTER, T0);                                   // id < 256
  c.dec.decode(tplSet(300, []), EXPORTER, T0);                                         // no fields
  c.dec.decode(tplSet(301, Array.from({ length: 100 }, () => ({ id: 1, length: 4 }))), EXPORTER, T0); // too many
  c.dec.decode(tplSet(302, [{ id: 1, length: 0 }, { id: 2, length: 0 }]), EXPORTER, T0); // zero-length records
  c.dec.decode(tplSet(303, [{ id: 1, length: 40000 }, { id: 2, length: 40000 }]), EXPORTER, T0); // longer than any datagram
  const cut = tplSet(304, V9_FIELDS);
  const dv = new DataView(cut.buffer);
  dv.setUint16(20 + 6, 40); // field count beyond the FlowSet
  c.dec.decode(cut, EXPORTER, T0);
  const overrun = v9Datagram(hdr, [set(300, [v9rec('10.0.0.1', 1, 1)])]);
  new DataView(overrun.buffer).setUint16(22, 2000); // FlowSet length beyond the datagram
  c.dec.decode(overrun, EXPORTER, T0);
  c.dec.decode(overrun.subarray(0, 12), EXPORTER, T0);
  assert.equal(c.kinds(), ['bad_template', 'bad_template', 'bad_template', 'bad_template', 'bad_template', 'bad_template', 'bad_set_length', 'truncated_datagram']);
  assert.is(c.dec.gauges().templates, 0);
  // zero-length fields among real ones are fine (elastic's netflow9_test_0length_fields)
  const z = collector();
  const zf: FieldSpec[] = [{ id: 8, length: 4 }, { id: 80, length: 0 }, { id: 12, length: 4 }, { id: 2, length: 4 }];
  z.dec.decode(v9Datagram(hdr, [v9TemplateSet([{ id: 300, fields: zf }]), set(300, [record(zf, [ip4('1.1.1.1'), 0, ip4('2.2.2.2'), 3])])]), EXPORTER, T0);
  assert.equal(z.events.map((e) => [e.src, e.dst, e.pkts]), [['1.1.1.1', '2.2.2.2', 3]]);
});

test('v9: thousands of templates stay within the per-exporter and global caps', () => {
  const c = collector({ templatesPerExporter: 100, templatesTotal: 250 });
  for (let i = 0; i < 3000; i++) {
    const exporter = `192.0.2.${i % 5}`;
    c.dec.decode(v9Datagram(v9hdr(i), [v9TemplateSet([{ id: 256 + (i % 2000), fields: V9_FIELDS }])]), exporter, T0);
  }
  const g = c.dec.gauges();
  assert.ok(g.templates <= 250, `templates ${g.templates}`);
  for (const ex of c.dec.templates.exporters.values()) assert.ok(ex.templateCount <= 100);
  assert.ok(c.dec.stats.templatesEvicted >= 2750, `evicted ${c.dec.stats.templatesEvicted}`);
  assert.is(c.kinds().filter((k) => k === 'template_limit').length, c.dec.stats.templatesEvicted);
  // the most recent templates are the ones kept: data for them decodes
  c.dec.decode(v9Datagram(v9hdr(5000), [set(256 + 2999 % 2000, [v9rec('10.0.0.1', 1, 1)])]), '192.0.2.4', T0);
  assert.is(c.events.length, 1);
});

// ------------------------------------------------- akvorado expectations ---

test('v9: akvorado captures decode to akvorado\'s expected values', () => {
  if (!needSharedData('akvorado v9 captures')) return;
  const d = decodeCaptures(akv('options-template', 'options-data', 'template', 'data'));
  assert.equal(d.events.map((e) => [e.src, e.dst, e.srcPort, e.dstPort, e.sampling, e.pkts, e.bytes, e.direction]), [
    ['198.38.121.178', '91.170.143.87', 443, 19624, 30000, 30000, 1500 * 30000, 1],
    ['198.38.121.219', '88.122.57.97', 443, 2444, 30000, 30000, 1500 * 30000, 1],
    ['173.194.190.106', '37.165.129.20', 443, 53697, 30000, 30000, 1400 * 30000, 1],
    ['74.125.100.234', '88.120.219.117', 443, 52300, 30000, 30000, 1448 * 30000, 1],
  ]);
  // akvorado: flow start = packet time − sysUptime + first switched (ms), here sysUptime 944951609
  assert.is(d.events[0]!.start, 1647285928 - (944951609 - 944948659) / 1000);

  const s = decodeCaptures(akv('samplingrate-template', 'samplingrate-data'));
  assert.equal([s.events[0]!.src, s.events[0]!.sampling, s.events[0]!.vlan, s.events[0]!.pkts, s.events[0]!.bytes], ['232.131.215.65', 2048, 701, 2048, 160 * 2048]);

  const m = decodeCaptures(akv('multiplesamplingrates-options-template', 'multiplesamplingrates-options-data', 'multiplesamplingrates-template', 'multiplesamplingrates-data'));
  assert.equal(m.events.slice(0, 2).map((e) => [e.src, e.dst, e.sampling, e.pkts, e.bytes]),
    [['ffff::68', 'ffff::1a', 4000, 18 * 4000, 1348 * 4000], ['ffff::5a', 'ffff::f', 2000, 4 * 2000, 579 * 2000]]);

  const i = decodeCaptures(akv('icmp-template', 'icmp-data'));
  assert.equal(i.events.map((e) => [e.src, e.dst, e.proto, e.srcPort, e.dstPort]), [
    ['2001:db8::', '2001:db8::1', 58, 128, 0], ['2001:db8::1', '2001:db8::', 58, 129, 0],
    ['203.0.113.4', '203.0.113.5', 1, 8, 0], ['203.0.113.5', '203.0.113.4', 1, 0, 0],
  ]);

  const n = decodeCaptures(akv('nat'));
  assert.equal([n.events[0]!.src, n.events[0]!.dst, n.events[0]!.srcPort, n.events[0]!.dstPort, n.events[0]!.proto], ['172.16.100.198', '10.89.87.1', 35303, 53, 17]);

  // data and templates in one datagram, data first: held, then decoded in the same datagram
  const dt = decodeCaptures(akv('data+templates'));
  assert.is(dt.dec.stats.templatesAdded, 2);
  assert.is(dt.dec.stats.pendingDecoded, 1);
  assert.ok(dt.events.length > 0);
  assert.equal(dt.rejects, []);
});

// ---------------------------------------------------- pmacct golden output ---

const PM = 'flows/netflow_ipfix/pmacct';
const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, 'ipv6-icmp': 58, vrrp: 112 };

interface Agg { pkts: number; bytes: number; starts: number[] }

/** Sum events and pmacct's output per 5-tuple (pmacct's aggregation keys include more fields, so compare at this level). */
function aggregate(events: Ev[]): Map<string, Agg> {
  const m = new Map<string, Agg>();
  for (const e of events) {
    const k = `${e.src} ${e.dst} ${e.srcPort} ${e.dstPort} ${e.proto}`;
    const a = m.get(k) ?? { pkts: 0, bytes: 0, starts: [] };
    a.pkts += e.pkts; a.bytes += e.bytes; a.starts.push(e.start);
    m.set(k, a);
  }
  return m;
}

function pmacctExpected(dir: string, file: string): Map<string, Agg> {
  const m = new Map<string, Agg>();
  for (const line of readFileSync(sharedPath(`${PM}/${dir}/${file}`), 'utf8').trim().split('\n')) {
    const j = JSON.parse(line) as Record<string, unknown>;
    const k = `${j.ip_src} ${j.ip_dst} ${j.port_src} ${j.port_dst} ${PROTO[j.ip_proto as string] ?? Number(j.ip_proto)}`;
    const a = m.get(k) ?? { pkts: 0, bytes: 0, starts: [] };
    a.pkts += j.packets as number; a.bytes += j.bytes as number;
    if (j.timestamp_start !== undefined) a.starts.push(Number(j.timestamp_start));
    m.set(k, a);
  }
  return m;
}

/**
 * Our records against pmacct's: same 5-tuples, same packets/bytes (× `scale`
 * for pmacct's configured sampling map), flow starts within 1 s (pmacct
 * truncates the uptime difference to whole seconds; we keep milliseconds).
 */
function matchPmacct(dir: string, file = 'output-flow-00.json', scale = 1): number {
  const pcaps = sharedFiles(`${PM}/${dir}`, (p) => p.endsWith('.pcap')).map(sharedPath);
  const c = decodeCaptures(pcaps);
  assert.equal(c.problems, []);
  assert.equal(c.rejects, [], `${dir}: no rejections`);
  const ours = aggregate(c.events);
  const theirs = pmacctExpected(dir, file);
  assert.equal([...ours.keys()].sort(), [...theirs.keys()].sort(), `${dir}: same flows`);
  for (const [k, t] of theirs) {
    const o = ours.get(k)!;
    assert.equal([o.pkts * scale, o.bytes * scale], [t.pkts, t.bytes], `${dir} ${k}: packets, bytes`);
    if (t.starts.length > 0) {
      const a = [...o.starts].sort((x, y) => x - y), b = [...t.starts].sort((x, y) => x - y);
      assert.is(a.length, b.length);
      a.forEach((s, i) => assert.ok(Math.abs(s - b[i]!) < 1, `${dir} ${k}: start ${s} vs pmacct ${b[i]}`));
    }
  }
  return c.events.length;
}

test('pmacct 101 (NetFlow v9, Cisco ASR9k): every flow matches nfacctd', () => {
  if (!needSharedData('pmacct 101')) return;
  assert.is(matchPmacct('101-NFv9-CISCO-cust_primitives'), 51);
});

test('pmacct 102 (NetFlow v9, two source ids): matches nfacctd; after the map reload, ×1000 (its sampling map)', () => {
  if (!needSharedData('pmacct 102')) return;
  assert.is(matchPmacct('102-NFv9-CISCO-f2rd-pretag-sampling-reload'), 35);
  // output-flow-01 is nfacctd after loading sampling-01.map, which renormalizes by a configured 1:1000
  // (not carried by the export): same flows, counts × 1000.
  matchPmacct('102-NFv9-CISCO-f2rd-pretag-sampling-reload', 'output-flow-01.json', 1000);
});

test('pmacct 111 (IPFIX over IPv6 + NetFlow v9 over IPv4 into one collector): matches nfacctd', () => {
  if (!needSharedData('pmacct 111')) return;
  assert.is(matchPmacct('111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources'), 24);
});

// ------------------------------------------------------------- tshark ---

/** tshark's count of data records (flow and options) in a capture, and of v5 records. */
function tsharkRecords(path: string): number {
  const args = ['-r', path];
  for (const port of [2055, 2057, 4739, 9990, 9991, 9992, 9995, 9996]) args.push('-d', `udp.port==${port},cflow`);
  const r = spawnSync(TSHARK, [...args, '-V'], { maxBuffer: 256 << 20 });
  return r.stdout.toString().split('\n').filter((l) => /^\s+Flow \d+$/.test(l) || /^\s+pdu \d+\/\d+$/.test(l)).length;
}

test('tshark agrees on the number of data records per capture', () => {
  if (!needSharedData('tshark record counts')) return;
  if (!haveTshark()) { console.log('  [skip] tshark record counts: no tshark'); return; }
  // captures that carry their own templates before their data (tshark does not hold data for later templates)
  const files = [
    ...sharedFiles(PM, (p) => p.endsWith('.pcap')),
    ...['nfv5', 'mpls', 'nat', 'physicalinterfaces'].map((n) => `${AKV}/${n}.pcap`),
  ];
  for (const f of files) {
    const c = decodeCaptures([sharedPath(f)]);
    const st = c.dec.stats;
    const ours = st.records + st.optionsRecords + st.noAddressRecords + st.sampledFrames;
    assert.is(ours, tsharkRecords(sharedPath(f)), f);
  }
});

// ----------------------------------------------------- every capture ---

test('every NetFlow/IPFIX/sFlow capture decodes without a crash; every event is sane', async () => {
  if (!needSharedData('all export captures')) return;
  const files = [...sharedFiles('flows/netflow_ipfix'), ...sharedFiles('flows/sflow')].filter((f) => /\.pcap(ng)?(\.gz)?$/.test(f));
  assert.ok(files.length >= 40, `${files.length} captures`);
  let events = 0;
  for (const f of files) {
    const c = collector();
    const summary = await readNetflowCapture(sharedPath(f), c.dec);
    assert.ok(summary.datagrams > 0, `${f}: UDP payloads found`);
    assert.equal(c.problems, [], f);
    assert.not.ok(c.kinds().includes('decoder_error'), f);
    assert.not.ok(c.kinds().includes('bad_capture'), f);
    events += c.events.length;
  }
  assert.ok(events > 200, `${events} events`);
});

// ------------------------------------------------------ capture reader ---

test('capture reader: pcapng, Linux SLL, stacked VLANs, IPv6 extension headers; fragments and cut files counted', () => {
  const dg = v5Datagram({ uptime: 10_000, secs: T0, seq: 0 }, [v5rec()]);
  const payload = Array.from(dg);
  const v4udp = ipv4({ src: '198.51.100.7', dst: '198.51.100.1', proto: 17, payload: udp(40000, 2055, payload) });
  const v6udp = ipv6({ src: '2001:db8::7', dst: '2001:db8::1', nh: 0, payload: ext6(17, udp(40000, 2055, payload)) });
  const sll = [0, 0, 0, 1, 0, 6, ...[2, 0, 0, 0, 0, 1], 0, 0, 0x08, 0x00, ...v4udp];
  const qinq = eth(MAC_A, MAC_B, 0x88a8, tag(10, 0x8100, tag(20, 0x0800, v4udp)));
  const frag = eth(MAC_A, MAC_B, 0x0800, ipv4({ src: '198.51.100.9', dst: '198.51.100.1', proto: 17, mf: true, payload: udp(1, 2055, payload.slice(0, 40)) }));
  const frag6b = eth(MAC_A, MAC_B, 0x86dd, ipv6({ src: '2001:db8::9', dst: '2001:db8::1', nh: 44, payload: frag6(17, 0, true, 1, udp(1, 2055, payload.slice(0, 40))) }));
  const file = pcapng(
    shb(), idb({ linktype: 1, tsresol: 9 }), idb({ linktype: 113 }),
    epb(0, BigInt(T0) * 1_000_000_000n + 5n, eth(MAC_A, MAC_B, 0x86dd, v6udp)),
    epb(1, BigInt(T0) * 1_000_000n, sll),
    epb(0, 0n, qinq), epb(0, 0n, frag), epb(0, 0n, frag6b),
    block(0xbad, [1, 2, 3, 4]), // custom block: skipped
    epb(0, 0n, eth(MAC_A, MAC_B, 0x0806, new Array<number>(28).fill(0))), // ARP: not UDP
  );
  const c = collector();
  const s = decodeNetflowCaptureBytes(file, c.dec, 'x.pcapng');
  assert.equal(s, { packets: 6, datagrams: 3, skipped: 1 });
  assert.equal(c.events.map((e) => e.reporter), ['2001:db8::7/0.0', '198.51.100.7/0.0', '198.51.100.7/0.0']);
  assert.equal(c.kinds(), ['ip_fragment', 'ip_fragment']);

  // classic pcap, big-endian, cut in the middle of a record
  const p = pcapFile([{ sec: T0, frac: 0, data: eth(MAC_A, MAC_B, 0x0800, v4udp) }, { sec: T0, frac: 0, data: eth(MAC_A, MAC_B, 0x0800, v4udp) }], { bigEndian: true });
  const cut = collector();
  const s2 = decodeNetflowCaptureBytes(p.subarray(0, p.length - 10), cut.dec, 'cut.pcap');
  assert.equal([s2.datagrams, cut.events.length], [1, 1]);
  assert.equal(cut.kinds(), ['bad_capture']);
  const junk = collector();
  decodeNetflowCaptureBytes(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), junk.dec, 'junk');
  assert.equal(junk.kinds(), ['bad_capture']);
});

test('capture reader: chunked input gives the same result as one buffer', () => {
  if (!needSharedData('chunked capture')) return;
  const bytes = readFileSync(sharedPath(`${PM}/101-NFv9-CISCO-cust_primitives/101-NFv9-CISCO-cust_primitives__traffic-00.pcap`));
  const whole = collector();
  decodeNetflowCaptureBytes(bytes, whole.dec);
  const parts = collector();
  const w = new CaptureWalker((pl, from, t) => parts.dec.decode(pl, from, t), () => {});
  const rng = new Rng('chunks');
  for (let o = 0; o < bytes.length;) { const n = rng.int(1, 700); w.push(bytes.subarray(o, o + n)); o += n; }
  w.end();
  assert.equal(parts.events, whole.events);
});

// --------------------------------------------------------------- fuzz ---

/** Mutate a datagram: bit flips, extreme u16/u32 values, truncation, splices. */
function mutate(rng: Rng, src: Uint8Array): Uint8Array {
  let b = src.slice();
  const n = rng.int(1, 4);
  for (let i = 0; i < n && b.length > 0; i++) {
    const at = rng.int(0, b.length - 1);
    switch (rng.int(0, 7)) {
      case 0: b[at]! ^= 1 << rng.int(0, 7); break;
      case 1: b[at] = rng.pick([0, 0xff, 0x7f, 0x80, 1]); break;
      case 2: if (at + 1 < b.length) { b[at] = rng.pick([0, 0xff]); b[at + 1] = rng.pick([0, 0xff, 4, 3]); } break;
      case 3: b = b.slice(0, at); break;
      case 4: { const ext = new Uint8Array(b.length + 16); ext.set(b); for (let k = b.length; k < ext.length; k++) ext[k] = rng.int(0, 255); b = ext; break; }
      case 5: { const len = rng.int(1, 16); const from = rng.int(0, b.length - 1); b.copyWithin(at, from, from + len); break; }
      case 6: for (let k = at; k < Math.min(b.length, at + 4); k++) b[k] = rng.int(0, 255); break;
      default: if (at + 3 < b.length) new DataView(b.buffer).setUint32(at, rng.pick([0, 0xffffffff, 0x80000000, 65535, 4])); break;
    }
  }
  return b;
}

test('fuzz: thousands of mutated real v5/v9 datagrams never throw, stay bounded, emit sane events', () => {
  if (!needSharedData('fuzz corpus')) return;
  const corpus: Uint8Array[] = [];
  for (const f of sharedFiles('flows/netflow_ipfix', (p) => p.endsWith('.pcap'))) {
    for (const d of capturePayloads(sharedPath(f))) {
      const v = sniffVersion(d.payload);
      if (v === 'netflow_v5' || v === 'netflow_v9') corpus.push(d.payload);
    }
  }
  assert.ok(corpus.length > 50, `${corpus.length} datagrams`);
  const limits = { templatesPerExporter: 32, templatesTotal: 64, pendingSetsPerExporter: 8, pendingBytesPerExporter: 16384, pendingBytesTotal: 32768, exporters: 8 };
  const c = collector(limits);
  const rng = new Rng('netflow-v9-fuzz-1');
  let events = 0;
  for (let i = 0; i < 6000; i++) {
    const base = corpus[i % corpus.length]!;
    const d = rng.chance(0.1) ? base : mutate(rng, base);
    const from = `10.0.0.${rng.int(1, 12)}`;
    try { events += c.dec.decode(d, from, T0 + i); } catch (e) { assert.unreachable(`threw: ${(e as Error).message}`); }
    if (c.events.length > 1000) c.events.length = 0; // keep the test's own memory small
  }
  assert.equal(c.problems, []);
  assert.not.ok(c.kinds().includes('decoder_error'), String(c.rejects.find((r) => r.kind === 'decoder_error')?.message));
  const g = c.dec.gauges();
  assert.ok(g.templates <= 64 && g.exporters <= 8 && g.heldBytes <= 32768, JSON.stringify(g));
  for (const ex of c.dec.templates.exporters.values()) assert.ok(ex.templateCount <= 32 && ex.pending.length <= 8);
  assert.ok(events > 1500, `${events} events`);
  assert.ok(c.rejects.length > 100, 'mutations were rejected by kind');
});

test.run();
