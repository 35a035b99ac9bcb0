// Differential test of the packet path against tshark (Wireshark 4.0).
//
// COUNTING RULES OF THIS SENSOR (the README copies them)
//
//  1. One packet belongs to exactly one flow: the innermost one. Tunnels are
//     decapsulated — VXLAN (UDP dst port 4789), GENEVE (UDP dst 6081), GRE
//     (IPv4/IPv6/Ethernet/MPLS payloads, PPTP's GRE carrying IP), ERSPAN
//     I/II/III, IP-in-IP (4in4, 6in4, 4in6, 6in6; an inner header of the
//     wrong IP version is no tunnel: the outer packet is an address-only
//     flow), Teredo (UDP port 3544, or any UDP port when the payload is
//     exactly one IPv6 packet to or from a Teredo / link-local address),
//     GTP-U (UDP port 2152, G-PDUs) — and the packet is a packet of the
//     inner flow only; the outer tunnel connection is not a flow. A tunnel
//     whose payload is not IP (ARP inside VXLAN, …) is no flow at all.
//     Teredo bubbles (IPv6 with no next header) are decapsulated like any
//     Teredo packet: they are address-only flows (protocol 59).
//     The header quoted inside an ICMP error is not a layer: the error is a
//     packet of the ICMP flow between the error's own addresses.
//  2. IP fragments each count as one packet of their datagram's flow. Only
//     the first fragment carries ports; later fragments are attributed via
//     (src, dst, proto, IP id) to the flow their first fragment decoded to
//     (if the first fragment arrives later, they are held and added when it
//     comes; if it never arrives within 60 s of capture time, they are
//     counted as orphan fragments and belong to no flow). Nothing is
//     reassembled. Through a tunnel, a later fragment of the OUTER datagram
//     adds its packet and wire bytes to the inner flow but no IP bytes (the
//     first fragment's inner header already counted the whole inner packet).
//  3. orig_pkts + resp_pkts = frames; orig_wire_bytes + resp_wire_bytes =
//     the sum of on-the-wire frame lengths (pcap orig_len, what tshark's
//     conversation "Bytes" count); *_ip_bytes = the innermost IP header's
//     length field (IPv6: 40 + payload length), as Zeek logs them.
//  4. Frames without IP (ARP, STP, LLDP, PPPoE discovery, 802.11
//     management, …) are not flows. Neither are frames whose IP header the
//     core finds broken (counted as input errors instead).
//  5. ICMP flows are keyed as Zeek keys them: (orig, type, resp,
//     counterpart type) — a reply joins its request — else (…, code).
//  6. Addresses are those of the IP header, except that an IPv6 routing
//     header with segments left names the final destination (type 0: last
//     address; type 2: home address), as Zeek keys connections and tshark's
//     conversation table shows them.
//  7. A later fragment of a protocol without ports and without a tunnel
//     inside (not TCP/UDP/ICMP/SCTP/GRE/IP-in-IP) needs no first fragment:
//     it is a packet of the address-only flow its own header names.
//
// HOW tshark IS USED: one run per capture with `-o ip.defragment:FALSE -o
// ipv6.defragment:FALSE` (so each fragment is its own frame, as for us) and
// its Teredo heuristic on (`--enable-heuristic teredo_udp`: relays use any port),
// printing per-frame fields (frame length, protocol stack, every IP/IPv6 and
// TCP/UDP/SCTP/ICMP header field of every layer) and `-z conv,tcp -z
// conv,udp -z conv,ipv4 -z conv,ipv6`. test/helpers/tshark.ts turns the
// per-frame fields into an exact oracle by the rules above (using only
// tshark's dissection), and these tests check (a) that the oracle
// reproduces tshark's own conversation tables, (b) that our flows equal the
// oracle key by key, direction by direction — frames, wire bytes, IP bytes —
// and (c) the tunnel, fragment and address-only views separately.
//
// Where tshark and the sensor legitimately differ, the difference is listed
// below by capture and frame number with the reason; nothing else is
// tolerated.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { analyzeToArray, type AnalyzeSummary } from '../sensor/pipeline/analyze.ts';
import type { FlowRecord } from '../sensor/flows/zeek-record.ts';
import { manifest, needSharedData, sharedFiles, sharedPath } from './helpers/shared-data.ts';
import {
  addTo, attributeFrames, endpoint, flowTotals, haveTshark, normAddr, oracleTotals, pairKey, runTshark,
  type ConvEntry, type FrameFate, type PairTotals,
} from './helpers/tshark.ts';

const SUITES = ['linktypes', 'formats', 'ipv6', 'fragments', 'robustness', 'benign', 'ics', 'derived'].map((d) => `pcap/${d}/`);

// ------------------------------------------------------------ exceptions ---

/** robustness/mpls-6in6-broken.pcap (and its derived/ gzip copy): fuzzed MPLS stacks 17-18 labels deep that end in an IPv4 header. */
const MPLS_DEEP_FRAMES = [217, 342, 535, 685, 948, 1220, 1501, 1660, 1722];

/**
 * Frames whose TCP/UDP conversation-table entry differs from what tshark's
 * own per-frame fields say. Only used when checking the oracle against
 * tshark's tables: `conv` is the entry tshark makes instead (null: none).
 */
const CONV_TABLE_QUIRKS: Record<string, { frames: number[]; conv: string | null; why: string }> = {
  'pcap/robustness/fuzz-2006-06-26-2594.pcap': {
    frames: [86], conv: null,
    why: 'TCP option length 161 runs past the TCP header: the dissector throws before its conversation tap',
  },
  'pcap/fragments/fragmented-syn.pcap': {
    frames: [1], conv: null,
    why: 'first fragment holds only 8 bytes of the TCP header (tiny-fragment): tshark reads the ports but does not tap an incomplete header',
  },
  'pcap/fragments/frag-eth-vlan-ip-tcp-syn.pcap': {
    frames: [1], conv: null,
    why: 'first fragment holds only 8 bytes of the TCP header: as above',
  },
};

/**
 * Frames whose IP headers tshark dissects (so the oracle sees their
 * addresses) but does not put in its IPv4/IPv6 conversation tables, because
 * the dissector throws ("Malformed Packet") before queueing the tap. Only
 * used when checking the oracle against tshark's tables. Separately, as a
 * rule: tshark's IPv6 tap never counts non-first IPv6 fragments (without
 * reassembly), while its IPv4 tap counts every IPv4 fragment.
 */
const IP_CONV_TABLE_QUIRKS: Record<string, { frames: number[]; why: string; tablePair?: [string, string] }> = {
  'pcap/robustness/mpls-6in6-broken.pcap': { frames: MPLS_DEEP_FRAMES, why: 'IPv4 header length 28 with total length 0 (TSO presumed, 21-26 bytes): malformed' },
  'pcap/derived/mpls-6in6-broken.pcap.gz': { frames: MPLS_DEEP_FRAMES, why: 'as in the robustness/ copy' },
  'pcap/robustness/fuzz-2006-06-26-2594.pcap': { frames: [669], why: 'IPv6 header inside an IPv4 EtherType ("Bogus IPv4 version"), payload length beyond the frame: malformed' },
  'pcap/robustness/ip6-ext-trunc.pcap': { frames: [1], why: 'hop-by-hop header not captured: malformed' },
  'pcap/robustness/ip6_frag_asan.pcap': { frames: [1], why: 'fragment header cut by the capture: malformed' },
  'pcap/ipv6/ipv6-hbh-routing0.pcap': {
    frames: [1], tablePair: ['2001:4f8:4:7:2e0:81ff:fe52:ffff', '2001:4f8:4:7:2e0:81ff:fe52:9a6b'],
    why: 'routing header type 0 with segments left: tshark\'s UDP table (like Zeek, and our flows) uses the final destination '
      + '2001:78:1:32::2, but its IPv6 table keys on the header\'s destination field',
  },
};

const MPLS_DEEP = {
  frames: MPLS_DEEP_FRAMES, ours: null, error: 'too_many_layers',
  why: 'fuzzed MPLS stacks 17-18 labels deep without a bottom-of-stack bit until then: tshark follows them (and takes reserved label 0, '
    + 'IPv4 explicit null, as "IPv4 follows"); the core follows at most 8 labels (asm/decode.ts MAX_MPLS_LABELS) and counts too_many_layers',
};
/**
 * Frames the sensor attributes differently from the oracle, with the reason.
 * `ours` = the flow key we put the frame in ("proto lo hi" as pairKey makes
 * it), or null for "no flow" — then `error` is the counter the core must
 * have counted it in.
 */
const ATTRIBUTION_EXCEPTIONS: Record<string, { frames: number[]; ours: string | null; error?: string; why: string }[]> = {
  'pcap/robustness/mpls-6in6-broken.pcap': [MPLS_DEEP],
  'pcap/derived/mpls-6in6-broken.pcap.gz': [MPLS_DEEP],
  'pcap/robustness/fuzz-2006-06-26-2594.pcap': [{
    frames: [86], ours: null, error: 'tcp_truncated',
    why: 'IPv4 header of 28 bytes in a total length of 40 leaves 12 bytes for TCP: tshark reads the ports from the incomplete header '
      + '(and marks it malformed); the core needs the 20-byte TCP header of a non-fragment and counts tcp_truncated',
  }],
  'pcap/robustness/ip6-ext-trunc.pcap': [{
    frames: [1], ours: null, error: 'ipv6_bad_ext',
    why: 'the capture ends right after the IPv6 header, inside the hop-by-hop header: tshark keys the addresses, the core counts ipv6_bad_ext',
  }],
  'pcap/robustness/ip6_frag_asan.pcap': [{
    frames: [1], ours: null, error: 'ipv6_bad_ext',
    why: 'the fragment header is cut by the capture (46 bytes of IPv6 captured): tshark keys the addresses, the core counts ipv6_bad_ext',
  }],
};

// ------------------------------------------------------------- the cases ---

interface Case {
  file: string;
  run: Oracle;
  fates: FrameFate[];
  flows: FlowRecord[];
  summary: AnalyzeSummary;
}

const silent = pino({ level: 'silent' });
const rows = manifest();
const files = rows.size === 0 ? [] : [...rows.values()].filter((r) => r.tsharkOk && SUITES.some((s) => r.file.startsWith(s))).map((r) => r.file).sort();

/** The oracle's fates with this file's attribution exceptions applied. */
function adjustedFates(file: string, fates: FrameFate[]): FrameFate[] {
  const ex = ATTRIBUTION_EXCEPTIONS[file];
  if (!ex) return fates;
  for (const e of ex) for (const n of e.frames) {
    // An exception must be about a frame tshark's dissection puts in a flow.
    if (fates[n - 1]?.num !== n || fates[n - 1]!.none) throw new Error(`${file}: stale ATTRIBUTION_EXCEPTIONS entry, frame ${n} is in no flow by tshark's frames either`);
  }
  return fates.map((f) => {
    const e = ex.find((x) => x.frames.includes(f.num));
    if (!e) return f;
    if (e.ours === null) return { ...f, none: 'ip-header-incomplete' as const };
    const [proto, lo, hi] = e.ours.split(' ');
    return { ...f, none: undefined, proto: Number(proto), src: lo, dst: hi };
  });
}

/** Core counters that count a frame which ends up in no flow (asm/counters.ts): one per such frame. */
const PER_FRAME_COUNTERS = [
  'non_ip', 'frag_orphan', 'unknown_linktype', 'link_truncated', 'too_many_layers', 'ipv4_truncated', 'ipv4_bad_header',
  'ipv6_truncated', 'ipv6_bad_ext', 'bad_ip_version', 'tcp_truncated', 'udp_truncated', 'icmp_truncated', 'tunnel_truncated', 'sctp_truncated',
];

/** What the tests keep of a tshark run: the raw per-frame fields are dropped once attributed (memory). */
interface Oracle { frames: number; conv: ConvEntry[]; fates: FrameFate[] }

/** Same capture bytes (a .gz copy in derived/ of a capture elsewhere) → one tshark run. */
const oracleByContent = new Map<string, Promise<Oracle>>();
function oracleOnce(file: string): Promise<Oracle> {
  let bytes = readFileSync(sharedPath(file));
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const key = createHash('sha256').update(bytes).digest('hex');
  let o = oracleByContent.get(key);
  if (!o) {
    o = runTshark(sharedPath(file)).then((run) => ({ frames: run.frames.length, conv: run.conv, fates: attributeFrames(run.frames) }));
    oracleByContent.set(key, o);
  }
  return o;
}

let loading: Promise<Case[]> | null = null;
/** tshark and the analyzer over every capture, two at a time; computed once per run. */
function cases(): Promise<Case[]> {
  loading ??= (async () => {
    const out: Case[] = new Array(files.length);
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const i = next++;
        const file = files[i]!;
        // A 16k-flow table (the default is 128k, 44 MB per core: a hundred of
        // those cost the run seconds of GC) holds every capture here; the first
        // test asserts that no flow was evicted, so results are the default's.
        const [oracle, ours] = await Promise.all([oracleOnce(file), analyzeToArray([sharedPath(file)], { log: silent, core: { flowCapacity: 1 << 14 } })]);
        // Interim records (active timeout) are snapshots; the final record has the totals.
        out[i] = { file, run: oracle, fates: adjustedFates(file, oracle.fates), flows: ours.flows.filter((f) => !f.interim), summary: ours.summary };
      }
    };
    await Promise.all([worker(), worker()]);
    return out;
  })();
  return loading;
}

function ready(what: string): boolean {
  if (!needSharedData(what)) return false;
  if (!haveTshark()) {
    console.log(`  [skip] ${what}: tshark is not installed (apt-get install -y tshark)`);
    return false;
  }
  return true;
}

const fmt = (d: { frames: number; wire: number; ip: number } | undefined) => (d ? `${d.frames} pkts/${d.wire} wire/${d.ip} ip` : 'nothing');

function report(problems: string[], what: string): void {
  assert.equal(problems.slice(0, 30), [], `${problems.length} ${what} (first 30 shown)`);
}

// ----------------------------------------------------------------- tests ---

test('every capture tshark reads cleanly is in the comparison, and both sides read all its frames', async () => {
  if (!ready('tshark differential')) return;
  const onDisk = sharedFiles('pcap', (p) => /\.(pcap|pcapng|cap)(\.gz)?$/.test(p)).filter((f) => SUITES.some((s) => f.startsWith(s)));
  const unlisted = onDisk.filter((f) => !rows.has(f));
  assert.equal(unlisted, [], 'captures missing from MANIFEST.tsv');
  const notClean = onDisk.filter((f) => !rows.get(f)!.tsharkOk);
  // The manifest's own verdict (tshark_ok != yes): a capture cut short mid-packet.
  assert.equal(notClean, ['pcap/benign/pgsql-5000-query-results__input.pcap', 'pcap/robustness/fuzz-2021-10-13.pcap']);
  assert.ok(files.length >= 100, `only ${files.length} captures`);
  const problems: string[] = [];
  for (const c of await cases()) {
    const want = rows.get(c.file)!.packets;
    if (c.run.frames !== want) problems.push(`${c.file}: tshark printed ${c.run.frames} frames, manifest says ${want}`);
    if (c.summary.packets !== want) problems.push(`${c.file}: we read ${c.summary.packets} frames, tshark ${want}`);
    if (c.summary.counters.flows_evicted) problems.push(`${c.file}: ${c.summary.counters.flows_evicted} flows evicted from the test's flow table`);
  }
  report(problems, 'frame-count differences');
});

test('the per-frame oracle reproduces tshark\'s own conversation tables: TCP/UDP (frames exact, bytes where printed exactly) and IPv4/IPv6 (frames)', async () => {
  if (!ready('tshark differential')) return;
  const problems: string[] = [];
  for (const c of await cases()) {
    const quirk = CONV_TABLE_QUIRKS[c.file];
    const expected = new Map<string, PairTotals>();
    for (const f of c.fates) {
      if (quirk?.frames.includes(f.num)) {
        if (quirk.conv) { const [k, a, b] = quirk.conv.split(' '); addTo(expected, k!, a!, b!, { frames: 1, wire: f.len, ip: 0 }); }
        continue;
      }
      for (const cv of f.convs) addTo(expected, cv.kind, cv.src, cv.dst, { frames: 1, wire: f.len, ip: 0 });
    }
    // tshark may split one endpoint pair over several table rows: sum them.
    const table = new Map<string, { up: number; down: number; upBytes: number | null; downBytes: number | null }>();
    for (const e of c.run.conv) {
      if (e.kind !== 'tcp' && e.kind !== 'udp') continue;
      const k = pairKey(e.kind, e.a, e.b);
      const t = table.get(k.key) ?? { up: 0, down: 0, upBytes: 0, downBytes: 0 };
      const [abF, baF, abB, baB] = k.forward ? [e.abFrames, e.baFrames, e.abBytes, e.baBytes] : [e.baFrames, e.abFrames, e.baBytes, e.abBytes];
      t.up += abF; t.down += baF;
      t.upBytes = t.upBytes === null || abB === null ? null : t.upBytes + abB;
      t.downBytes = t.downBytes === null || baB === null ? null : t.downBytes + baB;
      table.set(k.key, t);
    }
    for (const [k, t] of table) {
      const e = expected.get(k);
      expected.delete(k);
      if (!e) { problems.push(`${c.file}: tshark table has ${k} (${t.up}+${t.down} frames), the oracle does not`); continue; }
      if (e.up.frames !== t.up || e.down.frames !== t.down) problems.push(`${c.file}: ${k} frames: table ${t.up}/${t.down}, oracle ${e.up.frames}/${e.down.frames}`);
      if ((t.upBytes !== null && t.upBytes !== e.up.wire) || (t.downBytes !== null && t.downBytes !== e.down.wire)) problems.push(`${c.file}: ${k} bytes: table ${t.upBytes}/${t.downBytes}, oracle ${e.up.wire}/${e.down.wire}`);
    }
    for (const k of expected.keys()) problems.push(`${c.file}: oracle has ${k}, tshark's table does not`);

    // IPv4/IPv6: every IP header outside an ICMP error's quote, per address pair.
    const ipQuirk = IP_CONV_TABLE_QUIRKS[c.file];
    const ipExpected = new Map<string, PairTotals>();
    for (const f of c.fates) {
      if (ipQuirk?.frames.includes(f.num)) {
        if (ipQuirk.tablePair) addTo(ipExpected, 'ip', ipQuirk.tablePair[0], ipQuirk.tablePair[1], { frames: 1, wire: f.len, ip: 0 });
        continue;
      }
      for (const p of f.ipPairs) if (!(p.v6 && p.laterFragment)) addTo(ipExpected, 'ip', p.src, p.dst, { frames: 1, wire: f.len, ip: 0 });
    }
    const ipTable = new Map<string, { up: number; down: number }>();
    for (const e of c.run.conv) {
      if (e.kind !== 'ipv4' && e.kind !== 'ipv6') continue;
      const k = pairKey('ip', e.a, e.b);
      const t = ipTable.get(k.key) ?? { up: 0, down: 0 };
      t.up += k.forward ? e.abFrames : e.baFrames;
      t.down += k.forward ? e.baFrames : e.abFrames;
      ipTable.set(k.key, t);
    }
    for (const [k, t] of ipTable) {
      const e = ipExpected.get(k);
      ipExpected.delete(k);
      if (!e || e.up.frames !== t.up || e.down.frames !== t.down) problems.push(`${c.file}: ${k} frames: table ${t.up}/${t.down}, oracle ${e?.up.frames ?? 0}/${e?.down.frames ?? 0}`);
    }
    for (const k of ipExpected.keys()) problems.push(`${c.file}: oracle has ${k}, tshark's IP table does not`);
  }
  report(problems, 'differences between the oracle and tshark\'s conversation tables');
});

test('our flows equal the oracle: per flow key and direction, frames, wire bytes and IP bytes', async () => {
  if (!ready('tshark differential')) return;
  const problems: string[] = [];
  for (const c of await cases()) {
    const want = oracleTotals(c.fates);
    const got = flowTotals(c.flows);
    for (const [k, w] of want) {
      const g = got.get(k);
      got.delete(k);
      if (!g) { problems.push(`${c.file}: no flow ${k} (tshark: ${fmt(w.up)} → , ${fmt(w.down)} ←)`); continue; }
      for (const dir of ['up', 'down'] as const) {
        const a = g[dir], b = w[dir];
        if (a.frames !== b.frames || a.wire !== b.wire || a.ip !== b.ip) problems.push(`${c.file}: ${k} ${dir === 'up' ? 'lo→hi' : 'hi→lo'}: ours ${fmt(a)}, tshark ${fmt(b)}`);
      }
    }
    for (const [k, g] of got) problems.push(`${c.file}: flow ${k} (${fmt(g.up)} → , ${fmt(g.down)} ←) that tshark's frames do not make`);
  }
  report(problems, 'per-flow differences');
});

test('frames in no flow: exactly the non-IP frames, non-IP tunnel payloads, broken IP headers and orphan fragments', async () => {
  if (!ready('tshark differential')) return;
  const problems: string[] = [];
  for (const c of await cases()) {
    for (const e of ATTRIBUTION_EXCEPTIONS[c.file] ?? []) {
      if (e.error && (c.summary.counters[e.error] ?? 0) < e.frames.length) problems.push(`${c.file}: frames ${e.frames.join(',')} listed as ${e.error}, but the core counted ${c.summary.counters[e.error] ?? 0}`);
    }
    const none = c.fates.filter((f) => f.none);
    const ours = c.flows.reduce((s, f) => s + f.orig_pkts + f.resp_pkts, 0);
    const by: Record<string, number> = {};
    for (const f of none) by[f.none!] = (by[f.none!] ?? 0) + 1;
    if (ours !== c.fates.length - none.length) problems.push(`${c.file}: ${ours} frames in flows, tshark says ${c.fates.length} frames minus ${JSON.stringify(by)}`);
    // ... and the core accounts for each of them exactly once: as non-IP,
    // as a per-packet decode error, or as an orphan fragment.
    const accounted = PER_FRAME_COUNTERS.reduce((s, k) => s + (c.summary.counters[k] ?? 0), 0);
    if (accounted !== none.length) {
      const mine = Object.fromEntries(PER_FRAME_COUNTERS.filter((k) => c.summary.counters[k]).map((k) => [k, c.summary.counters[k]]));
      problems.push(`${c.file}: core counters ${JSON.stringify(mine)} account for ${accounted} frames outside flows, tshark's frames say ${none.length} ${JSON.stringify(by)}`);
    }
  }
  report(problems, 'files with frames in the wrong number of flows');
});

test('tunnels: a decapsulated packet is counted once, in its inner flow, which names the tunnel; no outer tunnel flow exists', async () => {
  if (!ready('tshark differential')) return;
  const problems: string[] = [];
  let tunnelled = 0;
  for (const c of await cases()) {
    const byKey = new Map<string, FlowRecord[]>();
    for (const f of c.flows) {
      const ported = f.proto !== 'unknown_transport';
      const k = pairKey(f.ip_proto, endpoint(f['id.orig_h'], ported ? f['id.orig_p'] : null), endpoint(f['id.resp_h'], ported ? f['id.resp_p'] : null)).key;
      byKey.set(k, [...(byKey.get(k) ?? []), f]);
    }
    const outerOnly = new Map<string, number>(); // outer conversations → frames that are not tunnel frames
    for (const f of c.fates) {
      if (f.tunnels.length === 0 || f.none) continue;
      tunnelled++;
      const k = pairKey(f.proto!, f.src!, f.dst!).key;
      const flows = byKey.get(k) ?? [];
      const kind = f.tunnels[f.tunnels.length - 1]!;
      if (!flows.some((x) => x.tunnel_type === kind)) problems.push(`${c.file} frame ${f.num}: inner flow ${k} does not say tunnel_type=${kind} (${flows.map((x) => x.tunnel_type ?? 'none').join(',') || 'no flow'})`);
      for (const cv of f.convs.filter((x) => x.layer < f.innerLayer)) outerOnly.set(pairKey(cv.kind === 'tcp' ? 6 : 17, cv.src, cv.dst).key, 0);
    }
    // An outer tunnel conversation may be a flow only through frames that did not decapsulate.
    for (const f of c.fates) if (!f.none && f.proto !== undefined) {
      const k = pairKey(f.proto, f.src!, f.dst!).key;
      if (outerOnly.has(k)) outerOnly.set(k, outerOnly.get(k)! + 1);
    }
    for (const [k, plain] of outerOnly) {
      const ours = (byKey.get(k) ?? []).reduce((s, f) => s + f.orig_pkts + f.resp_pkts, 0);
      if (ours !== plain) problems.push(`${c.file}: outer tunnel conversation ${k} is a flow with ${ours} packets (${plain} frames on it were not tunnelled)`);
    }
  }
  assert.ok(tunnelled >= 100, `only ${tunnelled} tunnelled frames in the corpus`);
  report(problems, 'tunnel accounting problems');
});

test('IP fragments: every fragment is a packet of its datagram\'s flow; tshark (no reassembly) puts only first fragments in its TCP/UDP table', async () => {
  if (!ready('tshark differential')) return;
  const problems: string[] = [];
  let later = 0;
  for (const c of await cases()) {
    if (!c.fates.some((f) => f.laterFragment)) continue;
    const got = flowTotals(c.flows);
    const laterBy = new Map<string, number>();
    for (const f of c.fates) {
      if (!f.laterFragment || f.none) continue;
      later++;
      const k = pairKey(f.proto!, f.src!, f.dst!).key;
      laterBy.set(k, (laterBy.get(k) ?? 0) + 1);
    }
    for (const [k, n] of laterBy) {
      const [proto] = k.split(' ');
      if (proto !== '6' && proto !== '17') continue;
      const conv = c.run.conv.filter((e) => pairKey(proto === '6' ? 'tcp' : 'udp', e.a, e.b).key === `${proto === '6' ? 'tcp' : 'udp'} ${k.slice(k.indexOf(' ') + 1)}`);
      const tsharkFrames = conv.reduce((s, e) => s + e.abFrames + e.baFrames, 0);
      const g = got.get(k);
      const ours = g ? g.up.frames + g.down.frames : 0;
      // First fragments tshark names but does not tap (listed in CONV_TABLE_QUIRKS).
      const quirk = CONV_TABLE_QUIRKS[c.file];
      const skipped = c.fates.filter((f) => quirk?.frames.includes(f.num) && !f.none && pairKey(f.proto!, f.src!, f.dst!).key === k).length;
      if (ours - n !== tsharkFrames + skipped) problems.push(`${c.file}: ${k}: ours ${ours} packets with ${n} later fragments, tshark's table ${tsharkFrames} (+${skipped} untapped)`);
    }
    const orphans = c.fates.filter((f) => f.none === 'fragment-orphan').length;
    const counted = c.summary.counters.frag_orphan ?? 0;
    if (orphans !== counted) problems.push(`${c.file}: ${orphans} orphan fragments by tshark's frames, core counted ${counted}`);
  }
  assert.ok(later >= 20, `only ${later} later fragments in the corpus`);
  report(problems, 'fragment accounting problems');
});

test('address-only protocols: per IP pair our totals match tshark\'s IPv4/IPv6 conversation tables', async () => {
  if (!ready('tshark differential')) return;
  const problems: string[] = [];
  let pairs = 0;
  for (const c of await cases()) {
    const addrOnly = c.flows.filter((f) => f.proto === 'unknown_transport');
    if (addrOnly.length === 0) continue;
    // tshark's table, summed per unordered address pair.
    const table = new Map<string, { up: number; down: number }>();
    for (const e of c.run.conv) {
      if (e.kind !== 'ipv4' && e.kind !== 'ipv6') continue;
      const k = pairKey('ip', e.a, e.b);
      const t = table.get(k.key) ?? { up: 0, down: 0 };
      t.up += k.forward ? e.abFrames : e.baFrames;
      t.down += k.forward ? e.baFrames : e.abFrames;
      table.set(k.key, t);
    }
    // Ours per address pair (every protocol), and the frames tshark counts
    // at that pair that are not ours there (outer headers of decapsulated
    // packets, frames in no flow), each with its reason.
    const ours = new Map<string, PairTotals>();
    for (const f of c.flows) {
      const o = normAddr(f['id.orig_h']), r = normAddr(f['id.resp_h']);
      addTo(ours, 'ip', o, r, { frames: f.orig_pkts, wire: 0, ip: 0 });
      addTo(ours, 'ip', r, o, { frames: f.resp_pkts, wire: 0, ip: 0 });
    }
    const notOurs = new Map<string, PairTotals>();
    for (const f of c.fates) {
      for (const p of f.ipPairs) {
        if (!f.none && p.layer === f.innerLayer) continue;
        addTo(notOurs, 'ip', p.src, p.dst, { frames: 1, wire: 0, ip: 0 });
      }
    }
    const done = new Set<string>();
    for (const f of addrOnly) {
      const k = pairKey('ip', normAddr(f['id.orig_h']), normAddr(f['id.resp_h']));
      if (done.has(k.key)) continue;
      done.add(k.key);
      const t = table.get(k.key);
      const o = ours.get(k.key)!;
      const x = notOurs.get(k.key);
      pairs++;
      if (!t) { problems.push(`${c.file}: ${k.key} not in tshark's IP conversation table`); continue; }
      const up = o.up.frames + (x?.up.frames ?? 0), down = o.down.frames + (x?.down.frames ?? 0);
      if (up !== t.up || down !== t.down) problems.push(`${c.file}: ${k.key}: tshark ${t.up}/${t.down} frames, ours ${o.up.frames}/${o.down.frames} + not ours ${x?.up.frames ?? 0}/${x?.down.frames ?? 0}`);
    }
  }
  assert.ok(pairs >= 5, `only ${pairs} address-only flows in the corpus`);
  report(problems, 'IP-pair differences');
});

test.run();
