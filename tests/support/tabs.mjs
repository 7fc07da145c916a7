//! Several tabs of one browser on the package site (package-site.mjs) against
//! a `token-backend --dev` of their own: opened, handed to a test, and closed
//! however the test ends.
import { after, before } from 'node:test';

import { startBackend } from './backend.mjs';
import { collectPageErrors, launchChromium } from './chromium.mjs';
import { createPackageSite, openPackagePage } from './package-site.mjs';

/**
 * For a test file whose tests each open tabs on the package site: registers
 * the file's `before`/`after` hooks, which make one site and launch one
 * Chromium for all its tests, and returns `inTabs(options, body)`, which is
 * `withTabs` with that browser and site.
 *
 * @returns {(options: { count: number, env?: Record<string, string>, initScript?: () => void }, body: (tabs: object) => Promise<any>) => Promise<any>}
 */
export function tabsOnPackageSite() {
  let site, browser;
  before(async () => {
    site = createPackageSite();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    site?.remove();
  });
  return (options, body) => withTabs({ browser, publicDir: site.dir, ...options }, body);
}

/**
 * Starts a backend with `env` serving `publicDir` (a package site), opens one
 * new context of `browser` with `count` tabs, each loaded until the package
 * is, and runs `body(tabs)`. A failure of `body` carries the backend's log;
 * the context and the backend are closed after, pass or fail.
 *
 * `tabs` is `{ backend, context, pages, requests, errors }`: `requests` lists
 * every request of the context to `/api/token` as it is sent, `errors[i]` the
 * console and page errors of `pages[i]` (see `collectPageErrors`).
 *
 * @template T
 * @param {object} options
 * @param {import('playwright-core').Browser} options.browser
 * @param {string} options.publicDir the site the backend serves at `/`
 * @param {number} options.count how many tabs
 * @param {Record<string, string>} [options.env] backend variables
 * @param {() => void} [options.initScript] runs in every page before its scripts
 * @param {(tabs: object) => Promise<T>} body
 * @returns {Promise<T>}
 */
export async function withTabs({ browser, publicDir, count, env, initScript }, body) {
  const backend = await startBackend({ env, publicDir });
  let context;
  try {
    context = await browser.newContext();
    if (initScript) await context.addInitScript(initScript);
    const requests = [];
    context.on('request', (request) => {
      if (new URL(request.url()).pathname === '/api/token') requests.push(request);
    });
    const pages = [];
    const errors = [];
    for (let i = 0; i < count; i++) {
      const page = await context.newPage();
      errors.push(collectPageErrors(page));
      await openPackagePage(page, backend.url);
      pages.push(page);
    }
    return await backend.check(() => body({ backend, context, pages, requests, errors }));
  } finally {
    await context?.close();
    await backend.stop();
  }
}
