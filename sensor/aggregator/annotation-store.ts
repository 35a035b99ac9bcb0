// What analysts add to what sensors delivered: an acknowledgement ("seen,
// handled") and comments, kept in the aggregator's own LMDB environment
// (the `annotations` sub-database of aggregator-store.ts) so one data
// directory holds everything and one backup copies it.
//
// Kept apart from the breaches themselves: a breach is stored exactly as
// its sensor sent it (byte for byte, so a resend can be compared with it),
// and analysts' words must never be mistaken for the sensor's.
//
// Keys name their target by kind — ['breach', sensor, epoch, seq] — so
// incidents (or anything else analysts annotate) can share the table with
// keys of their own kind.
//
// Bounded: comments are at most MAX_COMMENT_CHARS, a target keeps at most
// MAX_COMMENTS_PER_TARGET (the oldest are dropped, counted in `dropped`),
// so an API client in a loop cannot grow one record without limit.
import type { Database } from 'lmdb';
import type { AggregatorStore } from './aggregator-store.ts';

export const MAX_COMMENT_CHARS = 4000;
export const MAX_BY_CHARS = 128;
export const MAX_COMMENTS_PER_TARGET = 200;
const SUB_DATABASE = 'annotations';

export type AnnotationKey = ['breach', string, number, number] | ['incident', string];

export interface Acknowledgement {
  by: string;
  /** RFC 3339 */
  at: string;
  comment?: string;
}

export interface AnnotationComment {
  by: string;
  /** RFC 3339 */
  at: string;
  comment: string;
}

export interface Annotation {
  /** null: not acknowledged (or the acknowledgement was withdrawn) */
  acknowledged: Acknowledgement | null;
  comments: AnnotationComment[];
  /** comments dropped, oldest first, to keep MAX_COMMENTS_PER_TARGET */
  dropped: number;
}

export const breachKey = (sensor: string, epoch: number, seq: number): AnnotationKey => ['breach', sensor, epoch, seq];

export class AnnotationStore {
  private readonly db: Database<Annotation, AnnotationKey> | null;

  constructor(private readonly store: AggregatorStore) {
    const env = store.environment;
    // lmdb-js cannot open a sub-database that does not exist in a read-only
    // environment (data written before annotations existed): then there are none.
    const exists = !store.readOnly || [...env.getKeys()].map(String).includes(SUB_DATABASE);
    this.db = exists ? env.openDB<Annotation, AnnotationKey>(SUB_DATABASE, {}) : null;
  }

  get(key: AnnotationKey): Annotation | undefined {
    return this.db?.get(key);
  }

  /** Acknowledge `key` (again: the latest acknowledgement replaces the earlier one). */
  acknowledge(key: AnnotationKey, by: string, comment?: string, now: Date = new Date()): Promise<Annotation> {
    const ack: Acknowledgement = { by: bounded(by, MAX_BY_CHARS), at: now.toISOString(), ...(comment !== undefined ? { comment: bounded(comment, MAX_COMMENT_CHARS) } : {}) };
    return this.update('acknowledging', key, (a) => { a.acknowledged = ack; });
  }

  /** Withdraw `key`'s acknowledgement (its comments stay). */
  unacknowledge(key: AnnotationKey): Promise<Annotation> {
    return this.update('withdrawing an acknowledgement', key, (a) => { a.acknowledged = null; });
  }

  comment(key: AnnotationKey, by: string, comment: string, now: Date = new Date()): Promise<Annotation> {
    const c: AnnotationComment = { by: bounded(by, MAX_BY_CHARS), at: now.toISOString(), comment: bounded(comment, MAX_COMMENT_CHARS) };
    return this.update('adding a comment', key, (a) => {
      a.comments.push(c);
      const over = a.comments.length - MAX_COMMENTS_PER_TARGET;
      if (over > 0) { a.comments.splice(0, over); a.dropped += over; }
    });
  }

  count(): number {
    return this.db?.getCount() ?? 0;
  }

  // Read, change and write in one transaction: two analysts commenting at once both keep their comment.
  private update(what: string, key: AnnotationKey, change: (a: Annotation) => void): Promise<Annotation> {
    const db = this.db;
    // read-only data without annotations: store.transaction() refuses before calling back (READ_ONLY)
    if (!db) return this.store.transaction(what, () => { throw new Error(`annotations: ${what} is not possible on read-only data`); });
    return this.store.transaction(what, () => {
      const prev = db.get(key);
      const next: Annotation = { acknowledged: prev?.acknowledged ?? null, comments: [...(prev?.comments ?? [])], dropped: prev?.dropped ?? 0 };
      change(next);
      db.putSync(key, next);
      return next;
    });
  }
}

// Callers validate lengths (the HTTP API answers 400); this only guarantees the bound.
const bounded = (s: string, max: number): string => (s.length > max ? s.slice(0, max) : s);
