// Breach history and the outbox, in the state. Every breach the sensor
// raises is stored here before it is written out: the history answers
// `edge-sensor breaches` after the fact, and the outbox holds what the
// uplink has not yet had acknowledged, so a restart or a broken link loses
// nothing.
//
// Idempotent by breach id: after a restart the sensor re-processes the
// input read since its last snapshot and raises the same breaches again,
// with the same ids (breach-id.ts); they are recognised and not stored or
// numbered twice. Each newly stored breach gets the next sequence number of
// this sensor (meta `next_seq`): monotonic, durable, never reused, so the
// uplink can acknowledge cumulatively ("everything up to seq N").
//
// Layout: breaches (id → { seq, stored_at, breach }), breach_time
// ([time_ms, id] → seq, history in time order) and outbox (seq → id).
import type { Breach } from '../models/breach.ts';
import type { StateDb } from './state-db.ts';

/** How long breach history is kept by default: 30 days. */
export const DEFAULT_RETENTION_S = 30 * 86400;

export interface StoredBreach {
  seq: number;
  /** RFC 3339, when this sensor stored it */
  stored_at: string;
  breach: Breach;
}

export interface BreachFilter {
  /** epoch ms, inclusive */
  since?: number;
  /** epoch ms, inclusive */
  until?: number;
  minScore?: number;
  model?: string;
  /** the device's address, as the breach names it */
  device?: string;
  limit?: number;
}

export interface AddResult {
  added: number;
  duplicates: number;
  /** the sequence numbers given to the newly stored breaches, in the order given */
  seqs: number[];
}

// Removals per transaction in prune(): a month of history can be large, and
// one transaction runs its callback on the event loop.
const PRUNE_BATCH = 5000;

export class BreachStore {
  constructor(private readonly db: StateDb) {}

  /**
   * Store the breaches not stored yet, in one transaction; resolves once it
   * is committed and synced, so the caller writes them out only after that.
   */
  add(breaches: Breach[]): Promise<AddResult> {
    const times = breaches.map((b) => {
      const t = Date.parse(b.time);
      if (!Number.isFinite(t)) throw new TypeError(`breach ${b.id} has no valid time ("${b.time}")`);
      return t;
    });
    if (breaches.length === 0) return Promise.resolve({ added: 0, duplicates: 0, seqs: [] });
    const { meta, breaches: byId, breachTime, outbox } = this.db;
    return this.db.write('storing breaches', () => {
      const storedAt = new Date().toISOString();
      let next = (meta.get('next_seq') as number | undefined) ?? 1;
      const seqs: number[] = [];
      const seen = new Set<string>();
      let duplicates = 0;
      breaches.forEach((b, i) => {
        if (seen.has(b.id) || byId.doesExist(b.id)) { duplicates++; return; }
        seen.add(b.id);
        const seq = next++;
        byId.putSync(b.id, { seq, stored_at: storedAt, breach: b } satisfies StoredBreach);
        breachTime.putSync([times[i]!, b.id], seq);
        outbox.putSync(seq, b.id);
        seqs.push(seq);
      });
      if (seqs.length > 0) meta.putSync('next_seq', next);
      return { added: seqs.length, duplicates, seqs };
    });
  }

  /** Stored breaches in time order (then by id), filtered. */
  *history(filter: BreachFilter = {}): Generator<Breach> {
    const { since, until, minScore, model, device, limit } = filter;
    if (limit !== undefined && limit <= 0) return;
    const range = {
      ...(since !== undefined ? { start: [since] as [number] } : {}),
      // keys are whole ms: [⌊until⌋ + 1] sorts after every [t ≤ until, id]
      ...(until !== undefined ? { end: [Math.floor(until) + 1] as [number] } : {}),
    };
    let n = 0;
    for (const { key } of this.db.breachTime.getRange(range as { start?: [number, string]; end?: [number, string] })) {
      const rec = this.db.breaches.get(key[1]) as StoredBreach | undefined;
      if (!rec) continue; // pruned since the range began
      const b = rec.breach;
      if (minScore !== undefined && !(b.score >= minScore)) continue;
      if (model !== undefined && b.model !== model) continue;
      if (device !== undefined && b.device?.ip !== device) continue;
      yield b;
      if (limit !== undefined && ++n >= limit) return;
    }
  }

  /** One stored breach by id, with its seq. */
  get(id: string): StoredBreach | undefined {
    return this.db.breaches.get(id) as StoredBreach | undefined;
  }

  /** Outbox entries, oldest first (those with seq > afterSeq): what the uplink still has to deliver. */
  pending(limit?: number, afterSeq = 0): { seq: number; breach: Breach }[] {
    const out: { seq: number; breach: Breach }[] = [];
    for (const { key, value } of this.db.outbox.getRange({ ...(limit !== undefined ? { limit } : {}), ...(afterSeq > 0 ? { start: Math.floor(afterSeq) + 1 } : {}) })) {
      const rec = this.db.breaches.get(value) as StoredBreach | undefined;
      if (rec) out.push({ seq: key, breach: rec.breach });
    }
    return out;
  }

  /**
   * Cumulative acknowledgement: removes every outbox entry with seq ≤ uptoSeq
   * and records uptoSeq as the highest acknowledged (meta `acked_seq`, in
   * the same transaction: the uplink's Hello.last_seq). Resolves to how many.
   */
  acknowledge(uptoSeq: number): Promise<number> {
    const { outbox, meta } = this.db;
    return this.db.write('acknowledging breaches', () => {
      const seqs = [...outbox.getKeys({ end: Math.floor(uptoSeq) + 1 })];
      for (const s of seqs) outbox.removeSync(s);
      if (uptoSeq > this.lastAcknowledged()) meta.putSync('acked_seq', Math.floor(uptoSeq));
      return seqs.length;
    });
  }

  /** The highest seq ever acknowledged (0: none). */
  lastAcknowledged(): number {
    return (this.db.meta.get('acked_seq') as number | undefined) ?? 0;
  }

  outboxSize(): number {
    return this.db.outbox.getCount();
  }

  /**
   * Delete history older than `retentionS` before `nowMs`, except breaches
   * still in the outbox (not yet delivered). Resolves to how many were deleted.
   */
  async prune(retentionS: number = DEFAULT_RETENTION_S, nowMs: number = Date.now()): Promise<number> {
    const cutoff = nowMs - retentionS * 1000;
    const { breaches, breachTime, outbox } = this.db;
    let removed = 0;
    let from: [number, string] | [number] | undefined;
    for (;;) {
      const batch = await this.db.write('pruning breach history', () => {
        let n = 0, scanned = 0;
        let last: [number, string] | undefined;
        const doomed: [number, string][] = [];
        for (const { key, value: seq } of breachTime.getRange({ ...(from ? { start: from as [number, string] } : {}), end: [cutoff] as unknown as [number, string] })) {
          last = key;
          if (++scanned > PRUNE_BATCH) break;
          if (outbox.doesExist(seq)) continue; // not delivered yet: kept
          doomed.push(key);
        }
        for (const key of doomed) {
          breachTime.removeSync(key);
          breaches.removeSync(key[1]);
          n++;
        }
        return { n, more: scanned > PRUNE_BATCH, last };
      });
      removed += batch.n;
      if (!batch.more || !batch.last) return removed;
      from = batch.last; // the first key not looked at in this batch
    }
  }

  count(): number {
    return this.db.breaches.getCount();
  }
}
