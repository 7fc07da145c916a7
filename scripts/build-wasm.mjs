#!/usr/bin/env node
// Builds token-wasm into the npm package token-wasm/pkg/ and copies it to
// www/vendor/token-wasm/ for the demo page. Steps: cargo (wasm-release
// profile) → wasm-bindgen --target web (CLI pinned to Cargo.lock) → wasm-opt -Oz
// (binaryen from node_modules) → esbuild bundles of the two entries
// (js/index.js, whose glue is a file of its own, and js/embedded.js with the
// glue inside), and of the React and Vue
// bindings (js/react.js, js/vue.js) once per entry → package files, whose
// name, description and keywords come from token-wasm/Cargo.toml. Honours
// CARGO_TARGET_DIR.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve, delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { WASM_FEATURES } from './wasm-features.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const crate = join(root, 'token-wasm');
const pkg = join(crate, 'pkg');
const vendor = join(root, 'www', 'vendor', 'token-wasm');
const targetDir = resolve(root, process.env.CARGO_TARGET_DIR || 'target');
const env = { ...process.env, PATH: [join(homedir(), '.cargo', 'bin'), process.env.PATH].join(delimiter) };


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

// Panic locations keep their source paths as strings in the module; cutting
// the registry and checkout prefixes saves download size and keeps this
// machine's paths out of the package. (std's own `/rustc/<hash>/` paths come
// precompiled and stay.)
const cargoHome = process.env.CARGO_HOME || join(homedir(), '.cargo');
const registrySrc = join(cargoHome, 'registry', 'src');
const remaps = [root, ...(existsSync(registrySrc) ? readdirSync(registrySrc).map((d) => join(registrySrc, d)) : [])]
  .map((prefix) => `"--remap-path-prefix=${prefix}/="`);
run('cargo', ['build', '-p', 'token-wasm', '--target', 'wasm32-unknown-unknown', '--profile', 'wasm-release',
  '--config', `target.wasm32-unknown-unknown.rustflags=[${remaps.join(',')}]`], {
  env: { ...env, CARGO_TARGET_DIR: targetDir },
});
const built = join(targetDir, 'wasm32-unknown-unknown', 'wasm-release', 'token_wasm.wasm');

// wasm-bindgen writes its glue, the `js/error.js` snippet and the raw module
// to a staging directory next to copies of the JS sources; the package gets
// only the optimised module and one bundled JS file per entry (see below).
const staging = join(targetDir, 'token-wasm-bindgen');
rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });
run('wasm-bindgen', ['--target', 'web', '--no-typescript', '--out-dir', staging, '--out-name', 'token_wasm', built]);
for (const file of ['index.js', 'embedded.js', 'client.js', 'session.js', 'loader.js', 'listeners.js', 'early.js', 'answer.js', 'lease.js']) cpSync(join(crate, 'js', file), join(staging, file));

// The entries always pass the module's source to the glue's init; its own
// fallback `new URL('token_wasm_bg.wasm', import.meta.url)` would make
// bundlers emit the .wasm for embedded.js too, which inlines it.
const glue = join(staging, 'token_wasm.js');
const fallback = /\n\s*if \(module_or_path === undefined\) \{\n\s*module_or_path = new URL\('token_wasm_bg\.wasm', import\.meta\.url\);\n\s*\}/;
const glueSource = readFileSync(glue, 'utf8');
if (!fallback.test(glueSource)) throw new Error(`the wasm-bindgen glue changed: no default module URL in ${glue}`);
writeFileSync(glue, glueSource.replace(fallback, ''));

// The glue imports `TokenError` from its copy of js/error.js under
// snippets/token-wasm-<hash>/; client.js must import that same file, or
// `instanceof TokenError` would compare two different classes.
const snippets = join(staging, 'snippets');
const [snippetDir] = readdirSync(snippets).filter((d) => existsSync(join(snippets, d, 'js', 'error.js')));
if (!snippetDir) throw new Error(`no js/error.js snippet under ${snippets}`);
const errorModule = join(snippets, snippetDir, 'js', 'error.js');
const sharedErrorClass = {
  name: 'shared-error-class',
  setup(b) {
    b.onResolve({ filter: /^\.\/error\.js$/ }, () => ({ path: errorModule }));
  },
};

rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg, { recursive: true });
// --converge repeats -Oz until it stops shrinking; the producers and debug
// sections are metadata nobody needs at run time. The module's memory is
// its own (zero-filled when instantiated) and Rust never uses its first KiB,
// which lets wasm-opt fold constants and addresses. The optimised module
// replaces the staged one, which embedded.js inlines.
const wasm = join(staging, 'token_wasm_bg.wasm');
run(join(root, 'node_modules', '.bin', 'wasm-opt'), ['-Oz', '--converge', '--zero-filled-memory', '--low-memory-unused', '--strip-debug', '--strip-producers', ...WASM_FEATURES, wasm, '-o', wasm]);
cpSync(wasm, join(pkg, 'token_wasm_bg.wasm'));

// Each entry becomes one minified ES module, embedded.js with the
// wasm-bindgen glue inside; index.js's glue is a second file, loaded with the
// .wasm. Glue exports the API does not use (`initSync`) are dropped. esbuild keeps
// `new URL('./token_wasm_bg.wasm', import.meta.url)` intact for bundlers;
// embedded.js gets the module bytes inlined by the binary loader. Source maps
// point stack traces at js/*.js rather than at minified code.
const bundle = (options) => build({
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  logLevel: 'warning',
  sourcemap: 'linked',
  ...options,
});
// index.js leaves the glue out (it imports it dynamically: see js/loader.js),
// and the glue, its own file, takes `TokenError` from index.js, so the two
// share one class without a third file the entry would have to wait for.
const external = (filter, path) => ({
  name: `external ${path}`,
  setup(b) { b.onResolve({ filter }, () => ({ path, external: true })); },
});
await bundle({
  entryPoints: [join(staging, 'index.js')],
  outfile: join(pkg, 'index.js'),
  plugins: [sharedErrorClass, external(/^\.\/token_wasm\.js$/, './token_wasm.js')],
});
await bundle({
  entryPoints: [glue],
  outfile: join(pkg, 'token_wasm.js'),
  plugins: [external(/\/js\/error\.js$/, './index.js')],
});
await bundle({
  entryPoints: [join(staging, 'embedded.js')],
  outfile: join(pkg, 'embedded.js'),
  loader: { '.wasm': 'binary' },
  plugins: [sharedErrorClass],
});

// The bindings import the package by its name; each is built once per entry,
// with that import pointed at the entry of the same export condition, so an
// app's `token-wasm` and `token-wasm/react` are one module (one default
// client) in a production bundle, a dev server and Node alike.
const BINDINGS = ['react', 'vue'];
for (const binding of BINDINGS) {
  for (const [suffix, core] of [['', './index.js'], ['-embedded', './embedded.js']]) {
    await bundle({
      entryPoints: [join(crate, 'js', `${binding}.js`)],
      outfile: join(pkg, `${binding}${suffix}.js`),
      external: [binding],
      plugins: [{
        name: 'core-entry',
        setup(b) { b.onResolve({ filter: /^token-wasm$/ }, () => ({ path: core, external: true })); },
      }],
    });
  }
}
// Map sources by their place in the repository, not the staging directory.
for (const map of readdirSync(pkg).filter((f) => f.endsWith('.js.map'))) {
  const file = join(pkg, map);
  const json = JSON.parse(readFileSync(file, 'utf8'));
  json.sources = json.sources.map((source) => {
    const name = source.split('/').pop();
    return name === 'token_wasm.js' ? 'wasm-bindgen/token_wasm.js' : `token-wasm/js/${name}`;
  });
  writeFileSync(file, JSON.stringify(json));
}
for (const types of ['index.d.ts', ...BINDINGS.map((b) => `${b}.d.ts`)]) cpSync(join(crate, 'js', types), join(pkg, types));
cpSync(join(crate, 'README.md'), join(pkg, 'README.md'));
for (const licence of ['LICENSE-MIT', 'LICENSE-APACHE']) cpSync(join(root, licence), join(pkg, licence));

// Name, description, keywords, version, licence and links come from
// token-wasm/Cargo.toml (one source of truth).
const metadata = JSON.parse(execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1', '--offline'], { cwd: root, env, encoding: 'utf8' }));
const crateMeta = metadata.packages.find((p) => p.name === 'token-wasm');
// `types` first and `default` last, as resolvers read conditions in order.
// `node` and `development` get the wasm inlined (see js/embedded.js); a
// production bundle or a plain <script type="module"> gets index.js.
const conditions = (name, types) => {
  const embedded = name === 'index' ? './embedded.js' : `./${name}-embedded.js`;
  return { types, node: embedded, development: embedded, default: `./${name}.js` };
};
const manifest = {
  name: crateMeta.name,
  version: crateMeta.version,
  description: crateMeta.description,
  keywords: crateMeta.keywords,
  license: crateMeta.license,
  repository: { type: 'git', url: `git+${crateMeta.repository}.git`, directory: 'token-wasm' },
  homepage: crateMeta.homepage,
  type: 'module',
  main: './index.js',
  types: './index.d.ts',
  exports: {
    '.': conditions('index', './index.d.ts'),
    ...Object.fromEntries(BINDINGS.map((b) => [`./${b}`, conditions(b, `./${b}.d.ts`)])),
    './package.json': './package.json',
  },
  files: readdirSync(pkg).filter((f) => f !== 'package.json').sort(),
  // fetch, Headers, AbortController and WeakRef as globals.
  engines: { node: '>=18' },
  // Only for the bindings; the main entry needs neither.
  peerDependencies: { react: '>=18', vue: '>=3.3' },
  peerDependenciesMeta: { react: { optional: true }, vue: { optional: true } },
  sideEffects: false,
};
writeFileSync(join(pkg, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

rmSync(vendor, { recursive: true, force: true });
mkdirSync(dirname(vendor), { recursive: true });
cpSync(pkg, vendor, { recursive: true });
console.error(`built ${pkg} and ${vendor}`);
