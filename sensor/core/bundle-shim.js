// Injected into the CommonJS bundle by esbuild (package.json build:js):
// sources that use import.meta.url get the bundle file's own URL instead.
export const __import_meta_url = require('node:url').pathToFileURL(__filename).href;
