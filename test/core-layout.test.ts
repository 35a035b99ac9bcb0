// The flow record layout is written twice — asm/flowrecord.ts (the core
// writes it) and sensor/core/flow-record.ts (JS reads it). This keeps the two
// from drifting: every R_* offset, REC_SIZE and the code tables must agree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONN_STATES, END_REASONS, R, REC_SIZE, RF_FLIPPED, RF_HAS_MAC, RF_INTERIM } from '../sensor/core/flow-record.ts';
import { MAX_REPORTERS, SF_BIDIR, SF_DEDUPED, SF_LATE, SF_NO_ICMP_TYPE, SF_PAIRED, SF_STATED, SOURCES } from '../sensor/flowlogs/flow-event.ts';
import { REPO_ROOT } from './helpers/shared-data.ts';
import { instantiateWasm } from '../sensor/core/wasm-module.ts';

const asm = readFileSync(join(REPO_ROOT, 'asm', 'flowrecord.ts'), 'utf8');
function consts(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of asm.matchAll(new RegExp(`export const ${prefix}([A-Z0-9_]+): (?:i32|u8) = (\\d+);`, 'g'))) out.set(m[1]!, Number(m[2]));
  return out;
}

test('every R_* offset agrees between asm and JS', () => {
  const a = consts('R_');
  assert.ok(a.size >= 30, `found ${a.size} offsets in asm/flowrecord.ts`);
  for (const [name, off] of a) assert.is((R as Record<string, number>)[name], off, `R.${name}`);
  assert.equal(Object.keys(R).sort(), [...a.keys()].sort());
  assert.is(consts('').get('REC_SIZE'), REC_SIZE);
});

test('record fields fit in the record and do not overlap', () => {
  const offs = Object.values(R).sort((x, y) => x - y);
  assert.ok(offs.at(-1)! < REC_SIZE);
  assert.is(new Set(offs).size, offs.length);
});

test('code tables agree (conn_state, end reason, flags, sources)', () => {
  const cs = consts('CS_');
  CONN_STATES.forEach((s, i) => assert.is(cs.get(s), i, s));
  const end = consts('END_');
  assert.is(end.size, END_REASONS.length);
  const rf = consts('RF_');
  assert.equal([rf.get('INTERIM'), rf.get('HAS_MAC'), rf.get('FLIPPED')], [RF_INTERIM, RF_HAS_MAC, RF_FLIPPED]);
  const sf = consts('SF_');
  assert.equal([sf.get('BIDIR'), sf.get('PAIRED'), sf.get('DEDUPED'), sf.get('LATE'), sf.get('STATED'), sf.get('NO_ICMP_TYPE')], [SF_BIDIR, SF_PAIRED, SF_DEDUPED, SF_LATE, SF_STATED, SF_NO_ICMP_TYPE]);
  const src = consts('SRC_');
  SOURCES.forEach((s, i) => assert.is(src.get(s.toUpperCase()), i, s));
});

test('the writer\'s reporter-name table holds every id ReporterIds hands out (a larger id would kill the writer thread)', () => {
  const tables = readFileSync(join(REPO_ROOT, 'asm', 'json', 'tables.ts'), 'utf8');
  const m = /export const MAX_REPORTERS: u32 = (\d+);/.exec(tables);
  assert.ok(m, 'MAX_REPORTERS in asm/json/tables.ts');
  assert.is(Number(m![1]), MAX_REPORTERS);
});

test('a Wasm build the code was not written for fails at load, naming the fix (stale ABI, missing file)', () => {
  assert.throws(() => instantiateWasm('flowjson.wasm', 'flow formatter', 999), /flow formatter: build\/flowjson\.wasm has ABI \d+, this code expects 999: run "npm run build"/);
  assert.throws(() => instantiateWasm('core.wasm', 'Wasm core', 999), /Wasm core: build\/core\.wasm has ABI/);
  assert.throws(() => instantiateWasm('no-such.wasm', 'a module', 1), /a module not built \(.*no-such\.wasm missing\)/);
});

test.run();
