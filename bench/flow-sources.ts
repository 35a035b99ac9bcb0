// Flow-record ingestion rows of `npm run bench` (issue 3): how fast
// `edge-sensor analyze` turns flow records into flow records, end to end
// (process start, reading, parsing, the core's merger, JSON to /dev/null):
//
//   * AWS VPC flow logs, default text format (2 M records, generated, seeded)
//   * Azure VNet flow logs v4, one PT1H.json blob (2 M flow tuples)
//   * IPFIX export packets in a capture (2 M records, 30 per message)
//   * the same messages over loopback into `edge-sensor run --netflow`,
//     unpaced and paced at 2 M records/s (bench/tools/udp-blast.c sends)
//   * nfdump -r over the same IPFIX flows, collected by nfcapd from a
//     loopback replay — the established tool, as the reference row
//
// Each file input also runs 4× shorter: the difference gives the rate after
// start-up, and peak memory must not grow with the input. Appends its table to bench/RESULTS.md (run.ts writes the
// file first) and prints it.
//
//   npx tsx bench/flow-sources.ts [--records N] [--runs R] [--no-write]
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ipfixMessage, ipfixTemplateSet, record, set, type FieldSpec } from '../sensor/netflow/export-writer.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { generateAwsLines } from './flowlogs-aws-parse.ts';
import { compileC, measure, rateAfterStartup, warm, which, writeResultsSection, type Measurement } from './measure.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => { const i = args.indexOf(name); return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt; };
const RECORDS = Number(flag('--records', '2000000'));
const RUNS = Number(flag('--runs', '3'));
const WRITE = !args.includes('--no-write');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, '.bench');
mkdirSync(benchDir, { recursive: true });
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

// ---------------------------------------------------------------- inputs

function awsFile(n: number): string {
  const path = join(benchDir, `aws-vpc-${n}.log`);
  if (!existsSync(path)) {
    log(`generating ${relative(root, path)}`);
    writeFileSync(path, generateAwsLines(n, 'aws-vpc-bench-1').buf);
  }
  return path;
}

/**
 * AWS lines as a VPC really produces them: connections that last several
 * 1-minute aggregation intervals, each reported per direction, and by both
 * ENIs when both ends are monitored instances (40% of connections). So one
 * connection is 2–4 lines per minute it lasts; the merger joins them.
 * Exactly `n` lines.
 */
function awsRealisticFile(n: number): string {
  const path = join(benchDir, `aws-vpc-realistic-${n}.log`);
  if (existsSync(path)) return path;
  log(`generating ${relative(root, path)}`);
  const rng = new Rng('aws-vpc-realistic-1');
  const fd = openSync(path, 'w');
  writeSync(fd, 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags\n');
  const eni = (ip: string) => `eni-${ip.split('.').map((x) => Number(x).toString(16).padStart(2, '0')).join('')}a1b2c3d4e`;
  let lines = 0, t = 1_700_000_000;
  const batch: string[] = [];
  while (lines < n) {
    t += rng.int(0, 2);
    const client = `10.0.${rng.int(0, 15)}.${rng.int(1, 254)}`;
    const both = rng.chance(0.4);
    const server = both ? `10.1.${rng.int(0, 3)}.${rng.int(1, 254)}` : `${rng.int(1, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
    const sp = rng.int(32768, 60999), dp = rng.pick([443, 443, 443, 80, 5432, 6379, 22]);
    const minutes = rng.int(1, 5);
    for (let m = 0; m < minutes && lines < n; m++) {
      const s0 = t + m * 60, e0 = s0 + 59;
      const first = m === 0 ? 2 : 0, last = m === minutes - 1 ? 1 : 0;
      const p1 = rng.int(2, 200), p2 = rng.int(2, 300);
      const fwd = `${client} ${server} ${sp} ${dp} 6 ${p1} ${p1 * rng.int(60, 400)} ${s0} ${e0} ACCEPT OK ${first | last}`;
      const rev = `${server} ${client} ${dp} ${sp} 6 ${p2} ${p2 * rng.int(60, 1400)} ${s0} ${e0} ACCEPT OK ${(first ? 18 : 0) | last}`;
      const reps: [string, string][] = [[eni(client), fwd], [eni(client), rev]];
      if (both) reps.push([eni(server), fwd], [eni(server), rev]);
      for (const [e, l] of reps) { if (lines >= n) break; batch.push(`2 123456789012 ${e} ${l}`); lines++; }
    }
    if (batch.length > 10000) { writeSync(fd, batch.join('\n') + '\n'); batch.length = 0; }
  }
  if (batch.length) writeSync(fd, batch.join('\n') + '\n');
  closeSync(fd);
  return path;
}

/** One Azure VNet flow-log blob: records of up to 1000 tuples each, as Azure writes them (B then E per flow); `tuples` even. */
function azureFile(tuples: number): string {
  const path = join(benchDir, `azure-vnet-${tuples}.json`);
  if (existsSync(path)) return path;
  log(`generating ${relative(root, path)}`);
  const rng = new Rng('azure-bench-1');
  const fd = openSync(path, 'w');
  writeSync(fd, '{"records":[');
  let t = 1_700_000_000_000;
  for (let r = 0; r * 1000 < tuples; r++) {
    const list: string[] = [];
    for (let i = 0; i < 1000 && r * 1000 + i < tuples; i += 2) {
      t += rng.int(1, 50);
      const src = `10.0.${rng.int(0, 20)}.${rng.int(1, 254)}`, dst = `${rng.int(1, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
      const sp = rng.int(1024, 65535), dp = rng.pick([443, 80, 53, 22]);
      list.push(`"${t},${src},${dst},${sp},${dp},6,O,B,NX,0,0,0,0"`);
      list.push(`"${t + rng.int(5, 5000)},${src},${dst},${sp},${dp},6,O,E,NX,${rng.int(1, 50)},${rng.int(40, 60000)},${rng.int(1, 50)},${rng.int(40, 900000)}"`);
    }
    const rec = `{"time":"2023-11-14T22:13:20.0000000Z","flowLogVersion":4,"flowLogGUID":"00000000-0000-0000-0000-000000000001","macAddress":"00224871C2${(r % 256).toString(16).padStart(2, '0').toUpperCase()}",` +
      `"category":"FlowLogFlowEvent","flowLogResourceID":"/SUBSCRIPTIONS/0/FLOWLOGS/BENCH","targetResourceID":"/subscriptions/0/virtualNetworks/bench","operationName":"FlowLogFlowEvent",` +
      `"flowRecords":{"flows":[{"aclID":"00000000-0000-0000-0000-000000000002","flowGroups":[{"rule":"DefaultRule_AllowInternetOutBound","flowTuples":[${list.join(',')}]}]}]}}`;
    writeSync(fd, (r ? ',' : '') + rec);
  }
  writeSync(fd, ']}');
  closeSync(fd);
  return path;
}

const IPFIX_FIELDS: FieldSpec[] = [
  { id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
  { id: 6, length: 1 }, { id: 1, length: 8 }, { id: 2, length: 8 }, { id: 152, length: 8 }, { id: 153, length: 8 },
];
const PER_MESSAGE = 30;

/** IPFIX messages (template in the first and every 1000th) for n records. */
function ipfixMessages(n: number): Uint8Array[] {
  const rng = new Rng('ipfix-bench-1');
  const out: Uint8Array[] = [];
  const EXPORT = 1_700_000_000;
  for (let d = 0, seq = 0; seq < n; d++) {
    const recs: Uint8Array[] = [];
    for (let r = 0; r < PER_MESSAGE && seq + r < n; r++) {
      const start = (EXPORT + Math.floor(d / 100)) * 1000 - rng.int(0, 60_000);
      recs.push(record(IPFIX_FIELDS, [
        (10 << 24) | rng.int(0, 0xffff), rng.u32() | 1, rng.int(1024, 65535), rng.pick([443, 80, 53]), rng.pick([6, 17]), 0x1b,
        rng.int(40, 1_500_000), rng.int(1, 1000), start, start + rng.int(0, 5000),
      ]));
    }
    const sets = d % 1000 === 0 ? [ipfixTemplateSet([{ id: 256, fields: IPFIX_FIELDS }]), set(256, recs)] : [set(256, recs)];
    out.push(ipfixMessage({ exportTime: EXPORT + Math.floor(d / 100), seq, domain: 1 }, sets));
    seq += recs.length;
  }
  return out;
}

/** The messages as a pcap of UDP datagrams 192.0.2.1 → 192.0.2.2:4739. */
function ipfixCapture(n: number): string {
  const path = join(benchDir, `ipfix-${n}.pcap`);
  if (existsSync(path)) return path;
  log(`generating ${relative(root, path)}`);
  const fd = openSync(path, 'w');
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0); gh.writeUInt16LE(2, 4); gh.writeUInt16LE(4, 6); gh.writeUInt32LE(65535, 16); gh.writeUInt32LE(1, 20);
  writeSync(fd, gh);
  const ts = 1_700_000_000; // IPFIX times come from the messages, not the capture
  for (const m of ipfixMessages(n)) {
    const ipLen = 20 + 8 + m.length;
    const f = Buffer.alloc(16 + 14 + ipLen);
    f.writeUInt32LE(ts, 0); f.writeUInt32LE(0, 4); f.writeUInt32LE(14 + ipLen, 8); f.writeUInt32LE(14 + ipLen, 12);
    f.writeUInt16BE(0x0800, 16 + 12);
    const ip = 16 + 14;
    f[ip] = 0x45; f.writeUInt16BE(ipLen, ip + 2); f[ip + 8] = 64; f[ip + 9] = 17;
    f.writeUInt32BE(0xc0000201, ip + 12); f.writeUInt32BE(0xc0000202, ip + 16);
    f.writeUInt16BE(50000, ip + 20); f.writeUInt16BE(4739, ip + 22); f.writeUInt16BE(8 + m.length, ip + 24);
    f.set(m, ip + 28);
    writeSync(fd, f);
  }
  closeSync(fd);
  return path;
}

/** nfcapd collects the same messages from a loopback replay into an nfcapd file. Returns its path or why not. */
async function nfcapdFile(n: number): Promise<string | { error: string }> {
  const dir = join(benchDir, `nfcapd-ipfix-${n}`);
  const existing = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('nfcapd.')) : [];
  if (existing.length === 1) return join(dir, existing[0]!);
  if (!which('nfcapd')) return { error: 'nfcapd not installed (apt-get install nfdump)' };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log('replaying the IPFIX messages to nfcapd over loopback');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const nfcapd = spawn('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '86400', '-B', String(64 << 20)], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  const sock = dgram.createSocket('udp4');
  const msgs = ipfixMessages(n);
  // not paced, but in bursts that let nfcapd's receive buffer drain: the point is its reading, not loss
  for (let i = 0; i < msgs.length; i++) {
    await new Promise<void>((res, rej) => sock.send(msgs[i]!, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    if (i % 500 === 499) await new Promise((r) => setTimeout(r, 2));
  }
  sock.close();
  await new Promise((r) => setTimeout(r, 1000));
  nfcapd.kill('SIGTERM');
  await new Promise((r) => nfcapd.once('exit', r));
  const files = readdirSync(dir).filter((f) => f.startsWith('nfcapd.') && !f.includes('current'));
  if (files.length !== 1) return { error: `nfcapd wrote ${files.length} files` };
  return join(dir, files[0]!);
}

// ---------------------------------------------------------------- runs

interface FlowRow {
  label: string; input: string; records: number; bytes: number; best: Measurement | null; note: string;
  /** the same on the 4× shorter input: its records, best run and peak RSS */
  short?: { records: number; best: Measurement | null };
}

/** Records per second once running, against the 4× shorter input (measure.ts rateAfterStartup). */
function steadyRate(r: FlowRow): number | null {
  if (!r.best || !r.short?.best) return null;
  return rateAfterStartup(r.records, r.best.wallMs, r.short.records, r.short.best.wallMs);
}

async function best(cmd: string, argv: string[], check?: (m: Measurement) => string | null, input?: string): Promise<{ m: Measurement | null; note: string }> {
  let top: Measurement | null = null;
  for (let i = 0; i < RUNS; i++) {
    if (input) await warm(input);
    const m = await measure(cmd, argv, { captureStdout: check !== undefined, cwd: root });
    if (!m.ok) return { m: null, note: `failed: ${m.stderrTail.split('\n').slice(-2).join(' ')}` };
    const why = check?.(m);
    if (why) return { m: null, note: why };
    if (!top || m.wallMs < top.wallMs) top = m;
  }
  return { m: top, note: '' };
}

/** `analyze` of one input; with detection on, breaches to /dev/null and no learning period (every model judges from the start). */
function ours(format: string, expectEvents: number, detect = false) {
  const extra = detect ? ['--breaches', '/dev/null', '--learning', '0'] : [];
  return (path: string) => best(process.execPath, [join(root, 'sensor/cli/bin.cjs'), 'analyze', path, '--format', format, '--flows', '/dev/null', ...extra], (m) => {
    let s: { flow_events?: number; errors?: Record<string, number> };
    try { s = JSON.parse(m.stdout); } catch { return 'summary on stdout is not JSON'; }
    return s.flow_events === expectEvents ? null : `read ${s.flow_events} events, expected ${expectEvents} (errors ${JSON.stringify(s.errors)})`;
  }, path);
}

async function main(): Promise<void> {
  const n = RECORDS, short = Math.floor(RECORDS / 4);
  const rows: FlowRow[] = [];
  const add = async (label: string, make: (k: number) => string, format: string, eventsOf: (k: number) => number, detect = false) => {
    const path = make(n), spath = make(short);
    log(`${label}: edge-sensor analyze --format ${format}${detect ? ' --breaches /dev/null' : ''}`);
    const r = await ours(format, eventsOf(n), detect)(path);
    const s = r.m ? await ours(format, eventsOf(short), detect)(spath) : null;
    rows.push({ label, input: relative(root, path), records: eventsOf(n), bytes: statSync(path).size, best: r.m, short: { records: eventsOf(short), best: s?.m ?? null }, note: r.note });
  };
  await add('AWS VPC text, every line a new flow (edge-sensor)', awsFile, 'aws-vpc', countAwsFlows);
  await add('AWS VPC text, flows as AWS reports them (edge-sensor)', awsRealisticFile, 'aws-vpc', (k) => k);
  await add('Azure VNet JSON (edge-sensor)', azureFile, 'azure', (k) => k);
  await add('IPFIX capture (edge-sensor)', ipfixCapture, 'netflow-pcap', (k) => k);
  // scoring on: the same inputs with learning and the models. For detection they are floods of
  // novelty (its worst case); its cost on ordinary traffic is bench/detection-cost.ts's section
  await add('AWS VPC text, flows as AWS reports them, with detection (60% of connections to never-seen addresses)', awsRealisticFile, 'aws-vpc', (k) => k, true);
  await add('IPFIX capture, with detection (65 k random hosts to random addresses)', ipfixCapture, 'netflow-pcap', (k) => k, true);

  // IPFIX over loopback into `edge-sensor run --netflow`: sent as fast as the
  // socket takes them; what the sensor did not keep up with the kernel drops
  log('IPFIX over loopback into edge-sensor run --netflow');
  rows.push(await loopbackRow(n));
  // …and at the target rate, as an exporter paces itself: what share it keeps
  log('IPFIX over loopback into edge-sensor run --netflow, paced at 2 M records/s');
  rows.push(await loopbackRow(n, 2_000_000));
  // …with detection: a live collector's detection thread sheds learning when behind rather than hold up the socket
  log('IPFIX over loopback into edge-sensor run --netflow --breaches, paced at 2 M records/s');
  rows.push(await loopbackRow(n, 2_000_000, true));

  // nfdump -r
  const nf = await nfcapdFile(n);
  if (typeof nf === 'string' && which('nfdump')) {
    log('nfdump -r over the nfcapd file');
    const r = await best('nfdump', ['-r', nf, '-q', '-o', 'line'], undefined, nf);
    const count = await countLines('nfdump', ['-r', nf, '-q', '-o', 'csv']);
    const snf = await nfcapdFile(short);
    const sr = typeof snf === 'string' ? await best('nfdump', ['-r', snf, '-q', '-o', 'line'], undefined, snf) : null;
    const scount = typeof snf === 'string' ? await countLines('nfdump', ['-r', snf, '-q', '-o', 'csv']) : 0;
    rows.push({
      label: 'IPFIX via nfcapd → nfdump -r', input: relative(root, nf), records: count, bytes: statSync(nf).size, best: r.m,
      short: { records: scount, best: sr?.m ?? null },
      note: count === n ? r.note : `nfcapd kept ${count} of ${n} records; ${r.note}`,
    });
  } else {
    rows.push({ label: 'IPFIX via nfcapd → nfdump -r', input: '', records: 0, bytes: 0, best: null, note: typeof nf === 'string' ? 'nfdump not installed' : nf.error });
  }

  const lines = [
    '| input | records | MB | records/s | MB/s | records/s after start-up | peak RSS (MiB) | RSS, 4× shorter input | CPU s (best run) | notes |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|---|',
    ...rows.map((r) => {
      if (!r.best) return `| ${r.label} | ${r.records.toLocaleString('en')} | ${(r.bytes / 1e6).toFixed(0)} | – | – | – | – | – | – | ${r.note} |`;
      const s = r.best.wallMs / 1000;
      const rss = r.best.peakRssKiB ? (r.best.peakRssKiB / 1024).toFixed(1) : '?';
      const srss = r.short?.best?.peakRssKiB ? (r.short.best.peakRssKiB / 1024).toFixed(1) : '';
      const steady = steadyRate(r);
      return `| ${r.label} | ${r.records.toLocaleString('en')} | ${(r.bytes / 1e6).toFixed(0)} | ${Math.round(r.records / s).toLocaleString('en')} | ${(r.bytes / 1e6 / s).toFixed(0)} | ${steady === null ? '' : Math.round(steady).toLocaleString('en')} | ${rss} | ${srss} | ${r.best.cpuS === null ? '' : r.best.cpuS.toFixed(2)} | ${r.note} |`;
    }),
  ];
  process.stdout.write(`\nflow-record ingestion — best of ${RUNS}, warm cache, process start included\n\n${lines.join('\n')}\n`);
  if (WRITE) {
    writeResultsSection(root, '## Flow-record ingestion (bench/flow-sources.ts)', [
      `Best of ${RUNS} runs; \`edge-sensor analyze FILE --format F --flows /dev/null\` end to end (process start, parse, the core's merger, JSON written). ` +
      'records = source records (AWS lines with traffic, Azure tuples, IPFIX data records). ' +
      '"After start-up" is the extra records of the full input over the extra time it took against the 4× shorter input: start-up is paid on both and cancels.', '', ...lines]);
    log('appended to bench/RESULTS.md');
  }
}

/**
 * The messages as a file of [u32 LE length][bytes] for bench/tools/udp-blast.
 * Rewritten unless the cached file holds exactly these bytes (the generator
 * may have changed); written aside and renamed, so an interrupted run never
 * leaves a short file behind.
 */
function datagramFile(n: number, msgs: Uint8Array[]): string {
  const path = join(benchDir, `ipfix-${n}.dgrams`);
  const body = Buffer.concat(msgs.flatMap((m) => {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(m.length, 0);
    return [len, m];
  }));
  if (existsSync(path) && readFileSync(path).equals(body)) return path;
  writeFileSync(`${path}.tmp`, body);
  renameSync(`${path}.tmp`, path);
  return path;
}

/** bench/tools/udp-blast compiled into .bench/, or null (no C compiler: the JS sender is used). */
function udpBlast(): string | null {
  if (!which('cc')) return null;
  try {
    return compileC({ root, benchDir }, 'bench/tools/udp-blast.c', 'udp-blast');
  } catch (e) {
    log(`udp-blast did not compile (${(e as Error).message}): sending from Node`);
    return null;
  }
}

/** Run a command to its end without blocking the event loop (the sensor's stderr must keep being read). */
function runToEnd(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (b) => { stdout += b; });
    c.stderr.on('data', (b) => { stderr += b; });
    c.on('error', (error) => resolve({ code: null, stdout, stderr, error }));
    c.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Replay the IPFIX messages unpaced to `edge-sensor run --netflow`. records/s
 * is the sensor's sustained rate: records it took in / its time from the first
 * to the last of them; the kernel drops what it did not keep up with. The
 * sender shares the machine's two cores with the sensor (and its writer
 * thread): a C sender with sendmmsg where there is a compiler, so that it
 * takes as little of them as it can.
 */
async function loopbackRow(n: number, recordsPerSecond = 0, detect = false): Promise<FlowRow> {
  const label = (recordsPerSecond > 0
    ? `IPFIX over loopback, paced at ${(recordsPerSecond / 1e6).toFixed(0)} M records/s (edge-sensor run)`
    : 'IPFIX over loopback, unpaced (edge-sensor run)') + (detect ? ', with detection (learning shed when behind)' : '');
  const msgs = ipfixMessages(n);
  const bytes = msgs.reduce((a, m) => a + m.length, 0);
  const tmp = mkdtempSync(join(tmpdir(), 'bench-run-'));
  const summaryFile = join(tmp, 'summary.json');
  const child = spawn(process.execPath, [join(root, 'sensor/cli/bin.cjs'), 'run', '--no-state', '--netflow', 'udp://127.0.0.1:0', '--flows', '/dev/null', '--summary', summaryFile,
    ...(detect ? ['--breaches', '/dev/null', '--learning', '0'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((r) => child.once('exit', r));
  let err = '';
  child.stderr.on('data', (b) => { err += b; });
  /** A row that says why there is no measurement (no records, no bytes), once the sensor is gone. */
  const failed = async (note: string): Promise<FlowRow> => {
    child.kill();
    await exited;
    rmSync(tmp, { recursive: true, force: true });
    return { label, input: '', records: 0, bytes: 0, best: null, note };
  };
  const t0 = Date.now();
  while (!/"port":(\d+)[^\n]*listening/.test(err)) {
    if (Date.now() - t0 > 10_000) return failed('run did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  const port = Number(/"port":(\d+)[^\n]*listening/.exec(err)![1]);
  const blast = udpBlast();
  if (!blast && recordsPerSecond > 0) return failed('needs a C compiler for the paced sender');
  let sent: number;
  let sender: string;
  if (blast) {
    const r = await runToEnd(blast, [datagramFile(n, msgs), String(port), String(recordsPerSecond / PER_MESSAGE)]);
    const m = /^(\d+) ([\d.]+)/.exec(r.stdout);
    if (r.code !== 0 || !m) return failed(`udp-blast failed: ${(r.stderr.split('\n')[0] || r.error?.message) ?? `exit ${r.code}`}`);
    if (Number(m[1]) !== msgs.length) return failed(`udp-blast sent ${m[1]} datagrams, expected ${msgs.length}`);
    sent = Number(m[2]);
    sender = 'udp-blast (C, sendmmsg)';
  } else {
    const sock = dgram.createSocket('udp4');
    const start = process.hrtime.bigint();
    for (const m of msgs) await new Promise<void>((res, rej) => sock.send(m, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    sent = Number(process.hrtime.bigint() - start) / 1e9;
    sock.close();
    sender = 'Node dgram';
  }
  await new Promise((r) => setTimeout(r, 1000)); // let it empty its socket buffer
  child.kill('SIGTERM');
  await exited;
  let summary: { flow_events?: number; datagrams?: number; netflow_busy_s?: number; detection?: { shed?: { records: number } } } = {};
  try { summary = JSON.parse(readFileSync(summaryFile, 'utf8')); } catch { /* reported below */ }
  rmSync(tmp, { recursive: true, force: true });
  const got = summary.flow_events ?? 0;
  // the sensor's own busy time: first to last record it took in
  const m: Measurement = { ok: true, exitCode: 0, signal: null, timedOut: false, wallMs: (summary.netflow_busy_s ?? 0) * 1000, peakRssKiB: null, cpuS: null, stdout: '', stderrTail: '' };
  const dropped = 1 - got / n;
  return {
    // MB and MB/s of what was taken in (the messages are all the same size)
    label, input: recordsPerSecond > 0 ? 'generated, paced' : 'generated, unpaced', records: got, bytes: Math.round(bytes * got / n), best: got > 0 ? m : null,
    note: `${msgs.length.toLocaleString('en')} datagrams sent by ${sender} in ${sent.toFixed(2)} s (${Math.round(msgs.length / sent).toLocaleString('en')}/s); ` +
      `${got.toLocaleString('en')} of ${n.toLocaleString('en')} records taken in` + (dropped > 0 ? ` (${(100 * dropped).toFixed(1)}% dropped by the kernel: the sensor fell behind)` : '') +
      (detect ? `; learning shed for ${(summary.detection?.shed?.records ?? 0).toLocaleString('en')} flow records (the detection thread behind)` : ''),
  };
}

/** Lines a command prints, counted as they stream (nfdump's output of 2 M flows is larger than a JS string may be). */
function countLines(cmd: string, argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'ignore'] });
    let n = 0;
    child.stdout.on('data', (b: Buffer) => { for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++; });
    child.on('error', reject);
    child.on('close', () => resolve(n));
  });
}

/** Lines of the generated AWS file that carry traffic (NODATA lines are not flows). */
function countAwsFlows(n: number): number {
  const g = generateAwsLines(n, 'aws-vpc-bench-1');
  let flows = 0;
  for (let i = 0; i < g.starts.length; i++) {
    const line = g.buf.subarray(g.starts[i]!, g.ends[i]!);
    if (!line.includes('NODATA')) flows++;
  }
  return flows;
}

main().catch((e: unknown) => { process.stderr.write(`[bench] ${(e as Error).stack ?? String(e)}\n`); process.exit(1); });
