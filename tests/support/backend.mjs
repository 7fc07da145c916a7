//! The real `token-backend --dev` as a child process on a free loopback port:
//! start it, wait for `/healthz`, restart it on the same port, and stop it
//! (SIGTERM, then SIGKILL). Its stderr is kept for failure messages.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { until } from './wait.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BACKEND_BIN = join(ROOT, 'target', 'debug', 'token-backend');
export const WWW_DIR = join(ROOT, 'www');
export const PACKAGE_ENTRY = join(WWW_DIR, 'vendor', 'token-wasm', 'index.js');
export const THREE_ENTRY = join(WWW_DIR, 'vendor', 'three', 'three.module.js');

/** How long the backend gets to answer `/healthz`, and to exit after SIGTERM. */
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
/** Keep only the end of the log: failure messages need the last lines. */
const MAX_LOG_CHARS = 20_000;

/** Fails with the command to run when a build output the suite needs is missing. */
export function requireBuilt() {
  const missing = [
    [BACKEND_BIN, 'cargo build -p token-backend'],
    [PACKAGE_ENTRY, 'npm run build'],
    [THREE_ENTRY, 'npm run build'],
  ].filter(([path]) => !existsSync(path));
  if (missing.length) {
    throw new Error(`the end-to-end suite needs build outputs that are missing:\n${
      missing.map(([path, cmd]) => `  ${path}  (run \`${cmd}\`)`).join('\n')}`);
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * Starts `token-backend --dev`. `env` adds variables (e.g. `DEV_TOKEN_TTL_SECS`);
 * `publicDir` is served at `/` (default `www/`); `logLimit` is how many
 * characters of output `log()` keeps (`Infinity` for tests that search the
 * whole log).
 */
export async function startBackend({ env = {}, publicDir = WWW_DIR, port, logLimit = MAX_LOG_CHARS } = {}) {
  requireBuilt();
  const backend = new Backend({ env, publicDir, port: port ?? (await freePort()), logLimit });
  await backend.start();
  return backend;
}

/**
 * Waits until a broker started with `startProcess` (not `--dev`: its own
 * settings) answers `/healthz`; one that exits first fails with its log.
 */
export function untilHealthy(broker, url) {
  return until('the broker to answer /healthz', async () => {
    if (broker.child.exitCode !== null) throw new Error(`token-backend exited:\n${broker.log}`);
    // Not listening yet is "not up", not a failure.
    return fetch(`${url}/healthz`).then((r) => r.ok, () => false);
  }, { intervalMs: 50 });
}

export class Backend {
  #child = null;
  #exited = null;
  #log = '';

  constructor({ env, publicDir, port, logLimit = MAX_LOG_CHARS }) {
    this.env = env;
    this.logLimit = logLimit;
    this.publicDir = publicDir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
  }

  get isRunning() {
    return this.#child !== null;
  }

  /** Spawns the process and resolves once `/healthz` answers 200. */
  async start() {
    if (this.#child) throw new Error('token-backend is already running');
    const child = spawn(BACKEND_BIN, ['--dev'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NO_COLOR: '1',
        RUST_LOG: process.env.RUST_LOG ?? 'info',
        ...this.env,
        BIND_ADDR: `127.0.0.1:${this.port}`,
        PUBLIC_DIR: this.publicDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#log += `\n$ token-backend --dev  (port ${this.port}, pid ${child.pid})\n`;
    const keep = (chunk) => { this.#log = (this.#log + chunk).slice(-this.logLimit); };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    this.#exited = new Promise((ok) => child.once('exit', (code, signal) => {
      keep(`[token-backend exited: ${signal ?? `code ${code}`}]\n`);
      if (this.#child === child) this.#child = null;
      ok();
    }));

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.#child) throw this.explain(new Error('token-backend exited during start-up'));
      try {
        const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((ok) => setTimeout(ok, 50));
    }
    await this.stop();
    throw this.explain(new Error(`token-backend did not answer /healthz within ${START_TIMEOUT_MS} ms`));
  }

  /** SIGTERM, then SIGKILL if it has not exited in time. Safe to call twice. */
  async stop() {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  /** The captured stdout and stderr (last part). */
  log() {
    return this.#log;
  }

  /** `error` with the backend log appended to its message. */
  explain(error) {
    if (error instanceof Error && !error.message.includes('--- token-backend log ---')) {
      error.message += `\n--- token-backend log ---${this.#log.slice(-MAX_LOG_CHARS)}`;
    }
    return error;
  }

  /** Runs `body`; a failure carries the backend log. */
  async check(body) {
    try {
      return await body();
    } catch (error) {
      throw this.explain(error);
    }
  }
}
