// AWS VPC Flow Logs: the AWS documentation and OpenTelemetry samples parse
// to the documented values; custom formats in any order (header line or
// `${field}` option); bad lines are rejected one by one with stable kinds; a
// seeded fuzz never throws and accounts for every line; the fast path agrees
// with the general parser.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  AWS_BLANK, AWS_DEFAULT_FIELDS, AWS_ERROR, AWS_FIELD_VERSIONS, AWS_FLOW, AWS_NODATA, AWS_SKIPDATA,
  AwsVpcParser, ByteInterner, ipv6, isAwsHeaderLine, parseAwsFormat, type AwsFormat,
} from '../sensor/flowlogs/aws-vpc.ts';
import { awsFileTime, readAwsVpc, type AwsVpcReadOptions, type AwsVpcReadSummary } from '../sensor/flowlogs/aws-vpc-reader.ts';
import { ACTION, DIRECTION, SOURCE } from '../sensor/flowlogs/flow-event.ts';
import { sniffFlowLog } from '../sensor/flowlogs/sniff.ts';
import { formatAddress, parseAddress } from '../sensor/flows/ip-address.ts';
import { Rng } from '../sensor/sample/rng.ts';
import { Collect, snap, type Ev } from './helpers/collect-sink.ts';
import { REPO_ROOT, needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';


async function read(path: string, opts: AwsVpcReadOptions = {}): Promise<{ sink: Collect; sum: AwsVpcReadSummary }> {
  const sink = new Collect();
  const sum = await readAwsVpc(path, sink, opts);
  return { sink, sum };
}

function tempDir(): string { return mkdtempSync(join(tmpdir(), 'aws-vpc-')); }

async function readText(text: string | Buffer, opts: AwsVpcReadOptions = {}, name = 'flows.log') {
  const dir = tempDir();
  try {
    const p = join(dir, name);
    writeFileSync(p, text);
    return { ...(await read(p, opts)), path: p };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

/** Every line is exactly one of these (the reader's accounting). */
function accounted(s: AwsVpcReadSummary): number {
  return s.records + s.nodata + s.rejected + s.headers + s.envelopes;
}

const AWS = 'flows/aws_vpc';

// ---- the shared samples ----

test('shared samples: record counts, and only the deliberate rejections', async () => {
  if (!needSharedData('AWS VPC samples')) return;
  const want: Record<string, [records: number, nodata: number, headers: number, rejections: string[]]> = {
    'awsdocs_v2_default_no_header.log': [5, 1, 0, ['skipped_data']],
    'awsdocs_v2_default_with_header.log': [5, 1, 1, ['skipped_data']],
    'awsdocs_v3_custom_tcpflags.log': [8, 0, 1, []],
    'awsdocs_custom_nat_gateway.log': [6, 0, 1, []],
    'awsdocs_v3_custom_transit_gateway.log': [4, 0, 1, []],
    'awsdocs_v5_custom_service_trafficpath.log': [2, 0, 1, []],
    'otel/valid_vpc_flow_log.log': [0, 1, 1, []],
    'otel/valid_vpc_flow_log_multi.log': [2, 0, 1, []],
    'otel/valid_vpc_flow_log_ecs.log': [1, 0, 1, []],
    'otel/valid_tgw_flow_log.log': [1, 0, 1, []],
  };
  const files = sharedFiles(AWS).map((f) => f.slice(AWS.length + 1));
  for (const f of files) {
    if (f.endsWith('.json')) continue; // CloudWatch envelope: needs its format, below
    const w = want[f];
    assert.ok(w, `no expectation for new sample ${f}`);
    const { sink, sum } = await read(sharedPath(`${AWS}/${f}`));
    assert.equal([sum.records, sum.nodata, sum.headers, sink.kinds()], w, f);
    assert.is(sum.lines, accounted(sum), `${f}: every line accounted for`);
    for (const e of sink.events) assert.ok(e.end >= e.start && e.start > 1e9, `${f}: times`);
  }
});

test('default format (docs examples): accept/reject, NODATA, SKIPDATA, ICMP, IPv6', async () => {
  if (!needSharedData('AWS VPC samples')) return;
  for (const f of ['awsdocs_v2_default_no_header.log', 'awsdocs_v2_default_with_header.log']) {
    const { sink } = await read(sharedPath(`${AWS}/${f}`));
    const [ssh, rdp, icmpIn, icmpOut, v6] = sink.events;
    assert.equal(ssh, {
      reporter: 'eni-1235b8ca123456789', src: '172.31.16.139', dst: '172.31.16.21', srcPort: 20641, dstPort: 22, proto: 6,
      pkts: 20, bytes: 4249, start: 1418530010, end: 1418530070, action: ACTION.accept, direction: DIRECTION.unknown,
      tcpFlags: 0, ipVersion: 4, source: SOURCE.aws_vpc, bidir: false, sampling: 1,
    });
    assert.equal([rdp!.src, rdp!.dst, rdp!.dstPort, rdp!.action], ['172.31.9.69', '172.31.9.12', 3389, ACTION.reject]);
    // A ping: two records, accepted in, rejected out (stateless NACL).
    assert.equal([icmpIn!.proto, icmpIn!.srcPort, icmpIn!.dstPort, icmpIn!.src, icmpIn!.action], [1, 0, 0, '203.0.113.12', ACTION.accept]);
    assert.equal([icmpOut!.src, icmpOut!.dst, icmpOut!.action, icmpOut!.start], ['172.31.16.139', '203.0.113.12', ACTION.reject, 1432917094]);
    assert.equal([v6!.ipVersion, v6!.src, v6!.dst, v6!.pkts, v6!.bytes], [6, '2001:db8:1234:a100:8d6e:3477:df66:f105', '2001:db8:1234:a102:3304:8879:34cf:4071', 54, 8855]);
    const skip = sink.rejects[0]!;
    assert.is(skip.kind, 'skipped_data');
    assert.is(skip.line, f.includes('with_header') ? 5 : 4);
    assert.ok(skip.message.includes('eni-11111111aaaaaaaaa'));
  }
});

test('tcp-flags (docs TCP flag sequence), double space tolerated', async () => {
  if (!needSharedData('AWS VPC samples')) return;
  const { sink } = await read(sharedPath(`${AWS}/awsdocs_v3_custom_tcpflags.log`));
  assert.equal(sink.events.map((e) => e.tcpFlags), [2, 18, 2, 18, 1, 1, 3, 19]);
  const last = sink.events[7]!;
  assert.equal([last.src, last.srcPort, last.dst, last.dstPort, last.bytes, last.pkts], ['10.0.0.62', 5001, '52.213.180.42', 43638, 967, 14]);
  // the custom order puts bytes before packets
  assert.equal([sink.events[5]!.bytes, sink.events[5]!.pkts], [23294588, 15774]);
});

test('NAT gateway and transit gateway: packet-level addresses are the endpoints', async () => {
  if (!needSharedData('AWS VPC samples')) return;
  const nat = (await read(sharedPath(`${AWS}/awsdocs_custom_nat_gateway.log`))).sink.events;
  const flow = (e: Ev) => `${e.reporter} ${e.src}>${e.dst}`;
  assert.equal(nat.map(flow), [
    'eni-1235b8ca123456789 10.0.1.5>203.0.113.5', // instance → NAT ENI, packet bound for the internet host
    'eni-1235b8ca123456789 10.0.0.220>203.0.113.5', // NAT → internet (translated)
    'eni-1235b8ca123456789 203.0.113.5>10.0.0.220', // internet → NAT
    'eni-1235b8ca123456789 203.0.113.5>10.0.1.5', // NAT → instance, packet from the internet host
    'eni-1111aaaa2222bbbb3 10.0.1.5>203.0.113.5', // the instance's own ENI: same 5-tuple as line 1
    'eni-1111aaaa2222bbbb3 203.0.113.5>10.0.1.5',
  ]);
  // No start/end in this format: the file's delivery time (mtime here) stands in.
  const t = Math.floor(statSync(sharedPath(`${AWS}/awsdocs_custom_nat_gateway.log`)).mtimeMs / 1000);
  assert.ok(nat.every((e) => e.start === t && e.end === t));

  const tgw = (await read(sharedPath(`${AWS}/awsdocs_v3_custom_transit_gateway.log`))).sink.events;
  assert.equal(tgw.map(flow), [
    'eni-33333333333333333 10.20.33.164>10.40.2.236',
    'eni-33333333333333333 10.40.2.236>10.20.33.164',
    'eni-11111111111111111 10.20.33.164>10.40.2.236', // srcaddr 10.40.1.175 is the TGW attachment ENI
    'eni-22222222222222222 10.40.2.236>10.20.33.164', // dstaddr 10.40.2.31 likewise
  ]);
  assert.equal(tgw.map((e) => [e.srcPort, e.dstPort, e.tcpFlags]), [[39812, 80, 3], [80, 39812, 19], [39812, 80, 3], [80, 39812, 19]]);
});

test('v5 fields (flow-direction, traffic-path, aws-service), ECS, Transit Gateway log, no trailing newline', async () => {
  if (!needSharedData('AWS VPC samples')) return;
  const v5 = (await read(sharedPath(`${AWS}/awsdocs_v5_custom_service_trafficpath.log`))).sink.events;
  assert.equal(v5.map((e) => [e.direction, e.tcpFlags, e.src, e.dst, e.pkts, e.bytes, e.reporter]), [
    [DIRECTION.ingress, 19, '52.95.128.179', '10.0.0.71', 14, 15044, 'eni-1235b8ca123456789'],
    [DIRECTION.egress, 3, '10.0.0.71', '52.95.128.179', 7, 471, 'eni-1235b8ca123456789'],
  ]);
  const ecs = (await read(sharedPath(`${AWS}/otel/valid_vpc_flow_log_ecs.log`))).sink.events;
  assert.equal(ecs.map((e) => [e.reporter, e.src, e.dst, e.dstPort, e.pkts, e.bytes, e.start, e.end]),
    [['eni-0abc1234def567890', '10.0.1.100', '10.0.2.200', 22, 15, 3500, 1700000000, 1700000060]]);
  const tgw = (await read(sharedPath(`${AWS}/otel/valid_tgw_flow_log.log`))).sink.events;
  assert.equal(tgw.map((e) => [e.reporter, e.src, e.srcPort, e.dst, e.dstPort, e.pkts, e.bytes, e.direction, e.tcpFlags, e.action]),
    [['tgw-attach-0abc12345def67890', '10.0.0.1', 12345, '10.0.1.1', 443, 10, 1000, DIRECTION.ingress, 2, ACTION.none]]);
  const multi = (await read(sharedPath(`${AWS}/otel/valid_vpc_flow_log_multi.log`))).sink.events;
  assert.equal(multi.map((e) => e.action), [ACTION.accept, ACTION.reject]);
});

test('CloudWatch Logs subscription envelope: messages in the option format, event time as record time', async () => {
  if (!needSharedData('AWS VPC samples')) return;
  const p = sharedPath(`${AWS}/otel/valid_vpc_flow_cw_custom.json`);
  const { sink, sum } = await read(p, { format: '${version} ${interface-id} ${srcaddr} ${dstaddr}' });
  assert.equal(sink.kinds(), []);
  assert.equal(sum.envelopes, 1);
  assert.equal(sink.events.map((e) => [e.reporter, e.src, e.dst, e.start, e.end]), [
    ['eni-1235b8ca123456789', '172.31.16.139', '172.31.16.21', 1733430000, 1733430000],
    ['eni-1235b8ca123456789', '172.31.9.69', '172.31.9.12', 1733430001, 1733430001],
  ]);
  // Without the format the messages do not fit the default one: rejected one by one.
  const d = await read(p);
  assert.equal(d.sink.kinds(), ['wrong_field_count', 'wrong_field_count']);
  // CONTROL_MESSAGE is skipped; other JSON is not an envelope.
  const r = await readText('{"messageType":"CONTROL_MESSAGE","logEvents":[]}\n{"a":1}\n{nope\n');
  assert.equal([r.sum.envelopes, r.sink.kinds()], [1, ['bad_envelope', 'bad_json']]);
});

test('the whole sample tree in one call', async () => {
  if (!needSharedData('AWS VPC samples')) return;
  const { sum, sink } = await read(sharedPath(AWS));
  assert.equal([sum.files, sum.records, sum.nodata], [11, 34, 3]);
  assert.equal(sink.kinds().sort(), ['skipped_data', 'skipped_data', 'wrong_field_count', 'wrong_field_count']);
});

// ---- content sniffing (--format auto) ----

test('sniffing: any header line the reader takes as AWS (Transit Gateway, newer fields, underscores, two fields) is aws-vpc; other content is not', () => {
  const sniff = (text: string) => sniffFlowLog(Buffer.from(text, 'latin1'));
  const REC = '\n2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n';
  for (const h of [
    'srcaddr dstaddr',
    'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status',
    'version srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status encryption-status',
    'version account_id interface_id srcaddr dstaddr srcport dstport protocol packets bytes start end action log_status',
    '${version} ${srcaddr} ${dstaddr} ${bytes}',
    'version tgw-id tgw-attachment-id srcaddr dstaddr packets-lost-no-route packets-lost-blackhole',
    'version srcaddr dstaddr some-field-newer-than-the-catalogue',
  ]) {
    assert.is(sniff(h + REC), 'aws-vpc', h);
    assert.is(sniffFlowLog(Buffer.from('\ufeff' + h + '\r' + REC, 'utf8')), 'aws-vpc', `BOM, CRLF: ${h}`);
  }
  assert.is(sniff(REC.trimStart()), 'aws-vpc', 'headerless default format');
  for (const t of [
    '', 'hello world\n', 'version\n', 'srcaddr\n',
    'start end bytes packets\n', // field names, but no addresses: the reader refuses it as a format
    'foo bar baz srcaddr dstaddr\n', // fewer than half known
    'Version Srcaddr Dstaddr\n', 'srcaddr,dstaddr,srcport\n', 'srcaddr dstaddr srcaddr\n',
    'StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport\n1,2,tcp\n',
    '2 123456789010 eni-1 1.2.3.4 5.6.7.8 1 2 6 1 40 1 2 ACCEPT\n', // 13 fields: not the default format
    '{"records":[]}', '#fields\tts\tid.orig_h\n', '\x00\x01\x02 srcaddr dstaddr\n',
  ]) assert.ok(sniff(t) !== 'aws-vpc', JSON.stringify(t));
  assert.is(sniff('#separator \\x09\n#fields\tts\n'), 'zeek-conn');
  assert.is(sniff('{"records":[{"flowRecords":{}}]}'), 'azure');
});

test('sniffing the shared samples: every AWS text log (the Transit Gateway one too) is aws-vpc, no other flow sample is', () => {
  if (!needSharedData('flow-log samples')) return;
  const head = (rel: string) => readFileSync(sharedPath(rel)).subarray(0, 64 << 10);
  const aws = sharedFiles(AWS, (p) => p.endsWith('.log'));
  assert.ok(aws.includes(`${AWS}/otel/valid_tgw_flow_log.log`), 'the Transit Gateway sample is there');
  for (const f of aws) assert.is(sniffFlowLog(head(f)), 'aws-vpc', f);
  const others = sharedFiles('flows', (p) => !p.includes('/aws_vpc/'));
  assert.ok(others.length > 20, `${others.length} other samples`);
  for (const f of others) assert.ok(sniffFlowLog(head(f)) !== 'aws-vpc', f);
  // and they keep their own formats
  for (const f of sharedFiles('flows/gcp_vpc')) assert.is(sniffFlowLog(head(f)), 'gcp-vpc', f);
  for (const f of sharedFiles('flows/azure_vnet', (p) => p.endsWith('.json'))) assert.is(sniffFlowLog(head(f)), 'azure', f);
  for (const f of sharedFiles('flows/zeek_conn/rita', (p) => p.endsWith('.log'))) assert.is(sniffFlowLog(head(f)), 'zeek-conn', f);
});

// ---- format declarations ----

test('format declarations: ${} and plain, dashes or underscores, strict and lenient', () => {
  const f = (d: string, strict = true) => { const r = parseAwsFormat(d, strict); return r.ok ? r.format.fields : r.message; };
  assert.equal(f('${version} ${srcaddr} ${dstaddr}'), ['version', 'srcaddr', 'dstaddr']);
  assert.equal(f('  ${log_status}\t${PKT_SRCADDR} pkt_dstaddr  '), ['log-status', 'pkt-srcaddr', 'pkt-dstaddr']);
  assert.equal(f(AWS_DEFAULT_FIELDS.join(' ')), [...AWS_DEFAULT_FIELDS]);
  assert.match(f('${srcaddr} ${dstaddr} ${bogus-field}') as string, /unknown field/);
  assert.equal(f('srcaddr dstaddr bogus-field', false), ['srcaddr', 'dstaddr', 'bogus-field']);
  assert.match(f('srcaddr dstaddr srcaddr') as string, /twice/);
  assert.match(f('srcaddr packets') as string, /destination/);
  assert.match(f('dstaddr') as string, /source/);
  assert.match(f('') as string, /empty/);
  assert.match(f('srcaddr dstaddr 12') as string, /not a field name/);
  assert.match(f('srcaddr dstaddr constructor') as string, /unknown field/);
  assert.not.ok(isAwsHeaderLine(Buffer.from('constructor tostring'), 0, 22));
  const v = parseAwsFormat('${srcaddr} ${dstaddr} ${tcp-flags} ${reject-reason}');
  assert.ok(v.ok && v.format.version === 8);
  const hdr = (s: string) => isAwsHeaderLine(Buffer.from(s), 0, s.length);
  assert.ok(hdr('version account-id interface-id srcaddr dstaddr'));
  assert.ok(hdr('srcaddr dstaddr some-future-field'));
  assert.not.ok(hdr('2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA'));
  assert.not.ok(hdr('eni-1235b8ca123456789 vpc-abc subnet-def'));
  assert.not.ok(hdr(''));
});

test('bad format option: one rejection, nothing read', async () => {
  const r = await readText('2 1 eni-1 1.2.3.4 5.6.7.8 1 2 6 1 1 1 2 ACCEPT OK\n', { format: '${srcaddr} ${dst-addr}' });
  assert.equal([r.sink.kinds(), r.sum.files, r.sink.events.length], [['bad_format_declaration'], 0, 0]);
  const h = await readText('srcaddr dstaddr srcaddr\n1.2.3.4 5.6.7.8 9.9.9.9\n');
  assert.equal(h.sink.kinds(), ['bad_format_declaration', 'wrong_field_count']);
});

// ---- generated custom formats ----

const VPC_FIELDS = Object.keys(AWS_FIELD_VERSIONS).filter((f) => AWS_FIELD_VERSIONS[f]! <= 8 && !f.startsWith('tgw-') && !f.startsWith('packets-lost') && f !== 'resource-type');

interface Truth {
  v6: boolean; eniSrc: string; eniDst: string; pktSrc: string; pktDst: string; srcPort: number; dstPort: number; proto: number;
  pkts: number; bytes: number; start: number; end: number; action: string; flags: number; direction: string; eni: string; instance: string;
  subnet: string; vpc: string;
}

function v4(rng: Rng): string { return `${rng.int(1, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(0, 255)}`; }
function v6(rng: Rng): string {
  const w = Array.from({ length: 8 }, () => rng.int(0, 0xffff).toString(16));
  if (rng.chance(0.5)) { const z = rng.int(1, 6); w.splice(z, 2, '', ''); return w.join(':').replace(/:{3,}/, '::'); }
  return w.join(':');
}
function truth(rng: Rng): Truth {
  const six = rng.chance(0.2);
  const a = () => (six ? v6(rng) : v4(rng));
  const eniSrc = a(), eniDst = a();
  const start = rng.int(1.4e9, 1.8e9);
  return {
    v6: six, eniSrc, eniDst, pktSrc: rng.chance(0.3) ? a() : eniSrc, pktDst: rng.chance(0.3) ? a() : eniDst,
    srcPort: rng.int(0, 65535), dstPort: rng.int(0, 65535), proto: rng.pick([1, 6, 17, 58, 50]),
    pkts: rng.int(1, 1e6), bytes: rng.int(0, 2 ** 40), start, end: start + rng.int(0, 600),
    action: rng.pick(['ACCEPT', 'REJECT', '-']), flags: rng.pick([0, 1, 2, 3, 4, 18, 19, 22]), direction: rng.pick(['ingress', 'egress', '-']),
    eni: `eni-${rng.u32().toString(16)}${rng.u32().toString(16)}`, instance: rng.chance(0.5) ? '-' : `i-${rng.u32().toString(16)}`,
    subnet: `subnet-${rng.u32().toString(16)}`, vpc: `vpc-${rng.u32().toString(16)}`,
  };
}
function render(t: Truth, fields: string[], version: number): string {
  const v: Record<string, string | number> = {
    'version': version, 'account-id': '123456789012', 'interface-id': t.eni, 'srcaddr': t.eniSrc, 'dstaddr': t.eniDst,
    'srcport': t.srcPort, 'dstport': t.dstPort, 'protocol': t.proto, 'packets': t.pkts, 'bytes': t.bytes, 'start': t.start, 'end': t.end,
    'action': t.action, 'log-status': 'OK', 'vpc-id': t.vpc, 'subnet-id': t.subnet, 'instance-id': t.instance, 'tcp-flags': t.flags,
    'type': t.v6 ? 'IPv6' : 'IPv4', 'pkt-srcaddr': t.pktSrc, 'pkt-dstaddr': t.pktDst, 'region': 'eu-west-1', 'az-id': 'euw1-az1',
    'sublocation-type': '-', 'sublocation-id': '-', 'pkt-src-aws-service': 'S3', 'pkt-dst-aws-service': '-', 'flow-direction': t.direction,
    'traffic-path': t.direction === 'egress' ? 1 : '-', 'reject-reason': t.action === 'REJECT' ? 'BPA' : '-',
  };
  return fields.map((f) => v[f] ?? (f.startsWith('ecs-') ? 'arn:aws:ecs:eu-west-1:123456789012:x/y' : '-')).join(' ');
}
function expect(t: Truth, fields: string[], fallback: number): Partial<Ev> {
  const has = (f: string) => fields.includes(f);
  const norm = (s: string) => { const a = parseAddress(s)!; return formatAddress(a.bytes, a.version); };
  const start = has('start') ? t.start : has('end') ? t.end : fallback;
  const end = has('end') ? t.end : has('start') ? t.start : fallback;
  let reporter = '';
  for (const [f, val] of [['interface-id', t.eni], ['instance-id', t.instance], ['subnet-id', t.subnet], ['vpc-id', t.vpc]] as const) {
    if (has(f) && val !== '-') { reporter = val; break; }
  }
  return {
    src: norm(has('pkt-srcaddr') ? t.pktSrc : t.eniSrc), dst: norm(has('pkt-dstaddr') ? t.pktDst : t.eniDst),
    srcPort: has('srcport') ? t.srcPort : 0, dstPort: has('dstport') ? t.dstPort : 0, proto: has('protocol') ? t.proto : 0,
    pkts: has('packets') ? t.pkts : 0, bytes: has('bytes') ? t.bytes : 0, start, end,
    action: has('action') ? ({ ACCEPT: ACTION.accept, REJECT: ACTION.reject, '-': ACTION.none } as const)[t.action as 'ACCEPT'] : ACTION.none,
    direction: has('flow-direction') ? ({ ingress: DIRECTION.ingress, egress: DIRECTION.egress, '-': DIRECTION.unknown } as const)[t.direction as 'ingress'] : 0,
    tcpFlags: has('tcp-flags') ? t.flags : 0, ipVersion: t.v6 ? 6 : 4, reporter,
  };
}
function randomFormat(rng: Rng): string[] {
  const pool = VPC_FIELDS.filter(() => rng.chance(rng.pick([0.2, 0.5, 0.9])));
  for (const need of [rng.pick(['srcaddr', 'pkt-srcaddr']), rng.pick(['dstaddr', 'pkt-dstaddr'])]) if (!pool.includes(need)) pool.push(need);
  for (let i = pool.length - 1; i > 0; i--) { const j = rng.int(0, i); [pool[i], pool[j]] = [pool[j]!, pool[i]!]; }
  return pool;
}
const pick = (e: Ev, keys: (keyof Ev)[]) => Object.fromEntries(keys.map((k) => [k, e[k]]));

test('custom formats: random field subsets v2–v8 in random orders, declared by option (seeded)', () => {
  const rng = new Rng('aws-custom-formats');
  for (let round = 0; round < 400; round++) {
    const fields = randomFormat(rng);
    const style = rng.int(0, 2);
    const decl = fields.map((f) => (style === 0 ? `\${${f}}` : style === 1 ? `\${${f.replace(/-/g, '_')}}` : f)).join(' ');
    const r = parseAwsFormat(decl);
    assert.ok(r.ok, decl);
    const fmt = (r as { format: AwsFormat }).format;
    const parser = new AwsVpcParser(fmt);
    for (let k = 0; k < 5; k++) {
      const t = truth(rng);
      const line = Buffer.from(render(t, fields, fmt.version));
      const res = parser.parse(line, 0, line.length, 1_600_000_000);
      assert.is(res, AWS_FLOW, `${decl}\n${line} → ${parser.errorKind} ${parser.errorMessage}`);
      const want = expect(t, fields, 1_600_000_000);
      assert.equal(pick(snap(parser.ev), Object.keys(want) as (keyof Ev)[]), want, `${decl}\n${line}`);
    }
  }
});

test('custom formats declared by the S3 header line, one format per file, header mid-file switches', async () => {
  const rng = new Rng('aws-header-formats');
  const dir = tempDir();
  try {
    const wants: Partial<Ev>[] = [];
    for (let fi = 0; fi < 30; fi++) {
      const fields = randomFormat(rng);
      const out = [fields.join(' ')];
      for (let k = 0; k < 4; k++) {
        const t = truth(rng);
        out.push(render(t, fields, 8));
        wants.push(expect(t, fields, 0));
      }
      writeFileSync(join(dir, `f${String(fi).padStart(2, '0')}.log`), `${out.join('\n')}\n`);
    }
    const { sink, sum } = await read(dir);
    assert.equal(sink.kinds(), []);
    assert.equal([sum.files, sum.headers, sum.records], [30, 30, 120]);
    sink.events.forEach((e, i) => {
      const w = wants[i]!;
      if (w.start === 0) { delete w.start; delete w.end; } // no time fields: the file's time
      assert.equal(pick(e, Object.keys(w) as (keyof Ev)[]), w, `record ${i}`);
    });
    // Two S3 objects concatenated (cat a b): the second header takes over mid-file.
    const a = `srcaddr dstaddr packets\n1.1.1.1 2.2.2.2 5\n`;
    const b = `packets dstaddr srcaddr interface-id\n7 4.4.4.4 3.3.3.3 eni-b\n`;
    const both = await readText(a + b);
    assert.equal(both.sink.events.map((e) => [e.src, e.dst, e.pkts, e.reporter]), [['1.1.1.1', '2.2.2.2', 5, ''], ['3.3.3.3', '4.4.4.4', 7, 'eni-b']]);
    // A file without a header does not inherit the previous file's.
    const d2 = join(dir, 'two');
    mkdirSync(d2);
    writeFileSync(join(d2, 'a.log'), a);
    writeFileSync(join(d2, 'b.log'), '2 1 eni-x 5.5.5.5 6.6.6.6 1 2 17 3 300 1600000000 1600000001 ACCEPT OK\n');
    const two = await read(d2);
    assert.equal(two.sink.events.map((e) => [e.src, e.proto]), [['1.1.1.1', 0], ['5.5.5.5', 17]]);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('pkt-srcaddr "-" falls back to srcaddr; "-" counters and ports read as 0; one time field copies to the other', () => {
  const r = parseAwsFormat('srcaddr dstaddr pkt-srcaddr pkt-dstaddr srcport packets start');
  assert.ok(r.ok);
  const p = new AwsVpcParser((r as { format: AwsFormat }).format);
  const line = Buffer.from('10.0.0.1 10.0.0.2 - 192.0.2.9 - - 1600000000');
  assert.is(p.parse(line, 0, line.length), AWS_FLOW);
  assert.equal(pick(snap(p.ev), ['src', 'dst', 'srcPort', 'pkts', 'start', 'end']), { src: '10.0.0.1', dst: '192.0.2.9', srcPort: 0, pkts: 0, start: 1600000000, end: 1600000000 });
});

// ---- bad input through the reader ----

const GOOD = '2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK';

test('bad lines: each rejected with its kind and line number, the rest still read', async () => {
  const bad: [string, string][] = [
    ['2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT', 'wrong_field_count'],
    [`${GOOD} extra`, 'wrong_field_count'],
    ['2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 twenty 4249 1418530010 1418530070 ACCEPT OK', 'bad_number'],
    ['2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 -5 1418530010 1418530070 ACCEPT OK', 'bad_number'],
    ['2 123456789010 eni-1 172.31.16.139 172.31.16.21 70000 22 6 20 42 1418530010 1418530070 ACCEPT OK', 'bad_number'],
    ['2 123456789010 eni-1 172.31.16.139 172.31.16.21 1 22 256 20 42 1418530010 1418530070 ACCEPT OK', 'bad_number'],
    ['2 123456789010 eni-1 172.31.16.139 172.31.16.21 1 22 6 99999999999999999999 42 1418530010 1418530070 ACCEPT OK', 'bad_number'],
    ['2 123456789010 eni-1 172.31.16.300 172.31.16.21 1 22 6 20 42 1418530010 1418530070 ACCEPT OK', 'bad_address'],
    ['2 123456789010 eni-1 fe80::1%eth0 ::1 1 22 6 20 42 1418530010 1418530070 ACCEPT OK', 'bad_address'],
    ['2 123456789010 eni-1 10.0.0.1 ::1 1 22 6 20 42 1418530010 1418530070 ACCEPT OK', 'bad_address'],
    ['2 123456789010 eni-1 - 172.31.16.21 1 22 6 20 42 1418530010 1418530070 ACCEPT OK', 'missing_address'],
    ['2 123456789010 eni-1 10.0.0.1 172.31.16.21 1 22 6 20 42 1418530010 1418530070 MAYBE OK', 'bad_value'],
    ['2 123456789010 eni-1 10.0.0.1 172.31.16.21 1 22 6 20 42 1418530010 1418530070 ACCEPT FINE', 'bad_value'],
    ['2 123456789010 eni-1 10.0.0.1 172.31.16.21 1 22 6 20 42 1418530070 1418530010 ACCEPT OK', 'bad_time_range'],
    ['2 123456789010 eni-1 10.0.0.1 172.31.16.21 1 22 6 20 42 - - ACCEPT OK', ''], // no times: file time
    ['\x00\xff\xfe garbage \x01\x02', 'wrong_field_count'],
    ['2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA', 'skipped_data'],
  ];
  const text = [GOOD, ...bad.map((b) => b[0]), '', '   ', GOOD].join('\n');
  const { sink, sum } = await readText(Buffer.from(text, 'latin1'));
  const wantKinds = bad.map((b) => b[1]).filter((k) => k !== '');
  assert.equal(sink.kinds(), wantKinds);
  assert.equal(sink.rejects.map((r) => r.line), bad.map((b, i) => [b[1], i + 2] as const).filter(([k]) => k !== '').map(([, l]) => l));
  assert.is(sum.records, 3);
  assert.is(sum.lines, bad.length + 4);
  assert.is(sum.lines, accounted(sum) + 2, 'two blank lines');
  for (const r of sink.rejects) assert.ok(r.message.length > 0 && r.input.endsWith('flows.log') && typeof r.offset === 'number');
});

test('truncated last line, huge line, gzip, directory order, missing input', async () => {
  const trunc = await readText(`${GOOD}\n${GOOD.slice(0, 60)}`);
  assert.equal([trunc.sum.records, trunc.sink.kinds()], [1, ['wrong_field_count']]);

  const huge = await readText(`${GOOD}\n${'9'.repeat(200_000)}\n${GOOD}\n`);
  assert.equal([huge.sum.records, huge.sink.kinds(), huge.sink.rejects[0]!.line], [2, ['line_too_long'], 2]);

  const gz = await readText(gzipSync(`version srcaddr dstaddr\n2 10.0.0.1 10.0.0.2\n`), {}, 'x.log.gz');
  assert.equal(gz.sink.events.map((e) => [e.src, e.dst]), [['10.0.0.1', '10.0.0.2']]);
  const bad = Buffer.from(gzipSync(`${GOOD}\n`.repeat(2000))); bad.fill(0, 30, 60);
  const corrupt = await readText(bad, {}, 'bad.gz');
  assert.ok(corrupt.sink.kinds().includes('corrupt_gzip'));

  const dir = tempDir();
  try {
    const line = (i: number) => GOOD.replace('20641', String(i));
    for (const [p, i] of [['b/2.log', 3], ['a/1.log.gz', 1], ['a/10.log', 2], ['c.log', 4]] as const) {
      mkdirSync(join(dir, p, '..'), { recursive: true });
      writeFileSync(join(dir, p), p.endsWith('.gz') ? gzipSync(`${line(i)}\n`) : `${line(i)}\n`);
    }
    const { sink, sum } = await read(dir);
    assert.equal(sink.events.map((e) => e.srcPort), [1, 2, 3, 4]);
    assert.is(sum.files, 4);
    const missing = await read(join(dir, 'nope'));
    assert.equal(missing.sink.kinds(), ['unreadable_input']);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('stdin ("-") through a child process', () => {
  const script = `
    import { readAwsVpc } from './sensor/flowlogs/aws-vpc-reader.ts';
    const got = [];
    const sum = await readAwsVpc('-', { emit: (e) => got.push(e.srcPort), reject: (r) => got.push(r.kind) });
    console.log(JSON.stringify({ got, records: sum.records }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT, input: gzipSync(`${GOOD}\nnot a record\n${GOOD.replace('20641', '7')}\n`),
  });
  assert.is(r.status, 0, r.stderr.toString());
  assert.equal(JSON.parse(r.stdout.toString()), { got: [20641, 'wrong_field_count', 7], records: 2 });
});

test('file time: S3 object name, else mtime', () => {
  assert.is(awsFileTime('/x/123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz'), Date.UTC(2018, 5, 20, 16, 20) / 1000);
  assert.is(awsFileTime('-', 1234.5), 1234);
});

// ---- parser internals ----

test('ipv6 bytes parser agrees with parseAddress (seeded)', () => {
  const rng = new Rng('aws-ipv6');
  const alphabet = '0123456789abcdefABCDEF:.::';
  for (let i = 0; i < 20000; i++) {
    let s: string;
    if (rng.chance(0.5)) s = v6(rng);
    else if (rng.chance(0.3)) s = `::ffff:${v4(rng)}`;
    else { s = ''; const n = rng.int(0, 20); for (let k = 0; k < n; k++) s += alphabet[rng.int(0, alphabet.length - 1)]; }
    if (rng.chance(0.3) && s.length > 0) { const p = rng.int(0, s.length - 1); s = s.slice(0, p) + alphabet[rng.int(0, alphabet.length - 1)] + s.slice(p + 1); }
    const want = parseAddress(s);
    const out = new Uint8Array(16);
    const ok = ipv6(Buffer.from(s, 'latin1'), 0, s.length, out);
    const w = want !== null && want.version === 6;
    assert.is(ok, w, s);
    if (ok) assert.equal([...out], [...want!.bytes], s);
  }
});

test('reporter interning: equal bytes give the same string, collisions are told apart', () => {
  const it = new ByteInterner(4);
  const ids = Array.from({ length: 50 }, (_, i) => `eni-${i.toString(16).padStart(17, '0')}`);
  for (let round = 0; round < 3; round++) {
    for (const id of ids) {
      const b = Buffer.from(`xx ${id} yy`);
      assert.is(it.get(b, 3, 3 + id.length), id);
    }
  }
  const before = it.misses;
  const b = Buffer.from(ids[7]!);
  it.get(b, 0, b.length); it.get(b, 0, b.length); it.get(b, 0, b.length);
  assert.ok(it.misses <= before + 1, 'repeated id: at most one miss');
});

// ---- seeded fuzz ----

const TOKENS = ['-', '0', '65536', '256', '99999999999999999', '1.2.3.4', '1.2.3', '::', '::1', 'fe80::1', 'ACCEPT', 'REJECT', 'NODATA',
  'SKIPDATA', 'OK', 'ingress', 'egress', 'x', '', '\t', '  ', '{', 'version', 'srcaddr', '١٢٣', '4294967296', '-1', '1e5', '0x10'];

function mutate(rng: Rng, line: string): string {
  let s = line;
  for (let m = rng.int(1, 3); m > 0; m--) {
    const f = s.split(' ');
    switch (rng.int(0, 6)) {
      case 0: { // byte flip
        if (s.length === 0) break;
        const p = rng.int(0, s.length - 1);
        s = s.slice(0, p) + String.fromCharCode(rng.int(0, 255)) + s.slice(p + 1);
        break;
      }
      case 1: s = s.slice(0, rng.int(0, s.length)); break; // truncation
      case 2: { const i = rng.int(0, f.length - 1), j = rng.int(0, f.length - 1); [f[i], f[j]] = [f[j]!, f[i]!]; s = f.join(' '); break; } // field swap
      case 3: f.splice(rng.int(0, f.length - 1), 1); s = f.join(' '); break; // field dropped
      case 4: f.splice(rng.int(0, f.length), 0, rng.pick(TOKENS)); s = f.join(' '); break; // field added
      case 5: f[rng.int(0, f.length - 1)] = rng.pick(TOKENS); s = f.join(' '); break; // field replaced
      default: s = s.replace(/ /g, rng.chance(0.5) ? '  ' : '\t'); break;
    }
  }
  return s.replace(/\n/g, ' ');
}

function sane(e: Ev, what: string): void {
  assert.ok(e.ipVersion === 4 || e.ipVersion === 6, what);
  assert.ok(e.src !== '' && e.dst !== '', what);
  for (const n of [e.pkts, e.bytes, e.start, e.end]) assert.ok(Number.isFinite(n) && n >= 0 && Number.isInteger(n), `${what}: ${n}`);
  assert.ok(e.end >= e.start, what);
  assert.ok(e.srcPort <= 65535 && e.dstPort <= 65535 && e.proto <= 255 && e.tcpFlags <= 255, what);
  assert.ok(e.action <= 2 && e.direction <= 2 && e.source === SOURCE.aws_vpc && !e.bidir && e.sampling === 1, what);
}

function seedLines(rng: Rng, n: number): string[] {
  const t = () => truth(rng);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = rng.int(0, 9);
    if (k === 0) out.push('2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA');
    else if (k === 1) out.push('2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA');
    else out.push(render(t(), [...AWS_DEFAULT_FIELDS], 2));
  }
  return out;
}

test('fuzz: mutated default-format lines never throw, each line one outcome, emitted events sane (seeded)', async () => {
  const rng = new Rng('aws-fuzz');
  const base = seedLines(rng, 400);
  const lines: string[] = [];
  for (let i = 0; i < 6000; i++) lines.push(rng.chance(0.2) ? rng.pick(base) : mutate(rng, rng.pick(base)));
  // Parser level: one result per line, never a throw; the fast path agrees with the general parser.
  const fast = new AwsVpcParser(), general = new AwsVpcParser();
  // count the lines the fast path hands over: the rest it decided on its own
  let fellBack = 0;
  const generalOf = AwsVpcParser.prototype.parseGeneral;
  fast.parseGeneral = function (this: AwsVpcParser, ...args: Parameters<AwsVpcParser['parseGeneral']>) { fellBack++; return generalOf.apply(this, args); };
  const outcomes = [0, 0, 0, 0, 0];
  let fastFlows = 0;
  for (const l of lines) {
    const b = Buffer.from(l, 'latin1');
    const before = fellBack;
    const a = fast.parse(b, 0, b.length, 1_500_000_000);
    const g = general.parseGeneral(b, 0, b.length, 1_500_000_000);
    assert.is(a, g, l);
    assert.ok(fellBack - before <= 1, 'one fallback at most per line');
    if (fellBack === before) { assert.is(a, AWS_FLOW, `the fast path only accepts, else falls back: ${l}`); fastFlows++; }
    outcomes[a]!++;
    if (a === AWS_FLOW) {
      assert.equal(snap(fast.ev), snap(general.ev), l);
      sane(snap(fast.ev), l);
    } else if (a === AWS_ERROR) {
      assert.is(fast.errorKind, general.errorKind, l);
      assert.ok(fast.errorKind !== '' && fast.errorMessage !== '');
    }
  }
  assert.ok(outcomes[AWS_FLOW]! > 1000 && outcomes[AWS_ERROR]! > 1000 && outcomes[AWS_NODATA]! > 10, JSON.stringify(outcomes));
  // this seed gives [1413, 298, 285, 3913, 91] outcomes, 671 lines accepted by the fast path alone
  assert.ok(outcomes[AWS_SKIPDATA]! > 100 && outcomes[AWS_BLANK]! > 30, JSON.stringify(outcomes));
  assert.ok(fastFlows > 400, `only ${fastFlows} lines taken by the fast path without falling back`);
  assert.is(fastFlows + fellBack, lines.length);

  // Reader level: every line accounted for exactly once.
  const { sink, sum } = await readText(Buffer.from(lines.join('\n'), 'latin1'));
  assert.is(sum.lines, lines.length);
  const blank = lines.filter((l) => l.trim() === '').length;
  assert.ok(sum.lines >= accounted(sum) && sum.lines - accounted(sum) <= blank, `${JSON.stringify(sum)} blank ${blank}`);
  assert.is(sink.events.length, sum.records);
  assert.is(sink.rejects.length, sum.rejected);
  sink.events.forEach((e, i) => sane(e, `event ${i}`));
});

test('fuzz: random bytes and random custom formats (seeded)', () => {
  const rng = new Rng('aws-fuzz-bytes');
  for (let round = 0; round < 200; round++) {
    const fields = randomFormat(rng);
    const fmt = (parseAwsFormat(fields.join(' ')) as { format: AwsFormat }).format;
    const p = new AwsVpcParser(fmt);
    const good = render(truth(rng), fields, 8);
    for (let k = 0; k < 20; k++) {
      const l = k < 5 ? Buffer.from(Array.from({ length: rng.int(0, 300) }, () => rng.int(0, 255))) : Buffer.from(mutate(rng, good), 'latin1');
      const r = p.parse(l, 0, l.length);
      const g = new AwsVpcParser(fmt).parseGeneral(l, 0, l.length);
      assert.is(r, g);
      if (r === AWS_FLOW) sane(snap(p.ev), l.toString('latin1'));
    }
  }
});

test.run();
