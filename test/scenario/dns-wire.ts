// DNS messages in wire format (RFC 1035) for the DNS exchanges of generated
// connections: the query a client sends and the response it gets. Only what
// the scenarios need — one question, A/AAAA/TXT/NULL answers, an rcode — but
// byte-exact, so tshark and any later DNS parser in the sensor read them as
// real traffic. Answers name the question through a compression pointer
// (0xC00C), as resolvers do.
import type { DnsExchange } from './conn.ts';
import { parseAddress } from '../../sensor/flows/ip-address.ts';

const QTYPE_NULL = 10;
const QTYPE_TXT = 16;
const CLASS_IN = 1;
/** Offset of the question name in every message: right after the 12-byte header. */
const QNAME_POINTER = 0xc00c;

/** The name as length-prefixed labels ending in the root label. Throws on a name DNS cannot carry. */
export function encodeDnsName(name: string): Uint8Array {
  const labels = name === '' || name === '.' ? [] : name.replace(/\.$/, '').split('.');
  const parts = labels.map((l) => Buffer.from(l, 'utf8'));
  let len = 1;
  for (const p of parts) {
    if (p.length === 0 || p.length > 63) throw new Error(`DNS label of ${p.length} bytes in ${JSON.stringify(name)} (1..63 allowed)`);
    len += 1 + p.length;
  }
  if (len > 255) throw new Error(`DNS name of ${len} bytes (255 allowed): ${JSON.stringify(name.slice(0, 80))}…`);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) { out[o++] = p.length; out.set(p, o); o += p.length; }
  out[o] = 0;
  return out;
}

function header(m: Uint8Array, id: number, flags: number, qd: number, an: number): void {
  put16(m, 0, id); put16(m, 2, flags); put16(m, 4, qd); put16(m, 6, an); put16(m, 8, 0); put16(m, 10, 0);
}

/** A standard query with recursion desired (no EDNS). */
export function dnsQueryMessage(id: number, qname: string, qtype: number): Uint8Array {
  const q = encodeDnsName(qname);
  const m = new Uint8Array(12 + q.length + 4);
  header(m, id, 0x0100, 1, 0);
  m.set(q, 12);
  put16(m, 12 + q.length, qtype);
  put16(m, 14 + q.length, CLASS_IN);
  return m;
}

/** The answer records of an exchange, each fully encoded (owner name as a pointer). Only NOERROR responses carry any. */
function answerRecords(dns: DnsExchange): Uint8Array[] {
  if (dns.rcode !== 0) return [];
  const out: Uint8Array[] = [];
  for (const a of dns.answers) {
    const p = parseAddress(a);
    if (!p) throw new Error(`DNS answer is not an address: ${JSON.stringify(a)}`);
    out.push(rr(p.version === 4 ? 1 : 28, dns.ttl, p.version === 4 ? p.bytes.subarray(12) : p.bytes));
  }
  for (const s of dns.txt ?? []) {
    const bytes = Buffer.from(s, 'utf8');
    if (dns.qtype === QTYPE_NULL) { out.push(rr(QTYPE_NULL, dns.ttl, bytes)); continue; }
    // One TXT record per string; a string longer than a character-string
    // (255 bytes) continues in further character-strings of the same record.
    const chunks = Math.max(1, Math.ceil(bytes.length / 255));
    const rdata = new Uint8Array(bytes.length + chunks);
    for (let c = 0, o = 0; c < chunks; c++) {
      const piece = bytes.subarray(c * 255, (c + 1) * 255);
      rdata[o++] = piece.length; rdata.set(piece, o); o += piece.length;
    }
    out.push(rr(QTYPE_TXT, dns.ttl, rdata));
  }
  return out;
}

function rr(type: number, ttl: number, rdata: Uint8Array): Uint8Array {
  if (rdata.length > 0xffff) throw new Error(`DNS record data of ${rdata.length} bytes`);
  const r = new Uint8Array(12 + rdata.length);
  put16(r, 0, QNAME_POINTER); put16(r, 2, type); put16(r, 4, CLASS_IN);
  put32(r, 6, ttl >>> 0); put16(r, 10, rdata.length);
  r.set(rdata, 12);
  return r;
}

/** The response to dnsQueryMessage(id, …): QR, RD, RA, the rcode, the question echoed, then the answers. */
export function dnsResponseMessage(id: number, dns: DnsExchange): Uint8Array {
  const q = encodeDnsName(dns.qname);
  const answers = answerRecords(dns);
  let len = 12 + q.length + 4;
  for (const a of answers) len += a.length;
  if (len > 0xffff) throw new Error(`DNS response of ${len} bytes exceeds 65535`);
  const m = new Uint8Array(len);
  header(m, id, 0x8180 | (dns.rcode & 0xf), 1, answers.length);
  m.set(q, 12);
  put16(m, 12 + q.length, dns.qtype);
  put16(m, 14 + q.length, CLASS_IN);
  let o = 16 + q.length;
  for (const a of answers) { m.set(a, o); o += a.length; }
  return m;
}

/** The message behind DNS over TCP's 2-byte length prefix (RFC 1035 §4.2.2). */
export function withLengthPrefix(m: Uint8Array): Uint8Array {
  const out = new Uint8Array(m.length + 2);
  put16(out, 0, m.length);
  out.set(m, 2);
  return out;
}

function put16(b: Uint8Array, o: number, v: number): void { b[o] = (v >>> 8) & 0xff; b[o + 1] = v & 0xff; }
function put32(b: Uint8Array, o: number, v: number): void { put16(b, o, v >>> 16); put16(b, o + 2, v & 0xffff); }
