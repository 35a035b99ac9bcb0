// Counter names and descriptions, read from asm/counters.ts — the single
// source of truth — so the JS side can never drift from the core's indices.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './package-root.ts';

export interface CounterDef {
  index: number;
  /** e.g. "E_IPV4_TRUNCATED" */
  constName: string;
  /** snake_case name used in logs, summaries and metrics, e.g. "ipv4_truncated" */
  name: string;
  /** true for E_* (input errors, with offsets) */
  isError: boolean;
  description: string;
}

const SOURCE = join(PACKAGE_ROOT, 'asm', 'counters.ts');
const LINE = /^export const ([CE]_[A-Z0-9_]+)\s*:\s*i32\s*=\s*(\d+);\s*(?:\/\/\s*(.*))?$/;

function parse(): CounterDef[] {
  const defs: CounterDef[] = [];
  for (const line of readFileSync(SOURCE, 'utf8').split('\n')) {
    const m = LINE.exec(line.trim());
    if (!m) continue;
    const constName = m[1]!;
    defs.push({
      index: Number(m[2]),
      constName,
      name: constName.slice(2).toLowerCase(),
      isError: constName.startsWith('E_'),
      description: (m[3] ?? '').trim(),
    });
  }
  return defs;
}

export const COUNTERS: readonly CounterDef[] = parse();
export const COUNTER_BY_CONST: ReadonlyMap<string, CounterDef> = new Map(COUNTERS.map((c) => [c.constName, c]));

/** Index of a counter by its constant name; throws on a typo so tests fail loudly. */
export function counterIndex(constName: string): number {
  const def = COUNTER_BY_CONST.get(constName);
  if (!def) throw new Error(`unknown counter ${constName}`);
  return def.index;
}
