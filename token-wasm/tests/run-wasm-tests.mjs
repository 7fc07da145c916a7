#!/usr/bin/env node
// Runs the wasm-bindgen browser tests (tests/web.rs) in headless Chromium
// against a real token server: starts tests/token-server.mjs on a free
// 127.0.0.1 port, bakes its URL into the tests (TOKEN_TEST_SERVER, read with
// option_env!), runs `cargo test -p token-wasm --target wasm32-unknown-unknown`
// with wasm-bindgen-test-runner + chromedriver, then stops the server.
// Extra arguments go to cargo test (e.g. a test name filter after `--`).
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './token-server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const server = await startServer();
const env = {
  ...process.env,
  PATH: [join(homedir(), '.cargo', 'bin'), process.env.PATH].join(delimiter),
  TOKEN_TEST_SERVER: server.url,
  CHROMEDRIVER: process.env.CHROMEDRIVER ?? '/usr/bin/chromedriver',
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: 'wasm-bindgen-test-runner',
  WASM_BINDGEN_TEST_TIMEOUT: process.env.WASM_BINDGEN_TEST_TIMEOUT ?? '120',
};
console.error(`token test server on ${server.url}`);
const child = spawn('cargo', ['test', '-p', 'token-wasm', '--target', 'wasm32-unknown-unknown', ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
const code = await new Promise((r) => child.on('exit', (c, signal) => r(c ?? (signal ? 1 : 0))));
await server.close();
process.exit(code);
