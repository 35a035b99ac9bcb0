// The running sensor's status, in the state's meta database: rewritten at
// every snapshot so `edge-sensor status` (another process, read-only) can
// say what the sensor is doing, how far it has read and how full its tables
// are, without talking to it. JSON, like the rest of meta, so it reads the
// same in any tool.
import type { StateDb } from './state-db.ts';

export interface SensorStatus {
  /** RFC 3339, when this status was written */
  updated_at: string;
  /** the writer's process id (whether it still runs: process.kill(pid, 0)) */
  pid?: number;
  /** false once the sensor has stopped cleanly */
  running?: boolean;
  /** the sensor's version */
  version?: string;
  /** the last snapshot */
  snapshot?: {
    /** RFC 3339, wall clock */
    taken_at: string;
    /** RFC 3339, the input's clock at the snapshot */
    capture_ts?: string;
    bytes: number;
    duration_ms: number;
    /** how long input processing was paused for it */
    pause_ms: number;
  };
  /** each input and its checkpoint */
  /** offset: bytes of a capture, or, with `records`, flow records of a flow-record input */
  inputs?: { name: string; offset: number; records?: boolean; done: boolean }[];
  counters?: Record<string, number>;
  evictions?: Record<string, number>;
  tables?: { name: string; capacity: number; used: number; evictions: number }[];
}

const STATUS_KEY = 'status';

/** Replace the status (one transaction; resolves once synced). */
export function writeStatus(db: StateDb, status: SensorStatus): Promise<void> {
  return db.write('storing the sensor status', () => { db.meta.putSync(STATUS_KEY, status); });
}

/** The last status written, if any. */
export function readStatus(db: StateDb): SensorStatus | undefined {
  return db.meta.get(STATUS_KEY) as SensorStatus | undefined;
}
