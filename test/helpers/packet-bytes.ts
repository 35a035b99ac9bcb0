// Tiny byte builders for decoder tests: each returns a plain number[] so a
// frame reads top-down as the stack of headers it is, e.g.
//   eth(MAC_B, MAC_A, 0x0800, ipv4({ src, dst, proto: 17, payload: udp(1, 2, []) }))
// Checksums are left zero: the core does not verify them.

export type Bytes = number[];

export const u8 = (v: number): Bytes => [v & 0xff];
export const be16 = (v: number): Bytes => [(v >>> 8) & 0xff, v & 0xff];
export const be32 = (v: number): Bytes => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
export const le16 = (v: number): Bytes => [v & 0xff, (v >>> 8) & 0xff];
export const le32 = (v: number): Bytes => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
export const zeros = (n: number): Bytes => new Array<number>(n).fill(0);

export function v4(text: string): Bytes {
  return text.split('.').map((x) => Number(x));
}

export function v6(text: string): Bytes {
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => be16(parseInt(g, 16)));
}

export function mac(text: string): Bytes {
  return text.split(':').map((h) => parseInt(h, 16));
}

export const MAC_A = '02:00:00:00:00:0a';
export const MAC_B = '02:00:00:00:00:0b';

/** Ethernet II: dst, src, EtherType, payload. */
export function eth(dst: string, src: string, type: number, payload: Bytes): Bytes {
  return [...mac(dst), ...mac(src), ...be16(type), ...payload];
}

/** A VLAN-style tag (TPID already written by the header before it): TCI, then the next type. */
export function tag(vid: number, next: number, payload: Bytes, pcp = 0): Bytes {
  return [...be16((pcp << 13) | (vid & 0xfff)), ...be16(next), ...payload];
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto: number;
  payload: Bytes;
  id?: number;
  /** more-fragments flag */
  mf?: boolean;
  /** fragment offset in bytes (multiple of 8) */
  fragOffset?: number;
  /** header length in bytes (20..60, multiple of 4); options are zero-filled */
  hdrLen?: number;
  /** total length override (default header + payload) */
  totalLength?: number;
  version?: number;
}

export function ipv4(o: Ipv4Opts): Bytes {
  const hl = o.hdrLen ?? 20;
  const total = o.totalLength ?? hl + o.payload.length;
  const frag = (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) >>> 3);
  return [
    ((o.version ?? 4) << 4) | (hl >>> 2), 0, ...be16(total),
    ...be16(o.id ?? 0), ...be16(frag),
    64, o.proto, 0, 0,
    ...v4(o.src), ...v4(o.dst),
    ...zeros(Math.max(0, hl - 20)),
    ...o.payload,
  ];
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  /** next header of the fixed header */
  nh: number;
  payload: Bytes;
  /** payload length override */
  plen?: number;
}

export function ipv6(o: Ipv6Opts): Bytes {
  return [0x60, 0, 0, 0, ...be16(o.plen ?? o.payload.length), o.nh, 64, ...v6(o.src), ...v6(o.dst), ...o.payload];
}

/** Generic IPv6 extension header (hop-by-hop, routing, destination options): 8 bytes * (units). */
export function ext6(next: number, payload: Bytes, units = 1): Bytes {
  return [next, units - 1, ...zeros(units * 8 - 2), ...payload];
}

/** IPv6 fragment header. offset in bytes (multiple of 8). */
export function frag6(next: number, offset: number, more: boolean, id: number, payload: Bytes): Bytes {
  return [next, 0, ...be16(offset | (more ? 1 : 0)), ...be32(id), ...payload];
}

export interface TcpOpts {
  sport: number;
  dport: number;
  flags?: number;
  seq?: number;
  ack?: number;
  win?: number;
  /** header length in bytes (default 20) */
  hdrLen?: number;
  payload?: Bytes;
}

export function tcp(o: TcpOpts): Bytes {
  const hl = o.hdrLen ?? 20;
  return [
    ...be16(o.sport), ...be16(o.dport), ...be32(o.seq ?? 0), ...be32(o.ack ?? 0),
    (hl >>> 2) << 4, o.flags ?? 0x10, ...be16(o.win ?? 8192), 0, 0, 0, 0,
    ...zeros(Math.max(0, hl - 20)),
    ...(o.payload ?? []),
  ];
}

export function udp(sport: number, dport: number, payload: Bytes): Bytes {
  return [...be16(sport), ...be16(dport), ...be16(8 + payload.length), 0, 0, ...payload];
}

export function icmp(type: number, code: number, payload: Bytes = zeros(4)): Bytes {
  return [type, code, 0, 0, ...payload];
}

export function bytes(b: Bytes): Uint8Array {
  return Uint8Array.from(b);
}
