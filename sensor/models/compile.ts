// Turn the enabled models' filters into the program the core's gate runs
// (asm/learn/gate.ts): one entry per model, its clauses, and the port sets
// of `in` filters as 8 KiB bitmaps. Model i of the result is bit i of an
// observation's pass mask.
import { GATE_LIMITS, GATE_OPS, type GateProgram } from '../core/wasm-core.ts';
import { FEATURE_INDEX, OBS_KIND } from '../learn/observation.ts';
import { portList, type Model } from './model.ts';

const { models: MAX_MODELS, clauses: MAX_CLAUSES, sets: MAX_SETS } = GATE_LIMITS;

export function compileModels(models: readonly Model[]): GateProgram {
  if (models.length > MAX_MODELS) throw new Error(`at most ${MAX_MODELS} enabled models (${models.length})`);
  const program: GateProgram = { models: [], clauses: [], sets: [] };
  const setIds = new Map<string, number>();
  for (const m of models) {
    const first = program.clauses.length;
    for (const f of m.filters) {
      let value: number;
      if (f.op === 'in' || f.op === 'not in') {
        const ports = portList(f.value, `model ${m.id}`);
        const k = [...new Set(ports)].sort((a, b) => a - b).join(',');
        let id = setIds.get(k);
        if (id === undefined) {
          if (program.sets.length >= MAX_SETS) throw new Error(`at most ${MAX_SETS} distinct port lists across the models`);
          const bits = new Uint8Array(8192);
          for (const p of ports) bits[p >> 3]! |= 1 << (p & 7);
          id = program.sets.length;
          program.sets.push(bits);
          setIds.set(k, id);
        }
        value = id;
      } else value = f.value as number;
      program.clauses.push({ feature: FEATURE_INDEX[f.feature], op: GATE_OPS[f.op], value });
    }
    if (program.clauses.length > MAX_CLAUSES) throw new Error(`at most ${MAX_CLAUSES} filters across the models`);
    program.models.push({ kind: OBS_KIND[m.on], first, count: program.clauses.length - first });
  }
  return program;
}
