// The package entry for browsers and bundlers: starts loading the wasm next to
// this file and returns at once (no top-level await; the first call that
// needs the module waits for it). Bundlers see `new URL(..., import.meta.url)`
// and emit the .wasm as an asset. The wasm-bindgen glue is a chunk of its own,
// imported when the module loads (see loader.js), so the entry an app parses
// and runs before its first render stays small.
import { load } from './loader.js';

export * from './client.js';
export * from './session.js';

load(new URL('./token_wasm_bg.wasm', import.meta.url), () => import('./token_wasm.js'));
