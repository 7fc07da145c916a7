//! Debian's Chromium through playwright-core, plus the page's console errors
//! and uncaught exceptions collected for assertions.
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a quiet headless run in a container (no sandbox, no GPU, no background traffic). */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS });
}

/**
 * Records `console.error` messages and uncaught page errors as strings in the
 * returned array (each prefixed with `console:` or `pageerror:`), except the
 * console lines `isExpected(line)` accepts.
 */
export function collectPageErrors(page, isExpected = () => false) {
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      const { url, lineNumber } = message.location();
      const line = `console: ${message.text()}${url ? ` (${url}:${lineNumber})` : ''}`;
      if (!isExpected(line)) errors.push(line);
    }
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.stack ?? error.message}`));
  return errors;
}
