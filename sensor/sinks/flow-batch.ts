// The unit the packet thread hands the writer thread: this many raw flow
// records per batch, in slots of a ring shared by the two.
import { REC_SIZE } from '../core/flow-record.ts';

export const BATCH_RECORDS = 4096;
export const BATCH_BYTES = BATCH_RECORDS * REC_SIZE;
