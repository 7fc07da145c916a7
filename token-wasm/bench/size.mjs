#!/usr/bin/env node
// Shipped size of the built package (run `npm run build` first): the .wasm and
// the JS files, raw and gzip -9, next to @auth0/auth0-spa-js's ESM build.
// Usage: node token-wasm/bench/size.mjs
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auth0Esm, AUTH0_VERSION } from './auth0.mjs';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'pkg');
const measure = (file) => {
  const bytes = readFileSync(file);
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
};
// index.js is js/index.js bundled with the wasm-bindgen glue (scripts/build-wasm.mjs).
const rows = ['token_wasm_bg.wasm', 'index.js'].map((f) => [f, measure(join(pkg, f))]);
const total = rows.reduce((t, [, m]) => ({ raw: t.raw + m.raw, gzip: t.gzip + m.gzip }), { raw: 0, gzip: 0 });
const auth0 = measure(auth0Esm());
const kb = (n) => (n / 1024).toFixed(1) + ' KiB';
console.log('| file | raw | gzip -9 |\n|---|---:|---:|');
for (const [f, m] of rows) console.log(`| token-wasm \`${f}\` | ${kb(m.raw)} | ${kb(m.gzip)} |`);
console.log(`| **token-wasm total** | **${kb(total.raw)}** | **${kb(total.gzip)}** |`);
console.log(`| @auth0/auth0-spa-js@${AUTH0_VERSION} \`auth0-spa-js.production.esm.js\` | ${kb(auth0.raw)} | ${kb(auth0.gzip)} |`);
console.log(`\n(bytes: token-wasm ${total.raw} raw / ${total.gzip} gzip; auth0 ${auth0.raw} / ${auth0.gzip}; ratio ${(total.gzip / auth0.gzip).toFixed(2)}×)`);
