// Errors of the durable state, kept apart from state-db.ts so the CLI's
// dispatcher can recognise them without loading lmdb (a native addon, ~25 ms
// of start-up that `analyze` does not need).
//
// A StateError is a condition of the machine, not a bug: its message is one
// line naming the state directory and the cause, printed as is (no stack).

/** Why the state could not be opened or written. */
export type StateErrorCode =
  | 'EROFS' | 'EACCES' | 'EPERM' | 'ENOSPC' | 'EDQUOT' | 'EIO' | 'ENOENT' | 'ENOTDIR'
  | 'MDB_MAP_FULL' | 'NOT_STATE' | 'READ_ONLY' | 'FORMAT' | 'IN_USE' | 'SETTINGS' | 'OTHER';

export class StateError extends Error {
  constructor(message: string, readonly dir: string, readonly code: StateErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StateError';
  }
}

/** The state was written in another format version: it is never read as this one. */
export class StateFormatError extends StateError {
  constructor(message: string, dir: string, readonly found: unknown, readonly expected: number) {
    super(message, dir, 'FORMAT');
    this.name = 'StateFormatError';
  }
}

/** "1.5 MiB": sizes of the state (binary units), for its messages and `edge-sensor status`. Here, not in state-db.ts, so the CLI need not load lmdb for it. */
export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} bytes`;
}
