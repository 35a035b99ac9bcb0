// Builders for classic pcap and pcapng files byte by byte, including the odd
// corners real writers rarely produce (big-endian sections, binary
// timestamp resolutions, simple/obsolete packet blocks, bad lengths), so the
// capture walker can be tested on exactly the case at hand.

export interface PcapRecord {
  sec: number;
  /** µs or ns per the file's magic */
  frac: number;
  data: Uint8Array | number[];
  /** original length (default: data length) */
  wire?: number;
  /** captured length written in the header (default: data length) */
  caplen?: number;
}

export interface PcapOpts {
  bigEndian?: boolean;
  nanosecond?: boolean;
  linktype?: number;
  snaplen?: number;
}

class Writer {
  private buf: number[] = [];
  constructor(private readonly be: boolean) {}
  u16(v: number): this {
    if (this.be) this.buf.push((v >>> 8) & 0xff, v & 0xff);
    else this.buf.push(v & 0xff, (v >>> 8) & 0xff);
    return this;
  }
  u32(v: number): this {
    v >>>= 0;
    if (this.be) this.buf.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    else this.buf.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
    return this;
  }
  raw(b: Uint8Array | number[]): this {
    for (const x of b) this.buf.push(x);
    return this;
  }
  pad4(): this {
    while (this.buf.length % 4) this.buf.push(0);
    return this;
  }
  get length(): number { return this.buf.length; }
  bytes(): number[] { return this.buf; }
}

export function pcapHeader(o: PcapOpts = {}): number[] {
  const w = new Writer(!!o.bigEndian);
  w.u32(o.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(o.snaplen ?? 262144).u32(o.linktype ?? 1);
  return w.bytes();
}

export function pcapRecord(r: PcapRecord, o: PcapOpts = {}): number[] {
  const w = new Writer(!!o.bigEndian);
  w.u32(r.sec).u32(r.frac).u32(r.caplen ?? r.data.length).u32(r.wire ?? r.data.length).raw(r.data);
  return w.bytes();
}

export function pcapFile(records: PcapRecord[], o: PcapOpts = {}): Uint8Array {
  return Uint8Array.from([...pcapHeader(o), ...records.flatMap((r) => pcapRecord(r, o))]);
}

// ---------------------------------------------------------------- pcapng

/** A whole block: type, total length, body (padded to 4), total length. */
export function block(type: number, body: number[], be = false): number[] {
  const inner = new Writer(be).raw(body).pad4().bytes();
  const len = 12 + inner.length;
  return new Writer(be).u32(type).u32(len).raw(inner).u32(len).bytes();
}

export function shb(be = false): number[] {
  const body = new Writer(be).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).bytes();
  return block(0x0a0d0d0a, body, be);
}

export interface IdbOpts {
  linktype?: number;
  snaplen?: number;
  /** raw if_tsresol byte (e.g. 9 = ns, 0x80 | 20 = 2^-20 s) */
  tsresol?: number;
  /** if_tsoffset in seconds */
  tsoffset?: number;
}

export function idb(o: IdbOpts = {}, be = false): number[] {
  const w = new Writer(be).u16(o.linktype ?? 1).u16(0).u32(o.snaplen ?? 262144);
  if (o.tsresol !== undefined) w.u16(9).u16(1).raw([o.tsresol]).pad4();
  if (o.tsoffset !== undefined) {
    const big = BigInt.asUintN(64, BigInt(o.tsoffset));
    w.u16(14).u16(8);
    const hi = Number(big >> 32n), lo = Number(big & 0xffffffffn);
    if (be) w.u32(hi).u32(lo); else w.u32(lo).u32(hi);
  }
  w.u16(0).u16(0); // opt_endofopt
  return block(1, w.bytes(), be);
}

/** EPB with a 64-bit timestamp in the interface's units. */
export function epb(iface: number, ts: bigint, data: Uint8Array | number[], wire = data.length, be = false): number[] {
  const w = new Writer(be).u32(iface).u32(Number(ts >> 32n)).u32(Number(ts & 0xffffffffn)).u32(data.length).u32(wire).raw(data).pad4();
  return block(6, w.bytes(), be);
}

/** Obsolete Packet Block (type 2): 16-bit interface id and drops count. */
export function pb(iface: number, ts: bigint, data: Uint8Array | number[], wire = data.length, be = false): number[] {
  const w = new Writer(be).u16(iface).u16(0).u32(Number(ts >> 32n)).u32(Number(ts & 0xffffffffn)).u32(data.length).u32(wire).raw(data).pad4();
  return block(2, w.bytes(), be);
}

/** Simple Packet Block: original length, data (no timestamp, no interface). */
export function spb(data: Uint8Array | number[], wire = data.length, be = false): number[] {
  return block(3, new Writer(be).u32(wire).raw(data).pad4().bytes(), be);
}

export function pcapng(...blocks: number[][]): Uint8Array {
  return Uint8Array.from(blocks.flat());
}
