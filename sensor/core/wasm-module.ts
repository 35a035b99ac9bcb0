// Loads one of the package's Wasm modules (build/*.wasm, made by `npm run
// build`): compiled once per process, instantiated with the one import the
// AssemblyScript runtime needs, started, and checked against the ABI version
// its JavaScript face was written for — a stale build fails here, clearly,
// instead of misreading memory.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './package-root.ts';

/** What every module of ours exports: asconfig's exportStart, and its ABI version. */
export interface ModuleBasics { _start(): void; abiVersion(): number }

const compiled = new Map<string, WebAssembly.Module>();
const digests = new Map<string, string>();

/** SHA-256 of build/`file` as compiled in this process (a saved core state names the build that laid it out). */
export function moduleDigest(file: string): string {
  const d = digests.get(file);
  if (!d) throw new Error(`${file} is not instantiated yet`);
  return d;
}

/** A started instance of build/`file`; `what` names it in errors. */
export function instantiateWasm<T extends ModuleBasics>(file: string, what: string, abi: number): T {
  let module = compiled.get(file);
  if (!module) {
    const path = join(PACKAGE_ROOT, 'build', file);
    let bytes: Buffer;
    try { bytes = readFileSync(path); } catch { throw new Error(`${what} not built (${path} missing): run "npm run build"`); }
    module = new WebAssembly.Module(new Uint8Array(bytes));
    compiled.set(file, module);
    digests.set(file, createHash('sha256').update(bytes).digest('hex'));
  }
  const x = new WebAssembly.Instance(module, {
    env: { abort(_msg: number, _file: number, line: number, col: number): never { throw new Error(`${what} aborted at ${line}:${col}`); } },
  }).exports as unknown as T;
  // asconfig's exportStart makes the start function explicit: without this
  // call the allocator would hand out memory on top of the static data.
  x._start();
  if (x.abiVersion() !== abi) throw new Error(`${what}: build/${file} has ABI ${x.abiVersion()}, this code expects ${abi}: run "npm run build"`);
  return x;
}
