// The handshake of the shared rings between the packet thread and a worker
// (the flow writer, the detection thread): two Int32 sequence numbers in a
// SharedArrayBuffer, moved with Atomics, and a word the worker sets when it
// fails. No message per batch: a MessagePort post cost 0.1–1.3 ms at times on
// this 2-core VM, a futex wake a few µs (flow-batch.ts).

/** Batches published by the packet thread (a sequence number, never reset). */
export const C_PRODUCED = 0;
/** Batches the worker has finished with. */
export const C_CONSUMED = 1;

/**
 * The rest of a ring's control words, after C_PRODUCED and C_CONSUMED: per
 * slot the size of what it holds (C_SIZE + slot) and its flags (C_FLAGS +
 * slot), then the word the worker sets when it fails.
 */
export function ringControl(slots: number): { C_SIZE: number; C_FLAGS: number; C_DEAD: number; CONTROL_WORDS: number } {
  const C_SIZE = 2, C_FLAGS = C_SIZE + slots, C_DEAD = C_FLAGS + slots;
  return { C_SIZE, C_FLAGS, C_DEAD, CONTROL_WORDS: C_DEAD + 1 };
}

export type RoomWait = 'ok' | 'dead' | 'stalled';

/** Producer: is a slot free to fill (fewer than `maxInFlight` published batches unconsumed)? */
export function hasRoom(ctl: Int32Array, produced: number, maxInFlight: number): boolean {
  return produced - Atomics.load(ctl, C_CONSUMED) < maxInFlight;
}

/**
 * Producer: wait until fewer than `maxInFlight` published batches are
 * unconsumed. 'dead' when the worker said it failed (the word at `deadAt`);
 * 'stalled' when it took nothing for `stallMs` — one that vanished without a
 * word (killed, out of memory) is noticed only so, since events (its 'exit')
 * cannot run while this thread waits.
 */
export function waitForRoom(ctl: Int32Array, produced: number, maxInFlight: number, deadAt: number, stallMs: number): RoomWait {
  let last = Atomics.load(ctl, C_CONSUMED), since = 0;
  while (produced - last >= maxInFlight) { // (hasRoom(), with the last count seen kept for the stall clock)
    if (Atomics.load(ctl, deadAt) !== 0) return 'dead';
    if (since === 0) since = Date.now();
    else if (Date.now() - since > stallMs) return 'stalled';
    Atomics.wait(ctl, C_CONSUMED, last, 50);
    const c = Atomics.load(ctl, C_CONSUMED);
    if (c !== last) { last = c; since = 0; }
  }
  return Atomics.load(ctl, deadAt) !== 0 ? 'dead' : 'ok';
}

/** Producer: batches up to `produced` are ready (their slot words written first). */
export function publish(ctl: Int32Array, produced: number): void {
  Atomics.store(ctl, C_PRODUCED, produced);
  Atomics.notify(ctl, C_PRODUCED);
}

/** Worker: block until batch `seq` is published. */
export function waitForBatch(ctl: Int32Array, seq: number): void {
  while (Atomics.load(ctl, C_PRODUCED) === seq) Atomics.wait(ctl, C_PRODUCED, seq);
}

/** Worker: done with batch `seq` (its slot may be reused). */
export function consumed(ctl: Int32Array, seq: number): void {
  Atomics.store(ctl, C_CONSUMED, seq + 1);
  Atomics.notify(ctl, C_CONSUMED);
}

/** Worker: failing — a producer waiting for room stops waiting. */
export function markDead(ctl: Int32Array, deadAt: number): void {
  Atomics.store(ctl, deadAt, 1);
  Atomics.notify(ctl, C_CONSUMED);
}

/**
 * Worker: run the consumer loop; if it throws, say so in shared memory before
 * dying (the packet thread may be blocked waiting for a slot), then rethrow.
 */
export function consume(control: SharedArrayBuffer, deadAt: number, loop: (ctl: Int32Array) => void): void {
  const ctl = new Int32Array(control);
  try {
    loop(ctl);
  } catch (e) {
    markDead(ctl, deadAt);
    throw e;
  }
}
