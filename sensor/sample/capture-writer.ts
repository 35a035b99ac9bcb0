// Streaming writer for classic pcap and pcapng. Records are appended to a
// large buffer (4 MiB by default) that is written to the file descriptor with
// writeSync when full, so writing millions of packets costs one syscall per
// few thousand packets. Optional gzip compresses each chunk as a separate
// gzip member (a valid multi-member gzip stream, RFC 1952 §2.2).

import { closeSync, openSync, writeSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { LINKTYPE_ETHERNET } from "./frames.ts";

export type CaptureFormat = "pcap" | "pcapng";

/** Something that receives frames in time order (the generator's output). */
export interface FrameSink {
  /**
   * One frame: data[off, off+len). sec/nsec: capture time (integer seconds
   * since the epoch, nanoseconds 0..999999999); wireLen: original length
   * (>= len); iface: capture interface index (pcapng IDB number).
   */
  frame(sec: number, nsec: number, data: Uint8Array, off: number, len: number, wireLen: number, iface: number): void;
}

export interface CaptureInterface {
  /** Link type (LINKTYPE_*), default Ethernet. */
  linkType?: number;
  /** Snapshot length; longer frames are truncated (wire length is kept). Default 262144. */
  snaplen?: number;
  /** Decimal exponent of the timestamp unit (if_tsresol): 6 = µs (default), 9 = ns. 0..9. */
  tsresol?: number;
  /** if_name option. */
  name?: string;
}

export interface CaptureWriterOptions {
  format: CaptureFormat;
  /** Write big-endian headers (pcap magic a1b2c3d4 / pcapng section in big endian). Default false. */
  bigEndian?: boolean;
  /** Classic pcap: nanosecond magic (a1b23c4d). Default false (µs). */
  nanosecond?: boolean;
  /** Classic pcap: snapshot length. Default 262144. */
  snaplen?: number;
  /** Classic pcap: link type. Default Ethernet. */
  linkType?: number;
  /** pcapng: the interfaces (one IDB each). Default one Ethernet interface, µs. */
  interfaces?: CaptureInterface[];
  /** Size of the write buffer. Default 4 MiB. */
  chunkBytes?: number;
  /** gzip the output (true, or a zlib level 1..9). */
  gzip?: boolean | number;
  /** pcapng: shb_userappl text. */
  application?: string;
}

const DEFAULT_SNAPLEN = 262144;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/** Streaming pcap / pcapng writer. Implements FrameSink. */
export class CaptureWriter implements FrameSink {
  /** Packets written. */
  packets = 0;
  /** Bytes of capture data produced (before gzip). */
  bytes = 0;

  private readonly buf: Buffer;
  private pos = 0;
  private readonly le: boolean;
  private readonly ng: boolean;
  private readonly nsMagic: boolean;
  private readonly snaplens: number[];
  private readonly tsUnitsPerSec: number[];
  private readonly gzipLevel: number; // 0: off
  private closed = false;

  /** Open (create/truncate) a file and write the file header. */
  static open(path: string, opts: CaptureWriterOptions): CaptureWriter {
    const fd = openSync(path, "w");
    return new CaptureWriter(fd, opts, true);
  }

  /**
   * Write to an open file descriptor. With ownsFd, close() closes it.
   */
  constructor(private readonly fd: number, opts: CaptureWriterOptions, private readonly ownsFd = false) {
    const chunk = Math.max(opts.chunkBytes ?? 4 * 1024 * 1024, 1 << 17);
    // Room for one maximal record past the flush threshold.
    this.buf = Buffer.allocUnsafe(chunk + DEFAULT_SNAPLEN + 64);
    this.le = !opts.bigEndian;
    this.ng = opts.format === "pcapng";
    this.nsMagic = !!opts.nanosecond;
    this.gzipLevel = opts.gzip === true ? 6 : typeof opts.gzip === "number" ? opts.gzip : 0;
    this.flushAt = chunk;
    if (this.ng) {
      const ifs = opts.interfaces && opts.interfaces.length ? opts.interfaces : [{}];
      this.snaplens = ifs.map((i) => clampSnap(i.snaplen));
      this.tsUnitsPerSec = ifs.map((i) => {
        const r = i.tsresol ?? 6;
        if (!Number.isInteger(r) || r < 0 || r > 9) throw new Error(`if_tsresol must be a decimal exponent 0..9, got ${r}`);
        return POW10[r]!;
      });
      this.writeShb(opts.application ?? "edge-sensor sample generator");
      ifs.forEach((i) => this.writeIdb(i));
    } else {
      if (opts.interfaces && opts.interfaces.length > 1) throw new Error("classic pcap has exactly one link type; use pcapng for several interfaces");
      const snap = clampSnap(opts.snaplen ?? opts.interfaces?.[0]?.snaplen);
      this.snaplens = [snap];
      this.tsUnitsPerSec = [this.nsMagic ? 1e9 : 1e6];
      this.u32(this.nsMagic ? 0xa1b23c4d : 0xa1b2c3d4);
      this.u16(2);
      this.u16(4);
      this.u32(0); // thiszone
      this.u32(0); // sigfigs
      this.u32(snap);
      this.u32(opts.linkType ?? opts.interfaces?.[0]?.linkType ?? LINKTYPE_ETHERNET);
    }
  }

  private readonly flushAt: number;

  frame(sec: number, nsec: number, data: Uint8Array, off: number, len: number, wireLen: number, iface: number): void {
    const snap = this.snaplens[iface];
    if (snap === undefined) throw new Error(`frame on interface ${iface}, but the capture has ${this.snaplens.length}`);
    const cap = len < snap ? len : snap;
    if (this.ng) {
      // Enhanced Packet Block.
      const padded = (cap + 3) & ~3;
      const total = 32 + padded;
      const units = this.tsUnitsPerSec[iface]!;
      // 64-bit timestamp in units: sec*units + frac, split exactly (see ts64).
      const frac = Math.floor(nsec / (1e9 / units));
      ts64(sec, units, frac);
      this.u32(6);
      this.u32(total);
      this.u32(iface);
      this.u32(tsHigh);
      this.u32(tsLow);
      this.u32(cap);
      this.u32(wireLen);
      this.copy(data, off, cap);
      for (let i = cap; i < padded; i++) this.buf[this.pos++] = 0;
      this.u32(total);
    } else {
      this.u32(sec);
      this.u32(this.nsMagic ? nsec : Math.floor(nsec / 1000));
      this.u32(cap);
      this.u32(wireLen);
      this.copy(data, off, cap);
    }
    this.packets++;
    if (this.pos >= this.flushAt) this.flush();
  }

  /** Write out buffered records. */
  flush(): void {
    if (this.pos === 0) return;
    let out: Uint8Array = this.buf.subarray(0, this.pos);
    this.bytes += this.pos;
    if (this.gzipLevel) out = gzipSync(out, { level: this.gzipLevel });
    let done = 0;
    while (done < out.length) done += writeSync(this.fd, out, done, out.length - done);
    this.pos = 0;
  }

  /** Flush and (if the writer opened it) close the file. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.ownsFd) closeSync(this.fd);
  }

  // ------------------------------------------------------------ pcapng blocks

  private writeShb(app: string): void {
    const appBytes = Buffer.from(app, "utf8");
    const optLen = 4 + pad4(appBytes.length) + 4; // shb_userappl + opt_endofopt
    const total = 28 + optLen;
    this.u32(0x0a0d0d0a);
    this.u32(total);
    this.u32(0x1a2b3c4d); // byte-order magic, written in the section's order
    this.u16(1);
    this.u16(0);
    this.u32(0xffffffff); // section length: unknown (-1)
    this.u32(0xffffffff);
    this.option(4, appBytes);
    this.u32(0); // opt_endofopt
    this.u32(total);
  }

  private writeIdb(i: CaptureInterface): void {
    const name = i.name ? Buffer.from(i.name, "utf8") : null;
    const tsresol = i.tsresol ?? 6;
    let optLen = 0;
    if (name) optLen += 4 + pad4(name.length);
    if (tsresol !== 6) optLen += 4 + 4;
    if (optLen) optLen += 4;
    const total = 20 + optLen;
    this.u32(1);
    this.u32(total);
    this.u16(i.linkType ?? LINKTYPE_ETHERNET);
    this.u16(0);
    this.u32(clampSnap(i.snaplen));
    if (name) this.option(2, name);
    if (tsresol !== 6) this.option(9, Uint8Array.of(tsresol));
    if (optLen) this.u32(0);
    this.u32(total);
  }

  private option(code: number, value: Uint8Array): void {
    this.u16(code);
    this.u16(value.length);
    this.copy(value, 0, value.length);
    for (let p = value.length; p < pad4(value.length); p++) this.buf[this.pos++] = 0;
  }

  // ------------------------------------------------------------ primitives

  private copy(data: Uint8Array, off: number, len: number): void {
    if (len > 64) {
      this.buf.set(data.subarray(off, off + len), this.pos);
    } else {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < len; i++) b[p++] = data[off + i]!;
    }
    this.pos += len;
  }

  private u16(v: number): void {
    const b = this.buf, p = this.pos;
    if (this.le) { b[p] = v & 0xff; b[p + 1] = (v >>> 8) & 0xff; }
    else { b[p] = (v >>> 8) & 0xff; b[p + 1] = v & 0xff; }
    this.pos = p + 2;
  }

  private u32(v: number): void {
    const b = this.buf, p = this.pos;
    if (this.le) {
      b[p] = v & 0xff; b[p + 1] = (v >>> 8) & 0xff; b[p + 2] = (v >>> 16) & 0xff; b[p + 3] = (v >>> 24) & 0xff;
    } else {
      b[p] = (v >>> 24) & 0xff; b[p + 1] = (v >>> 16) & 0xff; b[p + 2] = (v >>> 8) & 0xff; b[p + 3] = v & 0xff;
    }
    this.pos = p + 4;
  }
}

let tsHigh = 0;
let tsLow = 0;

/**
 * sec * units + frac as two 32-bit halves (into tsHigh/tsLow), exact for
 * sec < 2^32 and units <= 1e9 although the product exceeds 2^53.
 */
function ts64(sec: number, units: number, frac: number): void {
  const a = Math.floor(sec / 65536) * units;       // < 2^46
  const b = (sec % 65536) * units + frac;          // < 2^47
  const aHi = Math.floor(a / 65536);
  const aLo = a % 65536;
  const t = aLo * 65536 + b;                       // < 2^48
  tsHigh = aHi + Math.floor(t / 4294967296);
  tsLow = t % 4294967296;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function clampSnap(s: number | undefined): number {
  const v = s ?? DEFAULT_SNAPLEN;
  if (!Number.isInteger(v) || v < 1 || v > DEFAULT_SNAPLEN) throw new Error(`snaplen must be 1..${DEFAULT_SNAPLEN}, got ${v}`);
  return v;
}
