// The core's flow-event merger (asm/flowevents.ts) through the JS pump:
// records of flow-record sources become the packet path's flow records —
// directions paired, intervals merged, the second interface's copy
// deduplicated, late records flagged, memory bounded, counts conserved.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WasmCore, type EventOptions } from '../sensor/core/wasm-core.ts';
import { REC_SIZE, R } from '../sensor/core/flow-record.ts';
import { perFlow } from '../sensor/pipeline/capture-pump.ts';
import { EventPump } from '../sensor/pipeline/event-pump.ts';
import { ACTION, DIRECTION, FlowEvent, SOURCE, setV4, type FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { toFlowRecord, type FlowRecord } from '../sensor/flows/zeek-record.ts';
import { LocalNets } from '../sensor/flows/local-nets.ts';
import { Rng } from '../sensor/sample/rng.ts';

const ip = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0);

function harness(opts: EventOptions = {}) {
  const core = new WasmCore({ outputRecords: 64 });
  core.enableEvents(opts);
  const flows: FlowRecord[] = [];
  const rejected: FlowRejection[] = [];
  let pump: EventPump;
  const ctx = { localNets: new LocalNets(), reporterName: (id: number) => pump.reporters.name(id) };
  pump = new EventPump(core, perFlow((f) => flows.push(toFlowRecord(f, ctx))), (r) => rejected.push(r));
  const ev = new FlowEvent();
  const send = (o: Partial<Omit<FlowEvent, 'src' | 'dst'>> & { src: string; dst: string }) => {
    ev.reset(o.source ?? SOURCE.aws_vpc);
    const { src, dst, ...rest } = o;
    Object.assign(ev, rest);
    setV4(ev.src, ip(src)); setV4(ev.dst, ip(dst));
    pump.emit(ev);
  };
  return { core, pump, flows, rejected, send, done: () => { pump.finish(); return flows; } };
}

const T0 = 1_700_000_000;

test('AWS: both ENIs report both directions — one flow, paired, the copy deduplicated', () => {
  const h = harness();
  const base = { proto: 6, start: T0, end: T0 + 60, action: ACTION.accept };
  h.send({ ...base, reporter: 'eni-a', src: '10.0.0.1', dst: '10.0.0.2', srcPort: 40000, dstPort: 443, pkts: 10, bytes: 1000, tcpFlags: 3, direction: DIRECTION.egress });
  h.send({ ...base, reporter: 'eni-a', src: '10.0.0.2', dst: '10.0.0.1', srcPort: 443, dstPort: 40000, pkts: 8, bytes: 5000, tcpFlags: 19, direction: DIRECTION.ingress });
  h.send({ ...base, reporter: 'eni-b', src: '10.0.0.1', dst: '10.0.0.2', srcPort: 40000, dstPort: 443, pkts: 10, bytes: 1000, tcpFlags: 3, direction: DIRECTION.ingress });
  h.send({ ...base, reporter: 'eni-b', src: '10.0.0.2', dst: '10.0.0.1', srcPort: 443, dstPort: 40000, pkts: 8, bytes: 5000, tcpFlags: 19, direction: DIRECTION.egress });
  const [f, ...rest] = h.done();
  assert.is(rest.length, 0);
  assert.is(f!['id.orig_h'], '10.0.0.1');
  assert.is(f!['id.orig_p'], 40000);
  assert.is(f!['id.resp_p'], 443);
  assert.equal([f!.orig_pkts, f!.orig_ip_bytes, f!.resp_pkts, f!.resp_ip_bytes], [10, 1000, 8, 5000]);
  assert.is(f!.conn_state, 'SF');
  assert.is(f!.source, 'aws_vpc');
  assert.is(f!.reporter, 'eni-a');
  assert.is(f!.paired, true);
  assert.is(f!.deduped, true);
  assert.is(f!.source_records, 2);
  assert.is(f!.action, 'accept');
  assert.is(f!.duration, 60);
  assert.is(f!.orig_bytes, undefined); // payload unknown to flow logs
  assert.is(f!.orig_wire_bytes, undefined);
  const c = h.core.counters();
  assert.is(c.events_in, 4);
  assert.is(c.events_deduped, 2);
  assert.is(c.event_flows_paired, 1);
});

test('the response record first: the originator is still the client', () => {
  const h = harness();
  h.send({ proto: 6, start: T0, end: T0 + 5, src: '10.0.0.2', dst: '10.0.0.1', srcPort: 443, dstPort: 40001, pkts: 3, bytes: 300 });
  h.send({ proto: 6, start: T0, end: T0 + 5, src: '10.0.0.1', dst: '10.0.0.2', srcPort: 40001, dstPort: 443, pkts: 4, bytes: 200 });
  const [f] = h.done();
  assert.is(f!['id.orig_h'], '10.0.0.1');
  assert.equal([f!.orig_pkts, f!.resp_pkts], [4, 3]);
  assert.ok(f!.history.startsWith('^'), 'flipped against the first record, as Zeek marks it');
  // one direction only, server side: flipped by port, responder packets only
  const g = harness();
  g.send({ proto: 17, start: T0, end: T0, src: '8.8.8.8', dst: '10.0.0.9', srcPort: 53, dstPort: 5353, pkts: 1, bytes: 80 });
  const [u] = g.done();
  assert.is(u!['id.orig_h'], '10.0.0.9');
  assert.is(u!.conn_state, 'SHR');
});

test('ICMP from flow logs without type/code (AWS, Azure, GCP: ports 0 0) pairs its two directions; NetFlow ICMP keeps type pairing', () => {
  for (const source of [SOURCE.aws_vpc, SOURCE.azure_vnet, SOURCE.azure_nsg, SOURCE.gcp_vpc]) {
    const h = harness();
    const base = { source, proto: 1, start: T0, end: T0 + 60, srcPort: 0, dstPort: 0 };
    h.send({ ...base, reporter: 'eni-a', src: '10.0.0.1', dst: '8.8.8.8', pkts: 5, bytes: 420 });
    h.send({ ...base, reporter: 'eni-a', src: '8.8.8.8', dst: '10.0.0.1', pkts: 4, bytes: 336 });
    const flows = h.done();
    assert.is(flows.length, 1, `source ${source}: ${JSON.stringify(flows)}`);
    const f = flows[0]!;
    // the first record's sender opened it; type 0 is not read as "echo reply"
    assert.equal([f['id.orig_h'], f['id.orig_p'], f['id.resp_h'], f['id.resp_p']], ['10.0.0.1', 0, '8.8.8.8', 0]);
    assert.equal([f.orig_pkts, f.orig_ip_bytes, f.resp_pkts, f.resp_ip_bytes], [5, 420, 4, 336]);
    assert.is(f.paired, true);
  }
  // NetFlow states the type: echo request 8 / reply 0 pair as in the packet path, the requester first
  const h = harness();
  const base = { source: SOURCE.netflow_v9, proto: 1, start: T0, end: T0 + 60 };
  h.send({ ...base, reporter: 'r1', src: '8.8.8.8', dst: '10.0.0.1', srcPort: 0, dstPort: 0, pkts: 4, bytes: 336 });
  h.send({ ...base, reporter: 'r1', src: '10.0.0.1', dst: '8.8.8.8', srcPort: 8, dstPort: 0, pkts: 5, bytes: 420 });
  const [f, ...rest] = h.done();
  assert.is(rest.length, 0);
  assert.equal([f!['id.orig_h'], f!['id.orig_p'], f!['id.resp_p'], f!.orig_pkts, f!.resp_pkts], ['10.0.0.1', 8, 0, 5, 4]);
});

test('successive intervals merge; an idle gap starts a new flow', () => {
  const h = harness({ gap: 120 });
  for (let k = 0; k < 3; k++) h.send({ proto: 17, start: T0 + 60 * k, end: T0 + 60 * k + 59, src: '10.0.0.5', dst: '10.0.0.6', srcPort: 5000, dstPort: 5001, pkts: 2, bytes: 200 });
  h.send({ proto: 17, start: T0 + 2000, end: T0 + 2010, src: '10.0.0.5', dst: '10.0.0.6', srcPort: 5000, dstPort: 5001, pkts: 1, bytes: 50 });
  const flows = h.done();
  assert.is(flows.length, 2);
  assert.equal([flows[0]!.orig_pkts, flows[0]!.orig_ip_bytes, flows[0]!.source_records, flows[0]!.duration], [6, 600, 3, 179]);
  assert.is(flows[0]!.conn_state, 'S0');
  assert.is(flows[0]!.end_reason, 'inactive');
  assert.is(flows[1]!.orig_pkts, 1);
  assert.is(flows[1]!.end_reason, 'flushed');
});

test('flows are written once the event clock passes them; late records are written alone, flagged', () => {
  const h = harness({ lateness: 300, gap: 60 });
  h.send({ proto: 6, start: T0, end: T0 + 10, src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1111, dstPort: 22, pkts: 5, bytes: 500 });
  h.pump.push();
  assert.is(h.flows.length, 0);
  // the clock moves on: T0+10 + gap < maxEnd - lateness → written
  h.send({ proto: 6, start: T0 + 500, end: T0 + 500, src: '10.0.0.3', dst: '10.0.0.4', srcPort: 2222, dstPort: 22, pkts: 1, bytes: 60 });
  h.pump.push();
  assert.is(h.flows.length, 1);
  // a record for the first flow arrives now: too late to merge
  h.send({ proto: 6, start: T0 + 5, end: T0 + 12, src: '10.0.0.2', dst: '10.0.0.1', srcPort: 22, dstPort: 1111, pkts: 4, bytes: 900 });
  const flows = h.done();
  assert.is(flows.length, 3);
  const late = flows.find((f) => f.late);
  assert.ok(late);
  assert.is(late!['id.orig_h'], '10.0.0.1'); // flipped by port 22
  assert.is(late!.resp_pkts, 4);
  assert.is(h.core.counters().events_late, 1);
});

test('a full table writes its least recent flow early; nothing is lost', () => {
  const h = harness({ capacity: 16, lateness: 1e6, gap: 1e6 });
  for (let i = 0; i < 40; i++) h.send({ proto: 17, start: T0 + i, end: T0 + i, src: '10.1.0.1', dst: `10.2.0.${i + 1}`, srcPort: 3000, dstPort: 4000, pkts: i + 1, bytes: 100 });
  assert.ok(h.core.eventFlowsPending() <= 16);
  const flows = h.done();
  assert.is(flows.length, 40);
  assert.is(flows.reduce((a, f) => a + f.orig_pkts, 0), (40 * 41) / 2);
  assert.is(h.core.counters().event_flows_evicted, 24);
  assert.is(flows.filter((f) => f.end_reason === 'evicted').length, 24);
});

test('bidirectional sources keep their own counts and conn_state (Zeek)', () => {
  const h = harness();
  h.send({ source: SOURCE.zeek_conn, proto: 6, start: T0, end: T0 + 2, src: '192.168.1.5', dst: '93.184.216.34', srcPort: 443, dstPort: 51000,
    pkts: 7, bytes: 900, revPkts: 9, revBytes: 12000, bidir: true, payloadBytes: 500, revPayloadBytes: 11000, connState: 'SF', history: 'ShADadFf' });
  const [f] = h.done();
  assert.is(f!['id.orig_p'], 443); // no flipping: the source said who opened it
  assert.equal([f!.orig_pkts, f!.orig_ip_bytes, f!.resp_pkts, f!.resp_ip_bytes, f!.orig_bytes, f!.resp_bytes], [7, 900, 9, 12000, 500, 11000]);
  assert.is(f!.conn_state, 'SF');
  assert.is(f!.history, 'ShADadFf');
  assert.is(f!.paired, undefined);
});

test('TCP flags give conn_state; REJECT is kept', () => {
  const cases: [number, number, number, string][] = [
    [2, 0, 0, 'S0'], [2, 4, 1, 'REJ'], [3, 19, 1, 'SF'], [2, 18, 1, 'S1'], [6, 18, 1, 'RSTO'], [2, 22, 1, 'RSTR'], [3, 18, 1, 'S2'], [2, 19, 1, 'S3'], [0, 0, 1, 'OTH'],
  ];
  for (const [of, rf, rp, want] of cases) {
    const h = harness();
    h.send({ proto: 6, start: T0, end: T0 + 1, src: '10.0.0.1', dst: '10.0.0.2', srcPort: 40000, dstPort: 80, pkts: 1, bytes: 60, tcpFlags: of, action: ACTION.reject });
    if (rp) h.send({ proto: 6, start: T0, end: T0 + 1, src: '10.0.0.2', dst: '10.0.0.1', srcPort: 80, dstPort: 40000, pkts: rp, bytes: 40, tcpFlags: rf, action: ACTION.accept });
    const [f] = h.done();
    assert.is(f!.conn_state, want, `flags ${of}/${rf}`);
    assert.is(f!.action, 'reject');
  }
});

test('a record spanning 2^62 s (a hostile export) writes its interim record and ends: periods are not counted one by one', () => {
  const h = harness();
  h.send({ proto: 17, start: T0, end: T0 + 2 ** 62, reporter: 'r', src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, pkts: 1, bytes: 100 });
  for (let i = 0; i < 4; i++) h.send({ proto: 17, start: T0 + 2 ** 62 + i, end: T0 + 2 ** 62 + i + 1, reporter: 'r', src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, pkts: 1, bytes: 100 });
  const flows = h.done();
  // one interim record when the span passed 2^62 s, none after (past the count's cap every record wrote one), then the final record
  assert.equal(flows.map((f) => [f.interim === true, f.orig_pkts]), [[true, 2], [false, 5]]);
});

test('counts past 2^53 saturate there when a flow\'s records add up (the JSON writers agree only below it)', () => {
  const h = harness();
  const max = Number.MAX_SAFE_INTEGER;
  for (let i = 0; i < 3; i++) h.send({ proto: 17, start: T0 + i, end: T0 + i + 1, reporter: 'r', src: '10.0.0.1', dst: '10.0.0.2', srcPort: 1, dstPort: 2, pkts: max, bytes: max - i });
  const [f, ...rest] = h.done();
  assert.is(rest.length, 0);
  assert.equal([f!.orig_pkts, f!.orig_ip_bytes, f!.source_records], [max, max, 3]);
});

test('implausible events are rejected at the edge; the core guards itself too', () => {
  const h = harness();
  h.send({ proto: 6, start: T0 + 10, end: T0, src: '10.0.0.1', dst: '10.0.0.2' });
  h.send({ proto: 6, start: T0, end: T0, src: '10.0.0.1', dst: '10.0.0.2', pkts: -1 });
  h.send({ proto: 6, start: NaN, end: T0, src: '10.0.0.1', dst: '10.0.0.2' });
  h.send({ proto: 6, start: T0, end: T0, src: '10.0.0.1', dst: '10.0.0.2', bytes: 2 ** 60 });
  h.send({ proto: 6, start: T0, end: T0, src: '10.0.0.1', dst: '10.0.0.2', payloadBytes: 2 ** 54 });
  assert.equal(h.rejected.map((r) => r.kind), ['implausible_record', 'implausible_record', 'implausible_record', 'implausible_record', 'implausible_record']);
  // raw garbage straight into the region
  const region = h.core.eventRegion();
  region.u8.fill(0xff, region.off, region.off + 3 * REC_SIZE);
  region.dv.setFloat64(region.off + REC_SIZE + R.TS, 1, true);
  assert.is(h.core.ingestEvents(0, 3), 3);
  assert.is(h.core.counters().bad_event, 3);
  // a count past 2^53 in the region (as the core's own parsers write events there): the core's guard
  h.send({ proto: 6, start: T0, end: T0, src: '10.0.0.1', dst: '10.0.0.2', bytes: 10 });
  const r2 = h.core.eventRegion();
  r2.f64[(r2.off + R.ORIG_IP_BYTES) >> 3] = 2 ** 60;
  h.pump.push();
  assert.is(h.core.counters().bad_event, 4);
  assert.is(h.done().length, 0);
});

test('conservation: seeded random traffic from two reporters, each direction reported once', () => {
  const rng = new Rng('flow-events-conservation');
  const h = harness({ capacity: 64, lateness: 120, gap: 30 });
  let pkts = 0, bytes = 0;
  let t = T0;
  for (let i = 0; i < 20000; i++) {
    t += rng.float() * 0.5;
    const a = rng.int(1, 40), b = rng.int(41, 80);
    const fwd = rng.chance(0.5);
    const p = rng.int(1, 50), by = p * rng.int(40, 1500);
    pkts += p; bytes += by;
    const jitter = rng.float() * 100; // out of order within the lateness window
    h.send({ proto: rng.pick([6, 17]), start: t - jitter, end: t - jitter + rng.float() * 5, reporter: fwd ? 'r1' : 'r2',
      src: fwd ? `10.0.0.${a}` : `10.0.1.${b}`, dst: fwd ? `10.0.1.${b}` : `10.0.0.${a}`,
      srcPort: fwd ? 50000 + a : 80, dstPort: fwd ? 80 : 50000 + a, pkts: p, bytes: by });
  }
  const flows = h.done();
  const final = flows.filter((f) => !f.interim);
  assert.is(final.reduce((s, f) => s + f.orig_pkts + f.resp_pkts, 0), pkts);
  assert.is(final.reduce((s, f) => s + f.orig_ip_bytes + f.resp_ip_bytes, 0), bytes);
  assert.ok(final.every((f) => f['id.resp_p'] === 80), 'clients are the originators');
  assert.ok(h.core.eventFlowsPending() === 0);
  const c = h.core.counters();
  assert.is(c.events_in, 20000);
  assert.ok((c.event_flows_evicted ?? 0) > 0, 'the small table had to evict');
  assert.is(c.events_deduped ?? 0, 0);
});

test('seeded fuzz: random and half-valid event bytes never trap, memory stays put, every event is counted', () => {
  const rng = new Rng('flow-events-fuzz');
  const core = new WasmCore({ outputRecords: 64 });
  core.enableEvents({ capacity: 64, batch: 256 });
  let records = 0;
  const drain = (c: WasmCore) => { records += c.drainRaw(() => {}); };
  const memBefore = core.memoryBytes();
  let fed = 0;
  for (let round = 0; round < 200; round++) {
    const region = core.eventRegion();
    const n = rng.int(1, region.capacity);
    for (let i = 0; i < n; i++) {
      const o = region.off + i * REC_SIZE;
      if (rng.chance(0.5)) {
        for (let k = 0; k < REC_SIZE; k++) region.u8[o + k] = rng.int(0, 255);
      } else {
        region.u8.fill(0, o, o + REC_SIZE);
        const t = 1.7e9 + rng.int(0, 100000);
        region.dv.setFloat64(o + R.TS, t, true);
        region.dv.setFloat64(o + R.LAST_TS, t + rng.int(0, 600), true);
        region.dv.setFloat64(o + R.ORIG_PKTS, rng.int(0, 1e6), true);
        region.dv.setFloat64(o + R.ORIG_IP_BYTES, rng.int(0, 1e9), true);
        region.dv.setFloat64(o + R.RESP_PKTS, rng.chance(0.2) ? rng.int(0, 1e6) : 0, true);
        region.u8[o + R.IP_VERSION] = rng.pick([4, 6, 4, 0, 7]);
        region.u8[o + R.PROTO] = rng.pick([6, 17, 1, 58, 47, 255]);
        region.u8[o + R.ORIG_H + 15] = rng.int(0, 20); region.u8[o + R.RESP_H + 15] = rng.int(0, 20);
        region.dv.setUint16(o + R.ORIG_P, rng.int(0, 65535), true);
        region.dv.setUint16(o + R.RESP_P, rng.pick([80, 443, 0, 8, 65535]), true);
        region.u8[o + R.SOURCE_FLAGS] = rng.int(0, 255);
        region.u8[o + R.ORIG_TCP_FLAGS] = rng.int(0, 255);
        region.dv.setUint32(o + R.REPORTER, rng.int(0, 3), true);
        region.dv.setUint32(o + R.RECORDS, rng.int(0, 5), true);
      }
    }
    let start = 0;
    for (let spins = 0; start < n; spins++) {
      assert.ok(spins < 10_000, 'the merger makes progress');
      start += core.ingestEvents(start, n - start);
      drain(core);
    }
    fed += n;
    assert.ok(core.eventFlowsPending() <= 64);
  }
  while (!core.flushEvents()) drain(core);
  drain(core);
  assert.is(core.eventFlowsPending(), 0);
  const c = core.counters();
  assert.is(c.events_in, fed);
  assert.ok((c.bad_event ?? 0) > 0 && (c.bad_event ?? 0) < fed);
  assert.ok(records > 0);
  assert.is(core.memoryBytes(), memBefore, 'no memory growth after start');
});

test.run();
