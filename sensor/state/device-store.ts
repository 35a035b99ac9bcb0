// The device inventory in the state: what the sensor knows of every local
// device (addresses, names and tags, when first and last seen, its risk),
// kept so `edge-sensor devices` can list it while the sensor runs and so an
// aggregator can be sent one table rather than rebuilding it from flows.
// The running sensor replaces the whole inventory at every snapshot
// (replaceDevices): the rows are the devices its learning table holds, so
// the store is bounded by that table — a flood of spoofed sources that
// passes through the table leaves no trail of rows. Rows are keyed by
// address, so a device is one row however often it is written.
import { parseAddress } from '../flows/ip-address.ts';
import type { StateDb } from './state-db.ts';

export interface DeviceRow {
  ip: string;
  mac?: string;
  /** the cloud interface that logged it (flow logs) */
  interface?: string;
  name?: string;
  tags?: string[];
  /** RFC 3339 */
  first_seen: string;
  /** RFC 3339 */
  last_seen: string;
  /** rolling anomaly score */
  risk?: number;
  /** breaches raised on it */
  breaches?: number;
  /** its peer group: devices in the same group behave alike (client ports, hours, role); absent when in none of two or more */
  peer_group?: number;
}

export class DeviceStore {
  constructor(private readonly db: StateDb) {}

  /** Store rows (one transaction), each replacing the row of its address. */
  putDevices(rows: DeviceRow[]): Promise<void> {
    const devices = this.db.devices;
    return this.db.write('storing the device inventory', () => {
      for (const row of rows) devices.putSync(row.ip, row);
    });
  }

  /** Make the rows exactly these (one transaction): rows of addresses not among them are removed. */
  replaceDevices(rows: DeviceRow[]): Promise<void> {
    const devices = this.db.devices;
    return this.db.write('storing the device inventory', () => {
      const keep = new Set(rows.map((r) => r.ip));
      for (const ip of devices.getKeys({})) if (!keep.has(ip as string)) devices.removeSync(ip);
      for (const row of rows) devices.putSync(row.ip, row);
    });
  }

  /** Every row, IPv4 before IPv6, each in address order (10.0.0.2 before 10.0.0.10). */
  list(): DeviceRow[] {
    const rows = [...this.db.devices.getRange({})].map(({ value }) => value as DeviceRow);
    const keyed = rows.map((row) => ({ row, addr: parseAddress(row.ip) }));
    keyed.sort((a, b) => compareAddresses(a.addr, b.addr) || (a.row.ip < b.row.ip ? -1 : a.row.ip > b.row.ip ? 1 : 0));
    return keyed.map((k) => k.row);
  }

  get(ip: string): DeviceRow | undefined {
    return this.db.devices.get(ip) as DeviceRow | undefined;
  }

  count(): number {
    return this.db.devices.getCount();
  }
}

type Parsed = ReturnType<typeof parseAddress>;

// IPv4, then IPv6, then text that is not an address; bytes in order within each.
function compareAddresses(a: Parsed, b: Parsed): number {
  if (!a || !b) return (a ? 0 : 1) - (b ? 0 : 1);
  if (a.version !== b.version) return a.version - b.version;
  for (let i = 0; i < 16; i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i]! - b.bytes[i]!;
  return 0;
}
