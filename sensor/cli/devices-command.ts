// `edge-sensor devices`: the device inventory a sensor keeps in its state —
// every local device it has seen, its names and tags, when it was first and
// last seen, its risk — read while the sensor runs or after.
import { parse } from './args.ts';
import { STATE_EXIT_HELP, STATE_READ_HELP, STATE_READ_OPTIONS, StdoutText, columns, stateDirFlag, withReadOnlyState } from './state-flags.ts';
import type { DeviceRow } from '../state/device-store.ts';

export const DEVICES_HELP = `Usage: edge-sensor devices --state DIR [--json]

List the devices a sensor keeps in its state DIR, by address (IPv4, then
IPv6): a table (ip, mac, interface, name, tags, first seen, last seen,
risk, breaches), or with --json one JSON object per line as stored
({"ip", "mac", "interface", "name", "tags", "first_seen", "last_seen",
"risk", "breaches"}; absent fields are unknown). The inventory is as of the
sensor's last snapshot.

Options:
${STATE_READ_HELP}
${STATE_EXIT_HELP}
Examples:
  edge-sensor devices --state /var/lib/edge-sensor
  edge-sensor devices --state /var/lib/edge-sensor --json | jq 'select(.risk > 50)'
`;

export async function devicesCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, STATE_READ_OPTIONS);
  if (values.help) { process.stdout.write(DEVICES_HELP); return 0; }
  const dir = stateDirFlag(values);
  const rows = await withReadOnlyState(dir, async (db) => {
    const { DeviceStore } = await import('../state/device-store.ts');
    return new DeviceStore(db).list();
  });
  const out = new StdoutText();
  if (values.json) for (const r of rows) out.write(`${JSON.stringify(r)}\n`);
  else if (rows.length === 0) out.write('no devices stored\n');
  else out.write(columns([['ip', 'mac', 'interface', 'name', 'tags', 'first seen', 'last seen', 'risk', 'breaches'], ...rows.map(tableRow)]));
  out.flush();
  return 0;
}

function tableRow(d: DeviceRow): string[] {
  return [
    d.ip, d.mac ?? '-', d.interface ?? '-', d.name ?? '-', d.tags?.length ? d.tags.join(',') : '-',
    d.first_seen, d.last_seen, d.risk === undefined ? '-' : String(Math.round(d.risk * 10) / 10), String(d.breaches ?? 0),
  ];
}
