//! The set-up every demo-page journey shares: a `--dev` backend, Chromium, and
//! one page watched for errors and token-route traffic.
import { startBackend } from './backend.mjs';
import { collectPageErrors, launchChromium } from './chromium.mjs';
import { isFailedLoad } from './page-errors.mjs';
import { recordTokenTraffic } from './token-traffic.mjs';

/**
 * Whether a console line is the expected one on `backend`: signed out, the
 * demo asks the broker who is signed in (`getUser()`) on every load, and
 * Chromium logs that 401 as a network line.
 */
export function isSignedOutProbe(backend) {
  return isFailedLoad(`${backend.url}/api/user/me`, 401);
}

/**
 * Starts the backend with `env` and opens a page (with `viewport`, if given).
 * `close()` stops both; if start-up fails half-way, what started is stopped.
 */
export async function openDemo({ env, viewport } = {}) {
  const backend = await startBackend({ env });
  let browser;
  try {
    browser = await launchChromium();
    const page = await browser.newPage(viewport ? { viewport } : undefined);
    return {
      backend,
      browser,
      page,
      errors: collectPageErrors(page, isSignedOutProbe(backend)),
      traffic: recordTokenTraffic(page),
      async close() {
        await browser.close();
        await backend.stop();
      },
    };
  } catch (error) {
    await browser?.close();
    await backend.stop();
    throw error;
  }
}
