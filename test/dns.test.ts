// The DNS message parser of the Wasm core (asm/dns.ts), through the test
// build (build/core.test.wasm: asm/test-entry.ts's testDns* wrappers).
//
//  * hand-built messages: every field of the result record on A / AAAA /
//    TXT / NULL / MX / CNAME chains with compression, NXDOMAIN, TCP framing,
//    names at the 63 / 255 limits, case folding, registered domains;
//  * hostile input: pointer loops, pointers out of range, bad labels, names
//    over 255 octets through pointers, impossible counts, every truncation of
//    every valid response (UDP and TCP), 100k seeded mutations — each input
//    is parsed with the message ending at the very end of Wasm memory (so a
//    read past it traps and fails the test), and every result is compared
//    field for field with a JavaScript reference parser written from the
//    semantics documented at the top of asm/dns.ts;
//  * real captures: the DNS messages of ../shared/data/pcap compared with
//    tshark's dissection (qname, qtype, rcode, counts, answer addresses and
//    TTLs). Skips when ../shared/data or tshark is absent.
//
// The result layout (R_*), the error codes and the suffix list are read from
// asm/dns.ts itself, so the mirror here cannot drift.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFile, execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestWasm } from './helpers/flow-core.ts';
import { REPO_ROOT, manifest, needSharedData, sharedPath } from './helpers/shared-data.ts';
import { TSHARK, haveTshark } from './helpers/tshark.ts';
import { formatIPv6 } from '../sensor/flows/ip-address.ts';
import { Rng } from '../sensor/sample/rng.ts';

// ---------------------------------------------------------------- the contract, from asm/dns.ts

const SRC = readFileSync(join(REPO_ROOT, 'asm', 'dns.ts'), 'utf8');
const K: Record<string, number> = {};
for (const m of SRC.matchAll(/export const ((?:R|DNS|HAVE|MAX)_\w+): \w+ = (-?\d+);/g)) K[m[1]!] = Number(m[2]);
function k(name: string): number {
  const v = K[name];
  if (v === undefined) throw new Error(`asm/dns.ts has no ${name}`);
  return v;
}
const OK = k('DNS_OK'), PARTIAL = k('DNS_PARTIAL');
const SHORT = k('DNS_ERR_SHORT'), BAD_LABEL = k('DNS_ERR_BAD_LABEL'), POINTER = k('DNS_ERR_POINTER');
const TOO_LONG = k('DNS_ERR_NAME_TOO_LONG'), COUNTS = k('DNS_ERR_COUNTS'), NO_QUESTION = k('DNS_ERR_NO_QUESTION');
const RDATA = k('DNS_ERR_RDATA');
const HAVE_HEADER = k('HAVE_HEADER'), HAVE_QUESTION = k('HAVE_QUESTION'), HAVE_ALL = k('HAVE_ALL');
const MAX_HOPS = k('MAX_HOPS'), MAX_NAME = k('MAX_NAME'), MAX_ADDRS = k('MAX_ADDRS');
/** The multi-label suffixes, as addSuffixes() calls list them. */
const SUFFIXES = new Set([...SRC.matchAll(/addSuffixes\("([^"]*)"\)/g)].flatMap((m) => m[1]!.split(' ').filter(Boolean)));
const SUF_MAX_LABELS = Math.max(1, ...[...SUFFIXES].map((s) => s.split('.').length));

// ---------------------------------------------------------------- the test build

interface DnsExports {
  memory: WebAssembly.Memory;
  _start?: () => void;
  testDnsReserve(size: number): number;
  testDnsParse(ptr: number, len: number, tcp: number): number;
  testDnsResult(): number;
  testDnsBench(table: number, n: number, rounds: number, tcp: number): number;
}

buildTestWasm();
const x = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(join(REPO_ROOT, 'build', 'core.test.wasm'))), {
  env: { abort: () => { throw new Error('wasm abort'); } },
}).exports as unknown as DnsExports;
x._start?.();

/** Everything the record says, normalised so that two parses can be compared with assert.equal. */
interface Dns {
  status: number; error: number; errorAt: number; have: number;
  id: number; flags: number; qr: number; opcode: number; rcode: number; tc: number;
  qdcount: number; ancount: number; nscount: number; arcount: number;
  qtype: number; qclass: number; qname: string; labels: number; maxLabel: number;
  regOffset: number; subLen: number; subDigits: number; subDistinct: number; subEntropy: number;
  qnameHash: number; regHash: number;
  msgLen: number; end: number; truncated: number;
  addrs: string[]; ttls: number[]; addrTotal: number;
  answers: number; cnames: number; txt: number; nul: number; rdataBytes: number;
}

const latin1 = (b: ArrayLike<number>): string => String.fromCharCode(...Array.from(b));

/** Parse `msg` with its last byte at the last byte of Wasm memory: any read past the end traps. */
function parse(msg: Uint8Array | number[], tcp = false): Dns {
  const bytes = msg instanceof Uint8Array ? msg : Uint8Array.from(msg);
  const mem = new Uint8Array(x.memory.buffer);
  const ptr = mem.length - bytes.length;
  mem.set(bytes, ptr);
  const st = x.testDnsParse(ptr, bytes.length, tcp ? 1 : 0);
  const d = read();
  assert.is(d.status, st, 'R_STATUS is the return value');
  return d;
}

function read(): Dns {
  const buf = x.memory.buffer, r = x.testDnsResult();
  const dv = new DataView(buf, r, k('DNS_RESULT_SIZE')), u8 = new Uint8Array(buf, r, k('DNS_RESULT_SIZE'));
  const U8 = (f: string) => dv.getUint8(k(f)), U16 = (f: string) => dv.getUint16(k(f), true), U32 = (f: string) => dv.getUint32(k(f), true);
  const nAddrs = U8('R_ADDRS');
  const addrs: string[] = [], ttls: number[] = [];
  for (let i = 0; i < nAddrs; i++) {
    const a = u8.subarray(k('R_ADDR') + 16 * i, k('R_ADDR') + 16 * i + 16);
    const fam = dv.getUint8(k('R_ADDR_FAMILY') + i);
    if (fam === 4) addrs.push(`${a[12]}.${a[13]}.${a[14]}.${a[15]}` + (a.subarray(0, 12).join() === '0,0,0,0,0,0,0,0,0,0,255,255' ? '' : '!bad-v4-map'));
    else addrs.push(formatIPv6(a) + (fam === 6 ? '' : '!bad-family'));
    ttls.push(dv.getFloat64(k('R_TTLS') + 8 * i, true));
  }
  return {
    status: dv.getInt32(k('R_STATUS'), true), error: dv.getInt32(k('R_ERROR'), true), errorAt: U32('R_ERROR_AT'), have: U32('R_HAVE'),
    id: U16('R_ID'), flags: U16('R_FLAGS'), qr: U8('R_QR'), opcode: U8('R_OPCODE'), rcode: U8('R_RCODE'), tc: U8('R_TC'),
    qdcount: U16('R_QDCOUNT'), ancount: U16('R_ANCOUNT'), nscount: U16('R_NSCOUNT'), arcount: U16('R_ARCOUNT'),
    qtype: U16('R_QTYPE'), qclass: U16('R_QCLASS'),
    qname: latin1(u8.subarray(k('R_QNAME'), k('R_QNAME') + U16('R_QNAME_LEN'))), labels: U8('R_LABELS'), maxLabel: U8('R_MAX_LABEL'),
    regOffset: U16('R_REG_OFFSET'), subLen: U16('R_SUB_LEN'), subDigits: U16('R_SUB_DIGITS'), subDistinct: U16('R_SUB_DISTINCT'),
    subEntropy: dv.getFloat64(k('R_SUB_ENTROPY'), true), qnameHash: U32('R_QNAME_HASH'), regHash: U32('R_REG_HASH'),
    msgLen: U32('R_MSG_LEN'), end: U32('R_END'), truncated: U8('R_TRUNCATED'),
    addrs, ttls, addrTotal: U16('R_ADDR_TOTAL'),
    answers: U16('R_ANSWERS'), cnames: U16('R_CNAMES'), txt: U16('R_TXT'), nul: U16('R_NULL'), rdataBytes: U32('R_RDATA_BYTES'),
  };
}

// ---------------------------------------------------------------- a reference parser (JavaScript)

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function entropy(s: string): number {
  if (!s) return 0;
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / s.length) * Math.log2(c / s.length);
  return Math.max(0, h);
}

class Fault { constructor(readonly code: number, readonly at: number) {} }

function blank(): Dns {
  return {
    status: 0, error: 0, errorAt: 0, have: 0, id: 0, flags: 0, qr: 0, opcode: 0, rcode: 0, tc: 0,
    qdcount: 0, ancount: 0, nscount: 0, arcount: 0, qtype: 0, qclass: 0, qname: '', labels: 0, maxLabel: 0,
    regOffset: 0, subLen: 0, subDigits: 0, subDistinct: 0, subEntropy: 0, qnameHash: 0, regHash: 0,
    msgLen: 0, end: 0, truncated: 0, addrs: [], ttls: [], addrTotal: 0, answers: 0, cnames: 0, txt: 0, nul: 0, rdataBytes: 0,
  };
}

/** The documented semantics, written plainly: m = the bytes present, declared = the message's length. */
function ref(buf: Uint8Array, tcp: boolean): Dns {
  const r = blank();
  let m: Uint8Array, declared: number;
  if (tcp) {
    if (buf.length < 2) return { ...r, status: SHORT, error: SHORT };
    declared = (buf[0]! << 8) | buf[1]!;
    m = buf.subarray(2, 2 + Math.min(declared, buf.length - 2));
    r.truncated = declared > buf.length - 2 ? 1 : 0;
  } else {
    declared = buf.length;
    m = buf;
  }
  r.msgLen = declared;
  const be16 = (p: number) => (m[p]! << 8) | m[p + 1]!;
  const be32 = (p: number) => ((m[p]! << 24) | (m[p + 1]! << 16) | (m[p + 2]! << 8) | m[p + 3]!) >>> 0;

  /** Walk a name; returns the offset after its in-place part. `out` collects the folded labels. */
  const name = (start: number, out?: { labels: string[] }): number => {
    let p = start, wire = 1, hops = 0, next = -1;
    for (;;) {
      if (p >= m.length) throw new Fault(SHORT, p);
      const b = m[p]!;
      if (b === 0) return next < 0 ? p + 1 : next;
      if (b >= 0xc0) {
        if (p + 2 > m.length) throw new Fault(SHORT, p);
        const t = ((b & 0x3f) << 8) | m[p + 1]!;
        if (t >= declared || ++hops > MAX_HOPS) throw new Fault(POINTER, p);
        if (next < 0) next = p + 2;
        p = t;
        continue;
      }
      if (b > 63) throw new Fault(BAD_LABEL, p);
      wire += b + 1;
      if (wire > MAX_NAME) throw new Fault(TOO_LONG, p);
      if (p + 1 + b > m.length) throw new Fault(SHORT, p);
      if (out) out.labels.push(latin1(m.subarray(p + 1, p + 1 + b)).replace(/[A-Z]/g, (c) => c.toLowerCase()));
      p += 1 + b;
    }
  };

  let impossible = false;
  const ranOut = (f: Fault) => (f.code === SHORT && impossible ? COUNTS : f.code);
  try {
    if (m.length < 12) throw new Fault(SHORT, 0);
    r.id = be16(0); r.flags = be16(2);
    r.qr = r.flags >> 15; r.opcode = (r.flags >> 11) & 15; r.rcode = r.flags & 15; r.tc = (r.flags >> 9) & 1;
    r.qdcount = be16(4); r.ancount = be16(6); r.nscount = be16(8); r.arcount = be16(10);
    r.have = HAVE_HEADER;
    if (r.qdcount === 0) throw new Fault(NO_QUESTION, 4);
    impossible = r.qdcount * 5 + (r.ancount + r.nscount + r.arcount) * 11 > declared - 12;
    const q = { labels: [] as string[] };
    let p = name(12, q);
    if (p + 4 > m.length) throw new Fault(SHORT, p);
    r.qtype = be16(p); r.qclass = be16(p + 2);
    p += 4;
    r.have |= HAVE_QUESTION;
    r.end = p;
    // the name's features
    const labels = q.labels;
    r.qname = labels.join('.');
    r.labels = labels.length;
    r.maxLabel = Math.max(0, ...labels.map((l) => l.length));
    r.qnameHash = fnv(r.qname);
    const n = labels.length;
    let regLabels = n;
    if (n > 2) {
      regLabels = 2;
      for (let kk = Math.min(SUF_MAX_LABELS, n - 1); kk >= 2; kk--) {
        if (SUFFIXES.has(labels.slice(n - kk).join('.'))) { regLabels = kk + 1; break; }
      }
    }
    const sub = labels.slice(0, n - regLabels).join('.');
    r.regOffset = regLabels < n ? sub.length + 1 : 0;
    r.regHash = fnv(r.qname.slice(r.regOffset));
    if (r.regOffset > 0) {
      r.subLen = sub.length;
      r.subDigits = [...sub].filter((c) => c >= '0' && c <= '9').length;
      r.subDistinct = new Set(sub).size;
      r.subEntropy = entropy(sub);
    }
    // everything after the first question: a fault is PARTIAL
    try {
      for (let i = 1; i < r.qdcount; i++) {
        p = name(p);
        if (p + 4 > m.length) throw new Fault(SHORT, p);
        p += 4;
        r.end = p;
      }
      const a = { n: 0, addrs: [] as string[], ttls: [] as number[], total: 0, cn: 0, txt: 0, nul: 0, rd: 0 };
      try {
        for (let i = 0; i < r.ancount; i++) {
          p = name(p);
          if (p + 10 > m.length) throw new Fault(SHORT, p);
          const type = be16(p), cls = be16(p + 2) & 0x7fff, ttl = be32(p + 4), rdlen = be16(p + 8);
          const rd = p + 10, rdEnd = rd + rdlen;
          if (rdEnd > m.length) throw new Fault(SHORT, rd);
          if ((type === 1 || type === 28) && cls === 1) {
            if (rdlen !== (type === 1 ? 4 : 16)) throw new Fault(RDATA, rd);
            if (a.addrs.length < MAX_ADDRS) {
              a.addrs.push(type === 1 ? Array.from(m.subarray(rd, rd + 4)).join('.') : formatIPv6(m.subarray(rd, rd + 16)));
              a.ttls.push(ttl);
            }
            a.total++;
          } else if ([5, 2, 12, 39, 15].includes(type)) {
            if (type === 15 && rdlen < 3) throw new Fault(RDATA, rd);
            if (name(type === 15 ? rd + 2 : rd) !== rdEnd) throw new Fault(RDATA, rd);
            if (type === 5) a.cn++;
          } else if (type === 16) a.txt++;
          else if (type === 10) a.nul++;
          a.rd += rdlen;
          a.n++;
          p = rdEnd;
          r.end = p;
        }
      } finally {
        r.answers = a.n; r.addrs = a.addrs; r.ttls = a.ttls; r.addrTotal = a.total;
        r.cnames = a.cn; r.txt = a.txt; r.nul = a.nul; r.rdataBytes = a.rd;
      }
      for (let i = 0; i < r.nscount + r.arcount; i++) {
        p = name(p);
        if (p + 10 > m.length) throw new Fault(SHORT, p);
        const rdEnd = p + 10 + be16(p + 8);
        if (rdEnd > m.length) throw new Fault(SHORT, p + 10);
        p = rdEnd;
        r.end = p;
      }
    } catch (f) {
      if (!(f instanceof Fault)) throw f;
      return { ...r, status: PARTIAL, error: ranOut(f), errorAt: f.at };
    }
    r.have |= HAVE_ALL;
    return r;
  } catch (f) {
    if (!(f instanceof Fault)) throw f;
    const code = ranOut(f);
    return { ...r, status: code, error: code, errorAt: f.at };
  }
}

/** Wasm and reference agree on everything (entropy to 1e-9), and the result is internally consistent. */
function check(msg: Uint8Array, tcp: boolean, what: string): Dns {
  const d = parse(msg, tcp);
  const e = ref(msg, tcp);
  assert.ok(Math.abs(d.subEntropy - e.subEntropy) < 1e-9, `${what}: entropy ${d.subEntropy} vs ${e.subEntropy}`);
  assert.equal({ ...d, subEntropy: 0 }, { ...e, subEntropy: 0 }, what);
  consistent(d, what);
  return d;
}

function consistent(d: Dns, what: string): void {
  const ok = (c: boolean, m: string) => { if (!c) assert.unreachable(`${what}: ${m} (${JSON.stringify(d)})`); };
  ok([OK, PARTIAL, SHORT, BAD_LABEL, POINTER, TOO_LONG, COUNTS, NO_QUESTION, RDATA].includes(d.status), 'known status');
  ok(d.status === OK ? d.error === 0 && d.have === (HAVE_HEADER | HAVE_QUESTION | HAVE_ALL) : d.error < 0, 'error set unless OK');
  ok(d.status >= 0 === ((d.have & HAVE_QUESTION) !== 0), 'question valid iff status >= 0');
  ok(d.status !== PARTIAL || d.error !== NO_QUESTION, 'partial never for a missing question');
  if (d.status >= 0) {
    ok(d.qname.length <= MAX_NAME - 2 && !/[A-Z]/.test(d.qname), 'qname length and case');
    ok(d.labels <= 127 && d.maxLabel <= 63 && (d.labels === 0) === (d.qname.length === 0 && d.maxLabel === 0), 'labels');
    ok(d.qname.length >= d.labels - 1 + d.maxLabel, 'labels fit the name');
    ok(d.qnameHash === fnv(d.qname) && d.regHash === fnv(d.qname.slice(d.regOffset)), 'hashes');
    ok(d.regOffset === 0 ? d.subLen === 0 : d.subLen === d.regOffset - 1 && d.qname[d.subLen] === '.', 'registered domain offset');
    ok(d.subDigits <= d.subLen && d.subDistinct <= d.subLen && d.subEntropy <= Math.log2(Math.max(1, d.subDistinct)) + 1e-9, 'subdomain statistics');
    ok(d.end >= 12 + 5 && d.end <= d.msgLen, 'end within the message');
  }
  ok(d.addrs.length <= MAX_ADDRS && d.addrs.length <= d.addrTotal && !d.addrs.some((a) => a.includes('!')), 'addresses');
  ok(d.addrTotal + d.cnames + d.txt + d.nul <= d.answers && d.answers <= d.ancount, 'answer counts');
  ok(d.rdataBytes <= d.msgLen, 'rdata bytes');
  if (d.status === OK) ok(d.answers === d.ancount, 'every answer parsed');
}

// ---------------------------------------------------------------- message builders

type B = number[];
const be16 = (v: number): B => [(v >>> 8) & 0xff, v & 0xff];
const be32 = (v: number): B => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const bytesOf = (s: string): B => Array.from(s, (c) => c.charCodeAt(0));
/** Labels of a dotted name without the terminating root byte (for a pointer after them). */
const labels = (s: string): B => (s === '' ? [] : s.split('.').flatMap((l) => [l.length, ...bytesOf(l)]));
/** A whole name ('' = the root). */
const nm = (s: string): B => [...labels(s), 0];
const ptr = (off: number): B => [0xc0 | (off >> 8), off & 0xff];
const QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080;
const T = { A: 1, NS: 2, CNAME: 5, SOA: 6, NULL: 10, PTR: 12, MX: 15, TXT: 16, AAAA: 28, OPT: 41 } as const;
const Q12 = ptr(12); // the first question's name

function question(name: B, type: number, cls = 1): B { return [...name, ...be16(type), ...be16(cls)]; }
function rr(name: B, type: number, ttl: number, rdata: B, cls = 1): B {
  return [...name, ...be16(type), ...be16(cls), ...be32(ttl), ...be16(rdata.length), ...rdata];
}
function message(o: { id?: number; flags?: number; qd?: B[]; an?: B[]; ns?: B[]; ar?: B[]; counts?: number[] }): Uint8Array {
  const qd = o.qd ?? [], an = o.an ?? [], ns = o.ns ?? [], ar = o.ar ?? [];
  const c = o.counts ?? [qd.length, an.length, ns.length, ar.length];
  return Uint8Array.from([...be16(o.id ?? 0x1234), ...be16(o.flags ?? RD), ...c.flatMap((n) => be16(n)), ...qd.flat(), ...an.flat(), ...ns.flat(), ...ar.flat()]);
}
const tcpFrame = (m: Uint8Array, declared = m.length): Uint8Array => Uint8Array.from([...be16(declared), ...m]);
const ipv4 = (s: string): B => s.split('.').map(Number);
function ipv6(s: string): B {
  const [h, t] = s.split('::');
  const hs = h ? h.split(':') : [], ts = t ? t.split(':') : [];
  const g = t === undefined ? hs : [...hs, ...new Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  return g.flatMap((w) => be16(parseInt(w, 16)));
}

// The corpus every hostile test starts from.
const QUERY = message({ id: 0xbeef, qd: [question(nm('www.Example.COM'), T.A)] });
const A_RESP = message({
  id: 0xbeef, flags: QR | RD | RA,
  qd: [question(nm('www.example.com'), T.A)],
  an: [rr(Q12, T.A, 300, ipv4('93.184.216.34')), rr(Q12, T.A, 0xfffffffe, ipv4('10.0.0.1'))],
});
const AAAA_RESP = message({
  flags: QR | RD | RA,
  qd: [question(nm('ipv6.google.com'), T.AAAA)],
  an: [rr(Q12, T.AAAA, 60, ipv6('2607:f8b0:4004:c07::71'))],
});
// www.example.com CNAME edge.cdn.example.net (offset 33+12=45: labels 'edge.cdn' + pointer to 'example' … no: a fresh name);
// then edge.cdn.example.net CNAME e1.cdn.example.net (pointer into the first rdata), then two A for it.
function cnameChain(): Uint8Array {
  const q = question(nm('www.example.com'), T.A); // 12..32 (name 17 bytes + 4)
  const a1Rd = nm('edge.cdn.example.net'); // rdata of the first CNAME at 12+21+12 = 45
  const a1 = rr(Q12, T.CNAME, 3600, a1Rd);
  const rd1 = 12 + q.length + 12;
  const a2Rd = [...labels('e1'), ...ptr(rd1 + 5)]; // e1 + 'cdn.example.net' inside the first rdata
  const a2 = rr(ptr(rd1), T.CNAME, 60, a2Rd);
  const rd2 = 12 + q.length + a1.length + 12;
  return message({
    flags: QR | RD | RA, qd: [q],
    an: [a1, a2, rr(ptr(rd2), T.A, 20, ipv4('192.0.2.1')), rr(ptr(rd2), T.A, 20, ipv4('192.0.2.2'))],
  });
}
const CNAME_CHAIN = cnameChain();
const MIXED = message({
  flags: QR | RD | RA,
  qd: [question(nm('Mixed.Example.org'), 255)],
  an: [
    rr(Q12, T.TXT, 10, [11, ...bytesOf('v=spf1 -all'), 3, ...bytesOf('abc')]),
    rr(Q12, T.NULL, 10, [1, 2, 3, 4, 5]),
    rr(Q12, T.MX, 10, [...be16(10), ...labels('mail'), ...Q12]),
    rr(Q12, T.TXT, 10, []),
  ],
  ar: [rr(nm(''), T.OPT, 0, [], 1232)],
});
const NXDOMAIN = message({
  flags: QR | RD | RA | 3,
  qd: [question(nm('nonexistent.example.com'), T.A)],
  ns: [rr(ptr(12 + 12), T.SOA, 900, [...labels('ns'), ...ptr(12 + 12), ...labels('hostmaster'), ...ptr(12 + 12), ...be32(1), ...be32(2), ...be32(3), ...be32(4), ...be32(5)])],
});
const CORPUS: [string, Uint8Array][] = [
  ['query', QUERY], ['A response', A_RESP], ['AAAA response', AAAA_RESP], ['CNAME chain', CNAME_CHAIN],
  ['TXT/NULL/MX', MIXED], ['NXDOMAIN', NXDOMAIN],
];

// ---------------------------------------------------------------- hand-built messages

const msgs = suite('dns: messages');

msgs('layout: the record holds every field without overlap', () => {
  const fields = Object.entries(K).filter(([n]) => n.startsWith('R_')).sort((a, b) => a[1] - b[1]);
  assert.ok(fields.length >= 40, `${fields.length} fields`);
  assert.ok(k('R_ADDR') + 16 * MAX_ADDRS <= k('R_QNAME') && k('R_TTLS') + 8 * MAX_ADDRS <= k('R_ADDR') && k('R_ADDR_FAMILY') + MAX_ADDRS <= k('R_TTLS'));
  assert.ok(k('R_QNAME') + 256 <= k('DNS_RESULT_SIZE'));
  assert.ok(k('R_SUB_ENTROPY') % 8 === 0 && k('R_TTLS') % 8 === 0, 'f64 aligned');
  assert.ok(SUFFIXES.has('co.uk') && SUFFIXES.has('appspot.com') && SUFFIXES.size >= 30, 'suffix list read from asm/dns.ts');
});

msgs('A query: header, question, case folding, registered domain, hashes', () => {
  const d = check(QUERY, false, 'query');
  assert.is(d.status, OK);
  assert.equal([d.id, d.qr, d.opcode, d.rcode, d.tc, d.qdcount, d.ancount], [0xbeef, 0, 0, 0, 0, 1, 0]);
  assert.equal([d.qname, d.qtype, d.qclass, d.labels, d.maxLabel], ['www.example.com', 1, 1, 3, 7]);
  assert.equal([d.regOffset, d.subLen, d.subDigits, d.subDistinct, d.subEntropy], [4, 3, 0, 1, 0]);
  assert.is(d.qnameHash, fnv('www.example.com'));
  assert.is(d.regHash, fnv('example.com'));
  assert.is(fnv('a'), 0xe40c292c, 'FNV-1a test vector');
  assert.equal([d.msgLen, d.end, d.have], [QUERY.length, QUERY.length, HAVE_HEADER | HAVE_QUESTION | HAVE_ALL]);
});

msgs('A response: two compressed answers, v4-mapped addresses, TTLs as unsigned', () => {
  const d = check(A_RESP, false, 'A');
  assert.is(d.status, OK);
  assert.equal([d.qr, d.rcode, d.ancount, d.answers], [1, 0, 2, 2]);
  assert.equal(d.addrs, ['93.184.216.34', '10.0.0.1']);
  assert.equal(d.ttls, [300, 0xfffffffe]);
  assert.equal([d.addrTotal, d.rdataBytes], [2, 8]);
  const mem = new Uint8Array(x.memory.buffer, x.testDnsResult() + k('R_ADDR'), 16);
  assert.equal(Array.from(mem), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 93, 184, 216, 34]);
});

msgs('AAAA response', () => {
  const d = check(AAAA_RESP, false, 'AAAA');
  assert.equal([d.status, d.qtype, d.addrs, d.ttls, d.rdataBytes], [OK, 28, ['2607:f8b0:4004:c07::71'], [60], 16]);
  assert.equal([d.qname, d.regOffset, d.subLen], ['ipv6.google.com', 5, 4]);
});

msgs('CNAME chain with pointers into earlier rdata', () => {
  const d = check(CNAME_CHAIN, false, 'chain');
  assert.is(d.status, OK);
  assert.equal([d.answers, d.cnames, d.addrTotal, d.addrs], [4, 2, 2, ['192.0.2.1', '192.0.2.2']]);
  assert.is(d.rdataBytes, nm('edge.cdn.example.net').length + 5 + 8);
});

msgs('TXT, NULL, MX (name validated), empty TXT, OPT in additional', () => {
  const d = check(MIXED, false, 'mixed');
  assert.is(d.status, OK);
  assert.equal([d.qname, d.qtype, d.txt, d.nul, d.cnames, d.addrTotal, d.answers, d.arcount], ['mixed.example.org', 255, 2, 1, 0, 0, 4, 1]);
  assert.is(d.rdataBytes, 16 + 5 + 9 + 0);
  // An MX whose name runs past its rdata is DNS_ERR_RDATA, after the question.
  const bad = message({ flags: QR, qd: [question(nm('x.org'), T.MX)], an: [[...Q12, ...be16(T.MX), 0, 1, 0, 0, 0, 0, 0, 3, 0, 10, 1], [97, 0]] }); // rdata 3 bytes, the name 'a' 3 bytes from its third
  const b = check(bad, false, 'bad MX');
  assert.equal([b.status, b.error, b.qname, b.answers], [PARTIAL, RDATA, 'x.org', 0]);
  const noPref = message({ flags: QR, qd: [question(nm('x.org'), T.MX)], an: [rr(Q12, T.MX, 1, [0, 10])] });
  assert.equal([check(noPref, false, 'MX 2 bytes').error], [RDATA]);
});

msgs('NXDOMAIN with an SOA in authority', () => {
  const d = check(NXDOMAIN, false, 'nx');
  assert.equal([d.status, d.rcode, d.qr, d.ancount, d.nscount, d.answers, d.end], [OK, 3, 1, 0, 1, 0, NXDOMAIN.length]);
  assert.equal([d.qname, d.regOffset, d.subLen, d.subDistinct], ['nonexistent.example.com', 12, 11, 7]);
});

msgs('header fields: opcode, TC, AA and the raw flags', () => {
  const m = message({ id: 7, flags: QR | AA | TC | (5 << 11) | 2, qd: [question(nm('a.b'), T.A)] });
  const d = check(m, false, 'flags');
  assert.equal([d.id, d.qr, d.opcode, d.tc, d.rcode, d.flags], [7, 1, 5, 1, 2, QR | AA | TC | (5 << 11) | 2]);
});

msgs('TCP framing: the first message only; a prefix longer than the data', () => {
  const two = Uint8Array.from([...tcpFrame(A_RESP), ...tcpFrame(QUERY)]);
  const d = check(two, true, 'tcp two');
  assert.equal([d.status, d.msgLen, d.end, d.truncated, d.addrs.length, d.qr], [OK, A_RESP.length, A_RESP.length, 0, 2, 1]);
  // cut inside the question: SHORT (never COUNTS: the prefix says the counts fit), flagged truncated
  const cutQ = tcpFrame(A_RESP).subarray(0, 2 + 20);
  const q = check(cutQ, true, 'tcp cut question');
  assert.equal([q.status, q.truncated, q.have, q.msgLen], [SHORT, 1, HAVE_HEADER, A_RESP.length]);
  // cut inside the answers: PARTIAL with the question
  const cutA = tcpFrame(A_RESP).subarray(0, A_RESP.length - 3);
  const a = check(cutA, true, 'tcp cut answers');
  assert.equal([a.status, a.error, a.truncated, a.qname, a.answers, a.addrs], [PARTIAL, SHORT, 1, 'www.example.com', 1, ['93.184.216.34']]);
  // a prefix shorter than the header, a zero prefix, one byte
  assert.is(check(Uint8Array.from([0, 5, ...A_RESP]), true, 'prefix 5').status, SHORT);
  assert.is(check(Uint8Array.from([0, 0]), true, 'prefix 0').status, SHORT);
  assert.is(check(Uint8Array.from([0]), true, 'one byte').status, SHORT);
  assert.is(check(new Uint8Array(0), true, 'empty tcp').status, SHORT);
});

msgs('names at the limits: 63-byte labels, 255 octets; one more is an error', () => {
  const l63 = 'a'.repeat(63);
  const d = check(message({ qd: [question(nm(`${l63}.com`), T.A)] }), false, '63');
  assert.equal([d.status, d.maxLabel, d.labels], [OK, 63, 2]);
  const l64 = message({ qd: [question([64, ...new Array<number>(64).fill(97), 0], T.A)] });
  assert.equal([check(l64, false, '64').status, check(l64, false, '64').errorAt], [BAD_LABEL, 12]);
  // 255 octets: 3 × (1 + 63) + (1 + 61) + 1
  const name255 = `${l63}.${l63}.${l63}.${'b'.repeat(61)}`;
  assert.is(nm(name255).length, 255);
  const ok = check(message({ qd: [question(nm(name255), T.A)] }), false, '255');
  assert.equal([ok.status, ok.qname, ok.qname.length, ok.labels], [OK, name255, 253, 4]);
  assert.equal([ok.regOffset, ok.subLen], [128, 127]);
  const name256 = `${l63}.${l63}.${l63}.${'b'.repeat(62)}`;
  const long = check(message({ qd: [question(nm(name256), T.A)] }), false, '256');
  assert.equal([long.status, long.have, long.errorAt], [TOO_LONG, HAVE_HEADER, 12 + 3 * 64]);
  // 127 one-byte labels: 255 octets, the most labels there can be
  const many = Array.from({ length: 127 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('.');
  const m = check(message({ qd: [question(nm(many), T.A)] }), false, '127 labels');
  assert.equal([m.status, m.labels, m.maxLabel, m.qname.length], [OK, 127, 1, 253]);
});

msgs('case folding: A–Z only; other bytes kept, a dot inside a label kept', () => {
  const raw = [3, ...bytesOf('WwW'), 4, 0xc4, 0x41, 0x5a, 0x5b, 3, ...bytesOf('a.B'), 3, ...bytesOf('COM'), 0];
  const d = check(message({ qd: [question(raw, T.A)] }), false, 'fold');
  assert.is(d.qname, 'www.\xc4az[.a.b.com');
  assert.equal([d.labels, d.regOffset, d.subLen], [4, 9, 8], 'labels are counted at their boundaries, not at dots');
});

msgs('registered domain: public suffixes, short names, the root', () => {
  const cases: [string, string, string][] = [
    ['www.example.co.uk', 'example.co.uk', 'www'],
    ['a.b.example.com', 'example.com', 'a.b'],
    ['example.com', 'example.com', ''],
    ['localhost', 'localhost', ''],
    ['wpad', 'wpad', ''],
    ['co.uk', 'co.uk', ''],
    ['www.co.uk', 'www.co.uk', ''],
    ['x.y.bucket.s3.amazonaws.com', 's3.amazonaws.com', 'x.y.bucket'],
    ['user.github.io', 'user.github.io', ''],
    ['a.user.github.io', 'user.github.io', 'a'],
    ['deep.sub.shop.com.br', 'shop.com.br', 'deep.sub'],
    ['uk.co', 'uk.co', ''],
    ['www.notco.uk', 'notco.uk', 'www'],
    ['1.2.3.4.in-addr.arpa', 'in-addr.arpa', '1.2.3.4'],
  ];
  for (const [q, reg, sub] of cases) {
    const d = check(message({ qd: [question(nm(q), T.A)] }), false, q);
    assert.is(d.qname.slice(d.regOffset), reg, q);
    assert.is(d.qname.slice(0, d.subLen), sub, q);
    assert.is(d.regHash, fnv(reg), q);
  }
  const root = check(message({ qd: [question(nm(''), T.NS)] }), false, 'root');
  assert.equal([root.status, root.qname, root.labels, root.regOffset, root.qnameHash], [OK, '', 0, 0, fnv('')]);
});

msgs('subdomain statistics: length, digits, distinct bytes, entropy', () => {
  const d = check(message({ qd: [question(nm('a1b2c3aa.x9.example.com'), T.TXT)] }), false, 'stats');
  assert.equal([d.subLen, d.subDigits, d.subDistinct], [11, 4, 9]);
  assert.ok(Math.abs(d.subEntropy - entropy('a1b2c3aa.x9')) < 1e-12);
  const dga = check(message({ qd: [question(nm('q8x0vz3kp1mw7tyb.evil.net'), T.A)] }), false, 'dga');
  assert.ok(Math.abs(dga.subEntropy - 4) < 1e-12, `16 distinct of 16: ${dga.subEntropy}`);
  const aab = check(message({ qd: [question(nm('aab.example.com'), T.A)] }), false, 'aab');
  assert.ok(Math.abs(aab.subEntropy - 0.9182958340544896) < 1e-12, `aab: ${aab.subEntropy}`);
});

msgs('qdcount 0, qdcount 2, mDNS cache-flush class, non-IN A, bad A length', () => {
  const none = check(message({ id: 9, flags: QR, counts: [0, 0, 0, 0] }), false, 'no question');
  assert.equal([none.status, none.have, none.id, none.qr], [NO_QUESTION, HAVE_HEADER, 9, 1]);
  const two = check(message({ qd: [question(nm('a.example'), T.A), question(ptr(12), T.AAAA)] }), false, 'two questions');
  assert.equal([two.status, two.qdcount, two.qtype, two.qname], [OK, 2, 1, 'a.example']);
  const mdns = check(message({ flags: QR | AA, qd: [question(nm('printer.local'), T.A, 0x8001)], an: [rr(Q12, T.A, 120, ipv4('192.168.1.5'), 0x8001)] }), false, 'mdns');
  assert.equal([mdns.status, mdns.qclass, mdns.addrs], [OK, 0x8001, ['192.168.1.5']]);
  const chaos = check(message({ flags: QR, qd: [question(nm('version.bind'), T.TXT, 3)], an: [rr(Q12, T.A, 0, [1, 2], 3)] }), false, 'chaos');
  assert.equal([chaos.status, chaos.addrTotal, chaos.rdataBytes], [OK, 0, 2]);
  const badA = check(message({ flags: QR, qd: [question(nm('a.example'), T.A)], an: [rr(Q12, T.A, 5, [1, 2, 3, 4, 5])] }), false, 'A of 5');
  assert.equal([badA.status, badA.error, badA.qname, badA.answers], [PARTIAL, RDATA, 'a.example', 0]);
});

msgs('more than MAX_ADDRS addresses: the first ones kept, all counted', () => {
  const an = Array.from({ length: 11 }, (_, i) => rr(Q12, i % 2 ? T.AAAA : T.A, i, i % 2 ? ipv6(`2001:db8::${i}`) : ipv4(`10.0.0.${i}`)));
  const d = check(message({ flags: QR, qd: [question(nm('many.example'), 255)], an }), false, 'many');
  assert.equal([d.status, d.addrs.length, d.addrTotal, d.answers], [OK, MAX_ADDRS, 11, 11]);
  assert.equal(d.addrs.slice(0, 3), ['10.0.0.0', '2001:db8::1', '10.0.0.2']);
  assert.equal(d.ttls, [0, 1, 2, 3, 4, 5, 6, 7]);
});

// ---------------------------------------------------------------- hostile input

const hostile = suite('dns: hostile input');

const hdr = (qd: number, an = 0, ns = 0, ar = 0, flags = 0): B => [0, 1, ...be16(flags), ...be16(qd), ...be16(an), ...be16(ns), ...be16(ar)];

hostile('pointer loops: self, A→B→A, in an answer, a chain of MAX_HOPS and one more', () => {
  const self = Uint8Array.from([...hdr(1), ...ptr(12), 0, 1, 0, 1]);
  assert.equal([check(self, false, 'self').status, check(self, false, 'self').errorAt], [POINTER, 12]);
  // 12: pointer to 20; 20: pointer to 12
  const ab = Uint8Array.from([...hdr(1), ...ptr(20), 0, 1, 0, 1, 0, 0, ...ptr(12)]);
  assert.is(check(ab, false, 'A→B→A').status, POINTER);
  // label, then a pointer back to the label: a loop that grows the name (NAME_TOO_LONG or POINTER, never a hang)
  const grow = Uint8Array.from([...hdr(1), 1, 97, ...ptr(12), 0, 1, 0, 1]);
  assert.ok([POINTER, TOO_LONG].includes(check(grow, false, 'growing loop').status));
  const inAnswer = Uint8Array.from([...A_RESP.subarray(0, 33), ...ptr(33), ...A_RESP.subarray(35)]);
  const d = check(inAnswer, false, 'loop in an answer');
  assert.equal([d.status, d.error, d.qname, d.errorAt], [PARTIAL, POINTER, 'www.example.com', 33]);
  // a chain of pointers: the question's pointer at 12 → 18 → 20 → … → the name
  const chain = (hops: number): Uint8Array => {
    const nameAt = 18 + 2 * (hops - 1);
    const b: B = [...hdr(1), ...ptr(hops > 1 ? 18 : nameAt), 0, 1, 0, 1];
    for (let i = 0; i < hops - 1; i++) b.push(...ptr(i < hops - 2 ? 20 + 2 * i : nameAt));
    b.push(...nm('x.example'));
    return Uint8Array.from(b);
  };
  const okChain = check(chain(MAX_HOPS), false, 'MAX_HOPS');
  assert.equal([okChain.status, okChain.qname], [OK, 'x.example']);
  assert.is(check(chain(MAX_HOPS + 1), false, 'MAX_HOPS + 1').status, POINTER);
});

hostile('pointers: beyond the message, at its last byte, forward, into the header', () => {
  const beyond = Uint8Array.from([...hdr(1), ...ptr(0x3fff), 0, 1, 0, 1]);
  assert.is(check(beyond, false, 'beyond').status, POINTER);
  const atEnd = Uint8Array.from([...hdr(1), ...ptr(18), 0, 1, 0, 1]); // 18 = length
  assert.is(check(atEnd, false, 'at the end').status, POINTER);
  const half = Uint8Array.from([...hdr(1), 0xc0]);
  // data ends in the question's name: the header's qdcount 1 could never fit in 13 bytes
  assert.is(check(half, false, 'half a pointer').status, COUNTS);
  const halfTcp = tcpFrame(Uint8Array.from([...hdr(1), 0xc0, 12, 0, 1, 0, 1])).subarray(0, 15);
  assert.is(check(halfTcp, true, 'half a pointer, tcp').status, SHORT);
  const forward = Uint8Array.from([...hdr(1), ...ptr(18), 0, 1, 0, 1, ...nm('fwd.example')]);
  const f = check(forward, false, 'forward');
  assert.equal([f.status, f.qname, f.end], [OK, 'fwd.example', 18]);
  const header = Uint8Array.from([...hdr(1), ...ptr(3), 0, 1, 0, 1]); // byte 3 = flags low = 0: the root
  assert.equal([check(header, false, 'into the header').status, check(header, false, 'into the header').qname], [OK, '']);
});

hostile('bad labels: 64, 0x80, 0xbf; names over 255 octets through pointers', () => {
  for (const b of [64, 0x80, 0xbf]) {
    assert.is(check(Uint8Array.from([...hdr(1), b, 0, 0, 1, 0, 1]), false, `label ${b}`).status, BAD_LABEL);
  }
  // four 63-byte labels reached through pointers: 12 → [63 a] ptr → [63 b] ptr → …
  const body: B = [];
  const at = (i: number) => 18 + i * 66; // after the question's pointer and fixed fields
  for (let i = 0; i < 4; i++) body.push(63, ...new Array<number>(63).fill(97 + i), ...(i < 3 ? ptr(at(i + 1)) : [0]));
  const m = Uint8Array.from([...hdr(1), ...ptr(at(0)), 0, 1, 0, 1, ...body]);
  const d = check(m, false, 'long through pointers');
  assert.equal([d.status, d.errorAt], [TOO_LONG, at(3)]);
});

hostile('impossible counts: ancount 65535 with no data; every count 65535', () => {
  const m = Uint8Array.from([...A_RESP.subarray(0, 6), 0xff, 0xff, ...A_RESP.subarray(8)]);
  const d = check(m, false, 'an 65535');
  assert.equal([d.status, d.error, d.qname, d.answers, d.addrs.length], [PARTIAL, COUNTS, 'www.example.com', 2, 2]);
  const q = Uint8Array.from([...QUERY.subarray(0, 4), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...QUERY.subarray(12)]);
  const e = check(q, false, 'all 65535');
  assert.equal([e.status, e.error, e.qname], [PARTIAL, COUNTS, 'www.example.com']);
  const onlyHeader = Uint8Array.from(hdr(3, 3));
  assert.equal([check(onlyHeader, false, 'header only').status], [COUNTS]);
  assert.equal([check(Uint8Array.from(hdr(1)), false, 'qd 1, no bytes').status], [COUNTS]);
});

hostile('zero-length and sub-header messages', () => {
  for (let n = 0; n < 12; n++) {
    const d = check(A_RESP.subarray(0, n), false, `${n} bytes`);
    assert.equal([d.status, d.have], [SHORT, 0]);
  }
});

hostile('every truncation of every valid message (UDP and TCP): never throws, the question kept once complete', () => {
  for (const [what, full] of CORPUS) {
    const whole = check(full, false, what);
    assert.is(whole.status, OK, what);
    const questionEnd = firstQuestionEnd(full);
    for (let n = 0; n <= full.length; n++) {
      const cut = full.subarray(0, n);
      const u = check(cut, false, `${what} cut at ${n}`);
      const t = check(tcpFrame(full).subarray(0, 2 + n), true, `${what} tcp cut at ${n}`);
      if (n < 12) { assert.is(u.status, SHORT); assert.is(t.status, SHORT); continue; }
      assert.is(t.truncated, n < full.length ? 1 : 0);
      assert.ok(t.error !== COUNTS, `${what} tcp at ${n}: the prefix's length fits the counts`);
      for (const d of [u, t]) {
        if (n < questionEnd) {
          assert.ok(d.status < 0 && d.have === HAVE_HEADER, `${what} at ${n}: no question yet (${d.status})`);
          assert.is(d.id, whole.id);
        } else {
          assert.ok(d.status >= 0, `${what} at ${n}: question complete, status ${d.status}`);
          assert.equal([d.qname, d.qtype, d.qclass, d.qnameHash, d.regHash, d.rcode], [whole.qname, whole.qtype, whole.qclass, whole.qnameHash, whole.regHash, whole.rcode]);
          if (n < full.length) assert.is(d.status, PARTIAL, `${what} at ${n}`);
        }
      }
    }
  }
});

function firstQuestionEnd(m: Uint8Array): number {
  let p = 12;
  while (m[p] !== 0 && m[p]! < 0xc0) p += m[p]! + 1;
  return (m[p] === 0 ? p + 1 : p + 2) + 4;
}

hostile('100k seeded mutations of valid messages: never throws, agrees with the reference, consistent', () => {
  const rng = new Rng('dns-mutations');
  const interesting = [0, 1, 12, 63, 64, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xff];
  const outcomes = new Map<number, number>();
  for (let i = 0; i < 100_000; i++) {
    const base = rng.pick(CORPUS)[1];
    const b: number[] = Array.from(base);
    const edits = rng.int(1, 4);
    for (let e = 0; e < edits; e++) {
      const pos = rng.int(0, Math.max(0, b.length - 1));
      switch (rng.int(0, 7)) {
        case 0: b[pos] = rng.int(0, 255); break;
        case 1: b[pos] = rng.pick(interesting); break;
        case 2: { const t = rng.int(0, b.length + 16); b[pos] = 0xc0 | ((t >> 8) & 0x3f); b[pos + 1] = t & 0xff; break; }
        case 3: b.length = rng.int(0, b.length); break;
        case 4: b.splice(pos, 0, ...Array.from({ length: rng.int(1, 8) }, () => rng.int(0, 255))); break;
        case 5: b.splice(pos, rng.int(1, 8)); break;
        case 6: { const c = rng.int(2, 5) * 2; b[c] = rng.chance(0.5) ? 0xff : rng.int(0, 3); b[c + 1] = rng.int(0, 255); break; }
        default: b[pos] = b[pos]! ^ (1 << rng.int(0, 7)); break;
      }
    }
    const msg = Uint8Array.from(b.map((v) => (v ?? 0) & 0xff));
    const tcp = rng.chance(0.2);
    const input = tcp ? (rng.chance(0.5) ? tcpFrame(msg) : Uint8Array.from([rng.int(0, 255), rng.int(0, 255), ...msg])) : msg;
    const d = check(input, tcp, `mutation ${i}`);
    outcomes.set(d.status, (outcomes.get(d.status) ?? 0) + 1);
    if (d.status === PARTIAL) outcomes.set(100 + d.error, (outcomes.get(100 + d.error) ?? 0) + 1);
  }
  // The mutations reach every status, and every error after a parsed question (100 + error).
  for (const s of [OK, PARTIAL, SHORT, BAD_LABEL, POINTER, TOO_LONG, COUNTS, NO_QUESTION]) assert.ok((outcomes.get(s) ?? 0) > 0, `status ${s} never reached: ${JSON.stringify([...outcomes])}`);
  for (const e of [SHORT, BAD_LABEL, POINTER, COUNTS, RDATA]) assert.ok((outcomes.get(100 + e) ?? 0) > 0, `partial with ${e} never reached: ${JSON.stringify([...outcomes])}`);
});

// ---------------------------------------------------------------- real captures vs tshark

const real = suite('dns: real captures vs tshark');

/** Captures of ../shared/data with DNS over UDP or TCP (others have none). */
const CAPTURES = [
  'pcap/benign/iot_camera_baseline/mirai2000_first2000pkts_all_benign.pcap',
  'pcap/robustness/fuzz-2006-06-26-2594.pcap',
  'pcap/benign/alexa-app.pcapng',
  'pcap/fragments/dns_fragmented.pcap',
  'pcap/ipv6/v6.pcap',
  'pcap/derived/wikipedia.snaplen96.pcap',
  'pcap/benign/wikipedia.pcap',
  'pcap/benign/netflix.pcap',
  'pcap/benign/1kxun.pcap',
  'pcap/linktypes/tunnels/Teredo.pcap',
  'pcap/formats/pcapng/pcapng-multi-interface.pcapng',
  'pcap/fragments/ipv6-fragmented-dns.pcap',
  'pcap/linktypes/tunnels/gre-sample.pcap',
  'pcap/linktypes/wifi/wlanmon.pcap',
  'pcap/linktypes/wifi/radiotap.pcap',
  'pcap/linktypes/sll/KakaoTalk_talk.pcap',
  'pcap/linktypes/raw/LINKTYPE_RAW_ipv6.pcap',
  'pcap/linktypes/raw/LINKTYPE_RAW_ipv4.pcap',
  'pcap/linktypes/raw/LINKTYPE_IPV6.pcap',
  'pcap/formats/nanosecond/ipv6-gtp6.pcap',
];

const TS_FIELDS = [
  'frame.number', 'frame.protocols', 'udp.length', 'udp.payload', 'tcp.payload', '_ws.malformed',
  'dns.id', 'dns.flags.response', 'dns.flags.rcode', 'dns.count.queries', 'dns.count.answers',
  'dns.qry.name', 'dns.qry.type', 'dns.resp.type', 'dns.a', 'dns.aaaa', 'dns.resp.ttl',
] as const;

/** One DNS message as tshark saw it, with its bytes. */
interface TsMsg {
  file: string; frame: number; bytes: Uint8Array; tcp: boolean; complete: boolean; malformed: boolean;
  f: Record<(typeof TS_FIELDS)[number], string[]>;
}

function tsharkDns(file: string, path = sharedPath(file)): Promise<TsMsg[]> {
  return new Promise((resolve, reject) => {
    execFile(TSHARK, ['-n', '-r', path, '-Y', 'dns', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|',
      ...TS_FIELDS.flatMap((f) => ['-e', f])], { maxBuffer: 1 << 28 }, (err, stdout) => {
      if (err) { reject(err); return; }
      const out: TsMsg[] = [];
      for (const line of stdout.split('\n')) {
        if (!line) continue;
        const cols = line.split('\t');
        const f = Object.fromEntries(TS_FIELDS.map((n, i) => [n, cols[i] ? cols[i]!.split('|') : []])) as TsMsg['f'];
        const protos = f['frame.protocols'][0] ?? '';
        if (/icmp/.test(protos)) continue; // a DNS message quoted by an ICMP error
        const tcp = /:tcp:/.test(protos) && !/:udp:dns/.test(protos);
        const hex = (tcp ? f['tcp.payload'] : f['udp.payload']).at(-1) ?? '';
        if (!hex) continue;
        const bytes = Uint8Array.from(Buffer.from(hex.replace(/:/g, ''), 'hex'));
        const udpLen = Number(f['udp.length'].at(-1));
        const complete = tcp ? bytes.length >= 2 && bytes.length >= 2 + ((bytes[0]! << 8) | bytes[1]!) : udpLen - 8 === bytes.length;
        out.push({ file, frame: Number(f['frame.number'][0]), bytes, tcp, complete, malformed: f['_ws.malformed'].length > 0, f });
      }
      resolve(out);
    });
  });
}

const MERGECAP = join(TSHARK, '..', 'mergecap');

let realMsgs: TsMsg[] | null = null;
/**
 * Every DNS message of CAPTURES. One tshark run over the captures
 * concatenated by mergecap (tshark's start-up dominates: 20 runs take
 * seconds), frames mapped back to their file by MANIFEST.tsv's packet
 * counts; one run per capture when mergecap or a count is missing.
 */
async function realMessages(): Promise<TsMsg[]> {
  if (realMsgs) return realMsgs;
  const files = CAPTURES.filter((f) => existsSync(sharedPath(f)));
  const counts = manifest();
  if (existsSync(MERGECAP) && files.every((f) => counts.has(f))) {
    const dir = mkdtempSync(join(tmpdir(), 'edge-dns-'));
    try {
      const merged = join(dir, 'dns.pcapng');
      execFileSync(MERGECAP, ['-F', 'pcapng', '-a', '-w', merged, ...files.map((f) => sharedPath(f))], { stdio: 'pipe' });
      const starts: [number, string][] = [];
      let first = 1;
      for (const f of files) { starts.push([first, f]); first += counts.get(f)!.packets; }
      realMsgs = (await tsharkDns('merged', merged)).map((m) => {
        const [start, file] = starts.filter(([s]) => s <= m.frame).at(-1)!;
        return { ...m, file, frame: m.frame - start + 1 };
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else {
    realMsgs = (await Promise.all(files.map((f) => tsharkDns(f)))).flat();
  }
  return realMsgs;
}

const canRun = (what: string): boolean => {
  if (!needSharedData(what)) return false;
  if (!haveTshark()) { console.log(`  [skip] ${what}: tshark is not installed (${TSHARK})`); return false; }
  return true;
};

real('qname, qtype, rcode, counts, answer addresses and TTLs as tshark dissects them', async () => {
  if (!canRun('DNS vs tshark')) return;
  const all = await realMessages();
  let compared = 0, names = 0, addrs = 0, partial = 0, extended = 0;
  for (const t of all) {
    const what = `${t.file} frame ${t.frame}`;
    const d = check(t.bytes, t.tcp, what);
    if (!t.complete || t.malformed) continue;
    const f = t.f;
    assert.is(d.id, parseInt(f['dns.id'][0]!, 16), `${what}: id`);
    assert.is(d.qr, Number(f['dns.flags.response'][0]), `${what}: QR`);
    assert.is(d.qdcount, Number(f['dns.count.queries'][0]), `${what}: qdcount`);
    assert.is(d.ancount, Number(f['dns.count.answers'][0]), `${what}: ancount`);
    if (d.qdcount === 0) { assert.is(d.status, NO_QUESTION, what); continue; }
    // tshark shows a label length 0x40–0xbf as an "extended label" and goes on; it is not a name to us
    if ((f['dns.qry.name'][0] ?? '').includes('extended label')) { assert.is(d.status, BAD_LABEL, what); extended++; continue; }
    assert.ok(d.status >= 0, `${what}: tshark dissects it, status ${d.status} error ${d.error} at ${d.errorAt}`);
    if (d.status === PARTIAL) partial++;
    compared++;
    assert.is(d.qtype, Number(f['dns.qry.type'][0]), `${what}: qtype`);
    if (d.qr) assert.is(d.rcode, Number(f['dns.flags.rcode'][0]), `${what}: rcode`);
    const tsName = f['dns.qry.name'][0] ?? '';
    if (tsName === '<Root>') assert.is(d.qname, '', what);
    else if (/^[\x21-\x7e]+$/.test(tsName) && !tsName.includes('\\')) { assert.is(d.qname, tsName.toLowerCase(), `${what}: qname`); names++; }
    else { assert.match(d.qname, tsharkNamePattern(tsName), `${what}: qname ${JSON.stringify(d.qname)} vs tshark's ${JSON.stringify(tsName)}`); names++; }
    // Answer addresses: the first ancount records, in order; tshark's dns.a / dns.aaaa list every section, answers first.
    const types = f['dns.resp.type'].map(Number).slice(0, d.ancount);
    if (types.includes(T.OPT)) continue; // an OPT among the answers would shift tshark's TTL column
    const want: string[] = [], ttls: number[] = [];
    let ia = 0, i6 = 0;
    types.forEach((type, i) => {
      if (type !== T.A && type !== T.AAAA) return;
      want.push(type === T.A ? f['dns.a'][ia++]! : f['dns.aaaa'][i6++]!);
      ttls.push(Number(f['dns.resp.ttl'][i]));
    });
    assert.is(d.addrTotal, want.length, `${what}: A/AAAA answers`);
    assert.equal(d.addrs, want.slice(0, MAX_ADDRS), `${what}: addresses`);
    assert.equal(d.ttls, ttls.slice(0, MAX_ADDRS), `${what}: TTLs`);
    addrs += d.addrs.length;
  }
  assert.ok(compared >= 100 || all.length < 200, `only ${compared} of ${all.length} messages compared (${extended} with extended labels)`);
  assert.ok(names >= compared * 0.9, `${names} names compared of ${compared}`);
  assert.ok(addrs > 0 || compared < 50, 'no answer address compared');
  assert.ok(partial <= compared * 0.05, `${partial} of ${compared} messages tshark dissects parse only partly`);
});

real('every truncation of 300 real messages: never throws, the question kept once complete', async () => {
  if (!canRun('DNS real truncations')) return;
  const all = await realMessages();
  let n = 0;
  for (const t of all.filter((m) => m.complete && !m.malformed).slice(0, 300)) {
    const whole = parse(t.bytes, t.tcp);
    if (whole.status < 0) continue;
    const qEnd = (t.tcp ? 2 : 0) + firstQuestionEndFollowing(t.bytes.subarray(t.tcp ? 2 : 0));
    for (let cut = 0; cut < t.bytes.length; cut++) {
      const d = check(t.bytes.subarray(0, cut), t.tcp, `${t.file} frame ${t.frame} cut at ${cut}`);
      if (cut >= qEnd && qEnd > 0) assert.equal([d.status >= 0, d.qname, d.qtype], [true, whole.qname, whole.qtype], `${t.file} frame ${t.frame} cut at ${cut}`);
      n++;
    }
  }
  assert.ok(n > 1000, `${n} truncations`);
});

/**
 * tshark's text of a name with bytes it cannot print: U+FFFD for bytes that
 * are not UTF-8 (one or more of ours), \ddd (octal) or \r-style escapes for
 * control bytes (one of ours). Letters compared without case (ours are folded).
 */
function tsharkNamePattern(ts: string): RegExp {
  let re = '';
  for (let i = 0; i < ts.length; i++) {
    const c = ts[i]!;
    if (c === '\ufffd') re += '[\\x80-\\xff]+';
    else if (c === '\\' && /^[0-7]{3}$/.test(ts.slice(i + 1, i + 4))) { re += `\\x${parseInt(ts.slice(i + 1, i + 4), 8).toString(16).padStart(2, '0')}`; i += 3; }
    else if (c === '\\' && i + 1 < ts.length) { re += '[\\x00-\\x1f\\\\]'; i += 1; }
    else if (c.charCodeAt(0) > 0x7e) re += [...Buffer.from(c, 'utf8')].map((b) => `\\x${b.toString(16)}`).join(''); // valid UTF-8 in our bytes
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

/** The end of the first question when its name is written in place (0 when it uses a pointer: not predicted here). */
function firstQuestionEndFollowing(m: Uint8Array): number {
  let p = 12;
  while (p < m.length && m[p] !== 0) { if (m[p]! >= 0xc0) return 0; p += m[p]! + 1; }
  return p < m.length ? p + 5 : 0;
}

msgs.run();
hostile.run();
real.run();
