// The package entry for browsers and bundlers: starts loading the wasm next to
// this file and returns at once (no top-level await; the first call that
// needs the module waits for it). Bundlers see `new URL(..., import.meta.url)`
// and emit the .wasm as an asset.
import { load } from './loader.js';

export * from './client.js';
export * from './session.js';

load(new URL('./token_wasm_bg.wasm', import.meta.url));
