// The package entry for Node and development servers: the same API, with the
// wasm inlined (esbuild's binary loader), so loading it needs no file URL.
// Node cannot `fetch` a file: URL, and Vite's dev server pre-bundles
// dependencies into node_modules/.vite/deps, where the .wasm next to
// index.js is not. Production builds use index.js, whose .wasm is downloaded
// (and cached) on its own. Like index.js, it loads in the background.
// The glue is bundled in (one file; a dev server or Node reads it from disk).
import { load } from './loader.js';
import * as glue from './token_wasm.js';
import wasm from './token_wasm_bg.wasm';

export * from './client.js';
export * from './session.js';

load(wasm, () => Promise.resolve(glue));
