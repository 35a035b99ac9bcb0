// `edge-sensor incidents`: the incidents an aggregator has correlated from
// its sensors' breaches, read from its HTTP API — highest score first, each
// with its phases, devices, sensors, the plain summary an analyst starts
// from, and whether an analyst has acknowledged it.
import { numberFlag, parse, UsageError } from './args.ts';
import { apiUrl, getListing } from './api-flags.ts';
import { StdoutText } from './state-flags.ts';
import type { Annotation } from '../aggregator/annotation-store.ts';
import type { Incident } from '../aggregator/incidents.ts';

export const INCIDENTS_HELP = `Usage: edge-sensor incidents [--api URL] [--min-score N] [--limit N] [--unacknowledged] [--json]

List the incidents an aggregator ("edge-sensor aggregator") holds: related
breaches grouped across devices, sensors and time, highest score first.
Each shows its score, title (the attack phases, MITRE ATT&CK tactics),
span, devices, sensors, a summary built from the breaches' own, and who
acknowledged it (POST /api/v1/incidents/ID/ack on the aggregator's API).

Options:
  --api URL          the aggregator's HTTP API (default http://127.0.0.1:8080)
  --min-score N      only incidents scoring at least N (0–100)
  --limit N          at most N incidents (default 100, at most 10000)
  --unacknowledged   only incidents nobody has acknowledged (an acknowledgement
                     made on an incident before it was merged into this one
                     is shown, but does not cover it)
  --json             one incident per line as the API returns it (with its
                     timeline, annotation and merged_annotations)

Exit status: 0 listed (maybe none), 1 the aggregator could not be asked or
answered an error, 2 usage error.

Examples:
  edge-sensor incidents --unacknowledged
  edge-sensor incidents --api http://aggregator.lab:8080 --min-score 80 --json | jq .summary
`;

const OPTIONS = { api: { type: 'string' }, 'min-score': { type: 'string' }, limit: { type: 'string' }, unacknowledged: { type: 'boolean' }, json: { type: 'boolean' } } as const;

type IncidentView = Incident & { annotation: Annotation | null; merged_annotations?: Record<string, Annotation> };

export async function incidentsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(INCIDENTS_HELP); return 0; }
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const api = apiUrl(values.api as string | undefined);
  const minScore = numberFlag(values['min-score'], 'min-score', { min: 0 });
  if (minScore !== undefined && minScore > 100) throw new UsageError(`--min-score must be at most 100 (got ${minScore})`);
  const limit = numberFlag(values.limit, 'limit', { min: 1, integer: true });
  const got = await getListing<IncidentView>('incidents', api, 'api/v1/incidents', 'incidents', {
    min_score: minScore,
    limit: limit !== undefined ? Math.min(limit, 10_000) : undefined,
    acknowledged: values.unacknowledged ? 'false' : undefined,
  });
  if (!got) return 1;
  const out = new StdoutText();
  if (values.json) for (const inc of got.items) out.write(`${JSON.stringify(inc)}\n`);
  else if (got.items.length === 0) out.write(values.unacknowledged ? 'no unacknowledged incidents\n' : 'no incidents\n');
  else {
    for (const inc of got.items) {
      out.write(`${inc.score.toFixed(1).padStart(5)}  ${inc.title}\n`);
      out.write(`       ${inc.first} – ${inc.last}; ${inc.breaches} breach${inc.breaches === 1 ? '' : 'es'}; devices ${inc.devices.join(', ')}; sensors ${inc.sensors.join(', ')}; id ${inc.id}\n`);
      const ack = inc.annotation?.acknowledged;
      if (ack) out.write(`       acknowledged by ${ack.by} at ${ack.at}${ack.comment ? `: ${oneLine(ack.comment)}` : ''}\n`);
      for (const [id, a] of Object.entries(inc.merged_annotations ?? {})) {
        if (a.acknowledged) out.write(`       (merged ${id}: acknowledged by ${a.acknowledged.by} at ${a.acknowledged.at} before the merge)\n`);
      }
      out.write(`       ${inc.summary}\n\n`);
    }
    if (got.truncated) out.write('(more incidents: raise --limit)\n');
  }
  out.flush();
  return 0;
}

/** An analyst's comment on one table line (it may hold newlines and tabs). */
export function oneLine(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 120 ? `${t.slice(0, 119)}…` : t;
}
