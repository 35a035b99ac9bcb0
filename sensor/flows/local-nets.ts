// Which addresses are "ours" (Zeek's Site::local_nets → local_orig /
// local_resp). Prefixes are kept as 16-byte masks so IPv4 (v4-mapped) and
// IPv6 share one comparison.
import { parseAddress } from './ip-address.ts';

export const DEFAULT_LOCAL_NETS = [
  '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', // RFC 1918
  '100.64.0.0/10', // RFC 6598 carrier-grade NAT
  '169.254.0.0/16', // IPv4 link-local
  'fc00::/7', // unique local addresses
  'fe80::/10', // IPv6 link-local
];

interface Prefix { net: Uint8Array; mask: Uint8Array; text: string }

export class LocalNets {
  private readonly prefixes: Prefix[];

  private readonly v4: { net: number; mask: number }[];

  constructor(cidrs: readonly string[] = DEFAULT_LOCAL_NETS) {
    this.prefixes = cidrs.map(parseCidr);
    const word = (b: Uint8Array) => ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0;
    this.v4 = this.prefixes.filter((p) => p.mask[10] === 0xff && p.mask[11] === 0xff && p.net[10] === 0xff).map((p) => ({ net: word(p.net), mask: word(p.mask) }));
  }

  /** Each prefix as 16-byte network and mask (the Wasm formatter is given these). */
  get networks(): readonly { net: Uint8Array; mask: Uint8Array }[] {
    return this.prefixes;
  }

  get cidrs(): string[] {
    return this.prefixes.map((p) => p.text);
  }

  /** Is the 16-byte address (IPv4 v4-mapped) in a local network? */
  contains(mem: Uint8Array): boolean {
    const at = 0;
    // IPv4 (v4-mapped) against the IPv4 prefixes as one 32-bit compare each.
    if (mem[at + 10] === 0xff && mem[at + 11] === 0xff && isZero80(mem, at)) {
      const a = ((mem[at + 12]! << 24) | (mem[at + 13]! << 16) | (mem[at + 14]! << 8) | mem[at + 15]!) >>> 0;
      for (const p of this.v4) if (((a & p.mask) >>> 0) === p.net) return true;
      return false;
    }
    outer: for (const p of this.prefixes) {
      for (let i = 0; i < 16; i++) if ((mem[at + i]! & p.mask[i]!) !== p.net[i]) continue outer;
      return true;
    }
    return false;
  }
}

function isZero80(a: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (a[at + i] !== 0) return false;
  return true;
}

export function parseCidr(text: string): Prefix {
  const [addrText, lenText] = text.trim().split('/');
  const parsed = parseAddress(addrText ?? '');
  if (!parsed) throw new Error(`invalid network "${text}"`);
  const max = parsed.version === 4 ? 32 : 128;
  const len = lenText === undefined ? max : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > max) throw new Error(`invalid prefix length in "${text}"`);
  const bits = parsed.version === 4 ? 96 + len : len;
  const mask = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const b = Math.max(0, Math.min(8, bits - i * 8));
    mask[i] = b === 0 ? 0 : (0xff << (8 - b)) & 0xff;
  }
  const net = new Uint8Array(16);
  for (let i = 0; i < 16; i++) net[i] = parsed.bytes[i]! & mask[i]!;
  return { net, mask, text: text.trim() };
}
