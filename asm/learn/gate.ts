// The models' filters, compiled by JS (sensor/models/compile.ts) into a
// small program the learner runs on every observation: for each model, on
// its kind of observation, every clause (feature op value) must hold. An
// observation that passes no model's filters never crosses to JS — the
// engine only does windowed accounting for the few that can matter.
//
// Memory (JS writes it, then calls setProgram):
//   models:  u32 kind, u32 first clause, u32 clause count   (MAX_MODELS)
//   clauses: u32 feature, u32 op, f64 value                 (MAX_CLAUSES)
//   port sets: 8 KiB bitmaps (MAX_SETS); op IN_SET / NOT_IN_SET take the set index as value

import { reserve } from "../bytes";
import { NUM_FEATURES, O_FEATURES, O_KIND, O_MODELS_HI, O_MODELS_LO } from "./observation";

export const MAX_MODELS: i32 = 64;
export const MAX_CLAUSES: i32 = 1024;
export const MAX_SETS: i32 = 16;
const SET_BYTES: usize = 8192;
const MODEL_BYTES: usize = 12;
const CLAUSE_BYTES: usize = 16;

export const OP_GE: u32 = 0;
export const OP_GT: u32 = 1;
export const OP_LE: u32 = 2;
export const OP_LT: u32 = 3;
export const OP_EQ: u32 = 4;
export const OP_NE: u32 = 5;
export const OP_IN_SET: u32 = 6;
export const OP_NOT_IN_SET: u32 = 7;

let models: usize = 0;
let clauses: usize = 0;
let sets: usize = 0;
let modelCount: i32 = 0;

export function gateInit(): bool {
  if (models != 0) return true;
  models = reserve(<usize>MAX_MODELS * MODEL_BYTES);
  clauses = reserve(<usize>MAX_CLAUSES * CLAUSE_BYTES);
  sets = reserve(<usize>MAX_SETS * SET_BYTES);
  return models != 0 && clauses != 0 && sets != 0;
}

export function modelsPtr(): usize { return models; }
export function clausesPtr(): usize { return clauses; }
export function setsPtr(): usize { return sets; }

/** Take the program JS wrote. Returns 0, or -1 when it is out of bounds (then no model passes). */
export function setProgram(nModels: i32, nClauses: i32): i32 {
  modelCount = 0;
  if (nModels < 0 || nModels > MAX_MODELS || nClauses < 0 || nClauses > MAX_CLAUSES) return -1;
  for (let m = 0; m < nModels; m++) {
    const p = models + <usize>m * MODEL_BYTES;
    const first = load<u32>(p + 4), n = load<u32>(p + 8);
    if (<u64>first + <u64>n > <u64>nClauses) return -1;
  }
  for (let c = 0; c < nClauses; c++) {
    const p = clauses + <usize>c * CLAUSE_BYTES;
    const f = load<u32>(p), op = load<u32>(p + 4);
    if (f >= <u32>NUM_FEATURES || op > OP_NOT_IN_SET) return -1;
    if (op >= OP_IN_SET) {
      const v = load<f64>(p + 8);
      if (!(v >= 0 && v < <f64>MAX_SETS)) return -1;
    }
  }
  modelCount = nModels;
  return 0;
}

@inline function inSet(set: u32, port: f64): bool {
  if (!(port >= 0 && port < 65536)) return false;
  const v = <u32>port;
  return (load<u8>(sets + <usize>set * SET_BYTES + <usize>(v >> 3)) & (1 << (v & 7))) != 0;
}

function clauseHolds(c: usize, x: f64): bool {
  const op = load<u32>(c + 4);
  const v = load<f64>(c + 8);
  switch (op) {
    case OP_GE: return x >= v;
    case OP_GT: return x > v;
    case OP_LE: return x <= v;
    case OP_LT: return x < v;
    case OP_EQ: return x == v;
    case OP_NE: return x != v;
    case OP_IN_SET: return inSet(<u32>v, x);
    default: return !inSet(<u32>v, x);
  }
}

/** Evaluate every model on the observation at o; store the pass bits. True if any passed. */
export function gate(o: usize): bool {
  const kind = load<u32>(o + O_KIND);
  let lo: u32 = 0, hi: u32 = 0;
  for (let m = 0; m < modelCount; m++) {
    const p = models + <usize>m * MODEL_BYTES;
    if (load<u32>(p) != kind) continue;
    const first = load<u32>(p + 4), n = load<u32>(p + 8);
    let ok = true;
    for (let i: u32 = 0; i < n && ok; i++) {
      const c = clauses + <usize>(first + i) * CLAUSE_BYTES;
      ok = clauseHolds(c, load<f64>(o + O_FEATURES + (<usize>load<u32>(c) << 3)));
    }
    if (ok) { if (m < 32) lo |= 1 << <u32>m; else hi |= 1 << <u32>(m - 32); }
  }
  store<u32>(o + O_MODELS_LO, lo);
  store<u32>(o + O_MODELS_HI, hi);
  return (lo | hi) != 0;
}
