//! Helpers of the deployment suite: the static binary's path, running commands to
//! completion, and waiting for a server started outside the test to answer.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { ROOT } from '../support/backend.mjs';

/** Built by `scripts/build-static` (a step of `scripts/test`). */
export const STATIC_BIN = join(ROOT, 'target', 'x86_64-unknown-linux-musl', 'release', 'token-backend');

/** Fails with the command to run when the static binary is missing. */
export function requireStaticBinary() {
  if (!existsSync(STATIC_BIN)) {
    throw new Error(`the deployment suite needs ${STATIC_BIN} (run \`scripts/build-static\`)`);
  }
}

/** Runs `command` to completion; resolves `{ code, stdout, stderr }`. */
export function run(command, args, options = {}) {
  return new Promise((ok, fail) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk) => { stderr += chunk; });
    child.once('error', fail);
    child.once('close', (code) => ok({ code, stdout, stderr }));
  });
}

/** Resolves once `url` answers 200; fails after `timeoutMs` with `describe()`'s text. */
export async function waitForOk(url, { timeoutMs = 20_000, describe = () => '' } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms\n${await describe()}`);
}
