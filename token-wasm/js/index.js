// The package entry for browsers and bundlers: loads the wasm next to this
// file (top-level await, so no init call is needed) and re-exports the API.
// Bundlers see `new URL(..., import.meta.url)` and emit the .wasm as an asset.
import init from './token_wasm.js';

export * from './client.js';
export * from './session.js';

await init({ module_or_path: new URL('./token_wasm_bg.wasm', import.meta.url) });
