// What the read-only state commands (`status`, `breaches`, `devices`) share:
// the --state and --json flags, the exit-status text, opening the state
// read-only, and writing results to stdout.
//
// The state modules are imported when a command runs, not with this file:
// they load lmdb, a native addon (~25 ms of start-up measured), which every
// other command would otherwise pay for through run-cli.ts.
import type { StateDb } from '../state/state-db.ts';
import { writeFully } from '../sinks/fd-write.ts';
import { UsageError } from './args.ts';

export const STATE_READ_OPTIONS = {
  state: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const STATE_READ_HELP = `  --state DIR                 the sensor's state directory (required; the one
                              given to "edge-sensor run --state DIR")
  --json                      machine-readable output (see above)
  -h, --help                  this help
`;

export const STATE_EXIT_HELP = `Reads only: safe while a sensor is writing the state.
Exit status: 0 when the state was read; 1 when DIR holds no state this
sensor can read (missing or empty, not edge-sensor state, another format
version, not readable by this user): the reason is one line on stderr;
2 on a usage error.
`;

type Values = Record<string, string | boolean | string[] | undefined>;

export function stateDirFlag(values: Values): string {
  const dir = values.state;
  if (typeof dir !== 'string' || dir === '') throw new UsageError('--state DIR is required (the state directory of a sensor)');
  return dir;
}

/** Open the state read-only, run `fn`, close it. */
export async function withReadOnlyState<T>(dir: string, fn: (db: StateDb) => T | Promise<T>): Promise<T> {
  const { openStateDb } = await import('../state/state-db.ts');
  const db = openStateDb(dir, { readOnly: true });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/**
 * Results to standard output, in blocks: synchronous (nothing is lost when
 * the process exits) and quiet when the reader closes the pipe early
 * (`edge-sensor breaches … | head`): that is the reader's choice.
 */
export class StdoutText {
  private parts: string[] = [];
  private size = 0;
  private closed = false;

  write(text: string): void {
    if (this.closed) return;
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.closed || this.parts.length === 0) return;
    const buf = Buffer.from(this.parts.join(''));
    this.parts = [];
    this.size = 0;
    try {
      writeFully(1, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
      this.closed = true;
    }
  }

  /** False once the reader has gone: producers may stop early. */
  get open(): boolean { return !this.closed; }
}

/** Lay rows out in columns (the last column is not padded). */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** "12 s", "5 min", "3 h", "2 days" — how long ago, for a human. */
export function age(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}
