// The UDP collector: real datagrams over loopback (IPv4 and IPv6, port 0),
// the protocol sniffed per datagram on one port, hostile datagrams counted by
// kind, and a flood that must not grow the template cache or held data
// beyond their caps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import type { FlowEvent, FlowRejection } from '../sensor/flowlogs/flow-event.ts';
import { formatAddress } from '../sensor/flows/ip-address.ts';
import { eventProblem, type SampledFrame } from '../sensor/netflow/common.ts';
import { parseUdpUrl, startNetflowCollector, type NetflowCollector } from '../sensor/netflow/collector.ts';
import {
  ip4, ipfixMessage, ipfixTemplateSet, record, set, sflowCounterSample, sflowDatagram, sflowFlowSample, sflowRawHeader,
  v5Datagram, v9Datagram, v9TemplateSet, type FieldSpec,
} from '../sensor/netflow/export-writer.ts';
import type { SflowCounters } from '../sensor/netflow/sflow.ts';
import { Rng } from '../sensor/sample/rng.ts';

const T0 = 1_700_000_000;

function sinkFor() {
  const events: { src: string; dst: string; reporter: string; source: number; pkts: number }[] = [];
  const rejects: FlowRejection[] = [];
  const problems: string[] = [];
  return {
    events, rejects, problems,
    sink: {
      emit(ev: FlowEvent) {
        const p = eventProblem(ev); if (p !== null) problems.push(p);
        events.push({ src: formatAddress(ev.src, ev.ipVersion), dst: formatAddress(ev.dst, ev.ipVersion), reporter: ev.reporter, source: ev.source, pkts: ev.pkts });
      },
      reject(r: FlowRejection) { rejects.push(r); },
    },
  };
}

async function until(pred: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function sender(family: 4 | 6): Socket {
  return createSocket(family === 6 ? 'udp6' : 'udp4');
}

function send(sock: Socket, port: number, host: string, b: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => sock.send(b, port, host, (e) => (e ? reject(e) : resolve())));
}

const FIELDS: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 }, { id: 2, length: 4 }, { id: 1, length: 4 }];
const rec = (src: string) => record(FIELDS, [ip4(src), ip4('10.9.9.9'), 1000, 53, 17, 1, 80]);

test('parseUdpUrl: IPv4, [IPv6], port 0; malformed urls throw', () => {
  assert.equal(parseUdpUrl('udp://127.0.0.1:2055'), { host: '127.0.0.1', port: 2055, family: 4 });
  assert.equal(parseUdpUrl('udp://[::1]:0'), { host: '::1', port: 0, family: 6 });
  assert.equal(parseUdpUrl('udp://0.0.0.0:6343/'), { host: '0.0.0.0', port: 6343, family: 4 });
  for (const bad of ['tcp://1.2.3.4:1', 'udp://1.2.3.4', 'udp://::1:5', 'udp://1.2.3.4:70000']) {
    assert.throws(() => parseUdpUrl(bad), bad);
  }
});

test('collector: NetFlow v5, v9, IPFIX and sFlow on one port (127.0.0.1, port 0)', async () => {
  const s = sinkFor();
  const frames: SampledFrame[] = [];
  const counters: SflowCounters[] = [];
  const col = await startNetflowCollector({ url: 'udp://127.0.0.1:0', sink: s.sink, onSflow: (f) => frames.push(f), onCounters: (c) => counters.push(c) });
  const tx = sender(4);
  try {
    assert.ok(col.port > 0 && col.port < 65536, `bound port ${col.port}`);
    assert.is(col.address, '127.0.0.1');
    await send(tx, col.port, '127.0.0.1', v5Datagram({ uptime: 1000, secs: T0, seq: 0 }, [{ src: ip4('10.0.0.5'), dst: ip4('10.0.0.6'), pkts: 1, bytes: 60, first: 500, last: 900, srcPort: 1, dstPort: 2, proto: 6 }]));
    // v9: data first (held), then its template
    await send(tx, col.port, '127.0.0.1', v9Datagram({ uptime: 1000, secs: T0, seq: 0, sourceId: 1 }, [set(300, [rec('10.0.0.9')])]));
    await until(() => col.stats.datagrams === 2, 'two datagrams');
    await send(tx, col.port, '127.0.0.1', v9Datagram({ uptime: 1000, secs: T0, seq: 1, sourceId: 1 }, [v9TemplateSet([{ id: 300, fields: FIELDS }])]));
    await send(tx, col.port, '127.0.0.1', ipfixMessage({ exportTime: T0, seq: 0, domain: 4 }, [ipfixTemplateSet([{ id: 256, fields: FIELDS }]), set(256, [rec('10.0.0.7'), rec('10.0.0.8')])]));
    const frame = new Uint8Array(64).fill(0xab);
    await send(tx, col.port, '127.0.0.1', sflowDatagram({ agent: ip4('192.0.2.1'), seq: 1 }, [
      sflowFlowSample({ seq: 1, sourceIdIndex: 2, rate: 100, input: 2, output: 3, records: [sflowRawHeader(1, 64, frame)] }),
      sflowCounterSample(1, 2, { ifIndex: 2, inOctets: 10, inUcastPkts: 1, outOctets: 20, outUcastPkts: 2 }),
    ]));
    await until(() => s.events.length === 4 && frames.length === 1 && counters.length === 1, 'events');
    assert.equal(s.events.map((e) => [e.src, e.reporter]).sort(), [
      ['10.0.0.5', '127.0.0.1/0.0'], ['10.0.0.7', '127.0.0.1/4'], ['10.0.0.8', '127.0.0.1/4'], ['10.0.0.9', '127.0.0.1/1'],
    ]);
    assert.equal([frames[0]!.agent, frames[0]!.samplingRate, frames[0]!.frameLength], ['192.0.2.1', 100, 64]);
    assert.equal([counters[0]!.ifIndex, counters[0]!.outOctets], [2, 20]);
    const st = col.stats;
    assert.equal([st.datagrams, st.netflowV5, st.netflowV9, st.ipfix, st.sflow, st.records, st.pendingDecoded], [5, 1, 2, 1, 1, 4, 1]);
    assert.equal(s.problems, []);
    assert.equal(s.rejects, []);
  } finally {
    tx.close();
    await col.close();
  }
});

test('collector: IPv6 loopback', async () => {
  const s = sinkFor();
  let col: NetflowCollector;
  try {
    col = await startNetflowCollector({ url: 'udp://[::1]:0', sink: s.sink });
  } catch (e) {
    console.log(`  [skip] IPv6 loopback unavailable: ${(e as Error).message}`);
    return;
  }
  const tx = sender(6);
  try {
    await send(tx, col.port, '::1', ipfixMessage({ exportTime: T0, seq: 0, domain: 9 }, [ipfixTemplateSet([{ id: 256, fields: FIELDS }]), set(256, [rec('10.0.0.1')])]));
    await until(() => s.events.length === 1, 'an event');
    assert.is(s.events[0]!.reporter, '::1/9');
  } finally {
    tx.close();
    await col.close();
  }
});

test('collector: hostile datagrams are counted by kind, the collector keeps going', async () => {
  const s = sinkFor();
  const col = await startNetflowCollector({ url: 'udp://127.0.0.1:0', sink: s.sink });
  const tx = sender(4);
  try {
    const bad = [
      Uint8Array.from([1, 2, 3]),                                     // truncated_datagram
      Uint8Array.from([0x47, 0x45, 0x54, 0x20, 0x2f]),                // "GET /": unknown_version
      v5Datagram({ uptime: 1, secs: T0, seq: 0 }, [], 99),            // bad_header
      v9Datagram({ uptime: 1, secs: T0, seq: 0, sourceId: 1 }, [v9TemplateSet([{ id: 5, fields: FIELDS }])]), // bad_template
      ipfixMessage({ exportTime: T0, seq: 0, domain: 1 }, [set(256, [new Uint8Array(8)])]).subarray(0, 20),    // truncated_datagram + bad_set_length
      sflowDatagram({ agent: ip4('192.0.2.1'), seq: 1 }, []).fill(9, 4, 8),                                     // bad_header (address type)
    ];
    for (const b of bad) await send(tx, col.port, '127.0.0.1', b);
    await until(() => col.stats.datagrams === bad.length, 'all datagrams');
    assert.equal(col.stats.rejections, { truncated_datagram: 2, unknown_version: 1, bad_header: 2, bad_template: 1, bad_set_length: 1 });
    assert.is(s.rejects.length, 7);
    assert.ok(s.rejects.every((r) => r.input === '127.0.0.1'));
    // still decoding
    await send(tx, col.port, '127.0.0.1', v5Datagram({ uptime: 1000, secs: T0, seq: 0 }, [{ src: 1, dst: 2, pkts: 1, bytes: 40, first: 0, last: 0, srcPort: 1, dstPort: 2, proto: 17 }]));
    await until(() => s.events.length === 1, 'an event after the garbage');
  } finally {
    tx.close();
    await col.close();
  }
});

test('collector: a flood of templates and template-less data stays within the caps', async () => {
  const s = sinkFor();
  const limits = { templatesPerExporter: 50, templatesTotal: 80, pendingSetsPerExporter: 10, pendingBytesPerExporter: 4096 };
  const col = await startNetflowCollector({ url: 'udp://127.0.0.1:0', sink: s.sink, limits, receiveBufferSize: 4 << 20 });
  const tx = sender(4);
  const rng = new Rng('flood');
  try {
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const id = 256 + rng.int(0, 60000);
      const d = i % 2 === 0
        ? v9Datagram({ uptime: 1, secs: T0, seq: i, sourceId: rng.int(0, 3) }, [v9TemplateSet([{ id, fields: FIELDS }])])
        : ipfixMessage({ exportTime: T0, seq: i, domain: rng.int(0, 3) }, [set(id, [rec('10.0.0.1'), rec('10.0.0.2')])]);
      tx.send(d, col.port, '127.0.0.1');
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 2)); // let the collector drain
    }
    await until(() => col.stats.datagrams >= N * 0.9, `most of ${N} datagrams`, 8000).catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(col.stats.datagrams > N / 2, `${col.stats.datagrams} datagrams received`);
    const g = col.decoder.gauges();
    assert.ok(g.templates <= 50, `templates ${g.templates}`);
    assert.ok(g.heldSets <= 10 && g.heldBytes <= 4096, JSON.stringify(g));
    assert.ok(col.stats.templatesEvicted > 0 && col.stats.pendingDropped > 0);
    assert.is(col.stats.rejections.template_limit, col.stats.templatesEvicted);
    assert.is(col.stats.rejections.no_template, col.stats.pendingDropped);
    assert.equal(s.problems, []);
  } finally {
    tx.close();
    await col.close();
  }
});

test('collector: close() releases the port; binding a taken port rejects', async () => {
  const s = sinkFor();
  const a = await startNetflowCollector({ url: 'udp://127.0.0.1:0', sink: s.sink });
  const port = a.port;
  let err: Error | null = null;
  try { const b = await startNetflowCollector({ url: `udp://127.0.0.1:${port}`, sink: s.sink }); await b.close(); } catch (e) { err = e as Error; }
  assert.ok(err !== null && /EADDRINUSE/.test(err.message), String(err));
  await a.close();
  await a.close(); // idempotent
  const c = await startNetflowCollector({ url: `udp://127.0.0.1:${port}`, sink: s.sink });
  assert.is(c.port, port);
  await c.close();
});

test.run();
