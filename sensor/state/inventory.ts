// The device inventory, in two steps so the thread that learns does the
// least: the learning thread copies the core's raw rows (56 bytes a device,
// asm/learn/learner.ts learnExportInventory) with the few things only it
// knows (risk, breaches, reporter names), and the state writer thread turns
// them into DeviceRows. Formatting 102 k rows (addresses, times, MACs, tags)
// took 0.27 s; done in the learning thread it held up the packet path at
// every snapshot.
import { formatAddress, formatMac, isV4Mapped } from '../flows/ip-address.ts';
import { DeviceTags, type TagConfig } from '../models/tags.ts';
import type { DeviceRow } from './device-store.ts';
import { decayedRisk } from '../models/risk.ts';

export { decayedRisk };

export const INVENTORY_ROW = 56;

export interface RawInventory {
  /** `count` rows of INVENTORY_ROW bytes: address, f64 first seen, f64 last seen, u64 MAC (bit 63: known), u32 reporter id, u32 0, f64 week connections */
  rows: Uint8Array;
  count: number;
  /** capture time the risk is decayed to */
  now: number;
  /** device → [rolling score, its time] (devices with breaches only) */
  risk: [string, number, number][];
  /** device → breaches raised */
  breaches: [string, number][];
  tags: TagConfig;
  /** reporter id → name, for the ids the rows hold */
  reporters: [number, string][];
  /** device → its peer group (devices that behave alike, sensor/learn/peer-groups.ts), for groups of two or more */
  groups?: [string, number][];
}


/** One row: its address, and its reporter id (0: none). */
export function rowAddress(raw: Uint8Array, i: number): { ip: string; reporter: number } {
  const at = i * INVENTORY_ROW;
  const addr = raw.subarray(at, at + 16);
  const dv = new DataView(raw.buffer, raw.byteOffset + at, INVENTORY_ROW);
  return { ip: formatAddress(addr, isV4Mapped(addr) ? 4 : 6), reporter: dv.getUint32(40, true) };
}

/** The rows as the state keeps them. */
export function inventoryRows(inv: RawInventory): DeviceRow[] {
  const risk = new Map(inv.risk.map(([d, score, t]) => [d, decayedRisk(score, t, inv.now)]));
  const breaches = new Map(inv.breaches);
  const names = new Map(inv.reporters);
  const tags = new DeviceTags(inv.tags);
  const groups = new Map(inv.groups ?? []);
  const out: DeviceRow[] = [];
  for (let i = 0; i < inv.count; i++) {
    const at = i * INVENTORY_ROW;
    const dv = new DataView(inv.rows.buffer, inv.rows.byteOffset + at, INVENTORY_ROW);
    const { ip, reporter } = rowAddress(inv.rows, i);
    const known = (dv.getBigUint64(32, true) >> 63n) !== 0n;
    const mine = [...tags.of(ip)];
    const iface = reporter ? names.get(reporter) : undefined;
    out.push({
      ip, ...(known ? { mac: formatMac(inv.rows.subarray(at + 32, at + 38)) } : {}), ...(iface ? { interface: iface } : {}), ...(mine.length ? { tags: mine } : {}),
      first_seen: new Date(dv.getFloat64(16, true) * 1000).toISOString(), last_seen: new Date(dv.getFloat64(24, true) * 1000).toISOString(),
      risk: risk.get(ip) ?? 0, breaches: breaches.get(ip) ?? 0,
    });
    const group = groups.get(ip);
    if (group !== undefined) out[out.length - 1]!.peer_group = group;
  }
  return out;
}
