// Flags `analyze` and `run` share — where flow records go, what is local,
// the flow table's timeouts and the flow-event merger — parsed the same way
// for both, so a flag means one thing whichever command takes it.
import { writeFileSync } from 'node:fs';
import type { CoreOptions, EventOptions, LearnCapacities } from '../core/wasm-core.ts';
import { BudgetError, fitBudget, type BudgetShape } from '../pipeline/memory-budget.ts';
import { parseCidr } from '../flows/local-nets.ts';
import { logger } from '../log/logger.ts';
import { writeFully } from '../sinks/fd-write.ts';
import { listFlag, numberFlag, UsageError } from './args.ts';

export const FLOW_OPTIONS = {
  flows: { type: 'string' },
  summary: { type: 'string' },
  'local-nets': { type: 'string' },
  'aws-format': { type: 'string' },
  lateness: { type: 'string' },
  'flow-gap': { type: 'string' },
  'max-flows': { type: 'string' },
  memory: { type: 'string' },
  'tcp-timeout': { type: 'string' },
  'udp-timeout': { type: 'string' },
  'icmp-timeout': { type: 'string' },
  'active-timeout': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

type Values = Record<string, string | boolean | string[] | undefined>;

export interface FlowFlags {
  flowsTo?: string;
  summaryTo?: string;
  localNets?: string[];
  awsFormat?: string;
  core: CoreOptions;
  events: EventOptions;
  /** --memory: the tables' budget in MiB (memory-budget.ts), applied once detection's shape is known (applyBudget) */
  memoryMiB?: number;
}

/** Validate and convert the shared flags (also applies --log-level). */
export function flowFlags(values: Values): FlowFlags {
  const localNets = listFlag(values['local-nets']);
  try { localNets?.forEach(parseCidr); } catch (e) { throw new UsageError(`--local-nets: ${(e as Error).message}`); }
  if (values['log-level']) {
    try { logger().level = String(values['log-level']); } catch (e) { throw new UsageError(`--log-level: ${(e as Error).message}`); }
  }
  const activeTimeout = numberFlag(values['active-timeout'], 'active-timeout', { min: 1 });
  const timeouts = Object.fromEntries(Object.entries({
    tcpInactivity: numberFlag(values['tcp-timeout'], 'tcp-timeout', { min: 1 }),
    udpInactivity: numberFlag(values['udp-timeout'], 'udp-timeout', { min: 1 }),
    icmpInactivity: numberFlag(values['icmp-timeout'], 'icmp-timeout', { min: 1 }),
    activeTimeout,
  }).filter(([, v]) => v !== undefined));
  const memoryMiB = numberFlag(values.memory, 'memory', { min: 1 });
  if (memoryMiB !== undefined && values['max-flows'] !== undefined) throw new UsageError('--memory sizes the flow table too: give --memory or --max-flows, not both');
  return {
    memoryMiB,
    flowsTo: values.flows as string | undefined,
    summaryTo: values.summary as string | undefined,
    localNets,
    awsFormat: values['aws-format'] as string | undefined,
    core: { flowCapacity: numberFlag(values['max-flows'], 'max-flows', { min: 16, integer: true }), timeouts },
    events: {
      lateness: numberFlag(values.lateness, 'lateness', { min: 0 }),
      gap: numberFlag(values['flow-gap'], 'flow-gap', { min: 0 }),
      activeTimeout,
    },
  };
}

/**
 * Run the job that opens its output files (analyze, run): an output path that
 * cannot be opened (a missing folder, no permission) is the user's mistake —
 * a usage error naming the flag, not a crash. Other errors pass through.
 * `outputs`: flag name → path, e.g. { flows: f.flowsTo }.
 */
export async function withOutputTargets<T>(outputs: Record<string, string | undefined>, job: () => Promise<T>): Promise<T> {
  try {
    return await job();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.syscall === 'open') {
      for (const [flag, path] of Object.entries(outputs)) if (path && err.path === path) throw new UsageError(`--${flag} ${path}: ${err.message}`);
    }
    throw e;
  }
}

/**
 * The run summary as JSON: to --summary, else stdout — or stderr when
 * stdout carries results (flow records or breaches to "-").
 */
export function writeSummary(summary: unknown, f: FlowFlags, stdoutBusy = f.flowsTo === '-'): void {
  const text = JSON.stringify(summary, null, 2) + '\n';
  const target = f.summaryTo ?? (stdoutBusy ? 'stderr' : '-');
  if (target === '-') writeFully(1, Buffer.from(text));
  else if (target === 'stderr') writeFully(2, Buffer.from(text));
  else writeFileSync(target, text);
}

/**
 * --memory: every table's capacity from the budget, for detection of this
 * shape (in a thread, inline, or off) with `models` models enabled. Returns
 * the learning capacities and windows per model for the detection stage,
 * after setting the flow table and merger capacities in `f`.
 */
export function applyBudget(f: FlowFlags, shape: BudgetShape): { capacities?: LearnCapacities; maxKeys?: number; budget?: { mib: number; scale: number; reserved_mib: number } } {
  if (f.memoryMiB === undefined) return {};
  let fit;
  try { fit = fitBudget(f.memoryMiB, shape); } catch (e) { if (e instanceof BudgetError) throw new UsageError(e.message); throw e; }
  f.core = { ...f.core, ...fit.core };
  f.events = { ...f.events, capacity: fit.events.capacity };
  return { capacities: fit.learn, maxKeys: fit.maxKeys, budget: { mib: f.memoryMiB, scale: fit.scale, reserved_mib: Math.round(fit.bytes / 2 ** 20 * 10) / 10 } };
}
