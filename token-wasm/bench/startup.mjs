#!/usr/bin/env node
// Issue 19 item 1's targets, in headless Chromium, medians side by side in one
// run (the pages of a comparison load in rotating rounds, each load in a fresh
// browser context: cold HTTP and compile caches, as a first visit):
// 1. render: an app whose module imports token-wasm renders (writes its DOM)
//    as fast as the same app without the import, while the .wasm is held back
//    3 s by the server (target ≤ 1.1×);
// 2. first token: `await getAccessToken()` against a page that fetches
//    /api/token with plain `fetch` and reads the JSON (target ≤ 1.2×).
//    Measured with the app's HTML as is, with the README's
//    `<link rel="preload" as="fetch" crossorigin>` for the .wasm, and with a
//    client that does not share tokens across tabs (no lock check first).
// Times are `performance.now()` at the mark (ms since navigation start); the
// render pages also report when the app's element was painted. Each
// comparison runs with no added latency and with a 40 ms round trip (Chromium's
// network emulation, the same for every page).
// Usage: node token-wasm/bench/startup.mjs [loads per page, default 15]  (after `npm run build`;
// TRACE=1 prints each load's resource timings; BEFORE=<dir of another built
// package> adds that package's render and first-token rows, measured in the same run)
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'pkg');
/** Package builds by URL prefix: this one, and another to compare with (BEFORE). */
const PACKAGES = { pkg, ...(process.env.BEFORE ? { before: resolve(process.env.BEFORE) } : {}) };
const LOADS = Number(process.argv[2] ?? 15);
const WASM_DELAY_MS = 3000;

// Each page loads one module, its app bundled by esbuild as a bundler ships an
// app: with the package inside the bundle, or without it. Bundles live next
// to the package (their `new URL('./token_wasm_bg.wasm', import.meta.url)`
// resolves to it); /slow/pkg/ serves the same files with the .wasm held back.
// The app's render is a new element with `elementtiming`, so the browser
// reports when it was painted (Element Timing), not only when it was written.
const RENDER = `const app = document.createElement('p'); app.setAttribute('elementtiming', 'app'); app.textContent = 'rendered';
  document.getElementById('app').replaceChildren(app); window.mark = performance.now();`;
const APPS = {
  'render-with': `import { getAccessToken } from './index.js'; window.api = getAccessToken; ${RENDER}`,
  'render-without': RENDER,
  'token-with': `import { getAccessToken } from './index.js';
    const token = await getAccessToken(); if (!token) throw new Error('no token'); window.mark = performance.now();`,
  // The same with a client that works alone (no Web Locks check before the
  // request): what sharing one request across tabs costs the first token.
  'token-alone': `import { TokenClient } from './index.js';
    const token = await new TokenClient({ shareAcrossTabs: false }).getAccessToken(); if (!token) throw new Error('no token'); window.mark = performance.now();`,
  'token-fetch': `const r = await fetch('/api/token', { headers: { Accept: 'application/json', 'X-Requested-With': 'token-wasm' } });
    const { access_token } = await r.json(); if (!access_token) throw new Error('no token'); window.mark = performance.now();`,
};
/** Bundles by package prefix, then file name. */
const bundles = {};
for (const [prefix, dir] of Object.entries(PACKAGES)) {
  bundles[prefix] = {};
  for (const [name, source] of Object.entries(APPS)) {
    const out = await build({ stdin: { contents: source, resolveDir: dir }, bundle: true, minify: true, format: 'esm', write: false, logLevel: 'warning' });
    bundles[prefix][`bench-${name}.js`] = out.outputFiles[0].contents;
  }
}
const page = (script, head = '') => `<!doctype html><meta charset="utf-8"><title>bench</title>${head}
<main id="app">loading…</main><script type="module" src="${script}"></script>`;
/** What README.md advises for the .wasm (the same request mode as the module's own fetch). */
const preload = (prefix) => `<link rel="preload" href="/${prefix}/token_wasm_bg.wasm" as="fetch" crossorigin>`;
const PAGES = {
  '/render-with': page('/slow/pkg/bench-render-with.js'),
  '/render-without': page('/pkg/bench-render-without.js'),
  '/token-fetch': page('/pkg/bench-token-fetch.js'),
};
for (const prefix of Object.keys(PACKAGES)) {
  if (prefix !== 'pkg') PAGES[`/${prefix}/render-with`] = page(`/slow/${prefix}/bench-render-with.js`);
  PAGES[`/${prefix}/token-with`] = page(`/${prefix}/bench-token-with.js`);
  PAGES[`/${prefix}/token-with-preload`] = page(`/${prefix}/bench-token-with.js`, preload(prefix));
  PAGES[`/${prefix}/token-alone`] = page(`/${prefix}/bench-token-alone.js`);
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (PAGES[url.pathname]) {
    res.writeHead(200, { 'Content-Type': 'text/html', 'Cache-Control': 'no-store' });
    return res.end(PAGES[url.pathname]);
  }
  if (url.pathname === '/api/token') {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    return res.end(JSON.stringify({ access_token: 'bench-token-' + 'x'.repeat(800), token_type: 'Bearer', expires_in: 3600 }));
  }
  const match = url.pathname.match(/^(\/slow)?\/(\w+)\/(.+)$/);
  const [, slow, prefix, rel] = match ?? [];
  const dir = PACKAGES[prefix];
  const file = dir && normalize(join(dir, rel));
  if (dir && bundles[prefix][rel]) {
    res.writeHead(200, { 'Content-Type': 'text/javascript' });
    return res.end(bundles[prefix][rel]);
  }
  if (dir && file.startsWith(dir) && existsSync(file)) {
    const wasm = extname(file) === '.wasm';
    if (slow && wasm) await new Promise((r) => setTimeout(r, WASM_DELAY_MS));
    res.writeHead(200, { 'Content-Type': wasm ? 'application/wasm' : 'text/javascript' });
    return res.end(await readFile(file));
  }
  res.writeHead(404); res.end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/**
 * One cold load of `path`: ms from navigation start to the page's mark, and
 * for the render pages to the paint of the app's element (what the user
 * sees: the mark is set before the microtasks the module queued run, the
 * paint after them).
 */
async function load(path, latencyMs) {
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    const errors = [];
    tab.on('pageerror', (e) => errors.push(e));
    if (latencyMs) {
      const cdp = await context.newCDPSession(tab);
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: latencyMs, downloadThroughput: -1, uploadThroughput: -1 });
    }
    await tab.goto(origin + path);
    await tab.waitForFunction(() => typeof window.mark === 'number', null, { timeout: 20_000 }).catch((e) => {
      throw new Error(`${path}: no mark (${errors.join('; ') || e.message})`);
    });
    if (process.env.TRACE) console.error(path, await tab.evaluate(() => performance.getEntriesByType('resource').map((e) => `${e.name.split('/').pop()} ${e.startTime.toFixed(0)}→${e.responseEnd.toFixed(0)}`).join(', ') + ` mark ${window.mark.toFixed(0)}`));
    // The render pages' element, once painted (Element Timing: its `renderTime`).
    const paint = path.includes('/render-') ? await tab.evaluate(() => new Promise((resolve) => {
      new PerformanceObserver((list) => {
        const entry = list.getEntries().find((e) => e.identifier === 'app');
        if (entry) resolve(entry.renderTime || entry.loadTime);
      }).observe({ type: 'element', buffered: true });
    })) : null;
    return { mark: await tab.evaluate(() => window.mark), paint };
  } finally {
    await context.close();
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/**
 * Loads every page of `group` `LOADS` times, one round of all pages at a
 * time in a rotating order, so the pages share the machine's noise; returns
 * the median per page of `metric` (`mark` or `paint`, see `load`).
 */
async function measure(group, latency, metrics = ['mark']) {
  const samples = Object.fromEntries(group.map((path) => [path, []]));
  for (const path of group) await load(path, latency); // warm the server and the browser process
  for (let i = 0; i < LOADS; i++) {
    const order = group.map((_, k) => group[(k + i) % group.length]);
    for (const path of order) samples[path].push(await load(path, latency));
  }
  return Object.fromEntries(metrics.map((metric) => [metric,
    Object.fromEntries(group.map((path) => [path, median(samples[path].map((sample) => sample[metric]))]))]));
}

try {
  console.log(`Chromium ${browser.version()}, ${LOADS} cold loads per page, pages rotating; medians in ms since navigation start\n`);
  console.log('| comparison | latency | with token-wasm | baseline | ratio | target |\n|---|---:|---:|---:|---:|---:|');
  const tokenRows = [];
  for (const prefix of Object.keys(PACKAGES)) {
    const which = prefix === 'pkg' ? '' : `, ${prefix} (${PACKAGES[prefix]})`;
    tokenRows.push([`first token (baseline: plain \`fetch\`)${which}`, `/${prefix}/token-with`]);
    tokenRows.push([`first token, .wasm preloaded${which}`, `/${prefix}/token-with-preload`]);
    tokenRows.push([`first token, \`shareAcrossTabs: false\`${which}`, `/${prefix}/token-alone`]);
  }
  const renderRows = Object.keys(PACKAGES).map((prefix) =>
    prefix === 'pkg' ? ['', '/render-with'] : [`, ${prefix} (${PACKAGES[prefix]})`, `/${prefix}/render-with`]);
  for (const latency of [0, 40]) {
    const { mark: render, paint } = await measure(['/render-without', ...renderRows.map(([, path]) => path)], latency, ['mark', 'paint']);
    const ratio = (w, b) => `${w.toFixed(1)} | ${b.toFixed(1)} | ${(w / b).toFixed(2)}×`;
    for (const [which, path] of renderRows) {
      console.log(`| app render, .wasm delayed ${WASM_DELAY_MS / 1000} s (baseline: no import)${which} | ${latency} ms | ${ratio(render[path], render['/render-without'])} | ≤ 1.1× |`);
      console.log(`| app render painted (Element Timing), the same loads${which} | ${latency} ms | ${ratio(paint[path], paint['/render-without'])} | ≤ 1.1× |`);
    }
    const { mark: token } = await measure(['/token-fetch', ...tokenRows.map(([, path]) => path)], latency);
    for (const [name, path] of tokenRows) {
      console.log(`| ${name} | ${latency} ms | ${ratio(token[path], token['/token-fetch'])} | ≤ 1.2× |`);
    }
  }
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
}
