// The ring between the packet thread and the writer thread: slots of raw
// flow records in a SharedArrayBuffer, and the control words both threads
// read and write with Atomics (ring-wait.ts). No message per batch: a
// MessagePort post cost 0.1–1.3 ms at times on this 2-core VM (measured:
// 170–625 ms over the 489 batches of 2 M IPFIX records), a futex wake a few µs.
import { REC_SIZE } from '../core/flow-record.ts';
import { ringControl } from './ring-wait.ts';

export const BATCH_RECORDS = 4096;
export const BATCH_BYTES = BATCH_RECORDS * REC_SIZE;
/** At most this many batches (4096 × 224 B = 896 KiB each) wait for the writer. */
export const MAX_IN_FLIGHT = 8;
/** Slots in the ring: one more than may be in flight, so the slot being filled is never one the writer reads. */
export const RING_SLOTS = MAX_IN_FLIGHT + 1;

/**
 * Int32 control words: C_PRODUCED, C_CONSUMED, then per slot the records in
 * it (C_COUNT + slot) and its flags, then C_DEAD, set by the writer when it
 * fails (ring-wait.ts ringControl).
 */
export const { C_SIZE: C_COUNT, C_FLAGS, C_DEAD, CONTROL_WORDS } = ringControl(RING_SLOTS);

/** The slot's batch uses reporter names that a message on the names port carries (sent first). */
export const F_NAMES = 1;
/** No more batches: the writer reports and stops. The slot holds no records. */
export const F_END = 2;
