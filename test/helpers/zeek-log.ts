// Zeek conn.log (TSV) reading for the baseline tests, plus locating the
// capture each shared-data baseline was made from.
import { readFileSync } from 'node:fs';
import { sharedFiles, sharedPath } from './shared-data.ts';

/** One log row: field name → value; null for the unset field ("-"), "" for the empty one ("(empty)"). */
export type ZeekRow = Record<string, string | null>;

export interface ZeekLog {
  path: string | null;
  fields: string[];
  types: string[];
  rows: ZeekRow[];
}

/** Parse Zeek's ASCII log format: '#' header lines (separator, unset/empty markers, #fields, #types), then TSV rows. */
export function parseZeekTsv(text: string): ZeekLog {
  let sep = '\t';
  let unset = '-';
  let empty = '(empty)';
  let fields: string[] = [];
  let types: string[] = [];
  let path: string | null = null;
  const rows: ZeekRow[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (line.startsWith('#separator ')) {
        sep = line.slice('#separator '.length).replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
        continue;
      }
      const [tag, ...rest] = line.split(sep);
      if (tag === '#unset_field') unset = rest[0] ?? unset;
      else if (tag === '#empty_field') empty = rest[0] ?? empty;
      else if (tag === '#fields') fields = rest;
      else if (tag === '#types') types = rest;
      else if (tag === '#path') path = rest[0] ?? null;
      continue;
    }
    const cols = line.split(sep);
    if (cols.length !== fields.length) throw new Error(`Zeek log row has ${cols.length} columns, #fields has ${fields.length}: ${line}`);
    const row: ZeekRow = {};
    fields.forEach((f, i) => {
      const v = cols[i]!;
      row[f] = v === unset ? null : v === empty ? '' : v;
    });
    rows.push(row);
  }
  return { path, fields, types, rows };
}

export interface Baseline {
  /** shared-data path of the conn.log */
  log: string;
  /** shared-data path of the capture it was made from */
  capture: string;
  /** the Zeek trace the baseline names (testing/btest/Traces/…) */
  trace: string;
  parsed: ZeekLog;
}

function tsv(rel: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(sharedPath(rel), 'utf8').trim().split('\n');
  const cols = head!.split('\t');
  return lines.map((l) => {
    const f = l.split('\t');
    return Object.fromEntries(cols.map((c, i) => [c, f[i] ?? '']));
  });
}

/**
 * Every Zeek btest baseline conn.log under flows/zeek_conn/zeek_btest_baselines
 * with the capture it came from. PROVENANCE.tsv says which Zeek trace each
 * baseline was produced from ("… produced from Traces/X by test …") and which
 * shared capture is that trace (its upstream path ends in Traces/X).
 */
export function zeekBaselines(): Baseline[] {
  const prov = tsv('PROVENANCE.tsv');
  const out: Baseline[] = [];
  for (const log of sharedFiles('flows/zeek_conn/zeek_btest_baselines', (p) => p.endsWith('conn.log'))) {
    const row = prov.find((r) => r.file === log);
    if (!row) throw new Error(`${log}: not in PROVENANCE.tsv`);
    const m = /produced from Traces\/(\S+)/.exec(row.description ?? '');
    if (!m) throw new Error(`${log}: PROVENANCE does not name its trace: ${row.description}`);
    const trace = m[1]!;
    const cap = prov.filter((r) => r.file!.startsWith('pcap/') && r.repo === 'zeek/zeek' && r.path === `testing/btest/Traces/${trace}`);
    if (cap.length !== 1) throw new Error(`${log}: ${cap.length} shared captures are Zeek's Traces/${trace}`);
    out.push({ log, capture: cap[0]!.file!, trace, parsed: parseZeekTsv(readFileSync(sharedPath(log), 'utf8')) });
  }
  return out;
}
