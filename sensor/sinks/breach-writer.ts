// Model breaches as JSON lines to a file or standard output ("-"). Breaches
// are few (a handful per device-day), so each is written when raised,
// synchronously: a crash loses none that were reported. Counters as every
// sink reports them (fd-write.ts).
import { closeSync, openSync } from 'node:fs';
import type { Breach } from '../models/breach.ts';
import { writeFully, type SinkCounters } from './fd-write.ts';

export class BreachWriter {
  private readonly fd: number;
  private readonly owned: boolean;
  readonly counters: SinkCounters = { received: 0, sent: 0, errors: 0, discarded: 0 };
  private error?: string;

  constructor(readonly target: string) {
    this.owned = target !== '-';
    this.fd = this.owned ? openSync(target, 'w') : 1;
  }

  write(b: Breach): void {
    this.counters.received++;
    try {
      writeFully(this.fd, Buffer.from(JSON.stringify(b) + '\n'));
      this.counters.sent++;
    } catch (e) {
      this.counters.errors++;
      this.counters.discarded++;
      this.error ??= (e as Error).message;
    }
  }

  close(): SinkCounters & { target: string; error?: string } {
    if (this.owned) closeSync(this.fd);
    return { target: this.target, ...this.counters, ...(this.error ? { error: this.error } : {}) };
  }
}
