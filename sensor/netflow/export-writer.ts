// Builders of export datagrams (NetFlow v5/v9, IPFIX, sFlow v5) byte by
// byte: for tests, the benchmark and synthetic traffic. Not a full exporter —
// enough to state templates, records and the odd corners precisely.

/** One field specifier; length 65535 = variable length (IPFIX). */
export interface FieldSpec { id: number; length: number; pen?: number }

/** A value for one field: integers big-endian in the field's length; bytes as given (variable length prefixed). */
export type FieldValue = number | bigint | Uint8Array | number[];

export class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;
  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }
  u8(v: number): this { this.grow(1); this.buf[this.length++] = v & 0xff; return this; }
  u16(v: number): this { this.grow(2); this.buf[this.length++] = (v >>> 8) & 0xff; this.buf[this.length++] = v & 0xff; return this; }
  u32(v: number): this {
    this.grow(4);
    v >>>= 0;
    this.buf[this.length++] = v >>> 24; this.buf[this.length++] = (v >>> 16) & 0xff;
    this.buf[this.length++] = (v >>> 8) & 0xff; this.buf[this.length++] = v & 0xff;
    return this;
  }
  /** big-endian unsigned of `len` bytes */
  uint(v: number | bigint, len: number): this {
    this.grow(len);
    let x = BigInt(v);
    for (let i = len - 1; i >= 0; i--) { this.buf[this.length + i] = Number(x & 0xffn); x >>= 8n; }
    this.length += len;
    return this;
  }
  bytes(b: Uint8Array | number[]): this {
    this.grow(b.length);
    for (let i = 0; i < b.length; i++) this.buf[this.length++] = b[i]! & 0xff;
    return this;
  }
  zeros(n: number): this { this.grow(n); this.buf.fill(0, this.length, this.length + n); this.length += n; return this; }
  pad4(): this { return this.zeros((4 - (this.length % 4)) % 4); }
  /** patch a u16 at `at` */
  setU16(at: number, v: number): void { this.buf[at] = (v >>> 8) & 0xff; this.buf[at + 1] = v & 0xff; }
  setU32(at: number, v: number): void {
    v >>>= 0;
    this.buf[at] = v >>> 24; this.buf[at + 1] = (v >>> 16) & 0xff; this.buf[at + 2] = (v >>> 8) & 0xff; this.buf[at + 3] = v & 0xff;
  }
  done(): Uint8Array { return this.buf.slice(0, this.length); }
}

/** IPv4 text → 32-bit number. */
export function ip4(text: string): number {
  const p = text.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** IPv6 text → 16 bytes (no embedded IPv4 form). */
export function ip6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  words.forEach((w, i) => { const v = parseInt(w, 16); out[i * 2] = v >> 8; out[i * 2 + 1] = v & 0xff; });
  return out;
}

/** Encode one data record of `fields` with `values` (same order). */
export function record(fields: FieldSpec[], values: FieldValue[]): Uint8Array {
  const w = new ByteWriter();
  fields.forEach((f, i) => {
    const v = values[i] ?? 0;
    if (f.length === 65535) {
      const b = typeof v === 'number' || typeof v === 'bigint' ? [] : v;
      if (b.length < 255) w.u8(b.length); else w.u8(255).u16(b.length);
      w.bytes(b);
    } else if (typeof v === 'number' || typeof v === 'bigint') {
      w.uint(v, f.length);
    } else {
      const b = Uint8Array.from(v);
      const out = new Uint8Array(f.length);
      out.set(b.subarray(0, f.length));
      w.bytes(out);
    }
  });
  return w.done();
}

function fieldSpecs(w: ByteWriter, fields: FieldSpec[], ipfix: boolean): void {
  for (const f of fields) {
    if (ipfix && f.pen !== undefined && f.pen !== 0) w.u16(f.id | 0x8000).u16(f.length).u32(f.pen);
    else w.u16(f.id).u16(f.length);
  }
}

/** A set / FlowSet: id, length, body, padded to 4 bytes unless `pad` is false. */
export function set(id: number, body: Uint8Array | Uint8Array[], pad = true): Uint8Array {
  const w = new ByteWriter();
  w.u16(id).u16(0);
  for (const b of Array.isArray(body) ? body : [body]) w.bytes(b);
  if (pad) w.pad4();
  w.setU16(2, w.length);
  return w.done();
}

export interface TemplateDef { id: number; fields: FieldSpec[] }

export function v9TemplateSet(templates: TemplateDef[]): Uint8Array {
  const w = new ByteWriter();
  for (const t of templates) { w.u16(t.id).u16(t.fields.length); fieldSpecs(w, t.fields, false); }
  return set(0, w.done());
}

export function v9OptionsTemplateSet(id: number, scopes: FieldSpec[], options: FieldSpec[]): Uint8Array {
  const w = new ByteWriter();
  w.u16(id).u16(scopes.length * 4).u16(options.length * 4);
  fieldSpecs(w, scopes, false);
  fieldSpecs(w, options, false);
  return set(1, w.done());
}

export function ipfixTemplateSet(templates: TemplateDef[]): Uint8Array {
  const w = new ByteWriter();
  for (const t of templates) { w.u16(t.id).u16(t.fields.length); fieldSpecs(w, t.fields, true); }
  return set(2, w.done());
}

export function ipfixOptionsTemplateSet(id: number, scopes: FieldSpec[], options: FieldSpec[]): Uint8Array {
  const w = new ByteWriter();
  w.u16(id).u16(scopes.length + options.length).u16(scopes.length);
  fieldSpecs(w, scopes, true);
  fieldSpecs(w, options, true);
  return set(3, w.done());
}

/** IPFIX withdrawal of template ids (set 2, or 3 for options templates). */
export function ipfixWithdrawalSet(ids: number[], options = false): Uint8Array {
  const w = new ByteWriter();
  for (const id of ids) w.u16(id).u16(0);
  return set(options ? 3 : 2, w.done());
}

export interface V9Header { uptime: number; secs: number; seq: number; sourceId: number; count?: number }

export function v9Datagram(h: V9Header, sets: Uint8Array[]): Uint8Array {
  const w = new ByteWriter();
  w.u16(9).u16(h.count ?? sets.length).u32(h.uptime).u32(h.secs).u32(h.seq).u32(h.sourceId);
  for (const s of sets) w.bytes(s);
  return w.done();
}

export interface IpfixHeader { exportTime: number; seq: number; domain: number }

export function ipfixMessage(h: IpfixHeader, sets: Uint8Array[]): Uint8Array {
  const w = new ByteWriter();
  w.u16(10).u16(0).u32(h.exportTime).u32(h.seq).u32(h.domain);
  for (const s of sets) w.bytes(s);
  w.setU16(2, w.length);
  return w.done();
}

export interface V5Header { uptime: number; secs: number; nsecs?: number; seq: number; engineType?: number; engineId?: number; sampling?: number }
export interface V5Record {
  src: number; dst: number; nexthop?: number; input?: number; output?: number;
  pkts: number; bytes: number; first: number; last: number;
  srcPort: number; dstPort: number; tcpFlags?: number; proto: number; tos?: number;
}

export function v5Datagram(h: V5Header, records: V5Record[], count = records.length): Uint8Array {
  const w = new ByteWriter();
  w.u16(5).u16(count).u32(h.uptime).u32(h.secs).u32(h.nsecs ?? 0).u32(h.seq).u8(h.engineType ?? 0).u8(h.engineId ?? 0).u16(h.sampling ?? 0);
  for (const r of records) {
    w.u32(r.src).u32(r.dst).u32(r.nexthop ?? 0).u16(r.input ?? 0).u16(r.output ?? 0)
      .u32(r.pkts).u32(r.bytes).u32(r.first).u32(r.last).u16(r.srcPort).u16(r.dstPort)
      .u8(0).u8(r.tcpFlags ?? 0).u8(r.proto).u8(r.tos ?? 0).u16(0).u16(0).u8(0).u8(0).u16(0);
  }
  return w.done();
}

// ------------------------------------------------------------------ sFlow ---

export interface SflowRecord { enterprise?: number; format: number; data: Uint8Array }

/** Flow/counter records: tag, length, data padded to 4 bytes. */
function sflowRecords(w: ByteWriter, records: SflowRecord[]): void {
  for (const r of records) {
    const padded = (r.data.length + 3) & ~3;
    w.u32(((r.enterprise ?? 0) << 12) | r.format).u32(padded).bytes(r.data).zeros(padded - r.data.length);
  }
}

export function sflowRawHeader(headerProtocol: number, frameLength: number, header: Uint8Array, stripped = 0): SflowRecord {
  const w = new ByteWriter();
  w.u32(headerProtocol).u32(frameLength).u32(stripped).u32(header.length).bytes(header).pad4();
  return { format: 1, data: w.done() };
}

export function sflowSampledIpv4(r: { length: number; proto: number; src: number; dst: number; srcPort: number; dstPort: number; tcpFlags?: number; tos?: number }): SflowRecord {
  const w = new ByteWriter();
  w.u32(r.length).u32(r.proto).u32(r.src).u32(r.dst).u32(r.srcPort).u32(r.dstPort).u32(r.tcpFlags ?? 0).u32(r.tos ?? 0);
  return { format: 3, data: w.done() };
}

export function sflowSampledIpv6(r: { length: number; proto: number; src: Uint8Array; dst: Uint8Array; srcPort: number; dstPort: number; tcpFlags?: number }): SflowRecord {
  const w = new ByteWriter();
  w.u32(r.length).u32(r.proto).bytes(r.src).bytes(r.dst).u32(r.srcPort).u32(r.dstPort).u32(r.tcpFlags ?? 0).u32(0);
  return { format: 4, data: w.done() };
}

export function sflowExtendedSwitch(srcVlan: number, dstVlan: number): SflowRecord {
  const w = new ByteWriter();
  w.u32(srcVlan).u32(0).u32(dstVlan).u32(0);
  return { format: 1001, data: w.done() };
}

export interface SflowFlowSample {
  expanded?: boolean; seq: number; sourceIdType?: number; sourceIdIndex: number;
  rate: number; pool?: number; drops?: number; input: number; output: number; records: SflowRecord[];
}

export function sflowFlowSample(s: SflowFlowSample): Uint8Array {
  const w = new ByteWriter();
  if (s.expanded) {
    w.u32(3).u32(0);
    const start = w.length;
    w.u32(s.seq).u32(s.sourceIdType ?? 0).u32(s.sourceIdIndex).u32(s.rate).u32(s.pool ?? 0).u32(s.drops ?? 0)
      .u32(0).u32(s.input).u32(0).u32(s.output).u32(s.records.length);
    sflowRecords(w, s.records);
    w.setU32(4, w.length - start);
  } else {
    w.u32(1).u32(0);
    const start = w.length;
    w.u32(s.seq).u32(((s.sourceIdType ?? 0) << 24) | s.sourceIdIndex).u32(s.rate).u32(s.pool ?? 0).u32(s.drops ?? 0)
      .u32(s.input).u32(s.output).u32(s.records.length);
    sflowRecords(w, s.records);
    w.setU32(4, w.length - start);
  }
  return w.done();
}

export interface SflowIfCounters {
  ifIndex: number; ifType?: number; ifSpeed?: number; inOctets: number; inUcastPkts: number; inErrors?: number;
  outOctets: number; outUcastPkts: number; outErrors?: number;
}

export function sflowCounterSample(seq: number, sourceIdIndex: number, c: SflowIfCounters, expanded = false): Uint8Array {
  const r = new ByteWriter();
  r.u32(c.ifIndex).u32(c.ifType ?? 6).uint(c.ifSpeed ?? 1e9, 8).u32(1).u32(3)
    .uint(c.inOctets, 8).u32(c.inUcastPkts).u32(0).u32(0).u32(0).u32(c.inErrors ?? 0).u32(0)
    .uint(c.outOctets, 8).u32(c.outUcastPkts).u32(0).u32(0).u32(0).u32(c.outErrors ?? 0).u32(0);
  const rec = r.done();
  const w = new ByteWriter();
  w.u32(expanded ? 4 : 2).u32(0);
  const start = w.length;
  if (expanded) w.u32(seq).u32(0).u32(sourceIdIndex).u32(1);
  else w.u32(seq).u32(sourceIdIndex).u32(1);
  w.u32(1).u32(rec.length).bytes(rec);
  w.setU32(4, w.length - start);
  return w.done();
}

export interface SflowHeader { agent: number | Uint8Array; subAgent?: number; seq: number; uptime?: number }

export function sflowDatagram(h: SflowHeader, samples: Uint8Array[]): Uint8Array {
  const w = new ByteWriter();
  w.u32(5);
  if (typeof h.agent === 'number') w.u32(1).u32(h.agent);
  else w.u32(2).bytes(h.agent);
  w.u32(h.subAgent ?? 0).u32(h.seq).u32(h.uptime ?? 0).u32(samples.length);
  for (const s of samples) w.bytes(s);
  return w.done();
}
