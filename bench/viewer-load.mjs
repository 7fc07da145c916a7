#!/usr/bin/env node
// Time to model in the demo's viewer, token mode and proxy mode side by side
// (issue 14): the release `token-backend --dev` built by `scripts/build-static`
// (the site and three.js embedded), headless Chromium, a fresh browser context
// per load (no HTTP cache, no token in memory), the modes alternating.
//
//   scripts/build-static && node bench/viewer-load.mjs [ROUNDS]   (default 10 loads per mode)
//
// Per load: `readyMs`, from navigation start until the model is in the scene
// and drawn (the page's `window.__viewerScene`), and the model request's own
// duration from the Resource Timing API. Prints the medians and the
// proxy/token ratios.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT, freePort } from '../tests/support/backend.mjs';
import { launchChromium } from '../tests/support/chromium.mjs';

const BIN = join(ROOT, 'target', 'x86_64-unknown-linux-musl', 'release', 'token-backend');
const ROUNDS = Number(process.argv[2] ?? 10);
if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run scripts/build-static`);

const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const broker = spawn(BIN, ['--dev'], { env: { PATH: process.env.PATH, BIND_ADDR: `127.0.0.1:${port}`, RUST_LOG: 'warn' }, stdio: 'ignore' });
const browser = await launchChromium();
try {
  for (let i = 0; ; i++) {
    if ((await fetch(`${url}/healthz`).catch(() => null))?.ok) break;
    if (i > 200) throw new Error('token-backend did not start');
    await new Promise((ok) => setTimeout(ok, 50));
  }

  async function load(mode) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
    try {
      const page = await context.newPage();
      await page.goto(`${url}/?mode=${mode}`);
      await page.waitForFunction(() => window.__viewerScene, null, { timeout: 30_000 });
      return await page.evaluate(() => ({
        readyMs: window.__viewerScene.readyMs,
        fetchMs: performance.getEntriesByType('resource').find((e) => e.name.endsWith('/building.glb'))?.duration,
      }));
    } finally {
      await context.close();
    }
  }

  await load('token');
  await load('proxy');
  const samples = { token: [], proxy: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 ? ['proxy', 'token'] : ['token', 'proxy']) samples[mode].push(await load(mode));
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const row = (mode) => ({ ready: median(samples[mode].map((s) => s.readyMs)), fetch: median(samples[mode].map((s) => s.fetchMs)) });
  const token = row('token'), proxy = row('proxy');
  console.log(`${ROUNDS} loads per mode, medians (one warm-up load each, not counted):`);
  console.log(`  token mode: model in the scene after ${token.ready.toFixed(0)} ms; model request ${token.fetch.toFixed(1)} ms`);
  console.log(`  proxy mode: model in the scene after ${proxy.ready.toFixed(0)} ms; model request ${proxy.fetch.toFixed(1)} ms`);
  console.log(`  proxy/token: ${(proxy.ready / token.ready).toFixed(2)}× time to model, ${(proxy.fetch / token.fetch).toFixed(2)}× model request`);
} finally {
  await browser.close();
  broker.kill('SIGTERM');
}
