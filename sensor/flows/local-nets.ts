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

  constructor(cidrs: readonly string[] = DEFAULT_LOCAL_NETS) {
    this.prefixes = cidrs.map(parseCidr);
  }

  get cidrs(): string[] {
    return this.prefixes.map((p) => p.text);
  }

  contains(addr16: Uint8Array): boolean {
    outer: for (const p of this.prefixes) {
      for (let i = 0; i < 16; i++) if ((addr16[i]! & p.mask[i]!) !== p.net[i]) continue outer;
      return true;
    }
    return false;
  }
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
