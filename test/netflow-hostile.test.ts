// Rejection paths of the NetFlow v9 / IPFIX / sFlow decoders, the held-data
// limits of the template store and the export-capture reader, one hand-built
// hostile input per row: each row states the exact rejection kinds (and the
// stable part of each message) it must yield, that nothing throws, and which
// good records in the same input still come out. Plus the record action
// derived from IPFIX forwardingStatus (89) and firewallEvent (233).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { ACTION } from '../sensor/flowlogs/flow-event.ts';
import { formatAddress } from '../sensor/flows/ip-address.ts';
import { eventProblem, type NetflowLimits, type RejectionKind } from '../sensor/netflow/common.ts';
import { NetflowDecoder } from '../sensor/netflow/datagram.ts';
import {
  ByteWriter, ip4, ip6, ipfixMessage, ipfixOptionsTemplateSet, ipfixTemplateSet, record, set, sflowCounterSample, sflowDatagram,
  v5Datagram, v9Datagram, v9OptionsTemplateSet, v9TemplateSet, type FieldSpec, type FieldValue,
} from '../sensor/netflow/export-writer.ts';
import { decodeNetflowCaptureBytes } from '../sensor/netflow/netflow-pcap.ts';
import type { SflowCounters } from '../sensor/netflow/sflow.ts';
import { block, epb, idb, pcapFile, pcapng, shb } from './helpers/capture-bytes.ts';
import { eth, ipv4, udp, MAC_A, MAC_B } from './helpers/packet-bytes.ts';

// ------------------------------------------------------------ helpers ---

const EXPORTER = '192.0.2.10';
const T0 = 1_700_000_000;

function collector(limits?: Partial<NetflowLimits>) {
  const events: string[] = [];
  const actions: number[] = [];
  const rejects: FlowRejection[] = [];
  const problems: string[] = [];
  const counters: SflowCounters[] = [];
  const dec = new NetflowDecoder({
    sink: {
      emit(ev) {
        const p = eventProblem(ev); if (p !== null) problems.push(p);
        events.push(`${formatAddress(ev.src, ev.ipVersion)}>${formatAddress(ev.dst, ev.ipVersion)} pkts=${ev.pkts}`);
        actions.push(ev.action);
      },
      reject(r) { rejects.push(r); },
    },
    onCounters(c) { counters.push(c); },
    ...(limits ? { limits } : {}),
  });
  return { dec, events, actions, rejects, problems, counters };
}
type Collector = ReturnType<typeof collector>;

/** A flat record layout both v9 and IPFIX read: src, dst, packets, bytes (16 bytes). */
const FLOW: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 2, length: 4 }, { id: 1, length: 4 }];
const flow = (src: string, pkts: number): Uint8Array => record(FLOW, [ip4(src), ip4('10.9.9.9'), pkts, pkts * 100]);
const good = (src: string, pkts: number) => `${src}>10.9.9.9 pkts=${pkts}`;

const v9 = (sets: Uint8Array[], seq = 0) => v9Datagram({ uptime: 10_000, secs: T0, seq, sourceId: 1 }, sets);
const v9Good = [v9TemplateSet([{ id: 300, fields: FLOW }]), set(300, flow('10.0.0.1', 1))];
const ipfix = (sets: Uint8Array[], seq = 0) => ipfixMessage({ exportTime: T0, seq, domain: 5 }, sets);
const ipfixGood = (id = 256, src = '10.0.0.2') => [ipfixTemplateSet([{ id, fields: FLOW }]), set(id, flow(src, 2))];

/** Raw bytes from u16 / u32 words: [16, v] or [32, v]. */
function words(...w: [16 | 32, number][]): Uint8Array {
  const b = new ByteWriter();
  for (const [size, v] of w) if (size === 16) b.u16(v); else b.u32(v);
  return b.done();
}
const cat = (...parts: Uint8Array[]): Uint8Array => {
  const b = new ByteWriter();
  for (const p of parts) b.bytes(p);
  return b.done();
};
const spec = (id: number, length: number): [16, number][] => [[16, id], [16, length]];

// sFlow: an IPv4 agent header announcing `n` samples, then the samples
const AGENT = ip4('192.0.2.50');
const sflow = (samples: Uint8Array[]) => sflowDatagram({ agent: AGENT, seq: 1 }, samples);
/** one sample / record: tag, length, body */
const tlv = (tag: number, body: Uint8Array) => cat(words([32, tag], [32, body.length]), body);
/** 88 bytes of generic interface counters of `ifIndex` (taken from the writer's compact counter sample) */
const ifCounters = (ifIndex: number) => sflowCounterSample(1, ifIndex, { ifIndex, inOctets: 1, inUcastPkts: 2, outOctets: 3, outUcastPkts: 4 }).slice(28);
/** compact counter sample (tag 2) of `records`, announcing `n` records */
const counterSample = (records: Uint8Array[], n = records.length) => tlv(2, cat(words([32, 1], [32, 7], [32, n]), ...records));
const goodCounters = () => counterSample([tlv(1, ifCounters(9))]);

// captures of NetFlow v5 export packets
const v5 = (src: string) => v5Datagram({ uptime: 10_000, secs: T0, seq: 0 }, [
  { src: ip4(src), dst: ip4('10.9.9.9'), pkts: 3, bytes: 300, first: 9000, last: 9500, srcPort: 1234, dstPort: 80, proto: 6 },
]);
const frame = (src: string) => eth(MAC_A, MAC_B, 0x0800, ipv4({ src: '198.51.100.7', dst: '198.51.100.1', proto: 17, payload: udp(40000, 2055, Array.from(v5(src))) }));
const v5Event = (src: string) => `${src}>10.9.9.9 pkts=3`;
/** a pcapng byte string with one u32 (little-endian) replaced at `at` */
function patchLe32(b: Uint8Array, at: number, v: number): Uint8Array {
  const out = b.slice();
  new DataView(out.buffer).setUint32(at, v, true);
  return out;
}

// ------------------------------------------------------------- the table ---

type Input = { dg: Uint8Array; from?: string } | { capture: Uint8Array };

interface Case {
  name: string;
  limits?: Partial<NetflowLimits>;
  inputs: Input[];
  /** exact rejection kinds, in order */
  kinds: RejectionKind[];
  /** a substring of each rejection's message (same order as kinds) */
  messages: string[];
  /** flow events that must still come out (in order) */
  events: string[];
  /** sFlow interface counters that must still come out (ifIndex, in order) */
  counters?: number[];
  check?: (c: Collector) => void;
}

const cases: Case[] = [
  // -------------------------------------------------- NetFlow v9 options templates ---
  {
    name: 'v9: options template id < 256',
    inputs: [{ dg: v9([set(1, words([16, 5], [16, 4], [16, 4], ...spec(1, 4), ...spec(34, 4))), ...v9Good]) }],
    kinds: ['bad_template'], messages: ['options template id 5 < 256'], events: [good('10.0.0.1', 1)],
  },
  {
    name: 'v9: options template scope length not a multiple of 4',
    inputs: [{ dg: v9([set(1, words([16, 310], [16, 6], [16, 4], ...spec(1, 4), ...spec(34, 4))), ...v9Good]) }],
    kinds: ['bad_template'], messages: ['options template 310: scope length 6, option length 4'], events: [good('10.0.0.1', 1)],
  },
  {
    name: 'v9: options template with neither scope nor option fields',
    inputs: [{ dg: v9([set(1, words([16, 310], [16, 0], [16, 0])), ...v9Good]) }],
    kinds: ['bad_template'], messages: ['options template 310: scope length 0, option length 0'], events: [good('10.0.0.1', 1)],
  },
  {
    name: 'v9: options template with more fields than the limit',
    limits: { fieldsPerTemplate: 4 },
    inputs: [{ dg: v9([v9OptionsTemplateSet(310, [{ id: 1, length: 4 }], [34, 35, 48, 49].map((id) => ({ id, length: 4 }))), ...v9Good]) }],
    kinds: ['bad_template'], messages: ['options template 310 has 5 fields (limit 4)'], events: [good('10.0.0.1', 1)],
  },
  {
    name: 'v9: options template overruns its FlowSet',
    inputs: [{ dg: v9([set(1, words([16, 310], [16, 4], [16, 400], ...spec(1, 4), ...spec(34, 4))), ...v9Good]) }],
    kinds: ['bad_template'], messages: ['options template 310 overruns its FlowSet'], events: [good('10.0.0.1', 1)],
    check: (c) => assert.is(c.dec.gauges().templates, 1, 'only the good template is cached'),
  },
  {
    name: 'v9: zero padding after the last FlowSet (and inside an options template set) is ignored',
    inputs: [{
      dg: cat(v9([
        // options template 310 (scope System, option samplingInterval), then 8 bytes of padding inside its set
        set(1, cat(words([16, 310], [16, 4], [16, 4], ...spec(1, 4), ...spec(34, 4)), new Uint8Array(8))),
        set(310, words([32, 0], [32, 100])),
        ...v9Good,
      ]), new Uint8Array(12)),
    }],
    kinds: [], messages: [], events: [good('10.0.0.1', 100)],
    check: (c) => assert.is(c.dec.stats.optionsRecords, 1),
  },
  {
    name: 'v9: non-zero bytes after the last FlowSet are a bad_set_length; the records before it stand',
    inputs: [{ dg: cat(v9(v9Good), words([32, 0], [32, 1])) }],
    kinds: ['bad_set_length'], messages: ['FlowSet 0 length 0'], events: [good('10.0.0.1', 1)],
  },

  // ------------------------------------------------------------------ IPFIX ---
  {
    name: 'ipfix: withdrawal of a template id < 256',
    inputs: [{ dg: ipfix([set(2, words([16, 7], [16, 0])), ...ipfixGood()]) }],
    kinds: ['bad_template'], messages: ['withdrawal of template id 7 < 256'], events: [good('10.0.0.2', 2)],
  },
  {
    name: 'ipfix: options template record cut short (no scope count)',
    inputs: [{ dg: ipfix([set(3, words([16, 400], [16, 2])), ...ipfixGood()]) }],
    kinds: ['bad_template'], messages: ['options template 400 cut short'], events: [good('10.0.0.2', 2)],
  },
  {
    name: 'ipfix: options template scope count greater than its field count',
    inputs: [{ dg: ipfix([set(3, words([16, 400], [16, 2], [16, 3], ...spec(149, 4), ...spec(34, 4))), ...ipfixGood()]) }],
    kinds: ['bad_template'], messages: ['options template 400: scope field count 3 of 2'], events: [good('10.0.0.2', 2)],
    check: (c) => assert.is(c.dec.gauges().templates, 1),
  },
  {
    name: 'ipfix: withdrawal of all options templates (set 3, id 3) keeps the data templates',
    inputs: [
      { dg: ipfix([ipfixTemplateSet([{ id: 256, fields: FLOW }]), ipfixOptionsTemplateSet(400, [{ id: 149, length: 4 }], [{ id: 34, length: 4 }])], 0) },
      { dg: ipfix([set(3, words([16, 3], [16, 0]))], 0) },
      // options data for the withdrawn 400 is held (never applied: no sampling ×100), data for 256 decodes
      { dg: ipfix([set(400, words([32, 5], [32, 100])), set(256, flow('10.0.0.2', 2))], 0) },
    ],
    kinds: ['no_template'], messages: ['data set for template 400 (domain 5, 8 bytes) dropped: end of input before its template'],
    events: [good('10.0.0.2', 2)],
    check: (c) => {
      assert.is(c.dec.stats.templatesWithdrawn, 1);
      assert.is(c.dec.stats.optionsRecords, 0);
      assert.is(c.dec.gauges().templates, 1);
    },
  },

  // ------------------------------------------------------------------ sFlow ---
  {
    name: 'sflow: IPv6 agent address but datagram shorter than the IPv6 header',
    inputs: [{ dg: sflowDatagram({ agent: ip6('2001:db8::50'), seq: 1 }, []).subarray(0, 36) }],
    kinds: ['truncated_datagram'], messages: ['sFlow datagram of 36 bytes is shorter than its IPv6 header'], events: [],
  },
  {
    name: 'sflow: compact counter sample shorter than 12 bytes; the next sample still decodes',
    inputs: [{ dg: sflow([tlv(2, words([32, 1], [32, 7])), goodCounters()]) }],
    kinds: ['bad_sample'], messages: ['sFlow counter sample of 8 bytes (needs 12)'], events: [], counters: [9],
  },
  {
    name: 'sflow: expanded counter sample shorter than 16 bytes',
    inputs: [{ dg: sflow([tlv(4, words([32, 1], [32, 0], [32, 7])), goodCounters()]) }],
    kinds: ['bad_sample'], messages: ['sFlow counter sample of 12 bytes (needs 16)'], events: [], counters: [9],
  },
  {
    name: 'sflow: counter sample announces more records than it holds',
    inputs: [{ dg: sflow([counterSample([tlv(1, ifCounters(4))], 3), goodCounters()]) }],
    kinds: ['truncated_sample'], messages: ['sFlow counter sample ends after 1 of 3 records'], events: [], counters: [4, 9],
  },
  {
    name: 'sflow: counter record length beyond its sample',
    inputs: [{ dg: sflow([counterSample([cat(words([32, 1], [32, 200]), ifCounters(4))]), goodCounters()]) }],
    kinds: ['truncated_sample'], messages: ['sFlow counter record 0:1 overruns its sample'], events: [], counters: [9],
  },
  {
    name: 'sflow: generic interface counters under 88 bytes; the next record of the sample still decodes',
    inputs: [{ dg: sflow([counterSample([tlv(1, ifCounters(4).subarray(0, 40)), tlv(1, ifCounters(5))])]) }],
    kinds: ['bad_sample'], messages: ['sFlow generic interface counters of 40 bytes (needs 88)'], events: [], counters: [5],
  },

  // --------------------------------------------------------- held-data limits ---
  {
    name: 'templates: a data set larger than the per-exporter held-bytes limit is dropped at once',
    limits: { pendingBytesPerExporter: 64 },
    inputs: [
      // 5 records (80 bytes) for unknown 256: too large; 1 record (16 bytes) for unknown 257: held
      { dg: ipfix([set(256, [1, 2, 3, 4, 5].map((i) => flow(`10.0.1.${i}`, 1))), set(257, flow('10.0.0.7', 7))]) },
      { dg: ipfix([ipfixTemplateSet([{ id: 256, fields: FLOW }, { id: 257, fields: FLOW }])]) },
    ],
    kinds: ['no_template'], messages: ['data set for unknown template 256 (domain 5) too large to hold (80 bytes)'],
    events: [good('10.0.0.7', 7)],
    check: (c) => assert.equal([c.dec.stats.pendingHeld, c.dec.stats.pendingDecoded, c.dec.stats.pendingDropped], [1, 1, 1]),
  },
  {
    name: 'templates: when the global held-bytes limit is full, a new set is refused (other exporters\' held data is kept)',
    limits: { pendingBytesPerExporter: 48, pendingBytesTotal: 48 },
    inputs: [
      { dg: ipfix([set(256, [flow('10.0.2.1', 1), flow('10.0.2.2', 1)])]), from: '192.0.2.1' },  // 32 bytes held
      { dg: ipfix([set(256, [flow('10.0.3.1', 1), flow('10.0.3.2', 1)])]), from: '192.0.2.2' },  // 32 more: full
      { dg: ipfix([ipfixTemplateSet([{ id: 256, fields: FLOW }])]), from: '192.0.2.1' },
      { dg: ipfix([ipfixTemplateSet([{ id: 256, fields: FLOW }])]), from: '192.0.2.2' },
    ],
    kinds: ['no_template'], messages: ['data set for unknown template 256 (domain 5) dropped: held-data buffer full'],
    events: [good('10.0.2.1', 1), good('10.0.2.2', 1)],
    check: (c) => assert.is(c.dec.gauges().heldBytes, 0),
  },

  {
    name: 'templates: a set that cannot fit even after this exporter\'s own held data is refused without dropping that data',
    limits: { pendingBytesPerExporter: 48, pendingBytesTotal: 48 },
    inputs: [
      { dg: ipfix([set(256, [flow('10.0.5.1', 1), flow('10.0.5.2', 1)])]), from: '192.0.2.1' },  // 32 bytes held
      { dg: ipfix([set(256, flow('10.0.6.1', 1))]), from: '192.0.2.2' },                        // 16: full
      { dg: ipfix([set(257, [flow('10.0.6.2', 1), flow('10.0.6.3', 1)])]), from: '192.0.2.2' },  // 32: cannot fit
      { dg: ipfix([ipfixTemplateSet([{ id: 256, fields: FLOW }, { id: 257, fields: FLOW }])]), from: '192.0.2.1' },
      { dg: ipfix([ipfixTemplateSet([{ id: 256, fields: FLOW }, { id: 257, fields: FLOW }])]), from: '192.0.2.2' },
    ],
    kinds: ['no_template'], messages: ['data set for unknown template 257 (domain 5) dropped: held-data buffer full'],
    events: [good('10.0.5.1', 1), good('10.0.5.2', 1), good('10.0.6.1', 1)],
    check: (c) => assert.is(c.dec.gauges().heldBytes, 0),
  },

  // ------------------------------------------------------------ capture reader ---
  {
    name: 'capture: pcap record over 1 MiB stops the walk; records before it stand',
    inputs: [{ capture: pcapFile([{ sec: T0, frac: 0, data: frame('10.0.4.1') }, { sec: T0, frac: 0, data: frame('10.0.4.2'), caplen: (1 << 20) + 1 }, { sec: T0, frac: 0, data: frame('10.0.4.3') }]) }],
    kinds: ['bad_capture'], messages: ['record of 1048577 bytes'], events: [v5Event('10.0.4.1')],
  },
  {
    name: 'capture: pcapng section header with a bad byte-order magic',
    inputs: [{ capture: pcapng(shb(), idb(), epb(0, 0n, frame('10.0.5.1')), Array.from(patchLe32(Uint8Array.from(shb()), 8, 0x11223344)), idb(), epb(0, 0n, frame('10.0.5.2'))) }],
    kinds: ['bad_capture'], messages: ['section header with byte-order magic 0x11223344'], events: [v5Event('10.0.5.1')],
  },
  {
    name: 'capture: pcapng block length not a multiple of 4',
    inputs: [{ capture: pcapng(shb(), idb(), epb(0, 0n, frame('10.0.6.1')), Array.from(patchLe32(Uint8Array.from(block(0xbad, [1, 2, 3, 4])), 4, 13)), epb(0, 0n, frame('10.0.6.2'))) }],
    kinds: ['bad_capture'], messages: ['pcapng block length 13'], events: [v5Event('10.0.6.1')],
  },
  {
    name: 'capture: pcapng block length below 12',
    inputs: [{ capture: pcapng(shb(), idb(), Array.from(patchLe32(Uint8Array.from(block(0xbad, [1, 2, 3, 4])), 4, 8))) }],
    kinds: ['bad_capture'], messages: ['pcapng block length 8'], events: [],
  },
  {
    name: 'capture: pcapng block length over 16 MiB',
    inputs: [{ capture: pcapng(shb(), idb(), Array.from(patchLe32(Uint8Array.from(block(0xbad, [1, 2, 3, 4])), 4, (16 << 20) + 4))) }],
    kinds: ['bad_capture'], messages: [`pcapng block length ${(16 << 20) + 4}`], events: [],
  },
  {
    name: 'capture: packet block naming an undescribed interface is skipped; the walk goes on',
    inputs: [{ capture: pcapng(shb(), idb(), epb(5, 0n, frame('10.0.7.1')), epb(0, 0n, frame('10.0.7.2'))) }],
    kinds: ['bad_capture'], messages: ['packet block names interface 5, which is not described'], events: [v5Event('10.0.7.2')],
  },
  {
    name: 'capture: packet block whose captured length overruns the block is skipped; the walk goes on',
    inputs: [{ capture: pcapng(shb(), idb(), Array.from(patchLe32(Uint8Array.from(epb(0, 0n, frame('10.0.8.1'))), 20, 4000)), epb(0, 0n, frame('10.0.8.2'))) }],
    kinds: ['bad_capture'], messages: ['packet block data overruns the block'], events: [v5Event('10.0.8.2')],
  },
];

for (const k of cases) {
  test(`hostile: ${k.name}`, () => {
    assert.is(k.messages.length, k.kinds.length, 'a message per kind');
    const c = collector(k.limits);
    try {
      for (const i of k.inputs) {
        if ('capture' in i) decodeNetflowCaptureBytes(i.capture, c.dec, 'hostile.pcap', false);
        else c.dec.decode(i.dg, i.from ?? EXPORTER, T0);
      }
      c.dec.finish();
    } catch (e) {
      assert.unreachable(`threw: ${(e as Error).stack ?? e}`);
    }
    assert.equal(c.rejects.map((r) => r.kind), k.kinds, c.rejects.map((r) => `${r.kind}: ${r.message}`).join('\n'));
    k.messages.forEach((m, i) => assert.ok(c.rejects[i]!.message.includes(m), `"${c.rejects[i]!.message}" should contain "${m}"`));
    // the rejection counters agree with what reached the sink
    assert.is(c.dec.stats.rejected(), k.kinds.length);
    assert.equal(c.events, k.events);
    assert.equal(c.problems, []);
    if (k.counters !== undefined) assert.equal(c.counters.map((x) => x.ifIndex), k.counters);
    k.check?.(c);
  });
}

// --------------------------------------------- action from 89 / 233 ---

test('ipfix: ev.action from firewallEvent (233) and forwardingStatus (89)', () => {
  const both: FieldSpec[] = [...FLOW, { id: 89, length: 1 }, { id: 233, length: 1 }];
  const fwdOnly: FieldSpec[] = [...FLOW, { id: 89, length: 1 }];
  const fwOnly: FieldSpec[] = [...FLOW, { id: 233, length: 1 }];
  const rows: { name: string; fields: FieldSpec[]; values: number[]; action: number }[] = [
    { name: 'forwarded (status 1)', fields: fwdOnly, values: [0x40], action: ACTION.accept },
    { name: 'forwarded, reason code set', fields: fwdOnly, values: [0x42], action: ACTION.accept },
    { name: 'dropped (status 2)', fields: fwdOnly, values: [0x80], action: ACTION.reject },
    { name: 'dropped, reason code set', fields: fwdOnly, values: [0x97], action: ACTION.reject },
    { name: 'consumed (status 3)', fields: fwdOnly, values: [0xc0], action: ACTION.accept },
    { name: 'unknown (status 0)', fields: fwdOnly, values: [0x00], action: ACTION.none },
    { name: 'firewall event 3 (denied) wins over forwarded', fields: both, values: [0x40, 3], action: ACTION.reject },
    { name: 'firewall event 1 (created): forwarding status decides', fields: both, values: [0x80, 1], action: ACTION.reject },
    { name: 'firewall event 2 (deleted), forwarded', fields: both, values: [0x40, 2], action: ACTION.accept },
    { name: 'firewall event 3 alone', fields: fwOnly, values: [3], action: ACTION.reject },
    { name: 'firewall event 1 alone', fields: fwOnly, values: [1], action: ACTION.none },
    { name: 'neither field', fields: FLOW, values: [], action: ACTION.none },
  ];
  const c = collector();
  // one template per row, all in one message
  const pairs = rows.map((r, i) => {
    const vals: FieldValue[] = [ip4(`10.0.9.${i + 1}`), ip4('10.9.9.9'), 1, 100, ...r.values];
    return [ipfixTemplateSet([{ id: 256 + i, fields: r.fields }]), set(256 + i, record(r.fields, vals))];
  });
  c.dec.decode(ipfix(pairs.flat()), EXPORTER, T0);
  assert.equal(c.rejects, []);
  assert.equal(c.problems, []);
  assert.equal(c.actions.map((a, i) => `${rows[i]?.name}: ${a}`), rows.map((r) => `${r.name}: ${r.action}`));
  // reversed order: a rare field (233) of one record must not leak into the next
  const d = collector();
  d.dec.decode(ipfix([...pairs].reverse().flat()), EXPORTER, T0);
  assert.equal(d.actions, rows.map((r) => r.action).reverse());
});

test.run();
