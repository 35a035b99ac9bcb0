// How fast Zeek conn.log lines become flow events: the pure parser over a
// buffer in memory, and the reader over a file (plain and gzip), TSV and JSON.
// The log is generated (seeded), so nothing outside the repository is needed.
//   npx tsx bench/flowlogs-zeek-parse.ts [--records N] [--runs N]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseZeekConnBuffer } from '../sensor/flowlogs/zeek-conn.ts';
import { readZeekConnFile } from '../sensor/flowlogs/zeek-conn-reader.ts';
import type { FlowEvent, FlowEventSink } from '../sensor/flowlogs/flow-event.ts';
import { Rng } from '../sensor/sample/rng.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const RECORDS = arg('--records', 500_000);
const RUNS = arg('--runs', 3);

const FIELDS = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'service', 'duration', 'orig_bytes', 'resp_bytes',
  'conn_state', 'local_orig', 'local_resp', 'missed_bytes', 'history', 'orig_pkts', 'orig_ip_bytes', 'resp_pkts', 'resp_ip_bytes', 'tunnel_parents'];
const TYPES = ['time', 'string', 'addr', 'port', 'addr', 'port', 'enum', 'string', 'interval', 'count', 'count', 'string', 'bool', 'bool',
  'count', 'string', 'count', 'count', 'count', 'count', 'set[string]'];

function generate(n: number): { tsv: Buffer; json: Buffer } {
  const rng = new Rng('zeek-conn-bench');
  const tsv: string[] = ['#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn',
    '#open\t2024-01-01-00-00-00', `#fields\t${FIELDS.join('\t')}`, `#types\t${TYPES.join('\t')}`];
  const json: string[] = [];
  let ts = 1704067200;
  const states = ['SF', 'S0', 'REJ', 'RSTO', 'SH', 'OTH', 'S1'];
  for (let i = 0; i < n; i++) {
    ts += rng.exp(0.01);
    const v6 = rng.chance(0.1);
    const oh = v6 ? `2001:db8::${rng.int(1, 0xffff).toString(16)}` : `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    const rh = v6 ? `2001:db8:1::${rng.int(1, 0xffff).toString(16)}` : `${rng.int(1, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    const proto = rng.weighted(['tcp', 'udp', 'icmp'], [7, 2.5, 0.5]);
    const op = rng.int(1024, 65535), rp = rng.pick([53, 80, 443, 22, 123, 8080]);
    const unset = rng.chance(0.1);
    const dur = unset ? '-' : rng.exp(2).toFixed(6);
    const ob = unset ? '-' : String(rng.lognormalInt(500, 2, 0, 1e9));
    const rb = unset ? '-' : String(rng.lognormalInt(5000, 2, 0, 1e9));
    const opk = rng.int(1, 500), rpk = rng.int(0, 500);
    const oib = opk * 40 + (ob === '-' ? 0 : Number(ob)), rib = rpk * 40 + (rb === '-' ? 0 : Number(rb));
    const cs = rng.pick(states);
    const hist = proto === 'tcp' ? rng.pick(['ShADadFf', 'S', 'Sr', 'ShADadR', 'ShAdDaFf']) : proto === 'udp' ? 'Dd' : '-';
    const uid = `C${rng.u32().toString(36)}${rng.u32().toString(36)}`;
    tsv.push([ts.toFixed(6), uid, oh, op, rh, rp, proto, '-', dur, ob, rb, cs, 'T', 'F', 0, hist, opk, oib, rpk, rib, '(empty)'].join('\t'));
    const o: Record<string, unknown> = { ts: Number(ts.toFixed(6)), uid, 'id.orig_h': oh, 'id.orig_p': op, 'id.resp_h': rh, 'id.resp_p': rp, proto };
    if (dur !== '-') o.duration = Number(dur);
    if (ob !== '-') { o.orig_bytes = Number(ob); o.resp_bytes = Number(rb); }
    Object.assign(o, { conn_state: cs, local_orig: true, local_resp: false, missed_bytes: 0 });
    if (hist !== '-') o.history = hist;
    Object.assign(o, { orig_pkts: opk, orig_ip_bytes: oib, resp_pkts: rpk, resp_ip_bytes: rib });
    json.push(JSON.stringify(o));
  }
  tsv.push('#close\t2024-01-01-01-00-00');
  return { tsv: Buffer.from(tsv.join('\n') + '\n'), json: Buffer.from(json.join('\n') + '\n') };
}

let checksum = 0;
const sink: FlowEventSink = {
  emit(ev: FlowEvent) { checksum += ev.pkts + ev.revBytes; },
  reject(r) { throw new Error(`unexpected rejection ${r.kind}: ${r.message}`); },
};

async function best(label: string, bytes: number, run: () => number | Promise<number>): Promise<void> {
  let bestMs = Infinity, n = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    n = await run();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  if (n !== RECORDS) throw new Error(`${label}: ${n} events, expected ${RECORDS}`);
  const rate = (n / bestMs) * 1000;
  console.log(`${label.padEnd(30)} ${(rate / 1e6).toFixed(2).padStart(6)} M records/s  ${((bytes / bestMs) * 1000 / 1e6).toFixed(0).padStart(5)} MB/s  (${bestMs.toFixed(0)} ms)`);
}

const { tsv, json } = generate(RECORDS);
const dir = mkdtempSync(join(tmpdir(), 'zeek-bench-'));
try {
  const files = {
    tsv: join(dir, 'conn.log'), tsvGz: join(dir, 'conn.log.gz'), json: join(dir, 'conn.json.log'),
  };
  writeFileSync(files.tsv, tsv);
  writeFileSync(files.tsvGz, gzipSync(tsv));
  writeFileSync(files.json, json);
  console.log(`${RECORDS} records: TSV ${(tsv.length / 1e6).toFixed(1)} MB, JSON ${(json.length / 1e6).toFixed(1)} MB; best of ${RUNS}; node ${process.version}`);
  await best('parser, TSV buffer', tsv.length, () => parseZeekConnBuffer(tsv, 'bench', sink).stats.emitted);
  await best('parser, JSON buffer', json.length, () => parseZeekConnBuffer(json, 'bench', sink).stats.emitted);
  await best('reader, TSV file', tsv.length, async () => (await readZeekConnFile(files.tsv, sink)).emitted);
  await best('reader, TSV file gzip', tsv.length, async () => (await readZeekConnFile(files.tsvGz, sink)).emitted);
  await best('reader, JSON file', json.length, async () => (await readZeekConnFile(files.json, sink)).emitted);
  if (checksum === 0) console.log('(no events?)');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
