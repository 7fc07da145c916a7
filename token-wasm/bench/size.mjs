#!/usr/bin/env node
// Shipped size of the built package (run `npm run build` first), gzip -9:
// 1. the package's files (.wasm, the production entry index.js and its glue token_wasm.js);
// 2. what a page downloads when an app bundles it: the `vite build` of
//    tests/fixtures/vite-app (an app that imports the package by its npm name),
//    its JS chunk and the .wasm asset Vite emits. This is the figure README and
//    BENCHMARKS give;
// next to @auth0/auth0-spa-js's ESM build.
// Usage: node token-wasm/bench/size.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auth0Esm, AUTH0_VERSION } from './auth0.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = join(root, 'token-wasm', 'pkg');
const app = join(root, 'tests', 'fixtures', 'vite-app');
const measure = (file) => {
  const bytes = readFileSync(file);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
const kb = (n) => (n / 1024).toFixed(1) + ' KiB';
const table = (title, rows) => {
  const total = rows.reduce((t, [, m]) => ({ raw: t.raw + m.raw, gzip: t.gzip + m.gzip }), { raw: 0, gzip: 0 });
  console.log(`| ${title} | raw | gzip -9 |\n|---|---:|---:|`);
  for (const [f, m] of rows) console.log(`| \`${f}\` | ${kb(m.raw)} | ${kb(m.gzip)} |`);
  console.log(`| **total** | **${kb(total.raw)}** | **${kb(total.gzip)}** |\n`);
  return total;
};

// index.js is js/index.js bundled; token_wasm.js the wasm-bindgen glue it imports with the .wasm (scripts/build-wasm.mjs).
const files = table('token-wasm package file', ['token_wasm_bg.wasm', 'index.js', 'token_wasm.js'].map((f) => [f, measure(join(pkg, f))]));

// The fixture's `file:` dependency, linked as `npm install` would (see tests/e2e/vite-app.test.mjs).
const link = join(app, 'node_modules', 'token-wasm');
if (!existsSync(join(link, 'package.json'))) {
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(relative(dirname(link), pkg), link, 'dir');
}
const out = mkdtempSync(join(tmpdir(), 'token-wasm-size-'));
let vite;
try {
  execFileSync(join(root, 'node_modules', '.bin', 'vite'), ['build', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], { cwd: app, stdio: 'inherit' });
  const assets = readdirSync(join(out, 'assets')).filter((f) => /\.(js|wasm)$/.test(f)).sort();
  vite = table('`vite build` of tests/fixtures/vite-app, asset', assets.map((f) => [f, measure(join(out, 'assets', f))]));
} finally {
  rmSync(out, { recursive: true, force: true });
}

const auth0 = measure(auth0Esm());
console.log(`| @auth0/auth0-spa-js@${AUTH0_VERSION} \`auth0-spa-js.production.esm.js\` | ${kb(auth0.raw)} | ${kb(auth0.gzip)} |\n`);
console.log(`(bytes: package files ${files.raw} raw / ${files.gzip} gzip; Vite build ${vite.raw} / ${vite.gzip}; auth0 ${auth0.raw} / ${auth0.gzip}; ratio ${(vite.gzip / auth0.gzip).toFixed(2)}×)`);
