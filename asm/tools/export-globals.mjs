// Post-build step: export every mutable global of a built module as
// "state:<name>", so a snapshot of the core (sensor/core/core-image.ts) is
// its memory plus these values. AssemblyScript keeps module-level `let`s in
// Wasm globals, not in memory: without them a restored memory would be read
// through the wrong table sizes, cursors and counts. Exporting by rewriting
// the binary keeps asm/ free of a hand-kept list that would go stale.
//
// Usage: node asm/tools/export-globals.mjs build/core.wasm [more.wasm …]
import binaryen from 'assemblyscript/binaryen'; // the Binaryen asc itself uses
import { readFileSync, writeFileSync } from 'node:fs';

export const STATE_PREFIX = 'state:';

for (const file of process.argv.slice(2)) {
  const module = binaryen.readBinary(new Uint8Array(readFileSync(file)));
  module.setFeatures(binaryen.Features.All); // what asc's output uses (bulk memory, saturating truncation, mutable-global exports)
  let added = 0;
  for (let i = 0; i < module.getNumGlobals(); i++) {
    const g = binaryen.getGlobalInfo(module.getGlobalByIndex(i));
    if (!g.mutable || g.module) continue; // constants need no saving; imports are the host's
    module.addGlobalExport(g.name, STATE_PREFIX + g.name);
    added++;
  }
  if (!module.validate()) throw new Error(`${file}: invalid after exporting its globals`);
  writeFileSync(file, module.emitBinary());
  module.dispose();
  console.log(`${file}: ${added} mutable globals exported for snapshots`);
}
