// wasm-opt's feature flags for the token-wasm module (rustc's default wasm32
// features), shared by scripts/build-wasm.mjs and token-wasm/bench/crate-cost.mjs.
export const WASM_FEATURES = [
  '--enable-bulk-memory',
  '--enable-nontrapping-float-to-int',
  '--enable-reference-types',
  '--enable-sign-ext',
  '--enable-multivalue',
  '--enable-mutable-globals',
];
