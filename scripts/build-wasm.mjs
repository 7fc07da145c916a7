#!/usr/bin/env node
// Builds token-wasm into the npm package token-wasm/pkg/ and copies it to
// www/vendor/token-wasm/ for the demo page. Steps: cargo (wasm-release
// profile) → wasm-bindgen --target web (CLI pinned to Cargo.lock) → wasm-opt -Oz
// (binaryen from node_modules) → esbuild --bundle --minify of js/index.js with
// the glue → package files. Honours CARGO_TARGET_DIR.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve, delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const crate = join(root, 'token-wasm');
const pkg = join(crate, 'pkg');
const vendor = join(root, 'www', 'vendor', 'token-wasm');
const targetDir = resolve(root, process.env.CARGO_TARGET_DIR || 'target');
const env = { ...process.env, PATH: [join(homedir(), '.cargo', 'bin'), process.env.PATH].join(delimiter) };

/** wasm-opt features the module uses (rustc's default wasm32 features). */
export const WASM_FEATURES = [
  '--enable-bulk-memory',
  '--enable-nontrapping-float-to-int',
  '--enable-reference-types',
  '--enable-sign-ext',
  '--enable-multivalue',
  '--enable-mutable-globals',
];

function run(cmd, args, options = {}) {
  console.error(`$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { cwd: root, env, stdio: 'inherit', ...options });
}

function lockedVersion(name) {
  const lock = readFileSync(join(root, 'Cargo.lock'), 'utf8');
  const m = lock.match(new RegExp(`\\[\\[package\\]\\]\\nname = "${name}"\\nversion = "([^"]+)"`));
  if (!m) throw new Error(`${name} not found in Cargo.lock`);
  return m[1];
}

function ensureWasmBindgen(version) {
  const probe = spawnSync('wasm-bindgen', ['--version'], { env, encoding: 'utf8' });
  const have = probe.status === 0 ? probe.stdout.trim().split(/\s+/)[1] : null;
  if (have === version) return;
  console.error(`wasm-bindgen CLI ${have ?? 'missing'}, need ${version}: installing`);
  run('cargo', ['install', 'wasm-bindgen-cli', '--version', `=${version}`]);
}

if (!existsSync(join(root, 'Cargo.lock'))) run('cargo', ['generate-lockfile']);
const version = lockedVersion('wasm-bindgen');
ensureWasmBindgen(version);

// `--no-default-features` drops `std`: the crate is then `no_std` with a
// trapping panic handler, so no panic formatting is linked (token-wasm/Cargo.toml).
run('cargo', ['build', '-p', 'token-wasm', '--target', 'wasm32-unknown-unknown', '--profile', 'wasm-release', '--no-default-features'], {
  env: { ...env, CARGO_TARGET_DIR: targetDir },
});
const built = join(targetDir, 'wasm32-unknown-unknown', 'wasm-release', 'token_wasm.wasm');

// wasm-bindgen writes its glue and raw module to a staging directory next to
// a copy of js/index.js; the package gets only the optimised module and one
// bundled JS file (see below).
const staging = join(targetDir, 'token-wasm-bindgen');
rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });
run('wasm-bindgen', ['--target', 'web', '--no-typescript', '--out-dir', staging, '--out-name', 'token_wasm', built]);
cpSync(join(crate, 'js', 'index.js'), join(staging, 'index.js'));

rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg, { recursive: true });
const wasm = join(pkg, 'token_wasm_bg.wasm');
// --converge repeats -Oz until it stops shrinking; the producers and debug
// sections are metadata nobody needs at run time.
run(join(root, 'node_modules', '.bin', 'wasm-opt'), ['-Oz', '--converge', '--strip-debug', '--strip-producers', ...WASM_FEATURES, join(staging, 'token_wasm_bg.wasm'), '-o', wasm]);

// index.js and the wasm-bindgen glue become one minified ES module: one
// request instead of two, one gzip stream (the two share many words), and
// glue exports index.js does not use (`initSync`) are dropped. esbuild keeps
// `new URL('./token_wasm_bg.wasm', import.meta.url)` intact for bundlers.
run(join(root, 'node_modules', '.bin', 'esbuild'), [join(staging, 'index.js'), '--bundle', '--minify', '--format=esm', '--target=es2022', '--log-level=warning', `--outfile=${join(pkg, 'index.js')}`]);
cpSync(join(crate, 'js', 'index.d.ts'), join(pkg, 'index.d.ts'));
cpSync(join(crate, 'README.md'), join(pkg, 'README.md'));
const cargoToml = readFileSync(join(crate, 'Cargo.toml'), 'utf8');
const crateVersion = cargoToml.match(/^version = "([^"]+)"/m)?.[1] ?? '0.0.0';
const manifest = {
  name: 'token-wasm',
  version: crateVersion,
  description: 'Access tokens for browser apps and the Autodesk Viewer: cached, single-flight, retried (Rust → WebAssembly).',
  license: 'MIT OR Apache-2.0',
  type: 'module',
  main: './index.js',
  types: './index.d.ts',
  exports: {
    '.': { types: './index.d.ts', default: './index.js' },
    './package.json': './package.json',
  },
  files: ['index.js', 'index.d.ts', 'token_wasm_bg.wasm', 'README.md'],
  sideEffects: false,
};
writeFileSync(join(pkg, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

rmSync(vendor, { recursive: true, force: true });
mkdirSync(dirname(vendor), { recursive: true });
cpSync(pkg, vendor, { recursive: true });
console.error(`built ${pkg} and ${vendor}`);
