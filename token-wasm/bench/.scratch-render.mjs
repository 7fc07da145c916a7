// scratch: where does the render-with page spend its time? t0 = bundle starts evaluating, mark = app rendered
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
const pkg = process.argv[2];
const N = Number(process.argv[3] ?? 10);
const RENDER = `document.getElementById('app').textContent = 'rendered'; window.mark = performance.now();`;
const apps = {
  with: `import { getAccessToken } from './index.js'; window.api = getAccessToken; ${RENDER}`,
  without: RENDER,
};
const bundles = {};
for (const [n, src] of Object.entries(apps)) {
  const out = await build({ stdin: { contents: src, resolveDir: pkg }, bundle: true, minify: true, format: 'esm', write: false, logLevel: 'warning', banner: { js: 'window.t0=performance.now();' } });
  bundles[n] = out.outputFiles[0].contents;
  console.log(n, bundles[n].length, 'bytes');
}
const server = createServer(async (req, res) => {
  const u = new URL(req.url, 'http://x');
  const m = u.pathname.match(/^\/page\/(\w+)$/);
  if (m) { res.writeHead(200, { 'Content-Type': 'text/html' }); return res.end(`<!doctype html><main id="app">loading</main><script type="module" src="/b/${m[1]}.js"></script>`); }
  const b = u.pathname.match(/^\/b\/(\w+)\.js$/);
  if (b) { res.writeHead(200, { 'Content-Type': 'text/javascript' }); return res.end(bundles[b[1]]); }
  if (u.pathname.endsWith('.wasm')) { await new Promise((r) => setTimeout(r, 3000)); res.writeHead(200, { 'Content-Type': 'application/wasm' }); return res.end(await readFile(pkg + '/token_wasm_bg.wasm')); }
  res.writeHead(404); res.end();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
const samples = { with: [], without: [] };
for (let i = 0; i < N + 1; i++) {
  for (const n of i % 2 ? ['with', 'without'] : ['without', 'with']) {
    const ctx = await browser.newContext();
    const tab = await ctx.newPage();
    let cdp;
    if (process.env.PROFILE && n === 'with') { cdp = await ctx.newCDPSession(tab); await cdp.send('Profiler.enable'); await cdp.send('Profiler.setSamplingInterval', { interval: 50 }); await cdp.send('Profiler.start'); }
    await tab.goto(`${origin}/page/${n}`);
    await tab.waitForFunction(() => typeof window.mark === 'number');
    if (cdp) {
      const { profile } = await cdp.send('Profiler.stop');
      const self = new Map();
      const byId = new Map(profile.nodes.map((x) => [x.id, x]));
      const dt = profile.timeDeltas; const counts = new Map();
      profile.samples.forEach((id, k) => counts.set(id, (counts.get(id) ?? 0) + (dt[k + 1] ?? 0)));
      for (const [id, us] of counts) { const f = byId.get(id).callFrame; const key = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}:${f.columnNumber}`; self.set(key, (self.get(key) ?? 0) + us); }
      console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${(v / 1000).toFixed(2)}ms ${k}`).join('\n'));
    }
    const r = await tab.evaluate(() => { const s = performance.getEntriesByType('resource').find((e) => e.name.includes('/b/')); return { t0: window.t0, mark: window.mark, js: s.responseEnd }; });
    if (i) samples[n].push(r);
    await ctx.close();
  }
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)].toFixed(1); };
for (const n of ['with', 'without']) {
  const s = samples[n];
  console.log(n, 'jsEnd', med(s.map((x) => x.js)), 't0', med(s.map((x) => x.t0)), 'mark', med(s.map((x) => x.mark)), 'mark-t0', med(s.map((x) => x.mark - x.t0)), 't0-jsEnd', med(s.map((x) => x.t0 - x.js)));
}
await browser.close(); server.closeAllConnections(); server.close();
