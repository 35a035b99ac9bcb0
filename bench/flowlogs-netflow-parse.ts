// Decode speed of NetFlow v9 / IPFIX data records (target: ≥ 2 M records/s
// on one core). Builds seeded datagrams in memory — 30 records each, the
// templates a Cisco/Juniper exporter typically sends — decodes them into a
// counting sink (the sink reads a few fields, as a real one copies them) and
// prints records/s. Also v5 and sFlow (sampled IPv4 records) for reference.
//
//   npx tsx bench/flowlogs-netflow-parse.ts [--seconds S] [--seed X]
import { NetflowDecoder } from '../sensor/netflow/datagram.ts';
import {
  ipfixMessage, ipfixTemplateSet, record, set, sflowDatagram, sflowFlowSample, sflowSampledIpv4,
  v5Datagram, v9Datagram, v9TemplateSet, type FieldSpec,
} from '../sensor/netflow/export-writer.ts';
import type { FlowEvent } from '../sensor/flowlogs/flow-event.ts';
import { Rng } from '../sensor/sample/rng.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => { const i = args.indexOf(name); return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt; };
const SECONDS = Number(flag('--seconds', '2'));
const rng = new Rng(flag('--seed', 'netflow-bench-1'));
const RECORDS = 30;
const DATAGRAMS = 64;
const EXPORT = 1_700_000_000;

const V9_FIELDS: FieldSpec[] = [
  { id: 8, length: 4 }, { id: 12, length: 4 }, { id: 15, length: 4 }, { id: 2, length: 4 }, { id: 1, length: 4 },
  { id: 22, length: 4 }, { id: 21, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 6, length: 1 },
  { id: 4, length: 1 }, { id: 5, length: 1 }, { id: 10, length: 4 }, { id: 14, length: 4 }, { id: 16, length: 4 },
  { id: 17, length: 4 }, { id: 9, length: 1 }, { id: 13, length: 1 }, { id: 61, length: 1 }, { id: 89, length: 1 },
];
const IPFIX_FIELDS: FieldSpec[] = [
  { id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
  { id: 6, length: 2 }, { id: 5, length: 1 }, { id: 1, length: 8 }, { id: 2, length: 8 }, { id: 152, length: 8 },
  { id: 153, length: 8 }, { id: 10, length: 4 }, { id: 14, length: 4 }, { id: 58, length: 2 }, { id: 61, length: 1 },
  { id: 15, length: 4 }, { id: 16, length: 4 }, { id: 17, length: 4 }, { id: 136, length: 1 },
];

function v9Datagrams(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let d = 0; d < DATAGRAMS; d++) {
    const uptime = 3_600_000 + d * 1000;
    const recs: Uint8Array[] = [];
    for (let r = 0; r < RECORDS; r++) {
      const first = uptime - rng.int(0, 60_000);
      recs.push(record(V9_FIELDS, [
        rng.u32(), rng.u32(), rng.u32(), rng.int(1, 1000), rng.int(40, 1_500_000), first, first + rng.int(0, 5000),
        rng.int(1, 65535), rng.int(1, 65535), rng.int(0, 63), rng.pick([6, 17, 1]), 0, rng.int(1, 64), rng.int(1, 64),
        rng.u32(), rng.u32(), 24, 16, rng.int(0, 1), 64,
      ]));
    }
    out.push(v9Datagram({ uptime, secs: EXPORT + d, seq: d, sourceId: 1, count: RECORDS }, [set(256, recs)]));
  }
  return out;
}

function ipfixDatagrams(): Uint8Array[] {
  const out: Uint8Array[] = [];
  let seq = 0;
  for (let d = 0; d < DATAGRAMS; d++) {
    const recs: Uint8Array[] = [];
    for (let r = 0; r < RECORDS; r++) {
      const start = (EXPORT + d) * 1000 - rng.int(0, 60_000);
      recs.push(record(IPFIX_FIELDS, [
        rng.u32(), rng.u32(), rng.int(1, 65535), rng.int(1, 65535), rng.pick([6, 17, 1]), rng.int(0, 63), 0,
        rng.int(40, 1_500_000), rng.int(1, 1000), start, start + rng.int(0, 5000), rng.int(1, 64), rng.int(1, 64),
        rng.int(0, 4094), rng.int(0, 1), rng.u32(), rng.u32(), rng.u32(), 1,
      ]));
    }
    out.push(ipfixMessage({ exportTime: EXPORT + d, seq, domain: 7 }, [set(256, recs)]));
    seq += RECORDS;
  }
  return out;
}

function v5Datagrams(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let d = 0; d < DATAGRAMS; d++) {
    const uptime = 3_600_000 + d * 1000;
    const recs = [];
    for (let r = 0; r < RECORDS; r++) {
      const first = uptime - rng.int(0, 60_000);
      recs.push({ src: rng.u32(), dst: rng.u32(), pkts: rng.int(1, 1000), bytes: rng.int(40, 1_500_000), first, last: first + 1000, srcPort: rng.int(1, 65535), dstPort: 443, proto: 6, tcpFlags: 0x1b });
    }
    out.push(v5Datagram({ uptime, secs: EXPORT + d, seq: d * RECORDS }, recs));
  }
  return out;
}

function sflowDatagrams(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let d = 0; d < DATAGRAMS; d++) {
    const samples: Uint8Array[] = [];
    for (let r = 0; r < 8; r++) {
      samples.push(sflowFlowSample({ seq: d * 8 + r, sourceIdIndex: 3, rate: 1024, input: 3, output: 4, records: [
        sflowSampledIpv4({ length: rng.int(40, 1500), proto: 6, src: rng.u32(), dst: rng.u32(), srcPort: rng.int(1, 65535), dstPort: 443, tcpFlags: 0x10 }),
      ] }));
    }
    out.push(sflowDatagram({ agent: 0x0a000001, seq: d }, samples));
  }
  return out;
}

class CountingSink {
  records = 0;
  pkts = 0;
  bytes = 0;
  rejects = 0;
  emit(ev: FlowEvent): void { this.records++; this.pkts += ev.pkts; this.bytes += ev.bytes + ev.src[15]! + ev.dstPort; }
  reject(): void { this.rejects++; }
}

function run(name: string, setup: Uint8Array[], datagrams: Uint8Array[]): void {
  const sink = new CountingSink();
  const dec = new NetflowDecoder({ sink });
  for (const s of setup) dec.decode(s, '192.0.2.1', EXPORT);
  // warm-up
  for (let i = 0; i < 2000; i++) dec.decode(datagrams[i % datagrams.length]!, '192.0.2.1', EXPORT);
  sink.records = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(Math.round(SECONDS * 1e9));
  let n = 0;
  let now = t0;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) dec.decode(datagrams[(n + i) % datagrams.length]!, '192.0.2.1', EXPORT);
    n += 1000;
    now = process.hrtime.bigint();
  }
  const secs = Number(now - t0) / 1e9;
  const rate = sink.records / secs;
  console.log(`${name.padEnd(8)} ${(rate / 1e6).toFixed(2).padStart(6)} M records/s  (${(n / secs / 1e3).toFixed(0)} k datagrams/s, ${sink.records} records in ${secs.toFixed(2)} s, rejections ${sink.rejects})`);
}

const v9Tpl = v9Datagram({ uptime: 3_600_000, secs: EXPORT, seq: 0, sourceId: 1 }, [v9TemplateSet([{ id: 256, fields: V9_FIELDS }])]);
const ipfixTpl = ipfixMessage({ exportTime: EXPORT, seq: 0, domain: 7 }, [ipfixTemplateSet([{ id: 256, fields: IPFIX_FIELDS }])]);
console.log(`NetFlow/IPFIX decode, ${RECORDS} records per datagram, ${SECONDS} s per row, node ${process.version}`);
run('v9', [v9Tpl], v9Datagrams());
run('ipfix', [ipfixTpl], ipfixDatagrams());
run('v5', [], v5Datagrams());
run('sflow', [], sflowDatagrams());
