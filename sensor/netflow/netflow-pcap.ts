// Replays a capture of export packets (pcap or pcapng, gzip allowed) through
// the datagram decoder: every UDP payload is decoded as if received from the
// IP source address at the packet's timestamp. A minimal record walker — not
// the hot path — for Ethernet (802.1Q/802.1ad tags), Linux SLL/SLL2, BSD
// loopback and raw IP link types; IPv4 and IPv6 (extension headers skipped).
// Fragmented export packets are not reassembled (counted as ip_fragment).
import { openFlowFile } from '../flowlogs/text-input.ts';
import { copyOf, v4Text, v6Text } from './common.ts';
import type { NetflowDecoder } from './datagram.ts';

export interface CaptureSummary {
  /** capture records walked */
  packets: number;
  /** UDP payloads handed to the decoder */
  datagrams: number;
  /** records that were not UDP over IP (skipped) */
  skipped: number;
}

/** Largest capture record / pcapng block accepted (anything larger is a broken file). */
const MAX_RECORD = 1 << 20;
const MAX_BLOCK = 16 << 20;

type OnUdp = (payload: Uint8Array, exporter: string, time: number) => void;
type OnError = (kind: 'bad_capture' | 'ip_fragment', message: string, offset: number) => void;

interface Iface { linktype: number; snaplen: number; unitsPerSec: number; tsOffset: number }

/** Incremental pcap/pcapng walker: push() chunks, end() at EOF. */
export class CaptureWalker {
  readonly summary: CaptureSummary = { packets: 0, datagrams: 0, skipped: 0 };
  private buf: Uint8Array = new Uint8Array(0);
  /** file offset of buf[0] */
  private base = 0;
  private format: 'unknown' | 'pcap' | 'pcapng' | 'dead' = 'unknown';
  // pcap
  private le = true;
  private fracPerSec = 1e6;
  private linktype = 1;
  // pcapng
  private ifaces: Iface[] = [];

  constructor(private readonly onUdp: OnUdp, private readonly onError: OnError) {}

  push(chunk: Uint8Array): void {
    if (this.format === 'dead' || chunk.length === 0) return;
    if (this.buf.length === 0) this.buf = chunk;
    else {
      const b = new Uint8Array(this.buf.length + chunk.length);
      b.set(this.buf); b.set(chunk, this.buf.length);
      this.buf = b;
    }
    const used = this.walk();
    if (used > 0) {
      this.base += used;
      this.buf = used >= this.buf.length ? new Uint8Array(0) : copyOf(this.buf, used, this.buf.length);
    }
  }

  end(): void {
    if (this.format === 'dead') return;
    if (this.format === 'unknown' && this.buf.length > 0) this.die(`file of ${this.buf.length} bytes is not a pcap or pcapng capture`, 0);
    else if (this.buf.length > 0) this.die(`capture ends inside a record (${this.buf.length} bytes left)`, this.base);
  }

  private die(message: string, offset: number): void {
    this.format = 'dead';
    this.buf = new Uint8Array(0);
    this.onError('bad_capture', message, offset);
  }

  /** Walk complete records in buf; returns the bytes consumed. */
  private walk(): number {
    const b = this.buf;
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    let p = 0;
    if (this.format === 'unknown') {
      if (b.length < 4) return 0;
      const m = dv.getUint32(0, false);
      if (m === 0x0a0d0d0a) this.format = 'pcapng';
      else if (m === 0xa1b2c3d4 || m === 0xd4c3b2a1 || m === 0xa1b23c4d || m === 0x4d3cb2a1) {
        if (b.length < 24) return 0;
        this.le = m === 0xd4c3b2a1 || m === 0x4d3cb2a1;
        this.fracPerSec = m === 0xa1b23c4d || m === 0x4d3cb2a1 ? 1e9 : 1e6;
        this.linktype = dv.getUint32(20, this.le) & 0xffff;
        this.format = 'pcap';
        p = 24;
      } else {
        this.die(`magic 0x${m.toString(16)} is not pcap or pcapng`, 0);
        return 0;
      }
    }
    if (this.format === 'pcap') {
      const le = this.le;
      while (b.length - p >= 16) {
        const caplen = dv.getUint32(p + 8, le);
        if (caplen > MAX_RECORD) { this.die(`record of ${caplen} bytes`, this.base + p); return 0; }
        if (b.length - p - 16 < caplen) break;
        const t = dv.getUint32(p, le) + dv.getUint32(p + 4, le) / this.fracPerSec;
        this.summary.packets++;
        this.frame(b, p + 16, p + 16 + caplen, this.linktype, t);
        p += 16 + caplen;
      }
      return p;
    }
    // pcapng: blocks in the current section's byte order
    while (b.length - p >= 12) {
      const type0 = dv.getUint32(p, false);
      if (type0 === 0x0a0d0d0a) {
        const bom = dv.getUint32(p + 8, true);
        if (bom === 0x1a2b3c4d) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else { this.die(`section header with byte-order magic 0x${bom.toString(16)}`, this.base + p); return 0; }
        this.ifaces = [];
      }
      const le = this.le;
      const type = dv.getUint32(p, le);
      const blen = dv.getUint32(p + 4, le);
      if (blen < 12 || blen % 4 !== 0 || blen > MAX_BLOCK) { this.die(`pcapng block length ${blen}`, this.base + p); return 0; }
      if (b.length - p < blen) break;
      const end = p + blen - 4;
      if (type === 1 && blen >= 20) {
        const iface: Iface = { linktype: dv.getUint16(p + 8, le), snaplen: dv.getUint32(p + 12, le), unitsPerSec: 1e6, tsOffset: 0 };
        for (let o = p + 16; o + 4 <= end;) {
          const code = dv.getUint16(o, le), olen = dv.getUint16(o + 2, le);
          if (code === 0) break;
          if (o + 4 + olen > end) break;
          if (code === 9 && olen >= 1) {
            const r = b[o + 4]!;
            iface.unitsPerSec = (r & 0x80) !== 0 ? 2 ** (r & 0x7f) : 10 ** r;
          } else if (code === 14 && olen >= 8) {
            iface.tsOffset = dv.getUint32(o + 4, le) * 4294967296 + dv.getUint32(o + 8, le);
          }
          o += 4 + ((olen + 3) & ~3);
        }
        this.ifaces.push(iface);
      } else if (type === 6 || type === 2) {
        if (blen >= 32) {
          const ifIdx = type === 6 ? dv.getUint32(p + 8, le) : dv.getUint16(p + 8, le);
          const units = dv.getUint32(p + 12, le) * 4294967296 + dv.getUint32(p + 16, le);
          const caplen = dv.getUint32(p + 20, le);
          const iface = this.ifaces[ifIdx];
          this.summary.packets++;
          if (iface === undefined || 28 + caplen > blen - 4) {
            this.onError('bad_capture', iface === undefined ? `packet block names interface ${ifIdx}, which is not described` : `packet block data overruns the block`, this.base + p);
          } else {
            this.frame(b, p + 28, p + 28 + caplen, iface.linktype, iface.tsOffset + units / iface.unitsPerSec);
          }
        }
      } else if (type === 3 && blen >= 16) {
        const iface = this.ifaces[0];
        this.summary.packets++;
        if (iface !== undefined) {
          const orig = dv.getUint32(p + 8, le);
          let caplen = Math.min(orig, blen - 16);
          if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
          this.frame(b, p + 12, p + 12 + caplen, iface.linktype, 0);
        }
      }
      p += blen;
    }
    return p;
  }

  /** One captured frame: find IP/UDP and hand the payload on. */
  private frame(b: Uint8Array, start: number, end: number, linktype: number, time: number): void {
    let p = start;
    let etherType = -1;
    switch (linktype) {
      case 1: // Ethernet
        if (end - p < 14) break;
        etherType = (b[p + 12]! << 8) | b[p + 13]!;
        p += 14;
        break;
      case 113: // Linux cooked
        if (end - p < 16) break;
        etherType = (b[p + 14]! << 8) | b[p + 15]!;
        p += 16;
        break;
      case 276: // Linux cooked v2
        if (end - p < 20) break;
        etherType = (b[p]! << 8) | b[p + 1]!;
        p += 20;
        break;
      case 0: case 108: { // BSD loopback (host order / network order)
        if (end - p < 4) break;
        const af = b[p]! | b[p + 3]!;
        etherType = af === 2 ? 0x0800 : af === 24 || af === 28 || af === 30 ? 0x86dd : -1;
        p += 4;
        break;
      }
      case 101: case 12: case 14: case 228: case 229: // raw IP
        if (end - p < 1) break;
        etherType = (b[p]! >>> 4) === 6 ? 0x86dd : 0x0800;
        break;
    }
    // VLAN tags (802.1Q, 802.1ad, old QinQ)
    while ((etherType === 0x8100 || etherType === 0x88a8 || etherType === 0x9100) && end - p >= 4) {
      etherType = (b[p + 2]! << 8) | b[p + 3]!;
      p += 4;
    }
    let udp = -1;
    let exporter = '';
    if (etherType === 0x0800 && end - p >= 20 && (b[p]! >>> 4) === 4) {
      const ihl = (b[p]! & 0x0f) * 4;
      const total = (b[p + 2]! << 8) | b[p + 3]!;
      const frag = ((b[p + 6]! << 8) | b[p + 7]!) & 0x3fff;
      if (b[p + 9] === 17 && ihl >= 20) {
        if (frag !== 0) { this.onError('ip_fragment', `fragmented IPv4 export packet from ${v4Text(b, p + 12)} (not reassembled)`, this.base + start); return; }
        exporter = v4Text(b, p + 12);
        if (total >= ihl && p + total < end) end = p + total; // drop Ethernet padding
        udp = p + ihl;
      }
    } else if (etherType === 0x86dd && end - p >= 40 && (b[p]! >>> 4) === 6) {
      let next = b[p + 6]!;
      const payloadLen = (b[p + 4]! << 8) | b[p + 5]!;
      const src = p + 8;
      if (p + 40 + payloadLen < end) end = p + 40 + payloadLen;
      let q = p + 40;
      for (let guard = 0; guard < 8; guard++) {
        if (next === 0 || next === 43 || next === 60) {
          if (end - q < 8) break;
          next = b[q]!;
          q += (b[q + 1]! + 1) * 8;
        } else if (next === 44) {
          if (end - q >= 8 && b[q] === 17) { this.onError('ip_fragment', `fragmented IPv6 export packet from ${v6Text(b, src)} (not reassembled)`, this.base + start); return; }
          break;
        } else break;
      }
      if (next === 17) { udp = q; exporter = v6Text(b, src); }
    }
    if (udp < 0 || end - udp < 8) { this.summary.skipped++; return; }
    const ulen = (b[udp + 4]! << 8) | b[udp + 5]!;
    const payloadEnd = ulen >= 8 ? Math.min(end, udp + ulen) : end;
    this.summary.datagrams++;
    this.onUdp(b.subarray(udp + 8, payloadEnd), exporter, time);
  }
}

function walkerFor(decoder: NetflowDecoder, input: string): CaptureWalker {
  return new CaptureWalker(
    (payload, exporter, time) => { decoder.decode(payload, exporter, time); },
    (kind, message, offset) => decoder.ctx.reject(kind, input, message, offset),
  );
}

/**
 * Decode every export packet of a capture held in memory. With `finish`
 * (default), data still waiting for a template at the end is reported as
 * dropped.
 */
export function decodeNetflowCaptureBytes(bytes: Uint8Array, decoder: NetflowDecoder, input = '<capture>', finish = true): CaptureSummary {
  const w = walkerFor(decoder, input);
  w.push(bytes);
  w.end();
  if (finish) decoder.finish();
  return w.summary;
}

/**
 * Decode every export packet of a capture file (pcap or pcapng, gzip or not;
 * "-" = stdin). File-level errors (unreadable, corrupt gzip) are thrown as
 * FlowInputError by the input layer; malformed capture structure is a
 * bad_capture rejection.
 */
export async function readNetflowCapture(path: string, decoder: NetflowDecoder, finish = true): Promise<CaptureSummary> {
  const file = openFlowFile(path);
  const w = walkerFor(decoder, file.name);
  for await (const chunk of file.chunks()) w.push(chunk);
  w.end();
  if (finish) decoder.finish();
  return w.summary;
}
