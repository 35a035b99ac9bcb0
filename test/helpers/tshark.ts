// tshark as an independent oracle for the packet path.
//
// One tshark run per capture gives two things:
//  * a per-frame table (-T fields): frame length, protocol stack and the
//    header fields of every IP / transport layer. From it `attributeFrames`
//    decides, by the sensor's counting rules (documented at the top of
//    test/tshark-differential.test.ts), which flow each frame belongs to —
//    independently of the Wasm core, from tshark's dissection alone;
//  * tshark's own conversation statistics (-z conv,tcp/udp/ipv4/ipv6).
//
// Both are compared with our flow records by the tests. Keys are directional
// endpoint pairs with addresses normalised through the WHATWG URL parser, so
// neither side's address formatter is trusted.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { FlowRecord } from '../../sensor/flows/zeek-record.ts';

export const TSHARK = process.env.TSHARK ?? '/usr/bin/tshark';

export function haveTshark(): boolean {
  return existsSync(TSHARK);
}

// ---------------------------------------------------------------- fields ---

/**
 * -T fields columns. With `-E occurrence=a` a field that occurs in several
 * layers (tunnels, the header quoted by an ICMP error) lists every
 * occurrence, outermost first, joined by ';'. The n-th occurrence of a field
 * belongs to the n-th occurrence of its protocol in frame.protocols.
 */
const FIELDS = [
  'frame.number', 'frame.time_epoch', 'frame.len', 'frame.protocols',
  'ip.src', 'ip.dst', 'ip.proto', 'ip.len', 'ip.id', 'ip.flags.mf', 'ip.frag_offset',
  'ipv6.src', 'ipv6.dst', 'ipv6.nxt', 'ipv6.plen',
  'ipv6.hopopts.nxt', 'ipv6.routing.nxt', 'ipv6.dstopts.nxt',
  'ipv6.routing.type', 'ipv6.routing.segleft', 'ipv6.routing.src.addr', 'ipv6.routing.mipv6.home_address',
  'ipv6.fraghdr.nxt', 'ipv6.fraghdr.offset', 'ipv6.fraghdr.more', 'ipv6.fraghdr.ident',
  'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport', 'sctp.srcport', 'sctp.dstport',
  'icmp.type', 'icmp.code', 'icmpv6.type', 'icmpv6.code',
] as const;
type Field = (typeof FIELDS)[number];

/**
 * Preferences: count every IP fragment as its own frame (we do not
 * reassemble), no name resolution (numeric endpoints in the conversation
 * tables), no TCP reassembly or sequence analysis (irrelevant to frame
 * counts, and faster).
 */
export const TSHARK_PREFS = [
  '-n',
  '-o', 'ip.defragment:FALSE',
  '-o', 'ipv6.defragment:FALSE',
  '-o', 'tcp.desegment_tcp_streams:FALSE',
  '-o', 'tcp.analyze_sequence_numbers:FALSE',
  // Teredo relays talk to clients on any UDP port; the core (like Zeek)
  // recognises Teredo there by its shape, so tshark must look too.
  '--enable-heuristic', 'teredo_udp',
];

export interface TsharkOptions {
  /** extra tshark arguments for this capture (e.g. --enable-heuristic teredo_udp) */
  extraArgs?: string[];
}

export interface RawFrame {
  num: number;
  ts: number;
  len: number;
  protocols: string[];
  /** the -T fields columns, in FIELDS order (split into occurrences on use) */
  cols: string[];
}

const NONE: string[] = Object.freeze([]) as unknown as string[];
const COL = new Map<Field, number>(FIELDS.map((f, i) => [f, i]));

/** Every occurrence of a field in a frame, outermost first. */
export function values(fr: RawFrame, name: Field): string[] {
  const v = fr.cols[COL.get(name)!] ?? '';
  return v === '' ? NONE : v.split(';');
}

export interface ConvEntry {
  kind: 'tcp' | 'udp' | 'ipv4' | 'ipv6';
  a: string; // normalised endpoint "addr" or "addr|port"
  b: string;
  /** frames / bytes from a to b and from b to a */
  abFrames: number;
  baFrames: number;
  /** null when tshark printed the value rounded (kB, MB) */
  abBytes: number | null;
  baBytes: number | null;
}

export interface TsharkRun {
  frames: RawFrame[];
  conv: ConvEntry[];
}

let running = 0;
const waiting: (() => void)[] = [];
const MAX_PARALLEL = 2;

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_PARALLEL) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function execTshark(args: string[]): Promise<string> {
  return limited(
    () =>
      new Promise((resolve, reject) => {
        execFile(TSHARK, args, { maxBuffer: 1 << 30, encoding: 'utf8' }, (err, stdout, stderr) => {
          // tshark exits 2 on captures cut short but still prints what it read;
          // callers only use captures the manifest marks as clean.
          if (err && !stdout) reject(new Error(`tshark ${args.join(' ')}: ${stderr || err.message}`));
          else resolve(stdout);
        });
      }),
  );
}

/** Run tshark once: per-frame fields plus conversation tables. */
export async function runTshark(path: string, opts: TsharkOptions = {}): Promise<TsharkRun> {
  const args = ['-r', path, ...TSHARK_PREFS, ...(opts.extraArgs ?? []), '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=;', '-E', 'separator=/t'];
  for (const f of FIELDS) args.push('-e', f);
  args.push('-q', '-z', 'conv,tcp', '-z', 'conv,udp', '-z', 'conv,ipv4', '-z', 'conv,ipv6');
  const out = await execTshark(args);
  const lines = out.split('\n');
  const frames: RawFrame[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('=====')) break;
    if (line === '') continue;
    const cols = line.split('\t');
    frames.push({
      num: Number(cols[0]),
      ts: Number(cols[1]),
      len: Number(cols[2]),
      protocols: (cols[3] ?? '').split(':').filter((t) => t !== ''),
      cols,
    });
  }
  return { frames, conv: parseConversations(lines.slice(i)) };
}

// ------------------------------------------------------- addresses, keys ---

/** Canonical text of an IPv4/IPv6 address (IPv6 via the WHATWG URL serializer: lower case, RFC 5952 zero compression). */
export function normAddr(a: string): string {
  if (!a.includes(':')) return a;
  return new URL(`http://[${a}]/`).hostname.slice(1, -1);
}

export function endpoint(addr: string, port: number | null): string {
  return port === null ? normAddr(addr) : `${normAddr(addr)}|${port}`;
}

/** Direction-free key of a flow: protocol plus the two endpoints in sorted order. */
export interface Dir {
  frames: number;
  wire: number;
  ip: number;
}
export interface PairTotals {
  key: string;
  /** endpoint strings, lo < hi */
  lo: string;
  hi: string;
  /** from lo to hi, from hi to lo */
  up: Dir;
  down: Dir;
}

export function pairKey(proto: number | string, x: string, y: string): { key: string; lo: string; hi: string; forward: boolean } {
  const forward = x <= y;
  const lo = forward ? x : y, hi = forward ? y : x;
  return { key: `${proto} ${lo} ${hi}`, lo, hi, forward };
}

export function addTo(map: Map<string, PairTotals>, proto: number | string, src: string, dst: string, d: Dir): void {
  const k = pairKey(proto, src, dst);
  let t = map.get(k.key);
  if (!t) {
    t = { key: k.key, lo: k.lo, hi: k.hi, up: { frames: 0, wire: 0, ip: 0 }, down: { frames: 0, wire: 0, ip: 0 } };
    map.set(k.key, t);
  }
  const side = k.forward ? t.up : t.down;
  side.frames += d.frames;
  side.wire += d.wire;
  side.ip += d.ip;
}

// ---------------------------------------------------------- ICMP "ports" ---

// Zeek's ICMP connection key: orig_p = type, resp_p = the counterpart type
// for request/reply pairs (so a reply joins its request), else the code.
// (zeek/src/packet_analysis/protocol/icmp/ICMP.cc ICMP4_counterpart / ICMP6_counterpart)
const ICMP4_PAIRS: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17 };
const ICMP6_PAIRS: Record<number, number> = { 128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 139: 140, 140: 139, 144: 145, 145: 144 };

export function icmpPorts(v6: boolean, type: number, code: number): [number, number] {
  const pair = (v6 ? ICMP6_PAIRS : ICMP4_PAIRS)[type];
  return [type, pair ?? code];
}

// ------------------------------------------------ frame → flow attribution ---

/** The tunnels the sensor decapsulates, as tshark's protocol stack shows them between two IP layers. */
export type TunnelKind = 'ip-in-ip' | 'gre' | 'erspan' | 'vxlan' | 'geneve' | 'teredo' | 'gtp';

const L2_TOKENS = new Set(['eth', 'ethertype', 'vlan', 'ieee8021ad', 'mpls']);
const V6_EXT = new Set(['ipv6.hopopts', 'ipv6.routing', 'ipv6.dstopts', 'ipv6.fraghdr']);

/** Which tunnel (if any we decapsulate) the tokens between two IP layers spell. */
export function tunnelBetween(tokens: string[]): TunnelKind | null {
  const t = tokens.filter((x) => !V6_EXT.has(x));
  const l2 = (from: number) => t.slice(from).every((x) => L2_TOKENS.has(x));
  if (t.length === 0) return 'ip-in-ip';
  if (t[0] === 'gre') {
    if (t.length === 1) return 'gre';
    if (t[1] === 'erspan' && l2(2)) return 'erspan';
    if (t[1] === 'eth' && l2(1)) return 'gre';
    if (t[1] === 'mpls' && l2(1)) return 'gre';
    if (t[1] === 'ppp' && t.length === 2) return 'gre'; // PPTP (enhanced GRE) carrying IP
    return null;
  }
  if (t[0] === 'udp') {
    if (t[1] === 'vxlan' && t[2] === 'eth' && l2(2)) return 'vxlan';
    if (t[1] === 'geneve' && (t.length === 2 || (t[2] === 'eth' && l2(2)))) return 'geneve';
    if (t[1] === 'teredo' && t.length === 2) return 'teredo';
    if (t[1] === 'gtp' && t.length === 2) return 'gtp';
  }
  return null;
}

/**
 * Tokens after the innermost IP layer that open a tunnel which must carry IP
 * (Ethernet or IP inside) but carries something else.
 */
function tunnelPrefix(after: string[]): boolean {
  if (after[0] === 'udp' && (after[1] === 'vxlan' || after[1] === 'geneve')) return true;
  if (after[0] === 'gre' && (after[1] === 'erspan' || after[1] === 'eth')) return true;
  return false;
}

interface IpLayer {
  v6: boolean;
  pos: number; // token index
  occ: number; // occurrence among ip (or ipv6) layers
  src?: string;
  dst?: string;
  proto?: number; // protocol of the payload after all extension headers
  ipLen?: number;
  frag?: { id: string; proto: number; offset: number; more: boolean };
}

/** What the oracle decided for one frame. */
export interface FrameFate {
  num: number;
  len: number;
  /** flow key parts, null when the frame is not part of any flow */
  proto?: number;
  src?: string;
  dst?: string;
  ipBytes?: number;
  /** transport token of the innermost layer ('tcp', 'udp', 'icmp', …, 'data' …) */
  transport?: string;
  /** tunnels decapsulated on the way in, outermost first */
  tunnels: TunnelKind[];
  /** every IP header tshark's IPv4/IPv6 conversation taps see in this frame (outermost first) */
  ipPairs: { layer: number; v6: boolean; src: string; dst: string; laterFragment: boolean }[];
  /** every TCP/UDP header its TCP/UDP conversation taps see (outermost first; not inside an ICMP error) */
  convs: { layer: number; kind: 'tcp' | 'udp'; src: string; dst: string }[];
  /** index (in ipPairs' numbering, outermost 0) of the IP layer the flow key comes from */
  innerLayer: number;
  /** a non-first IP fragment, attributed through the fragment table */
  laterFragment: boolean;
  /** why the frame is in no flow */
  none?: 'non-ip' | 'tunnel-non-ip' | 'ip-header-incomplete' | 'fragment-orphan';
  /** IP layers tshark dissected inside this one that we do not decapsulate (tokens between) */
  notDecapsulated?: string;
  /** transport ports tshark could not read although it named the protocol */
  transportIncomplete?: boolean;
}

function field(fr: RawFrame, name: Field, occ: number): string | undefined {
  return values(fr, name)[occ];
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  return v.startsWith('0x') ? parseInt(v, 16) : Number(v);
}

function bool(v: string | undefined): boolean {
  return v === '1' || v === 'True' || v === 'true';
}

function ipLayer(fr: RawFrame, pos: number, occ: number, extOcc: Record<string, number>): IpLayer {
  const t = fr.protocols;
  const v6 = t[pos] === 'ipv6';
  const L: IpLayer = { v6, pos, occ };
  // Field occurrences line up with protocol occurrences only when the
  // header was dissected completely; a field list shorter than the token
  // count means some layer lacks it, and then we do not guess.
  const pick = (name: Field, tok: string) => {
    const count = t.filter((x) => x === tok).length;
    const all = values(fr, name);
    return all.length === count ? all[occ] : undefined;
  };
  if (!v6) {
    L.src = pick('ip.src', 'ip');
    L.dst = pick('ip.dst', 'ip');
    L.proto = num(pick('ip.proto', 'ip'));
    L.ipLen = num(pick('ip.len', 'ip'));
    const id = pick('ip.id', 'ip');
    const mf = bool(pick('ip.flags.mf', 'ip'));
    const off = num(pick('ip.frag_offset', 'ip')) ?? 0;
    if (id !== undefined && (mf || off > 0)) L.frag = { id, proto: L.proto ?? -1, offset: off, more: mf };
  } else {
    L.src = pick('ipv6.src', 'ipv6');
    L.dst = pick('ipv6.dst', 'ipv6');
    const plen = num(pick('ipv6.plen', 'ipv6'));
    L.ipLen = plen === undefined ? undefined : 40 + plen;
    let proto = num(pick('ipv6.nxt', 'ipv6'));
    // Walk this layer's extension headers (the tokens right after it).
    for (let i = pos + 1; i < t.length && V6_EXT.has(t[i]!); i++) {
      const tok = t[i]!;
      const o = extOcc[tok] ?? 0;
      extOcc[tok] = o + 1;
      const nxt = num(field(fr, `${tok}.nxt` as Field, o));
      if (nxt !== undefined) proto = nxt;
      if (tok === 'ipv6.routing' && (num(field(fr, 'ipv6.routing.segleft', o)) ?? 0) > 0) {
        // Final destination (as Zeek keys connections and tshark's table
        // shows them): the last address of a type 0 source route, or a
        // type 2 home address. Frames carry at most one routing header here.
        const type = num(field(fr, 'ipv6.routing.type', o));
        const route = values(fr, 'ipv6.routing.src.addr');
        if (type === 0 && route.length) L.dst = route[route.length - 1];
        if (type === 2) L.dst = field(fr, 'ipv6.routing.mipv6.home_address', 0) ?? L.dst;
      }
      if (tok === 'ipv6.fraghdr') {
        const off = num(field(fr, 'ipv6.fraghdr.offset', o)) ?? 0;
        const more = bool(field(fr, 'ipv6.fraghdr.more', o));
        const id = field(fr, 'ipv6.fraghdr.ident', o);
        if (id !== undefined && (more || off > 0)) L.frag = { id, proto: nxt ?? -1, offset: off, more };
      }
    }
    L.proto = proto;
  }
  return L;
}

/** Protocols whose later fragments need the first fragment to know their flow: ports, or a tunnel inside. */
const NEEDS_FIRST = new Set([6, 17, 1, 58, 132, 47, 4, 41]);

const TRANSPORT_NUM: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, sctp: 132 };

interface FragEntry {
  created: number;
  first: { proto: number; src: string; dst: string; inner: boolean } | null;
  held: FrameFate[];
}

/** Seconds after creation that the core's fragment table forgets a datagram (asm/fragments.ts FRAG_TIMEOUT). */
export const FRAG_TIMEOUT = 60;

/**
 * Attribute every frame to a flow by the sensor's counting rules, from
 * tshark's dissection. Returns one fate per frame (in frame order, with the
 * fragment table applied: a later fragment that arrives before its first
 * fragment is resolved when the first one comes).
 */
export function attributeFrames(frames: RawFrame[]): FrameFate[] {
  const fates: FrameFate[] = [];
  const fragTable = new Map<string, FragEntry>();
  const order: string[] = []; // creation order, for expiry
  const expire = (now: number) => {
    while (order.length > 0) {
      const k = order[0]!;
      const e = fragTable.get(k);
      if (e && e.created + FRAG_TIMEOUT >= now) break;
      order.shift();
      if (e) {
        for (const h of e.held) if (!e.first) h.none = 'fragment-orphan';
        fragTable.delete(k);
      }
    }
  };

  for (const fr of frames) {
    const fate: FrameFate = { num: fr.num, len: fr.len, tunnels: [], ipPairs: [], convs: [], innerLayer: 0, laterFragment: false };
    fates.push(fate);
    const t = fr.protocols;
    // 1. IP layers, outermost first, up to (not into) an ICMP error's quoted header.
    const occ: Record<string, number> = {};
    const extOcc: Record<string, number> = {};
    const layers: IpLayer[] = [];
    for (let i = 0; i < t.length; i++) {
      const tok = t[i]!;
      const o = occ[tok] ?? 0;
      occ[tok] = o + 1;
      if (tok === 'ip' || tok === 'ipv6') layers.push(ipLayer(fr, i, o, extOcc));
      if (tok === 'icmp' || tok === 'icmpv6') break;
    }
    // What tshark's conversation taps see in this frame: every IP header and
    // every TCP/UDP header right after one (not the header an ICMP error quotes).
    layers.forEach((Lk, layer) => {
      if (Lk.src === undefined || Lk.dst === undefined) return;
      fate.ipPairs.push({ layer, v6: Lk.v6, src: normAddr(Lk.src), dst: normAddr(Lk.dst), laterFragment: (Lk.frag?.offset ?? 0) > 0 });
      let idx = Lk.pos + 1;
      while (idx < t.length && V6_EXT.has(t[idx]!)) idx++;
      const tp = t[idx];
      if (tp !== 'udp' && tp !== 'tcp') return;
      const o = t.slice(0, idx).filter((x) => x === tp).length;
      const sp = num(field(fr, `${tp}.srcport` as Field, o));
      const dp = num(field(fr, `${tp}.dstport` as Field, o));
      if (sp !== undefined && dp !== undefined) fate.convs.push({ layer, kind: tp, src: endpoint(Lk.src, sp), dst: endpoint(Lk.dst, dp) });
    });
    if (layers.length === 0) { fate.none = 'non-ip'; continue; }
    // 2. Keep decapsulating while the stack between two IP layers is a tunnel we support.
    let inner = 0;
    for (let k = 1; k < layers.length; k++) {
      const between = t.slice(layers[k - 1]!.pos + 1, layers[k]!.pos);
      const kind = tunnelBetween(between);
      if (!kind) { fate.notDecapsulated = between.join(':'); break; }
      // An IPv4 fragment's payload is only the first fragment's; a tunnel
      // in a first fragment is still decapsulated (asm/fragments.ts F_INNER).
      fate.tunnels.push(kind);
      inner = k;
    }
    const L = layers[inner]!;
    fate.innerLayer = inner;
    // A tunnel header whose payload is not IP (ARP in VXLAN, …): the core
    // drops the packet (asm/tunnels.ts DECAP_FAIL), it is no flow.
    if (inner === layers.length - 1 || fate.notDecapsulated !== undefined) {
      const after = t.slice(L.pos + 1).filter((x) => !V6_EXT.has(x));
      if (tunnelPrefix(after)) { fate.none = 'tunnel-non-ip'; continue; }
    }
    // Every header on the way in must be complete.
    if (layers.slice(0, inner + 1).some((x) => x.src === undefined || x.dst === undefined)) {
      fate.none = 'ip-header-incomplete';
      continue;
    }
    // 3. Fragments: the outermost fragmented layer decides.
    const fragLayer = layers.slice(0, inner + 1).find((x) => x.frag);
    const now = fr.ts;
    expire(now);
    if (fragLayer && fragLayer.frag!.offset > 0 && !NEEDS_FIRST.has(fragLayer.frag!.proto)) {
      // A protocol without ports or a tunnel inside: the fragment is a
      // packet of the address-only flow it names itself (asm/decode.ts).
      fate.laterFragment = true;
      fate.proto = fragLayer.frag!.proto;
      fate.src = normAddr(fragLayer.src!);
      fate.dst = normAddr(fragLayer.dst!);
      fate.ipBytes = fragLayer.ipLen ?? 0;
      fate.transport = 'fragment';
      continue;
    }
    if (fragLayer && fragLayer.frag!.offset > 0) {
      const fk = fragKey(fragLayer);
      if (fk === null) { fate.none = 'ip-header-incomplete'; continue; }
      fate.laterFragment = true;
      let e = fragTable.get(fk);
      if (e && e.first) {
        applyFirst(fate, e.first, fragLayer);
      } else {
        if (!e) { e = { created: now, first: null, held: [] }; fragTable.set(fk, e); order.push(fk); }
        e.held.push(fate);
        fate.none = 'fragment-orphan'; // until its first fragment arrives
      }
      continue;
    }
    // 4. The innermost layer's flow key.
    if (L.src === undefined || L.dst === undefined || L.proto === undefined || L.ipLen === undefined) {
      fate.none = 'ip-header-incomplete';
      continue;
    }
    let tp = t[L.pos + 1];
    let j = L.pos + 1;
    while (tp !== undefined && V6_EXT.has(tp)) tp = t[++j];
    fate.transport = tp ?? '';
    fate.src = normAddr(L.src);
    fate.dst = normAddr(L.dst);
    fate.ipBytes = L.ipLen;
    const tnum = tp !== undefined ? TRANSPORT_NUM[tp] : undefined;
    fate.proto = tnum ?? L.proto;
    if (tnum !== undefined && tnum !== L.proto) {
      // tshark decoded a transport the IP header does not name: trust the header.
      fate.proto = L.proto;
    }
    if (fate.proto === 6 || fate.proto === 17 || fate.proto === 132) {
      const name = fate.proto === 6 ? 'tcp' : fate.proto === 17 ? 'udp' : 'sctp';
      const o = t.slice(0, j).filter((x) => x === name).length;
      const sp = num(field(fr, `${name}.srcport` as Field, o));
      const dp = num(field(fr, `${name}.dstport` as Field, o));
      if (sp === undefined || dp === undefined || tp !== name) {
        fate.transportIncomplete = true;
        fate.src = endpoint(L.src, null);
        fate.dst = endpoint(L.dst, null);
      } else {
        fate.src = endpoint(L.src, sp);
        fate.dst = endpoint(L.dst, dp);
      }
    } else if (fate.proto === 1 || fate.proto === 58) {
      const name = fate.proto === 1 ? 'icmp' : 'icmpv6';
      const o = t.slice(0, j).filter((x) => x === name).length;
      const type = num(field(fr, `${name}.type` as Field, o));
      const code = num(field(fr, `${name}.code` as Field, o));
      if (type === undefined || code === undefined || tp !== name) {
        fate.transportIncomplete = true;
        fate.src = endpoint(L.src, null);
        fate.dst = endpoint(L.dst, null);
      } else {
        const [p, q] = icmpPorts(fate.proto === 58, type, code);
        fate.src = endpoint(L.src, p);
        fate.dst = endpoint(L.dst, q);
      }
    }
    // First fragment: remember the key for the later ones, release any held.
    for (const x of layers.slice(0, inner + 1)) {
      if (!x.frag || x.frag.offset !== 0) continue;
      const fk = fragKey(x);
      if (fk === null) continue;
      let e = fragTable.get(fk);
      if (!e) { e = { created: now, first: null, held: [] }; fragTable.set(fk, e); order.push(fk); }
      e.first = { proto: fate.proto, src: fate.src, dst: fate.dst, inner: x !== L };
      for (const h of e.held) { delete h.none; applyFirst(h, e.first, x); }
      e.held = [];
    }
  }
  expire(Infinity);
  return fates;
}

function fragKey(x: IpLayer): string | null {
  if (!x.frag || x.src === undefined || x.dst === undefined) return null;
  return `${x.v6 ? 6 : 4} ${normAddr(x.src)} ${normAddr(x.dst)} ${x.frag.proto} ${x.frag.id}`;
}

function applyFirst(fate: FrameFate, first: NonNullable<FragEntry['first']>, layer: IpLayer): void {
  fate.proto = first.proto;
  fate.src = first.src;
  fate.dst = first.dst;
  // Through a tunnel the first fragment's inner header already counted the
  // whole inner packet: a later outer fragment adds wire bytes only.
  fate.ipBytes = first.inner ? 0 : layer.ipLen ?? 0;
  fate.transport = 'fragment';
}

/** Directional totals per flow key from the oracle's frame fates. */
export function oracleTotals(fates: FrameFate[]): Map<string, PairTotals> {
  const m = new Map<string, PairTotals>();
  for (const f of fates) {
    if (f.none || f.proto === undefined) continue;
    addTo(m, f.proto, f.src!, f.dst!, { frames: 1, wire: f.len, ip: f.ipBytes ?? 0 });
  }
  return m;
}

/**
 * The same totals from our flow records (all records sharing a key are
 * summed). Interim records (active timeout) are snapshots of a flow whose
 * final record carries the totals, so they are skipped.
 */
export function flowTotals(flows: FlowRecord[]): Map<string, PairTotals> {
  const m = new Map<string, PairTotals>();
  for (const r of flows) {
    if (r.interim) continue;
    const ported = r.proto !== 'unknown_transport';
    const o = endpoint(r['id.orig_h'], ported ? r['id.orig_p'] : null);
    const p = endpoint(r['id.resp_h'], ported ? r['id.resp_p'] : null);
    addTo(m, r.ip_proto, o, p, { frames: r.orig_pkts, wire: r.orig_wire_bytes ?? 0, ip: r.orig_ip_bytes });
    addTo(m, r.ip_proto, p, o, { frames: r.resp_pkts, wire: r.resp_wire_bytes ?? 0, ip: r.resp_ip_bytes });
  }
  return m;
}

// ------------------------------------------------ conversation statistics ---

function splitEndpoint(kind: ConvEntry['kind'], s: string): string {
  if (kind === 'ipv4' || kind === 'ipv6') return normAddr(s);
  const i = s.lastIndexOf(':');
  return endpoint(s.slice(0, i), Number(s.slice(i + 1)));
}

export function parseConversations(lines: string[]): ConvEntry[] {
  const out: ConvEntry[] = [];
  let kind: ConvEntry['kind'] | null = null;
  const re = /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB)\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB)\s+(\d+)\s+(\d+)\s+(bytes|kB|MB|GB)\s/;
  for (const line of lines) {
    if (/^TCP Conversations/.test(line)) kind = 'tcp';
    else if (/^UDP Conversations/.test(line)) kind = 'udp';
    else if (/^IPv4 Conversations/.test(line)) kind = 'ipv4';
    else if (/^IPv6 Conversations/.test(line)) kind = 'ipv6';
    const m = re.exec(line);
    if (!m || !kind) continue;
    const bytes = (v: string, u: string) => (u === 'bytes' ? Number(v) : null);
    // Columns: "<-" = frames b→a, "->" = frames a→b.
    out.push({
      kind,
      a: splitEndpoint(kind, m[1]!),
      b: splitEndpoint(kind, m[2]!),
      baFrames: Number(m[3]),
      baBytes: bytes(m[4]!, m[5]!),
      abFrames: Number(m[6]),
      abBytes: bytes(m[7]!, m[8]!),
    });
  }
  return out;
}
