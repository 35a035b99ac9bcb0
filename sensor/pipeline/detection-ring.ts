// The ring between the packet thread and the detection thread, in a
// SharedArrayBuffer, with control words both threads move with Atomics
// (ring-wait.ts). Each pull of the packet core becomes a section — its
// learning log and its output records — appended to the slot being filled;
// a slot is published when the next pull might not fit, when its first
// section has waited MAX_SLOT_AGE_MS, or at the end. Publishing per pull cost
// ~30 µs a wake on this 2-core VM (an inter-processor interrupt for the
// sleeping thread): 45 ms over the 1,513 pulls of the 2 M-packet benchmark
// capture, a tenth of the capture's whole decode.
//
// Section: u32 log bytes, u32 records, the log (a multiple of 8 bytes), the records.

import { ringControl } from '../sinks/ring-wait.ts';

/**
 * Slots that may wait for the detection thread before the packet thread
 * waits for it. Detection's cost comes in bursts (a run of new peers, a
 * recount, peer groups) while decoding's is steady: a deeper ring lets each
 * thread run through the other's bursts. Measured on the generated 2-day
 * network's capture (10.2 M packets, 2 cores, 4 MiB slots): 2 in flight
 * 2.13–2.21 s, 4: 2.03 s, 8: 1.93–1.96 s, 16: 1.93 s (without detection
 * 1.54–1.59 s), for 15 MiB more peak RSS at 8.
 */
export const MAX_IN_FLIGHT = 8;
/** One more slot than may be in flight: the slot being filled is never one the thread reads. */
export const RING_SLOTS = MAX_IN_FLIGHT + 1;
/** A slot holds at least this much (and at least two of the largest pulls). */
export const MIN_SLOT_BYTES = 4 << 20;
/** A partial slot older than this is published anyway, so a live input's breaches come promptly. */
export const MAX_SLOT_AGE_MS = 200;
export const SECTION_HEADER = 8;

/**
 * Int32 control words: C_PRODUCED, C_CONSUMED, then per slot the bytes of
 * sections in it (C_BYTES + slot) and its flags, then C_DEAD, set by the
 * detection thread when it fails (ring-wait.ts ringControl).
 */
export const { C_SIZE: C_BYTES, C_FLAGS, C_DEAD, CONTROL_WORDS } = ringControl(RING_SLOTS);

/** No more pulls after this slot's: the thread judges the end (the capture time in the `now` word) and reports. */
export const F_END = 1;
/** Reporter names were posted on the names port before this slot (read them first). */
export const F_NAMES = 2;
/** After this slot's pulls the thread sends its part of a snapshot (the state writer's id in the flags' bits 8 and up). */
export const F_SNAPSHOT = 4;
export const SNAPSHOT_ID_SHIFT = 8;
