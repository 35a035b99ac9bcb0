// Main-thread side of read-ahead-thread.mjs: a ring of slots inside the Wasm
// core's (shared) input region that a second thread fills from a regular
// file while this thread decodes. Each slot is preceded by room for one
// record (the core's largest), so the unconsumed tail of one slot is copied
// in front of the next and the core always sees whole records contiguously.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PACKAGE_ROOT } from '../core/package-root.ts';

export interface Slot {
  /** absolute offset in Wasm memory of the slot's data */
  off: number;
  cap: number;
}

export interface FilledSlot {
  index: number;
  off: number;
  /** 0 at end of file */
  len: number;
}

export class ReadAhead {
  private readonly ctl: Int32Array;
  private readonly worker: Worker;
  private next = 0;
  private dead: Error | null = null;
  private failure: string | null = null;

  constructor(fd: number, memory: WebAssembly.Memory, readonly slots: Slot[], start: number) {
    const k = slots.length;
    this.ctl = new Int32Array(new SharedArrayBuffer(4 * (2 * k + 2)));
    this.worker = new Worker(join(PACKAGE_ROOT, 'sensor', 'sources', 'read-ahead-thread.mjs'), {
      workerData: { readAhead: { fd, memory, slots, ctl: this.ctl.buffer, start } },
    });
    this.worker.on('message', (m: { error?: string; offset?: number }) => { if (m.error) this.failure = `${m.error} at offset ${m.offset}`; });
    this.worker.on('error', (e) => { this.dead = e; });
    this.worker.on('exit', () => { this.dead ??= new Error('read-ahead thread exited'); });
    // Not keeping the process alive: it ends when the file ends or stop() is called.
    this.worker.unref();
  }

  /** Wait for the next slot in ring order; len 0 means end of file. */
  async take(): Promise<FilledSlot> {
    const i = this.next;
    const ctl = this.ctl;
    while (Atomics.load(ctl, i) !== 1) {
      // Block briefly (the thread is usually microseconds away), then let
      // the event loop run so a crashed thread is noticed instead of hung on.
      if (Atomics.wait(ctl, i, 0, 20) === 'timed-out') {
        await new Promise((r) => setImmediate(r));
        if (Atomics.load(ctl, i) !== 1 && this.dead) throw new Error(`read-ahead failed: ${this.dead.message}`);
      }
    }
    this.next = (i + 1) % this.slots.length;
    return { index: i, off: this.slots[i]!.off, len: Atomics.load(ctl, this.slots.length + i) };
  }

  /** Give a slot back to the reader. */
  release(index: number): void {
    Atomics.store(this.ctl, index, 0);
    Atomics.notify(this.ctl, index);
  }

  /** A read error the thread met (the input ended there), or null. */
  get error(): string | null {
    return Atomics.load(this.ctl, 2 * this.slots.length + 1) !== 0 ? (this.failure ?? 'read failed') : null;
  }

  stop(): void {
    Atomics.store(this.ctl, 2 * this.slots.length, 1);
    for (let i = 0; i < this.slots.length; i++) Atomics.notify(this.ctl, i);
  }
}
