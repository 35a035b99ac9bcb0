// Device tags from the detection config: a name ("security-scanner",
// "backup-server") for addresses or networks, so a model can leave alone the
// devices whose job looks like an attack (a vulnerability scanner scans).
// Tags are looked up once per device and cached (bounded: cleared when full).
import { parseAddress } from '../flows/ip-address.ts';
import { LocalNets } from '../flows/local-nets.ts';

const TAG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const CACHE_MAX = 100_000;
const NONE: ReadonlySet<string> = new Set();

export type TagConfig = Record<string, string[]>;

export class DeviceTags {
  private readonly tags: { tag: string; nets: LocalNets }[];
  private readonly cache = new Map<string, ReadonlySet<string>>();

  /** tag → addresses or CIDR networks; throws with what is wrong. */
  constructor(config: TagConfig = {}) {
    this.tags = Object.entries(config).map(([tag, nets]) => {
      if (!TAG.test(tag)) throw new Error(`tag "${tag}": lowercase letters, digits and dashes`);
      if (!Array.isArray(nets) || nets.length === 0 || nets.some((n) => typeof n !== 'string')) throw new Error(`tag "${tag}": a non-empty list of addresses or networks`);
      try { return { tag, nets: new LocalNets(nets) }; } catch (e) { throw new Error(`tag "${tag}": ${(e as Error).message}`); }
    });
  }

  get size(): number { return this.tags.length; }

  /** The tags of a device (its address as text). */
  of(device: string): ReadonlySet<string> {
    if (this.tags.length === 0) return NONE;
    let t = this.cache.get(device);
    if (t) return t;
    const parsed = parseAddress(device);
    const set = new Set<string>();
    if (parsed) for (const { tag, nets } of this.tags) if (nets.contains(parsed.bytes)) set.add(tag);
    t = set.size ? set : NONE;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(device, t);
    return t;
  }

  /** Does the device carry any of these tags? */
  any(device: string, tags: readonly string[]): boolean {
    if (tags.length === 0 || this.tags.length === 0) return false;
    const mine = this.of(device);
    for (const t of tags) if (mine.has(t)) return true;
    return false;
  }
}
