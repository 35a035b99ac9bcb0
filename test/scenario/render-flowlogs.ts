// Generated connections → cloud flow logs, from the same packet plans and the
// same capture-time walk as the capture (packet-schedule.ts), aggregated the
// way the cloud aggregates, so every packet and IP byte of the capture is in
// the flow log exactly once per reporting interface.
//
// Who reports a connection: every INTERNAL end (isInternal, default the
// sensor's local networks) has an interface (AWS ENI, Azure NIC) that logs
// all its packets, both directions. A connection between two internal hosts
// is therefore logged twice, as the clouds do; the sensor's flow-event
// merger counts each direction from the first interface that reported it and
// drops the other's copy (`deduped`), so it still yields one flow with the
// capture's counts (the copy only widens the flow's time span: with AWS
// window times a flow starts at its earliest window, up to a minute before
// the first packet). A connection with no internal end (which a VPC would
// not see) is logged by one "transit" interface rather than silently lost.
//
// AWS VPC flow logs (AwsFlowLogRenderer): one record per interface, per
// direction, per aggregation interval (60 s by default, or 600), as text with
// the S3 header line, in a version-5 custom format (tcp-flags,
// flow-direction, traffic-path, pkt-srcaddr/pkt-dstaddr …). Capture windows
// are per interface, each with its own phase (AWS's are not aligned to the
// minute); `start`/`end` are the window's bounds (times: 'window', the
// default, as AWS writes them) or the first/last packet's second
// (times: 'packets'). packets/bytes count IP packets and IP total lengths;
// tcp-flags OR FIN 1, SYN 2, RST 4 and SYN-ACK 18 over the window (AWS never
// reports a bare ACK or PSH); action ACCEPT, log-status OK. ICMP has ports 0 0.
// Within an interface's window the originator's direction is written first:
// the merger takes the first record's sender as originator where flags and
// ports cannot tell (ICMP, UDP between two high ports).
//
// Azure VNet flow logs (AzureFlowLogRenderer): flowLogVersion 4 records of
// `flowRecords.flows[].flowGroups[].flowTuples`, one record per NIC per
// minute (Azure writes blocks every minute), tuples in initiator order
// (src = originator) with `I`/`O` as seen by the NIC: B at the first packet
// (counters 0,0,0,0 as in the docs' sample), C every 5 minutes of the flow's
// life (Azure's documented cadence) and E at its last packet, each C/E with
// packets and bytes both ways since the previous tuple. Times are epoch ms.
// Azure ends a flow on its own timeouts; E at the last packet keeps the
// flow's end equal to the capture's. By default one blob; `hourly` writes
// one `…/y=/m=/d=/h=/m=00/PT1H.json` per hour holding every NIC (Azure writes
// one blob per NIC and hour; read in sorted order those would be up to an
// hour apart, beyond the merger's default lateness window).
//
// Records are written in time order (by window / minute end), held back until
// the walk is past them — a record can only complete when its connection's
// next packet (at most MAX_GAP_S later) or end is seen.
//
// Flow logs carry no payload, MACs or VLANs: that is expected.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as Frames from '../../sensor/sample/frames.ts';
import type { Conn } from './conn.ts';
import * as Plan from './packet-plan.ts';
import type { PacketPlan } from './packet-plan.ts';
import { PacketSchedule, type OpenConn } from './packet-schedule.ts';

// Imported bindings read once (a getter call per use from a CommonJS entry under tsx: see render-pcap.ts).
const { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } = Frames;
const { MAX_GAP_S, ipLength, isInternalAddress } = Plan;

export interface FlowLogRenderOptions {
  /** which addresses have a reporting interface (default: the sensor's default local networks) */
  isInternal?: (addr: string) => boolean;
  /** gzip the output (as S3 and blob downloads often are); default false */
  gzip?: boolean;
}

export interface AwsRenderOptions extends FlowLogRenderOptions {
  /** aggregation interval, seconds: 60 (default; Nitro) or 600 */
  interval?: number;
  /** start/end: the capture window's bounds (default) or the first/last packet's second */
  times?: 'window' | 'packets';
  accountId?: string;
  region?: string;
}

export interface AzureRenderOptions extends FlowLogRenderOptions {
  /** seconds between C tuples of a flow (default 300) */
  continueEvery?: number;
  /** `path` is a directory with one PT1H.json per hour (default: `path` is one blob) */
  hourly?: boolean;
  subscription?: string;
}

export interface FlowLogStats {
  conns: number;
  packets: number;
  /** AWS: record lines; Azure: flow tuples */
  records: number;
  /** Azure: JSON records (blocks) */
  blocks: number;
  files: string[];
  /** records that came after their time slot was already written (0 for plans that respect MAX_GAP_S) */
  late: number;
}

/** The version-5 custom format written (the S3 header line). */
export const AWS_FORMAT = [
  'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes',
  'start', 'end', 'action', 'log-status', 'vpc-id', 'subnet-id', 'instance-id', 'tcp-flags', 'type',
  'pkt-srcaddr', 'pkt-dstaddr', 'region', 'az-id', 'flow-direction', 'traffic-path',
] as const;

// ---------------------------------------------------------------- reporters

/** role: which end's interface it is (0 originator, 1 responder) or 2 for the transit interface. */
interface Reporter { addr: string; role: 0 | 1 | 2; key: string }

function reportersOf(conn: Conn, isInternal: (a: string) => boolean): Reporter[] {
  const out: Reporter[] = [];
  if (isInternal(conn.orig_h)) out.push({ addr: conn.orig_h, role: 0, key: conn.orig_h });
  if (isInternal(conn.resp_h)) out.push({ addr: conn.resp_h, role: 1, key: conn.resp_h });
  if (out.length === 0) out.push({ addr: '', role: 2, key: 'transit' });
  return out;
}

/** Stable 32-bit hash of text (FNV-1a), for ids and window phases. */
function h32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
const hex = (n: number, w: number) => n.toString(16).padStart(w, '0').slice(-w);
/** 17 hex digits as AWS resource ids have them. */
const awsId = (prefix: string, key: string) => `${prefix}-0${hex(h32(key), 8)}${hex(h32(`~${key}`), 8)}`;

// ---------------------------------------------------------------- ordered output

/**
 * Items in time slots (slot k covers seconds [k·unit, (k+1)·unit)), written in
 * slot order once the walk is `delay` seconds past a slot's end.
 */
class SlotOutput {
  private readonly slots = new Map<number, string[]>();
  /** seconds: every slot ending by then has been written */
  private writtenThrough = -Infinity;
  private nextCheck = -Infinity;
  late = 0;
  constructor(private readonly unit: number, private readonly delay: number, private readonly write: (slot: number, items: string[]) => void) {}

  add(slot: number, item: string): void {
    if ((slot + 1) * this.unit <= this.writtenThrough) { this.late++; this.write(slot, [item]); return; }
    let a = this.slots.get(slot);
    if (!a) { a = []; this.slots.set(slot, a); }
    a.push(item);
  }

  /** The walk reached second `sec` (checked every few seconds of capture time). */
  advance(sec: number): void {
    if (sec < this.nextCheck) return;
    this.nextCheck = sec + 10;
    this.flush(sec - this.delay);
  }

  /** Write every slot ending by `sec`. */
  flush(sec: number): void {
    const keys = [...this.slots.keys()].filter((k) => (k + 1) * this.unit <= sec).sort((a, b) => a - b);
    for (const k of keys) { this.write(k, this.slots.get(k)!); this.slots.delete(k); }
    if (sec > this.writtenThrough) this.writtenThrough = sec;
  }
}

/** A file written in large chunks (optionally as gzip members). */
class ChunkFile {
  private readonly fd: number;
  private parts: string[] = [];
  private size = 0;
  constructor(readonly path: string, private readonly gzip: boolean) {
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'w');
  }
  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size > 1 << 20) this.flush();
  }
  private flush(): void {
    if (this.size === 0) return;
    let b: Uint8Array = Buffer.from(this.parts.join(''), 'utf8');
    if (this.gzip) b = gzipSync(b);
    let done = 0;
    while (done < b.length) done += writeSync(this.fd, b, done, b.length - done);
    this.parts = []; this.size = 0;
  }
  close(): void { this.flush(); closeSync(this.fd); }
}

// ---------------------------------------------------------------- AWS

interface AwsSide { pkts: number; bytes: number; flags: number; first: number; last: number }
/** One reporting interface of an open connection: its window, counters, and its records' fixed text per direction. */
interface AwsIface { phase: number; win: number; side: [AwsSide, AwsSide]; head: [string, string]; mid: string; tail: [string, string] }

const newSide = (): AwsSide => ({ pkts: 0, bytes: 0, flags: 0, first: 0, last: 0 });

/** AWS reports ACK only as part of SYN-ACK (18). */
function awsFlags(f: number): number {
  return (f & TCP_SYN) && (f & TCP_ACK) ? 18 : f & (TCP_FIN | TCP_SYN | TCP_RST);
}

export class AwsFlowLogRenderer {
  private readonly schedule: PacketSchedule<AwsIface[]>;
  private readonly out: ChunkFile;
  private readonly slots: SlotOutput;
  private readonly interval: number;
  private readonly windowTimes: boolean;
  private readonly isInternal: (a: string) => boolean;
  private readonly account: string;
  private readonly region: string;
  private readonly vpc: string;
  private records = 0;

  constructor(readonly path: string, opts: AwsRenderOptions = {}) {
    this.interval = opts.interval ?? 60;
    if (!Number.isInteger(this.interval) || this.interval < 1) throw new Error(`interval must be whole seconds, got ${this.interval}`);
    this.windowTimes = (opts.times ?? 'window') === 'window';
    this.isInternal = opts.isInternal ?? isInternalAddress;
    this.account = opts.accountId ?? '123456789012';
    this.region = opts.region ?? 'eu-west-1';
    this.vpc = awsId('vpc', 'scenario');
    this.out = new ChunkFile(path, opts.gzip ?? false);
    this.out.write(AWS_FORMAT.join(' ') + '\n');
    this.slots = new SlotOutput(1, this.interval + 2 * MAX_GAP_S, (_slot, lines) => { for (const l of lines) this.out.write(l); });
    this.schedule = new PacketSchedule<AwsIface[]>({
      open: (conn, plan) => reportersOf(conn, this.isInternal).map((rep) => this.iface(conn, plan, rep)),
      packet: (c, i, tNs) => this.packet(c, i, tNs),
      close: (c) => { for (const f of c.state) this.emit(c, f); },
    });
  }

  add(conn: Conn): void { this.schedule.add(conn); }

  finish(): FlowLogStats {
    this.schedule.finish();
    this.slots.flush(Infinity);
    this.out.close();
    return { conns: this.schedule.conns, packets: this.schedule.packets, records: this.records, blocks: 0, files: [this.path], late: this.slots.late };
  }

  private packet(c: OpenConn<AwsIface[]>, i: number, tNs: number): void {
    const plan = c.plan;
    const t = this.schedule.baseSec + tNs / 1e9;
    const sec = this.schedule.baseSec + Math.floor(tNs / 1e9);
    const d = plan.dir[i]!;
    for (const f of c.state) {
      const w = Math.floor((sec - f.phase) / this.interval);
      if (w !== f.win) { this.emit(c, f); f.win = w; }
      const s = f.side[d]!;
      if (s.pkts === 0) s.first = t;
      s.pkts++;
      s.bytes += ipLength(plan, i);
      s.flags |= awsFlags(plan.flags[i]!);
      s.last = t;
    }
    this.slots.advance(sec);
  }

  /** Write the interface's records of its current window (originator's direction first) and reset it. */
  private emit(c: OpenConn<AwsIface[]>, f: AwsIface): void {
    const wStart = f.win * this.interval + f.phase;
    for (let d = 0; d < 2; d++) {
      const s = f.side[d]!;
      if (s.pkts === 0) continue;
      const start = this.windowTimes ? wStart : Math.floor(s.first);
      const end = this.windowTimes ? wStart + this.interval : Math.ceil(s.last);
      this.slots.add(end, `${f.head[d]}${s.pkts} ${s.bytes} ${start} ${end}${f.mid}${s.flags}${f.tail[d]}`);
      this.records++;
      f.side[d] = newSide();
    }
  }

  /** An interface's fixed parts of its records (computed once per connection, not per record). */
  private iface(conn: Conn, plan: PacketPlan, rep: Reporter): AwsIface {
    const eni = awsId('eni', rep.key);
    const subnet = rep.role === 2 ? '-' : awsId('subnet', subnetKey(rep.addr));
    const instance = rep.role === 2 ? '-' : awsId('i', rep.key);
    const az = `${this.region.slice(0, 2)}w1-az${1 + (h32(subnet) % 3)}`;
    const ports = plan.ipProto === 6 || plan.ipProto === 17;
    const head: [string, string] = ['', ''], tail: [string, string] = ['', ''];
    for (let d = 0; d < 2; d++) {
      const src = d === 0 ? conn.orig_h : conn.resp_h, dst = d === 0 ? conn.resp_h : conn.orig_h;
      const sport = ports ? (d === 0 ? conn.orig_p : conn.resp_p) : 0, dport = ports ? (d === 0 ? conn.resp_p : conn.orig_p) : 0;
      // Relative to the interface: its own packets leave it (egress), the peer's arrive (ingress).
      const egress = rep.role === 2 ? d === 1 : rep.role === d;
      const path = egress ? (rep.role !== 2 && this.isInternal(dst) ? '1' : '8') : '-';
      head[d] = `5 ${this.account} ${eni} ${src} ${dst} ${sport} ${dport} ${plan.ipProto} `;
      tail[d] = ` ${plan.v6 ? 'IPv6' : 'IPv4'} ${src} ${dst} ${this.region} ${az} ${egress ? 'egress' : 'ingress'} ${path}\n`;
    }
    return { phase: h32(eni) % this.interval, win: NaN, side: [newSide(), newSide()], head, mid: ` ACCEPT OK ${this.vpc} ${subnet} ${instance} `, tail };
  }
}

/** The /24 (IPv4) or /64 (IPv6) an address is in: one subnet id per such prefix. */
function subnetKey(addr: string): string {
  return addr.includes(':') ? addr.split(':').slice(0, 4).join(':') : addr.split('.').slice(0, 3).join('.');
}

// ---------------------------------------------------------------- Azure

interface AzureFlow {
  /** the reporting NICs: MAC, the connection's direction as each sees it, the rule that allowed it */
  reps: { mac: string; dirLetter: 'I' | 'O'; rule: string }[];
  /** packets / bytes each way since the previous tuple */
  pkts: [number, number];
  bytes: [number, number];
  /** ns (after baseSec) of the next C tuple */
  nextC: number;
  lastNs: number;
}

export class AzureFlowLogRenderer {
  private readonly schedule: PacketSchedule<AzureFlow>;
  private readonly slots: SlotOutput;
  private readonly isInternal: (a: string) => boolean;
  private readonly continueNs: number;
  private readonly hourly: boolean;
  private readonly gzip: boolean;
  private readonly sub: string;
  private file: ChunkFile | null = null;
  private fileHour = NaN;
  private fileRecords = 0;
  private readonly files: string[] = [];
  private tuples = 0;
  private blocks = 0;

  constructor(readonly path: string, opts: AzureRenderOptions = {}) {
    this.isInternal = opts.isInternal ?? isInternalAddress;
    this.continueNs = (opts.continueEvery ?? 300) * 1e9;
    this.hourly = opts.hourly ?? false;
    this.gzip = opts.gzip ?? false;
    this.sub = opts.subscription ?? '00000000-0000-0000-0000-00000000000a';
    // Slots are minutes; a tuple is made at most MAX_GAP_S after its time (a C due in a quiet spell).
    this.slots = new SlotOutput(60, 2 * MAX_GAP_S, (minute, items) => this.writeMinute(minute, items));
    this.schedule = new PacketSchedule<AzureFlow>({
      open: (conn) => ({
        reps: reportersOf(conn, this.isInternal).map((rep) => {
          const dirLetter = rep.role === 0 ? 'O' as const : 'I' as const;
          return { mac: azureMac(rep.key), dirLetter, rule: ruleFor(dirLetter, this.isInternal(dirLetter === 'O' ? conn.resp_h : conn.orig_h)) };
        }),
        pkts: [0, 0], bytes: [0, 0], nextC: NaN, lastNs: 0,
      }),
      packet: (c, i, tNs) => this.packet(c, i, tNs),
      close: (c) => this.tuple(c, 'E', c.state.lastNs),
    });
  }

  add(conn: Conn): void { this.schedule.add(conn); }

  finish(): FlowLogStats {
    this.schedule.finish();
    this.slots.flush(Infinity);
    if (!this.hourly && this.files.length === 0) this.openFile(this.path); // no traffic: still an (empty) blob
    this.closeFile();
    return { conns: this.schedule.conns, packets: this.schedule.packets, records: this.tuples, blocks: this.blocks, files: this.files, late: this.slots.late };
  }

  private packet(c: OpenConn<AzureFlow>, i: number, tNs: number): void {
    const f = c.state;
    if (i === 0) { this.tuple(c, 'B', tNs); f.nextC = tNs + this.continueNs; }
    while (f.nextC <= tNs) { this.tuple(c, 'C', f.nextC); f.nextC += this.continueNs; }
    const d = c.plan.dir[i]!;
    f.pkts[d] = f.pkts[d]! + 1;
    f.bytes[d] = f.bytes[d]! + ipLength(c.plan, i);
    f.lastNs = tNs;
    this.slots.advance(this.schedule.baseSec + Math.floor(tNs / 1e9));
  }

  /** One tuple per reporting NIC; C and E carry (and reset) the counters. */
  private tuple(c: OpenConn<AzureFlow>, state: 'B' | 'C' | 'E', tNs: number): void {
    const f = c.state, conn = c.conn, plan = c.plan;
    const ms = this.schedule.baseSec * 1000 + Math.floor(tNs / 1e6);
    const ports = plan.ipProto === 6 || plan.ipProto === 17;
    const counters = state === 'B' ? '0,0,0,0' : `${f.pkts[0]},${f.bytes[0]},${f.pkts[1]},${f.bytes[1]}`;
    if (state !== 'B') { f.pkts = [0, 0]; f.bytes = [0, 0]; }
    const body = `${conn.orig_h},${conn.resp_h},${ports ? conn.orig_p : 0},${ports ? conn.resp_p : 0},${plan.ipProto}`;
    for (const r of f.reps) {
      // item: NIC, rule, tuple — grouped into one record per NIC when the minute is written
      this.slots.add(Math.floor(ms / 60000), `${r.mac}\t${r.rule}\t${ms},${body},${r.dirLetter},${state},NX,${counters}`);
      this.tuples++;
    }
  }

  /** One record per NIC with this minute's tuples, grouped by rule. */
  private writeMinute(minute: number, items: string[]): void {
    const byNic = new Map<string, Map<string, string[]>>();
    for (const it of items) {
      const [mac, rule, tuple] = it.split('\t') as [string, string, string];
      let rules = byNic.get(mac);
      if (!rules) { rules = new Map(); byNic.set(mac, rules); }
      let list = rules.get(rule);
      if (!list) { list = []; rules.set(rule, list); }
      list.push(tuple);
    }
    const time = new Date((minute + 1) * 60000).toISOString().replace(/Z$/, '0000Z'); // Azure's 7 fractional digits
    for (const [mac, rules] of byNic) {
      const rec = {
        time, flowLogVersion: 4, flowLogGUID: guidOf('flowlog'), macAddress: mac, category: 'FlowLogFlowEvent',
        flowLogResourceID: `/SUBSCRIPTIONS/${this.sub.toUpperCase()}/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTEUROPE/FLOWLOGS/SCENARIO`,
        targetResourceID: `/subscriptions/${this.sub}/resourceGroups/scenario/providers/Microsoft.Network/virtualNetworks/scenario-vnet`,
        operationName: 'FlowLogFlowEvent',
        flowRecords: { flows: [{ aclID: guidOf('nsg'), flowGroups: [...rules].map(([rule, flowTuples]) => ({ rule, flowTuples })) }] },
      };
      this.record(minute, JSON.stringify(rec));
    }
  }

  private record(minute: number, json: string): void {
    const hour = Math.floor(minute / 60);
    if (!this.file || (this.hourly && hour !== this.fileHour)) {
      this.closeFile();
      const d = new Date(hour * 3600_000);
      const p2 = (n: number) => String(n).padStart(2, '0');
      const file = this.hourly
        ? join(this.path, `y=${d.getUTCFullYear()}`, `m=${p2(d.getUTCMonth() + 1)}`, `d=${p2(d.getUTCDate())}`, `h=${p2(d.getUTCHours())}`, 'm=00', `PT1H.json${this.gzip ? '.gz' : ''}`)
        : this.path;
      this.openFile(file);
      this.fileHour = hour;
    }
    this.file!.write((this.fileRecords++ ? ',\n' : '\n') + json);
    this.blocks++;
  }

  private openFile(file: string): void {
    this.file = new ChunkFile(file, this.gzip);
    this.files.push(file);
    this.fileRecords = 0;
    this.file.write('{"records":[');
  }

  private closeFile(): void {
    if (!this.file) return;
    this.file.write('\n]}\n');
    this.file.close();
    this.file = null;
  }
}

/** Azure NIC MAC (as in the records: 12 hex digits, no separators) for an address. */
function azureMac(key: string): string {
  return `002248${hex(h32(key), 6).toUpperCase()}`;
}

function guidOf(key: string): string {
  const a = hex(h32(key), 8), b = hex(h32(`${key}/1`), 8), c = hex(h32(`${key}/2`), 8), d = hex(h32(`${key}/3`), 8);
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-8${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

function ruleFor(dir: 'I' | 'O', peerInternal: boolean): string {
  if (dir === 'O') return peerInternal ? 'DefaultRule_AllowVnetOutBound' : 'DefaultRule_AllowInternetOutBound';
  return peerInternal ? 'DefaultRule_AllowVnetInBound' : 'UserRule_AllowInternetInBound';
}

// ---------------------------------------------------------------- whole lists

export function renderAwsFlowLogs(path: string, conns: Iterable<Conn>, opts: AwsRenderOptions = {}): FlowLogStats {
  const r = new AwsFlowLogRenderer(path, opts);
  for (const c of conns) r.add(c);
  return r.finish();
}

export function renderAzureFlowLogs(path: string, conns: Iterable<Conn>, opts: AzureRenderOptions = {}): FlowLogStats {
  const r = new AzureFlowLogRenderer(path, opts);
  for (const c of conns) r.add(c);
  return r.finish();
}
