// DNS message parser for the hot path: the bytes of one DNS message (UDP
// payload, or a TCP segment with its 2-byte length prefix) → a fixed result
// record in static memory. Allocation-free (static buffers only, no `new`,
// no strings at run time), one pass, and it never traps: every load is
// bounds-checked against the bytes present, compression pointers are
// range-checked and hop-limited, names are length-limited. In the spirit of
// Suricata's rusticata parsers: parse what can be trusted, say why the rest
// could not be.
//
// Usage (from the packet path):
//   const st = dnsParse(payloadPtr, payloadLen, isTcp);
//   if (st >= 0) { ... dnsQtype(), dnsQnameHash(), load<u8>(dnsResult() + R_RCODE) ... }
//
// Status (the return value, also at R_STATUS):
//   DNS_OK       the whole message parsed: header, every question, answer,
//                authority and additional record.
//   DNS_PARTIAL  the header and the first question parsed (their fields are
//                valid), something after them did not: R_ERROR says what,
//                R_ERROR_AT where. Answers parsed before the fault are kept.
//   < 0          the header or the first question did not parse: the error.
//                R_HAVE tells whether the header fields are valid.
// Errors (R_ERROR; the return value when < 0):
//   DNS_ERR_SHORT         the data ends inside a structure (header, label,
//                         question, record, rdata) although the header's
//                         counts could fit in the message's length (a cut
//                         message: TCP prefix longer than the data, a cut
//                         capture, a record longer than the space left).
//   DNS_ERR_BAD_LABEL     a label length byte 0x40–0xBF (longer than 63, or
//                         the obsolete extended label types).
//   DNS_ERR_POINTER       a compression pointer at or past the message's end,
//                         or more than MAX_HOPS pointers in one name (a loop:
//                         self, A→B→A, …). Forward pointers are followed.
//   DNS_ERR_NAME_TOO_LONG a name over 255 octets in wire form (length bytes
//                         and the root byte included; ≤ 253 dotted).
//   DNS_ERR_COUNTS        the data ends inside a structure and the header's
//                         counts could never fit: qdcount×5 + (an+ns+ar)×11
//                         > length − 12 (ancount 65535 in a short message).
//   DNS_ERR_NO_QUESTION   qdcount is 0 (header fields valid).
//   DNS_ERR_RDATA         an answer's rdata does not fit its type: A (class
//                         IN) not 4 bytes, AAAA not 16, the name of a CNAME,
//                         NS, PTR, DNAME or MX not ending exactly at the end
//                         of its rdata.
//
// Lengths: with tcp = true the first two bytes are the message length; the
// message is the first one only (bytes after it are ignored). When the
// prefix promises more than is present, what is present is parsed and
// R_TRUNCATED is set; pointers into the missing part are then DNS_ERR_SHORT,
// pointers beyond the promised length DNS_ERR_POINTER. Without tcp the
// message is [ptr, ptr + len).
//
// The question name (first question only) is written lowercased (ASCII A–Z
// folded, every other byte kept as is, including dots or binary bytes inside
// a label) and dotted, without a trailing dot, to R_QNAME; the root name is
// empty. Its registered domain (eTLD+1) is the last two labels, or one label
// more than the longest multi-label public suffix of listSuffixes() it ends with;
// a name of fewer labels is its own registered domain (offset 0). The
// subdomain is what comes before the registered domain, without the dot;
// its entropy is the Shannon entropy of its bytes (dots included) in bits
// per byte. Hashes are FNV-1a 32 of the dotted lowercased bytes.
//
// Answers: A/AAAA records of class IN (the mDNS cache-flush bit ignored)
// fill up to MAX_ADDRS addresses, 16 bytes each, IPv4 v4-mapped
// (::ffff:a.b.c.d), with their TTLs; R_ADDR_TOTAL counts all of them. TXT,
// NULL and CNAME records are counted, the rdata bytes of every answer summed.
// Authority and additional records are walked (names validated, lengths
// checked), not inspected.
import { be16, be32, zeroWords } from "./bytes";

// ---- status and errors ----
export const DNS_OK: i32 = 0;
export const DNS_PARTIAL: i32 = 1;
export const DNS_ERR_SHORT: i32 = -1;
export const DNS_ERR_BAD_LABEL: i32 = -2;
export const DNS_ERR_POINTER: i32 = -3;
export const DNS_ERR_NAME_TOO_LONG: i32 = -4;
export const DNS_ERR_COUNTS: i32 = -5;
export const DNS_ERR_NO_QUESTION: i32 = -6;
export const DNS_ERR_RDATA: i32 = -7;

// ---- R_HAVE bits ----
/** The header fields (id … arcount, R_MSG_LEN, R_TRUNCATED) are valid. */
export const HAVE_HEADER: u32 = 1;
/** The first question's fields (qtype … R_QNAME) are valid. */
export const HAVE_QUESTION: u32 = 2;
/** Every record the header counts was parsed (status DNS_OK). */
export const HAVE_ALL: u32 = 4;

/** Compression pointers followed in one name before it is called a loop (BIND's limit). */
export const MAX_HOPS: u32 = 16;
/** Longest name in wire form (RFC 1035 3.1), root byte included. */
export const MAX_NAME: u32 = 255;
/** Answer addresses kept. */
export const MAX_ADDRS: u32 = 8;

// ---- the result record (DNS_RESULT_SIZE bytes at dnsResult()) ----
// Mirrored by test/dns.test.ts, which reads these lines of this file.
export const R_STATUS: usize = 0;        // i32 the last dnsParse() result
export const R_ERROR: usize = 4;         // i32 the error that stopped parsing (0: none)
export const R_ERROR_AT: usize = 8;      // u32 its offset in the message (after a TCP prefix)
export const R_HAVE: usize = 12;         // u32 HAVE_* bits
export const R_ID: usize = 16;           // u16 transaction id
export const R_FLAGS: usize = 18;        // u16 the raw flags word (QR opcode AA TC RD RA Z AD CD rcode)
export const R_QR: usize = 20;           // u8 1 = response
export const R_OPCODE: usize = 21;       // u8
export const R_RCODE: usize = 22;        // u8 header rcode (4 bits; no EDNS extension)
export const R_TC: usize = 23;           // u8 truncation flag
export const R_QDCOUNT: usize = 24;      // u16
export const R_ANCOUNT: usize = 26;      // u16
export const R_NSCOUNT: usize = 28;      // u16
export const R_ARCOUNT: usize = 30;      // u16
export const R_QTYPE: usize = 32;        // u16 first question
export const R_QCLASS: usize = 34;       // u16 first question (raw: the mDNS unicast bit kept)
export const R_QNAME_LEN: usize = 36;    // u16 bytes at R_QNAME (0 for the root)
export const R_LABELS: usize = 38;       // u8 labels in the qname
export const R_MAX_LABEL: usize = 39;    // u8 longest label
export const R_REG_OFFSET: usize = 40;   // u16 where the registered domain starts in the qname
export const R_SUB_LEN: usize = 42;      // u16 subdomain length (R_REG_OFFSET − 1, or 0)
export const R_SUB_DIGITS: usize = 44;   // u16 digits 0–9 in the subdomain
export const R_SUB_DISTINCT: usize = 46; // u16 distinct bytes in the subdomain
export const R_SUB_ENTROPY: usize = 48;  // f64 Shannon entropy of the subdomain, bits per byte
export const R_QNAME_HASH: usize = 56;   // u32 FNV-1a 32 of the qname
export const R_REG_HASH: usize = 60;     // u32 FNV-1a 32 of the registered domain
export const R_MSG_LEN: usize = 64;      // u32 message length (TCP: as the prefix says)
export const R_END: usize = 68;          // u32 offset just past the last byte parsed (DNS_OK: past the last record)
export const R_TRUNCATED: usize = 72;    // u8 TCP: the prefix promised more bytes than present
export const R_ADDRS: usize = 73;        // u8 addresses stored at R_ADDR (≤ MAX_ADDRS)
export const R_ADDR_TOTAL: usize = 74;   // u16 A/AAAA answers of class IN (also those beyond MAX_ADDRS)
export const R_ANSWERS: usize = 76;      // u16 answer records parsed
export const R_CNAMES: usize = 78;       // u16 CNAME answers
export const R_TXT: usize = 80;          // u16 TXT answers
export const R_NULL: usize = 82;         // u16 NULL answers
export const R_RDATA_BYTES: usize = 84;  // u32 rdata bytes of the answers parsed
export const R_ADDR_FAMILY: usize = 88;  // u8 × MAX_ADDRS: 4 or 6
export const R_TTLS: usize = 96;         // f64 × MAX_ADDRS: the addresses' TTLs (seconds, unsigned)
export const R_ADDR: usize = 160;        // 16 bytes × MAX_ADDRS (IPv4 v4-mapped)
export const R_QNAME: usize = 288;       // 256 bytes: the qname, dotted, lowercased
export const DNS_RESULT_SIZE: usize = 544;

/** Fields cleared before each parse (everything before the arrays). */
const R_CLEAR: usize = 88;

const RES: usize = memory.data(<i32>DNS_RESULT_SIZE, 16);
/** Offset in the qname of each label's first byte (≤ 127 labels in 255 wire octets). */
const LABEL_AT: usize = memory.data(128);

// ---- multi-label public suffixes ----
// The registered domain is one label more than the longest of these a name
// ends with (otherwise the last two labels). Lowercase, space-separated, any
// number of labels; extend freely (up to SUF_MAX_ENTRIES entries and
// SUF_MAX_TEXT bytes). The literals are static data (no allocation; not
// joined with `+`, which would concatenate at run time); they are read into
// byte tables once, on the first dnsParse().
function listSuffixes(): void {
  addSuffixes("co.uk org.uk ac.uk gov.uk");
  addSuffixes("com.au net.au org.au");
  addSuffixes("co.jp ne.jp or.jp");
  addSuffixes("com.br com.cn net.cn org.cn co.nz co.za co.in com.mx com.tr com.tw com.hk com.sg co.kr");
  addSuffixes("github.io amazonaws.com cloudfront.net azurewebsites.net herokuapp.com blogspot.com appspot.com");
}
const SUF_MAX_ENTRIES: i32 = 128;
const SUF_MAX_TEXT: i32 = 2048;
const SUF_TEXT: usize = memory.data(SUF_MAX_TEXT);
/** Per entry: u16 offset in SUF_TEXT, u16 key = length << 8 | labels. */
const SUF_OFF: usize = memory.data(SUF_MAX_ENTRIES * 2, 2);
const SUF_KEY: usize = memory.data(SUF_MAX_ENTRIES * 2, 2);
let sufCount: i32 = 0;
let sufMaxLabels: u32 = 0;

// ---- subdomain statistics ----
/** c·log2(c) for c = 0…255 (a subdomain is at most 252 bytes). */
const CLOGC: usize = memory.data(256 * 8, 8);
/** Byte histogram of the subdomain; only the bytes seen are cleared again. */
const HIST: usize = memory.data(256);
/** The distinct bytes seen, in order of first sight. */
const SEEN: usize = memory.data(256);

let ready = false;

const FNV_OFFSET: u32 = 0x811C9DC5;
const FNV_PRIME: u32 = 0x01000193;

// ---- per-message state ----
/** First byte of the message (after a TCP prefix). */
let msg: usize = 0;
/** One past the last byte present. */
let avail: usize = 0;
/** The message's length as declared (TCP prefix) or given; pointers must stay below it. */
let declared: u32 = 0;
/** The header's counts cannot fit in `declared` bytes: running out of data is DNS_ERR_COUNTS. */
let impossible = false;
/** Where the last error was found (absolute). */
let errAt: usize = 0;
/** After a name walk: the first byte after the name's in-place part. */
let nameNext: usize = 0;
/** After walkName of the first question: the qname's length, labels, longest label, hash. */
let qLen: u32 = 0;
let qLabels: u32 = 0;
let qLongest: u32 = 0;
let qHash: u32 = 0;

/** The result record: DNS_RESULT_SIZE bytes, layout R_*. */
export function dnsResult(): usize { return RES; }

let sufText: i32 = 0;

function addSuffixes(list: string): void {
  const n = list.length;
  let t: i32 = sufText;
  let start: i32 = t;
  let labels: u32 = 1;
  for (let i = 0; i <= n; i++) {
    const c: i32 = i < n ? list.charCodeAt(i) : 32;
    if (c != 32) {
      if (c == 46) labels++;
      if (t < SUF_MAX_TEXT) store<u8>(SUF_TEXT + <usize>t, <u8>c);
      t++;
      continue;
    }
    const len = t - start;
    if (len > 0 && len <= 253 && t <= SUF_MAX_TEXT && sufCount < SUF_MAX_ENTRIES) {
      store<u16>(SUF_OFF + (<usize>sufCount << 1), <u16>start);
      store<u16>(SUF_KEY + (<usize>sufCount << 1), <u16>((len << 8) | <i32>labels));
      sufCount++;
      if (labels > sufMaxLabels) sufMaxLabels = labels;
      start = t;
    } else {
      t = start; // empty, or does not fit: left out
    }
    labels = 1;
  }
  sufText = t;
}

function prepare(): void {
  listSuffixes();
  for (let c = 1; c < 256; c++) store<f64>(CLOGC + (<usize>c << 3), <f64>c * Math.log2(<f64>c));
  ready = true;
}

/** An error at absolute position p; returns the code. */
@inline function fail(code: i32, p: usize): i32 {
  errAt = p;
  return code;
}

/**
 * Parse one DNS message at [ptr, ptr + len) (tcp: preceded by its 2-byte
 * length). Returns DNS_OK, DNS_PARTIAL or an error (< 0); the fields are in
 * the record at dnsResult().
 */
export function dnsParse(ptr: usize, len: u32, tcp: bool): i32 {
  if (!ready) prepare();
  const r = RES;
  zeroWords(r, R_CLEAR);
  let st: i32;
  if (tcp) {
    if (len < 2) {
      msg = ptr; avail = ptr; declared = 0;
      st = fail(DNS_ERR_SHORT, ptr);
    } else {
      declared = be16(ptr);
      msg = ptr + 2;
      const have = len - 2;
      avail = msg + <usize>(declared < have ? declared : have);
      if (declared > have) store<u8>(r + R_TRUNCATED, 1);
      st = parseMessage(r);
    }
  } else {
    msg = ptr;
    declared = len;
    avail = ptr + <usize>len;
    st = parseMessage(r);
  }
  store<i32>(r + R_STATUS, st);
  if (st != DNS_OK) {
    store<i32>(r + R_ERROR, st == DNS_PARTIAL ? load<i32>(r + R_ERROR) : st);
    store<u32>(r + R_ERROR_AT, <u32>(errAt - msg));
  }
  return st;
}

function parseMessage(r: usize): i32 {
  const m = msg;
  store<u32>(r + R_MSG_LEN, declared);
  if (m + 12 > avail) return fail(DNS_ERR_SHORT, m);
  const flags = be16(m + 2);
  const qd = be16(m + 4), an = be16(m + 6), ns = be16(m + 8), ar = be16(m + 10);
  store<u16>(r + R_ID, <u16>be16(m));
  store<u16>(r + R_FLAGS, <u16>flags);
  store<u8>(r + R_QR, <u8>(flags >> 15));
  store<u8>(r + R_OPCODE, <u8>((flags >> 11) & 0xF));
  store<u8>(r + R_RCODE, <u8>(flags & 0xF));
  store<u8>(r + R_TC, <u8>((flags >> 9) & 1));
  store<u16>(r + R_QDCOUNT, <u16>qd);
  store<u16>(r + R_ANCOUNT, <u16>an);
  store<u16>(r + R_NSCOUNT, <u16>ns);
  store<u16>(r + R_ARCOUNT, <u16>ar);
  store<u32>(r + R_HAVE, HAVE_HEADER);
  if (qd == 0) return fail(DNS_ERR_NO_QUESTION, m + 4);
  impossible = qd * 5 + (an + ns + ar) * 11 > declared - 12;

  // The first question.
  let p = m + 12;
  let rc = walkName(p, r + R_QNAME);
  if (rc < 0) return ranOut(rc);
  p = nameNext;
  if (p + 4 > avail) return ranOut(fail(DNS_ERR_SHORT, p));
  store<u16>(r + R_QTYPE, <u16>be16(p));
  store<u16>(r + R_QCLASS, <u16>be16(p + 2));
  store<u16>(r + R_QNAME_LEN, <u16>qLen);
  store<u8>(r + R_LABELS, <u8>qLabels);
  store<u8>(r + R_MAX_LABEL, <u8>qLongest);
  store<u32>(r + R_QNAME_HASH, qHash);
  p += 4;
  store<u32>(r + R_HAVE, HAVE_HEADER | HAVE_QUESTION);
  store<u32>(r + R_END, <u32>(p - m));
  nameFeatures(r);

  // From here on a fault is DNS_PARTIAL.
  rc = sections(r, p, qd, an, ns + ar);
  if (rc < 0) {
    store<i32>(r + R_ERROR, ranOut(rc));
    return DNS_PARTIAL;
  }
  store<u32>(r + R_HAVE, HAVE_HEADER | HAVE_QUESTION | HAVE_ALL);
  return DNS_OK;
}

/** DNS_ERR_SHORT becomes DNS_ERR_COUNTS when the counts could never have fit. */
@inline function ranOut(rc: i32): i32 {
  return rc == DNS_ERR_SHORT && impossible ? DNS_ERR_COUNTS : rc;
}

/** The questions after the first, the answers, then authority + additional records. R_END follows. */
function sections(r: usize, p: usize, qd: u32, an: u32, rest: u32): i32 {
  const m = msg;
  const end = avail;
  for (let i: u32 = 1; i < qd; i++) {
    const rc = walkName(p, 0);
    if (rc < 0) return rc;
    p = nameNext;
    if (p + 4 > end) return fail(DNS_ERR_SHORT, p);
    p += 4;
    store<u32>(r + R_END, <u32>(p - m));
  }
  let answers: u32 = 0, addrs: u32 = 0, addrTotal: u32 = 0, cnames: u32 = 0, txt: u32 = 0, nul: u32 = 0, rdBytes: u32 = 0;
  let rc: i32 = 0;
  for (let i: u32 = 0; i < an; i++) {
    rc = walkName(p, 0);
    if (rc < 0) break;
    p = nameNext;
    if (p + 10 > end) { rc = fail(DNS_ERR_SHORT, p); break; }
    const type = be16(p);
    const cls = be16(p + 2) & 0x7FFF;
    const rdlen = be16(p + 8);
    const rd = p + 10;
    const rdEnd = rd + <usize>rdlen;
    if (rdEnd > end) { rc = fail(DNS_ERR_SHORT, rd); break; }
    if (type == 1 || type == 28) {
      if (cls == 1) {
        if (rdlen != (type == 1 ? 4 : 16)) { rc = fail(DNS_ERR_RDATA, rd); break; }
        if (addrs < MAX_ADDRS) {
          const a = r + R_ADDR + (<usize>addrs << 4);
          if (type == 1) {
            store<u64>(a, 0);
            store<u32>(a, 0xFFFF0000, 8);
            store<u32>(a, load<u32>(rd), 12);
            store<u8>(r + R_ADDR_FAMILY + <usize>addrs, 4);
          } else {
            store<u64>(a, load<u64>(rd));
            store<u64>(a, load<u64>(rd, 8), 8);
            store<u8>(r + R_ADDR_FAMILY + <usize>addrs, 6);
          }
          store<f64>(r + R_TTLS + (<usize>addrs << 3), <f64>be32(p + 4));
          addrs++;
        }
        addrTotal++;
      }
    } else if (type == 5 || type == 2 || type == 12 || type == 39 || type == 15) {
      // A name fills the rdata (MX: after the 2-byte preference).
      let n = rd;
      if (type == 15) {
        n += 2;
        if (rdlen < 3) { rc = fail(DNS_ERR_RDATA, rd); break; }
      }
      rc = walkName(n, 0);
      if (rc < 0) break;
      if (nameNext != rdEnd) { rc = fail(DNS_ERR_RDATA, rd); break; }
      if (type == 5) cnames++;
    } else if (type == 16) {
      txt++;
    } else if (type == 10) {
      nul++;
    }
    rdBytes += rdlen;
    answers++;
    p = rdEnd;
    store<u32>(r + R_END, <u32>(p - m));
  }
  store<u8>(r + R_ADDRS, <u8>addrs);
  store<u16>(r + R_ADDR_TOTAL, <u16>addrTotal);
  store<u16>(r + R_ANSWERS, <u16>answers);
  store<u16>(r + R_CNAMES, <u16>cnames);
  store<u16>(r + R_TXT, <u16>txt);
  store<u16>(r + R_NULL, <u16>nul);
  store<u32>(r + R_RDATA_BYTES, rdBytes);
  if (rc < 0) return rc;
  for (let i: u32 = 0; i < rest; i++) {
    rc = walkName(p, 0);
    if (rc < 0) return rc;
    p = nameNext;
    if (p + 10 > end) return fail(DNS_ERR_SHORT, p);
    const rd = p + 10;
    const rdEnd = rd + <usize>be16(p + 8);
    if (rdEnd > end) return fail(DNS_ERR_SHORT, rd);
    p = rdEnd;
    store<u32>(r + R_END, <u32>(p - m));
  }
  return 0;
}

/**
 * Walk a name at p: labels and compression pointers (at most MAX_HOPS, each
 * to before the declared end), bounded by MAX_NAME wire bytes. nameNext is
 * set to the byte after the name where it started. With q != 0 (the first
 * question) the name is also written dotted and lowercased at q, and its
 * length, labels, longest label and hash go to qLen … qHash (stored once the
 * whole question parsed). Returns 0 or an error.
 */
function walkName(p: usize, q: usize): i32 {
  const m = msg;
  const end = avail;
  let out: u32 = 0;
  let wire: u32 = 1;
  let hops: u32 = 0;
  let next: usize = 0;
  let labels: u32 = 0;
  let longest: u32 = 0;
  let h: u32 = FNV_OFFSET;
  while (true) {
    if (p >= end) return fail(DNS_ERR_SHORT, p);
    const b = <u32>load<u8>(p);
    if (b == 0) {
      if (next == 0) next = p + 1;
      break;
    }
    if (b >= 0xC0) {
      if (p + 2 > end) return fail(DNS_ERR_SHORT, p);
      const t = ((b & 0x3F) << 8) | <u32>load<u8>(p, 1);
      if (t >= declared || ++hops > MAX_HOPS) return fail(DNS_ERR_POINTER, p);
      if (next == 0) next = p + 2;
      p = m + <usize>t;
      continue;
    }
    if (b > 63) return fail(DNS_ERR_BAD_LABEL, p);
    wire += b + 1;
    if (wire > MAX_NAME) return fail(DNS_ERR_NAME_TOO_LONG, p);
    if (p + 1 + <usize>b > end) return fail(DNS_ERR_SHORT, p);
    if (q != 0) {
      if (labels != 0) {
        store<u8>(q + <usize>out, 0x2E);
        h = (h ^ 0x2E) * FNV_PRIME;
        out++;
      }
      store<u8>(LABEL_AT + <usize>labels, <u8>out);
      labels++;
      if (b > longest) longest = b;
      const src = p + 1;
      const dst = q + <usize>out;
      for (let i: usize = 0; i < <usize>b; i++) {
        let c = <u32>load<u8>(src + i);
        c |= <u32>(c - 65 < 26) << 5; // A–Z → a–z
        store<u8>(dst + i, <u8>c);
        h = (h ^ c) * FNV_PRIME;
      }
      out += b;
    }
    p += <usize>b + 1;
  }
  nameNext = next;
  if (q != 0) {
    qLen = out;
    qLabels = labels;
    qLongest = longest;
    qHash = h;
  }
  return 0;
}

/** Registered domain, its hash, and the subdomain's statistics, from the qname walkName wrote. */
function nameFeatures(r: usize): void {
  const q = r + R_QNAME;
  const len = <u32>load<u16>(r + R_QNAME_LEN);
  const n = <u32>load<u8>(r + R_LABELS);
  // Registered domain: one label more than the longest listed suffix, else the last two labels.
  let reg: u32 = 0;
  if (n > 2) {
    let regLabels: u32 = 2;
    const maxK = sufMaxLabels < n - 1 ? sufMaxLabels : n - 1;
    for (let k = maxK; k >= 2; k--) {
      const s = <u32>load<u8>(LABEL_AT + <usize>(n - k));
      const key = <u16>(((len - s) << 8) | k);
      if (suffixListed(q + <usize>s, key)) { regLabels = k + 1; break; }
    }
    if (regLabels < n) reg = <u32>load<u8>(LABEL_AT + <usize>(n - regLabels));
  }
  let h: u32 = FNV_OFFSET;
  for (let i = reg; i < len; i++) h = (h ^ <u32>load<u8>(q + <usize>i)) * FNV_PRIME;
  store<u16>(r + R_REG_OFFSET, <u16>reg);
  store<u32>(r + R_REG_HASH, h);
  if (reg == 0) return; // no subdomain: R_SUB_* stay 0
  // Subdomain [0, reg − 1): digits, distinct bytes, entropy.
  const sub = reg - 1;
  let digits: u32 = 0, distinct: u32 = 0;
  for (let i: u32 = 0; i < sub; i++) {
    const c = <u32>load<u8>(q + <usize>i);
    digits += <u32>(c - 48 < 10);
    const hp = HIST + <usize>c;
    const k = <u32>load<u8>(hp);
    if (k == 0) { store<u8>(SEEN + <usize>distinct, <u8>c); distinct++; }
    store<u8>(hp, <u8>(k + 1));
  }
  let sum: f64 = 0;
  for (let i: u32 = 0; i < distinct; i++) {
    const hp = HIST + <usize>load<u8>(SEEN + <usize>i);
    sum += load<f64>(CLOGC + (<usize>load<u8>(hp) << 3));
    store<u8>(hp, 0);
  }
  const nf = <f64>sub;
  let ent = load<f64>(CLOGC + (<usize>sub << 3)) / nf - sum / nf; // log2(n) − Σ c·log2(c) / n
  if (ent < 0) ent = 0;
  store<u16>(r + R_SUB_LEN, <u16>sub);
  store<u16>(r + R_SUB_DIGITS, <u16>digits);
  store<u16>(r + R_SUB_DISTINCT, <u16>distinct);
  store<f64>(r + R_SUB_ENTROPY, ent);
}

/** Whether the bytes at s (length and label count in key) are a listed suffix. */
function suffixListed(s: usize, key: u16): bool {
  const len = <usize>(key >> 8);
  for (let e: i32 = 0; e < sufCount; e++) {
    if (load<u16>(SUF_KEY + (<usize>e << 1)) != key) continue;
    const t = SUF_TEXT + <usize>load<u16>(SUF_OFF + (<usize>e << 1));
    let i: usize = 0;
    while (i < len && load<u8>(s + i) == load<u8>(t + i)) i++;
    if (i == len) return true;
  }
  return false;
}

// ---- accessors for the packet path (the record's fields, typed) ----
@inline export function dnsStatus(): i32 { return load<i32>(RES + R_STATUS); }
@inline export function dnsError(): i32 { return load<i32>(RES + R_ERROR); }
@inline export function dnsId(): u32 { return <u32>load<u16>(RES + R_ID); }
@inline export function dnsIsResponse(): bool { return load<u8>(RES + R_QR) != 0; }
@inline export function dnsOpcode(): u32 { return <u32>load<u8>(RES + R_OPCODE); }
@inline export function dnsRcode(): u32 { return <u32>load<u8>(RES + R_RCODE); }
@inline export function dnsTc(): bool { return load<u8>(RES + R_TC) != 0; }
@inline export function dnsQdcount(): u32 { return <u32>load<u16>(RES + R_QDCOUNT); }
@inline export function dnsAncount(): u32 { return <u32>load<u16>(RES + R_ANCOUNT); }
@inline export function dnsQtype(): u32 { return <u32>load<u16>(RES + R_QTYPE); }
@inline export function dnsQclass(): u32 { return <u32>load<u16>(RES + R_QCLASS); }
@inline export function dnsQname(): usize { return RES + R_QNAME; }
@inline export function dnsQnameLen(): u32 { return <u32>load<u16>(RES + R_QNAME_LEN); }
@inline export function dnsLabels(): u32 { return <u32>load<u8>(RES + R_LABELS); }
@inline export function dnsLongestLabel(): u32 { return <u32>load<u8>(RES + R_MAX_LABEL); }
@inline export function dnsRegOffset(): u32 { return <u32>load<u16>(RES + R_REG_OFFSET); }
@inline export function dnsSubLen(): u32 { return <u32>load<u16>(RES + R_SUB_LEN); }
@inline export function dnsSubEntropy(): f64 { return load<f64>(RES + R_SUB_ENTROPY); }
@inline export function dnsSubDigits(): u32 { return <u32>load<u16>(RES + R_SUB_DIGITS); }
@inline export function dnsSubDistinct(): u32 { return <u32>load<u16>(RES + R_SUB_DISTINCT); }
@inline export function dnsQnameHash(): u32 { return load<u32>(RES + R_QNAME_HASH); }
@inline export function dnsRegHash(): u32 { return load<u32>(RES + R_REG_HASH); }
@inline export function dnsAddrCount(): u32 { return <u32>load<u8>(RES + R_ADDRS); }
/** The i-th answer address (16 bytes, v4-mapped for IPv4), i < dnsAddrCount(). */
@inline export function dnsAddr(i: u32): usize { return RES + R_ADDR + (<usize>i << 4); }
@inline export function dnsAddrFamily(i: u32): u32 { return <u32>load<u8>(RES + R_ADDR_FAMILY + <usize>i); }
@inline export function dnsAddrTtl(i: u32): f64 { return load<f64>(RES + R_TTLS + (<usize>i << 3)); }
@inline export function dnsTxtCount(): u32 { return <u32>load<u16>(RES + R_TXT); }
@inline export function dnsNullCount(): u32 { return <u32>load<u16>(RES + R_NULL); }
@inline export function dnsRdataBytes(): u32 { return load<u32>(RES + R_RDATA_BYTES); }
