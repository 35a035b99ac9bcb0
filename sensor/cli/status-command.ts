// `edge-sensor status`: what a sensor's state says about it, read from the
// state directory in another process (read-only), so an operator can see
// whether the sensor runs, how far it has read and what it holds without
// any channel to it.
import { parse } from './args.ts';
import { STATE_EXIT_HELP, STATE_READ_HELP, STATE_READ_OPTIONS, StdoutText, age, columns, stateDirFlag, withReadOnlyState } from './state-flags.ts';
import type { SensorStatus } from '../state/status-store.ts';
import { formatBytes } from '../state/state-error.ts';
import { processAlive } from '../state/writer-lock.ts';

export const STATUS_HELP = `Usage: edge-sensor status --state DIR [--json]

Describe the state a sensor keeps in DIR: its sensor id and format version,
the directory's size on disk, whether the sensor writing it is running, its
last snapshot (when, how old, how big, how long it took and paused the
input), each input and its checkpoint, the breaches stored and those still
in the outbox (not yet acknowledged by an aggregator), the devices known,
and the tables' fill and evictions.

Whether the sensor runs: the status it last wrote says running and its
process id is alive on this machine.

With --json: one JSON object — state, sensor_id, format_version,
created_at, disk_bytes, data_bytes, writer {pid, alive, running}, status
(as the sensor wrote it, or null), breaches, outbox, devices.

Options:
${STATE_READ_HELP}
${STATE_EXIT_HELP}
Examples:
  edge-sensor status --state /var/lib/edge-sensor
  edge-sensor status --state /var/lib/edge-sensor --json | jq .status.snapshot
`;

export interface StatusReport {
  state: string;
  sensor_id: string;
  format_version: number;
  created_at: string;
  /** blocks the state's files occupy */
  disk_bytes: number;
  /** pages the data occupies */
  data_bytes: number;
  writer: { pid: number | null; alive: boolean | null; running: boolean };
  status: SensorStatus | null;
  breaches: number;
  outbox: number;
  devices: number;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, STATE_READ_OPTIONS);
  if (values.help) { process.stdout.write(STATUS_HELP); return 0; }
  const dir = stateDirFlag(values);
  const report = await withReadOnlyState(dir, async (db) => {
    const [{ readStatus }, { BreachStore }, { DeviceStore }] = await Promise.all([
      import('../state/status-store.ts'), import('../state/breach-store.ts'), import('../state/device-store.ts'),
    ]);
    const status = readStatus(db) ?? null;
    const usage = db.usage();
    const breaches = new BreachStore(db);
    const pid = typeof status?.pid === 'number' ? status.pid : null;
    const alive = pid === null ? null : processAlive(pid);
    const r: StatusReport = {
      state: db.dir,
      sensor_id: db.sensorId,
      format_version: db.format.version,
      created_at: db.format.created_at,
      disk_bytes: usage.diskBytes,
      data_bytes: usage.liveBytes,
      writer: { pid, alive, running: status?.running !== false && alive === true },
      status,
      breaches: breaches.count(),
      outbox: breaches.outboxSize(),
      devices: new DeviceStore(db).count(),
    };
    return r;
  });
  const out = new StdoutText();
  out.write(values.json ? `${JSON.stringify(report)}\n` : renderStatus(report, Date.now()));
  out.flush();
  return 0;
}


export function renderStatus(r: StatusReport, now: number): string {
  const s = r.status;
  const when = (iso: string | undefined) => {
    if (!iso) return 'unknown';
    const t = Date.parse(iso);
    return Number.isFinite(t) ? `${iso} (${age(now - t)} ago)` : iso;
  };
  const rows: string[][] = [
    ['state', `${r.state} (format ${r.format_version}, created ${r.created_at}, ${formatBytes(r.disk_bytes)} on disk, ${formatBytes(r.data_bytes)} of data)`],
    ['sensor id', r.sensor_id],
  ];
  if (!s) rows.push(['writer', 'unknown: no status written yet (a sensor writes one at every snapshot)']);
  else {
    const pid = r.writer.pid === null ? 'no pid recorded' : `pid ${r.writer.pid}`;
    rows.push(['writer', r.writer.running ? `running (${pid})`
      : s.running === false ? `stopped cleanly (${pid})`
        : r.writer.alive === false ? `not running: ${pid} is gone and it did not stop cleanly (killed or crashed)`
          : 'unknown: the status records no pid']);
    rows.push(['status', `written ${when(s.updated_at)}${s.version ? ` by edge-sensor ${s.version}` : ''}`]);
    if (s.snapshot) {
      const sn = s.snapshot;
      rows.push(['snapshot', `taken ${when(sn.taken_at)}${sn.capture_ts ? `, input time ${sn.capture_ts}` : ''}, ${formatBytes(sn.bytes)}, took ${sn.duration_ms} ms (input paused ${sn.pause_ms} ms)`]);
    } else rows.push(['snapshot', 'none yet']);
    const inputs = s.inputs ?? [];
    const nameWidth = Math.max(0, ...inputs.map((inp) => inp.name.length));
    const offsetWidth = Math.max(0, ...inputs.map((inp) => String(inp.offset).length));
    inputs.forEach((inp, i) => rows.push([i === 0 ? 'inputs' : '', `${inp.name.padEnd(nameWidth)}  ${inp.records ? 'record' : 'offset'} ${String(inp.offset).padStart(offsetWidth)}  ${inp.done ? 'done' : 'reading'}`]));
  }
  rows.push(['breaches', `${r.breaches} stored, ${r.outbox} in the outbox (not yet acknowledged)`]);
  rows.push(['devices', String(r.devices)]);
  if (s?.tables?.length) {
    s.tables.forEach((t, i) => rows.push([i === 0 ? 'tables' : '', `${t.name} ${t.used} / ${t.capacity} (${t.capacity > 0 ? ((100 * t.used) / t.capacity).toFixed(1) : '0'}%), ${t.evictions} evicted`]));
  }
  if (s?.evictions && Object.keys(s.evictions).length) rows.push(['evictions', Object.entries(s.evictions).map(([k, v]) => `${k} ${v}`).join(', ')]);
  if (s?.counters && Object.keys(s.counters).length) rows.push(['counters', Object.entries(s.counters).map(([k, v]) => `${k} ${v}`).join(', ')]);
  return columns(rows);
}

