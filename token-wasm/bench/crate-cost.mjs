#!/usr/bin/env node
// What each crate costs in the shipped wasm: the wasm-release build (run
// `npm run build` first) goes through the same wasm-bindgen and wasm-opt -Oz
// steps as scripts/build-wasm.mjs but keeps function names, then twiggy's
// per-function sizes are summed by the crate in each name. Inlining moves
// code into its caller (a closure of ours can hold inlined gloo-net code), so
// the split is approximate; the total matches the shipped module minus its
// name section. Needs twiggy (`cargo install twiggy`).
// Usage: node token-wasm/bench/crate-cost.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WASM_FEATURES } from '../../scripts/wasm-features.mjs';


const STD = 'std (core, alloc, std: formatting, panics, collections)';
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const targetDir = resolve(root, process.env.CARGO_TARGET_DIR || 'target');
const built = join(targetDir, 'wasm32-unknown-unknown', 'wasm-release', 'token_wasm.wasm');
const bin = (name) => join(homedir(), '.cargo', 'bin', name);
const dir = mkdtempSync(join(tmpdir(), 'token-wasm-cost-'));
try {
  execFileSync(bin('wasm-bindgen'), ['--target', 'web', '--no-typescript', '--keep-debug', '--out-dir', dir, '--out-name', 't', built]);
  const wasm = join(dir, 'opt.wasm');
  execFileSync(join(root, 'node_modules', '.bin', 'wasm-opt'), ['-Oz', '--converge', '--zero-filled-memory', '--low-memory-unused', '--debuginfo', ...WASM_FEATURES, join(dir, 't_bg.wasm'), '-o', wasm]);
  const items = JSON.parse(execFileSync(bin('twiggy'), ['top', '-n', '100000', '--format', 'json', wasm], { maxBuffer: 1 << 28 }));
  const costs = new Map();
  let total = 0;
  for (const { name, shallow_size: size } of items) {
    if (name === '"function names" subsection' || name.startsWith('Σ') || name.startsWith('...')) continue;
    const crate = crateOf(name);
    costs.set(crate, (costs.get(crate) ?? 0) + size);
    total += size;
  }
  const rows = [...costs].sort((a, b) => b[1] - a[1]);
  console.log('| crate | bytes | share |\n|---|---:|---:|');
  for (const [crate, size] of rows) console.log(`| ${crate} | ${size} | ${((100 * size) / total).toFixed(1)} % |`);
  console.log(`| **total (raw, before gzip)** | **${total}** | |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** The crate a twiggy item belongs to, from its (demangled) name. */
function crateOf(name) {
  if (name.startsWith('data segment')) return 'static data (strings, tables; all crates)';
  if (/ shim$|^__wbindgen|^__wbg|^__externref|^__wasm_bindgen/.test(name)) return 'wasm-bindgen (export/import shims, with inlined callers)';
  if (name.startsWith('import ')) return 'wasm-bindgen (imports: one per JS function called)';
  if (!/::/.test(name)) return 'wasm sections (types, table, exports)';
  let path = name;
  // `<T as Trait>::f`: the crate of T, or of the trait when T is a primitive.
  const m = name.match(/^<+&?(?:mut )?(?:dyn )?([^<>]*?)(?:<.*?>)? as ([^<>]*?)(?:<.*?>)?>/);
  if (m) path = /::/.test(m[1]) ? m[1] : m[2];
  // `<T>::f` (inherent method of a primitive or path type).
  else if (name.startsWith('<')) path = name.slice(1, name.indexOf('>'));
  path = path.replace(/^<+&?(?:mut )?(?:dyn )?/, '');
  if (!/::/.test(path)) return STD;
  if (path.startsWith('js_sys::futures')) return 'wasm-bindgen-futures (its executor lives in js_sys::futures)';
  const crate = path.split('::')[0].replace(/\[[0-9a-f]+\]$/, '');
  // hashbrown and `__rustc` (the allocator shims) are std's internals.
  if (['core', 'alloc', 'std', 'hashbrown', '__rustc'].includes(crate) || / as alloc$/.test(crate)) return STD;
  return crate.replace(/_/g, '-');
}
