// --memory MiB: one budget for the tables that grow with what the network
// does — the flow table and IP fragments, the flow-record merger, the
// learning tables (devices, endpoints, pairs, channels, client ports,
// beacon rings, DNS names) and the model windows. Every table is
// fixed-capacity and forgets its least recently seen entry when full
// (counted in `status` and the summary), so a flood of spoofed sources or a
// scan of a /8 fills them and then only recycles: memory stops there.
//
// The budget scales all capacities together by a power of two from the
// defaults (powers of two keep the tables' masks), the largest scale whose
// reservations fit. Reservations are measured, not estimated: a probe core
// is laid out at each scale (instantiating one costs a few ms; its memory is
// reserved, never touched) — sizes of entries, regions and alignment come
// from the build itself, so the budget cannot drift from the code.
import { DEFAULT_EVENT_OPTIONS, DEFAULT_LEARN_CAPACITIES, WasmCore, type CoreOptions, type EventOptions, type LearnCapacities } from '../core/wasm-core.ts';
import { WINDOW_BYTES } from '../models/window-store.ts';

export interface BudgetShape {
  /** learning and models on: in a detection thread (its own core) or in the packet core */
  detection: 'thread' | 'inline' | 'off';
  /** model windows kept per model at most (default 50,000) and models enabled */
  models: number;
}

export interface BudgetFit {
  /** power of two the defaults were scaled by (0: the defaults) */
  scale: number;
  core: CoreOptions;
  events: EventOptions;
  learn: LearnCapacities;
  /** the model engine's windows per model */
  maxKeys: number;
  /** bytes the cores reserve and the model windows may take, at most */
  bytes: number;
}

export const DEFAULT_CORE = { flowCapacity: 1 << 17, fragCapacity: 1 << 13 };
export const DEFAULT_MAX_KEYS = 50_000;
/** Scales tried, largest first: 64× the defaults down to 1/64. */
const SCALES = [6, 5, 4, 3, 2, 1, 0, -1, -2, -3, -4, -5, -6];

export class BudgetError extends Error {}

/** A throttle: an entry of a Map<string, number> keyed "device|peer|port". */
const THROTTLE_BYTES = 120;

function scaled(n: number, k: number, least: number): number {
  return Math.max(least, k >= 0 ? n * 2 ** k : Math.floor(n / 2 ** -k));
}

/** The options at scale k. */
export function atScale(k: number): Omit<BudgetFit, 'bytes'> {
  const learn: Required<LearnCapacities> = { ...DEFAULT_LEARN_CAPACITIES };
  for (const key of Object.keys(learn) as (keyof LearnCapacities)[]) if (key !== 'observations') learn[key] = scaled(learn[key], k, 64);
  return {
    scale: k,
    core: { flowCapacity: scaled(DEFAULT_CORE.flowCapacity, k, 256), fragCapacity: scaled(DEFAULT_CORE.fragCapacity, k, 64) },
    events: { capacity: scaled(DEFAULT_EVENT_OPTIONS.capacity, k, 256) },
    learn,
    maxKeys: scaled(DEFAULT_MAX_KEYS, k, 256),
  };
}

/** Bytes the cores reserve at these options (probe cores, laid out as the pipeline lays them out) and the model windows may take. */
export function reservedBytes(o: Omit<BudgetFit, 'bytes'>, shape: BudgetShape): number {
  const packet = new WasmCore(o.core);
  packet.enableEvents(o.events);
  let bytes = 0;
  if (shape.detection === 'inline') {
    packet.enableLearning(o.learn, [], { retentionS: 86400, recountS: 21600, emitAll: false });
  } else if (shape.detection === 'thread') {
    packet.enableLearnLog();
    const det = new WasmCore({ flowCapacity: 16, fragCapacity: 16, chunkBytes: 1 << 16, outputRecords: packet.outputCapacity });
    det.enableLearning(o.learn, [], { retentionS: 86400, recountS: 21600, emitAll: false });
    bytes += det.memoryBytes();
  }
  bytes += packet.memoryBytes();
  // per model: maxKeys windows, and as many throttles (a Map entry: key string and number, ~120 bytes measured by V8's heap)
  if (shape.detection !== 'off') bytes += shape.models * o.maxKeys * (WINDOW_BYTES + THROTTLE_BYTES);
  return bytes;
}

/** The largest scale of the defaults whose tables fit `mib`; throws BudgetError when even the smallest does not. */
export function fitBudget(mib: number, shape: BudgetShape): BudgetFit {
  const budget = mib * 2 ** 20;
  let smallest = Infinity;
  for (const k of SCALES) {
    const o = atScale(k);
    let bytes: number;
    try { bytes = reservedBytes(o, shape); } catch { continue; } // past what a Wasm memory (4 GiB) holds
    
    if (bytes <= budget) return { ...o, bytes };
    smallest = Math.min(smallest, bytes);
  }
  throw new BudgetError(`--memory ${mib} MiB is below the smallest the tables can be laid out in (${Math.ceil(smallest / 2 ** 20)} MiB${shape.detection === 'off' ? '' : ' with detection'})`);
}
