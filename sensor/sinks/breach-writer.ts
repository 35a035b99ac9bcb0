// Model breaches as JSON lines to a file or standard output ("-"). Breaches
// are few (a handful per device-day), so each is written when raised,
// synchronously: a crash loses none that were reported. Counted and broken
// like every sink here (fd-write.ts SinkHealth).
import { closeSync } from 'node:fs';
import type { Breach } from '../models/breach.ts';
import { SinkHealth, openTarget, writeFully, type SinkCounters } from './fd-write.ts';

export class BreachWriter {
  private readonly fd: number;
  private readonly owned: boolean;
  private readonly health = new SinkHealth();

  constructor(readonly target: string) {
    ({ fd: this.fd, owned: this.owned } = openTarget(target));
  }

  write(b: Breach): void {
    this.health.run(1, () => writeFully(this.fd, Buffer.from(JSON.stringify(b) + '\n')));
  }

  close(): SinkCounters & { target: string; error?: string } {
    if (this.owned) closeSync(this.fd);
    return { target: this.target, ...this.health.counters };
  }
}
