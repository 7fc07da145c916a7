#!/usr/bin/env node
// Copies the parts of three.js the demo's viewer uses from node_modules/three
// to www/vendor/three/, minified, so the page loads them through its import map
// (`three`, `three/addons/…`, the layout three's own docs use) from the broker
// itself: no CDN, works offline, embedded in release binaries with the rest of
// www/. Only the module build and the addons named in ADDONS, with the addon
// files they import, are copied.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const three = join(root, 'node_modules', 'three');
const vendor = join(root, 'www', 'vendor', 'three');

/** The addons www/viewer.js imports, relative to three/examples/jsm/. */
const ADDONS = ['loaders/GLTFLoader.js', 'controls/OrbitControls.js'];

/** `three.module.js` imports `three.core.js`; the page imports the former. */
const BUILD = ['three.module.js', 'three.core.js'];

/** Relative imports (`from '../utils/X.js'`) of an addon's source. */
function relativeImports(source) {
  return [...source.matchAll(/from\s+['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
}

/** Writes `source` minified (keeping three's licence comment) to `out`. */
async function writeMinified(source, out) {
  const { code } = await transform(source, { minify: true, format: 'esm', target: 'es2022', legalComments: 'inline' });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  return code.length;
}

rmSync(vendor, { recursive: true, force: true });
let total = 0;
for (const file of BUILD) {
  total += await writeMinified(readFileSync(join(three, 'build', file), 'utf8'), join(vendor, file));
}
const pending = [...ADDONS];
const done = new Set();
while (pending.length) {
  const addon = pending.pop();
  if (done.has(addon)) continue;
  done.add(addon);
  const source = readFileSync(join(three, 'examples', 'jsm', addon), 'utf8');
  for (const spec of relativeImports(source)) pending.push(posix.normalize(posix.join(posix.dirname(addon), spec)));
  total += await writeMinified(source, join(vendor, 'addons', addon));
}
cpSync(join(three, 'LICENSE'), join(vendor, 'LICENSE'));
const { version } = JSON.parse(readFileSync(join(three, 'package.json'), 'utf8'));
console.error(`vendored three ${version} (${BUILD.length + done.size} modules, ${Math.round(total / 1024)} KiB) to ${vendor}`);
