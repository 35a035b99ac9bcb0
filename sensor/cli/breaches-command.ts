// `edge-sensor breaches`: the breach history a sensor stored in its state,
// read after the fact or while it runs — the same breaches `--breaches`
// wrote as they were raised, now searchable by time, score, model and
// device.
import { numberFlag, parse, UsageError } from './args.ts';
import { STATE_EXIT_HELP, STATE_READ_HELP, STATE_READ_OPTIONS, StdoutText, columns, stateDirFlag, withReadOnlyState } from './state-flags.ts';
import type { Breach } from '../models/breach.ts';
import type { BreachFilter } from '../state/breach-store.ts';
import { parseRfc3339 } from '../flowlogs/gcp-vpc.ts';

export const BREACHES_HELP = `Usage: edge-sensor breaches --state DIR [options]

List the model breaches a sensor stored in its state DIR, oldest first:
a table (time, score, model, device, peer, summary), or with --json one
JSON object per line, exactly as "edge-sensor analyze --breaches" and
"run --breaches" write them. History is kept for 30 days; breaches not yet
delivered to an aggregator are kept however old.

Options:
  --since T                   breaches at or after T: RFC 3339
                              (2024-05-01T00:00:00Z, 2024-05-01T02:00:00+02:00)
                              or epoch seconds (1714521600)
  --until T                   breaches at or before T (same forms)
  --min-score N               breaches scoring at least N
  --model ID                  breaches of this model (its id)
  --device IP                 breaches on this device (its address)
  --limit N                   at most N breaches (the oldest N that match)
${STATE_READ_HELP}
${STATE_EXIT_HELP}
Examples:
  edge-sensor breaches --state /var/lib/edge-sensor --since 2024-05-01T00:00:00Z
  edge-sensor breaches --state /var/lib/edge-sensor --min-score 80 --json | jq .summary
`;

const OPTIONS = {
  ...STATE_READ_OPTIONS,
  since: { type: 'string' },
  until: { type: 'string' },
  'min-score': { type: 'string' },
  model: { type: 'string' },
  device: { type: 'string' },
  limit: { type: 'string' },
} as const;

/** --since/--until: RFC 3339 with a zone (parseRfc3339, as GCP's flow logs are read: no 31 February, leap seconds kept) or epoch seconds, to epoch ms. */
export function timeFlag(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const text = String(v).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const s = parseRfc3339(text);
  if (!Number.isFinite(s)) throw new UsageError(`--${name} must be an RFC 3339 time (2024-05-01T00:00:00Z) or epoch seconds (got "${text}")`);
  return s * 1000;
}

export async function breachesCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(BREACHES_HELP); return 0; }
  const dir = stateDirFlag(values);
  const filter: BreachFilter = {
    since: timeFlag(values.since, 'since'),
    until: timeFlag(values.until, 'until'),
    minScore: numberFlag(values['min-score'], 'min-score'),
    model: values.model as string | undefined,
    device: values.device as string | undefined,
    limit: numberFlag(values.limit, 'limit', { min: 1, integer: true }),
  };
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) throw new UsageError('--since is after --until');
  const json = values.json === true;
  const out = new StdoutText();
  await withReadOnlyState(dir, async (db) => {
    const { BreachStore } = await import('../state/breach-store.ts');
    const history = new BreachStore(db).history(filter);
    if (json) {
      for (const b of history) {
        out.write(`${JSON.stringify(b)}\n`);
        if (!out.open) break;
      }
      return;
    }
    // A table needs its column widths: rows are kept as their short text only.
    const rows: string[][] = [['time', 'score', 'model', 'device', 'peer', 'summary']];
    for (const b of history) rows.push(tableRow(b));
    out.write(rows.length > 1 ? columns(rows) : 'no breaches stored match\n');
  });
  out.flush();
  return 0;
}

function tableRow(b: Breach): string[] {
  const peer = b.peer ? (b.peer.ip.includes(':') ? `[${b.peer.ip}]:${b.peer.port}` : `${b.peer.ip}:${b.peer.port}`) : '-';
  return [b.time.replace(/\.\d+Z$/, 'Z'), String(b.score), b.model, b.device.ip, peer, b.summary];
}
