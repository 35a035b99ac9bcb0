// Where capture bytes come from. A ByteSource fills a caller's buffer —
// which is a view straight into the Wasm core's input region, so a regular
// file is read into Wasm memory with no intermediate copy.
import { closeSync, fstatSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';

export interface ByteSource {
  /** Fill `target` (partly is fine); resolve 0 at end of input. */
  read(target: Uint8Array): number | Promise<number>;
  /** Pass over the next `n` bytes (resuming a capture from a checkpoint); resolves the bytes passed, fewer at end of input. */
  skip(n: number): number | Promise<number>;
  close(): void;
}

/** A regular file read synchronously by position: the fast path. */
export class FileByteSource implements ByteSource {
  private pos: number;
  constructor(readonly fd: number, start = 0) { this.pos = start; }
  /** file offset of the next read */
  get position(): number { return this.pos; }
  read(target: Uint8Array): number {
    if (this.closed) return 0;
    const n = readSync(this.fd, target, 0, target.length, this.pos);
    this.pos += n;
    return n;
  }
  skip(n: number): number {
    const passed = Math.max(0, Math.min(n, fstatSync(this.fd).size - this.pos));
    this.pos += passed;
    return passed;
  }
  private closed = false;
  close(): void { if (!this.closed) { this.closed = true; closeSync(this.fd); } }
}

/**
 * A Node stream (stdin, a gunzip pipe): hands over whatever has arrived, so a
 * live pipe from tcpdump is processed as packets come rather than per MiB.
 * Stream errors end the input after the bytes already received; they are
 * reported through onError and never thrown past the reader.
 */
export class StreamByteSource implements ByteSource {
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private ended = false;
  private waiter: (() => void) | null = null;

  constructor(private readonly stream: Readable, private readonly onError: (err: Error) => void, prefix?: Buffer) {
    if (prefix && prefix.length) { this.queue.push(prefix); this.queuedBytes = prefix.length; }
    stream.on('data', (b: Buffer) => {
      this.queue.push(b);
      this.queuedBytes += b.length;
      // Bound memory: stop the producer while a few MiB are waiting.
      if (this.queuedBytes > 8 << 20) stream.pause();
      this.wake();
    });
    stream.on('end', () => { this.ended = true; this.wake(); });
    // destroyed (close(), or the process stopping a live read): no 'end' comes
    stream.on('close', () => { this.ended = true; this.wake(); });
    stream.on('error', (err: Error) => { this.onError(err); this.ended = true; this.wake(); });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async read(target: Uint8Array): Promise<number> {
    while (this.queue.length === 0 && !this.ended) {
      if (this.stream.isPaused()) this.stream.resume();
      await new Promise<void>((r) => (this.waiter = r));
    }
    let n = 0;
    while (n < target.length && this.queue.length) {
      const head = this.queue[0]!;
      const take = Math.min(head.length, target.length - n);
      target.set(head.subarray(0, take), n);
      n += take;
      this.queuedBytes -= take;
      if (take === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(take);
    }
    if (this.queue.length === 0 && this.stream.isPaused() && !this.ended) this.stream.resume();
    return n;
  }

  /** A stream cannot seek: what it passes over is read and dropped (a compressed capture is inflated up to the checkpoint). */
  async skip(n: number): Promise<number> {
    const scratch = new Uint8Array(Math.min(n, 1 << 20));
    let done = 0;
    while (done < n) {
      const got = await this.read(scratch.subarray(0, Math.min(scratch.length, n - done)));
      if (got === 0) break;
      done += got;
    }
    return done;
  }

  close(): void { this.ended = true; this.stream.destroy(); this.wake(); }
}
