//! The static binary as a user downloads it: no dynamic loader, and `--dev` run
//! from an empty directory serves the embedded demo site and the token-wasm
//! package, with tokens from the embedded authorization server.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { freePort } from '../support/backend.mjs';
import { STATIC_BIN, requireStaticBinary, waitForOk } from './process.mjs';

let child, base, log = '', emptyDir;

before(async () => {
  requireStaticBinary();
  emptyDir = mkdtempSync(join(tmpdir(), 'token-backend-empty-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // Only what a user would set: no PUBLIC_DIR, no repository around it.
  child = spawn(STATIC_BIN, ['--dev'], {
    cwd: emptyDir,
    env: { PATH: '/usr/bin:/bin', NO_COLOR: '1', BIND_ADDR: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.setEncoding('utf8').on('data', (chunk) => { log += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk) => { log += chunk; });
  await waitForOk(`${base}/healthz`, { describe: () => log });
});

after(() => {
  child?.kill('SIGKILL');
  if (emptyDir) rmSync(emptyDir, { recursive: true, force: true });
});

/** The ELF program headers of `path` include no PT_INTERP: nothing to load at run time. */
function hasInterpreter(path) {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(64);
    readSync(fd, header, 0, 64, 0);
    assert.equal(header.toString('latin1', 1, 4), 'ELF');
    assert.equal(header[4], 2, 'a 64-bit ELF file');
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    const PT_INTERP = 3;
    return Array.from({ length: phnum }, (_, i) => table.readUInt32LE(i * phentsize)).includes(PT_INTERP);
  } finally {
    closeSync(fd);
  }
}

/** A static binary runs on any Linux, in a `FROM scratch` image too. */
test('static_binary_needs_no_dynamic_loader', () => {
  assert.equal(hasInterpreter(STATIC_BIN), false);
  assert.equal(hasInterpreter(process.execPath), true, 'the check sees a dynamic executable as one');
});

/** The demo page, its scripts (app.js and the modules it imports), the token-wasm package and three.js come from inside the binary. */
test('dev_mode_serves_the_embedded_demo_from_an_empty_directory', async () => {
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200, log);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(await page.text(), /<title>Token broker/);
  for (const [path, type] of [
    ['/app.js', /javascript/],
    ['/viewer.js', /javascript/],
    ['/model.js', /javascript/],
    ['/scene.js', /javascript/],
    ['/user.js', /javascript/],
    ['/view.js', /javascript/],
    ['/vendor/token-wasm/index.js', /javascript/],
    ['/vendor/three/three.module.js', /javascript/],
    ['/vendor/three/three.core.js', /javascript/],
    ['/vendor/three/addons/loaders/GLTFLoader.js', /javascript/],
    ['/vendor/three/addons/controls/OrbitControls.js', /javascript/],
    ['/vendor/token-wasm/token_wasm_bg.wasm', /^application\/wasm$/],
  ]) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type'), type, path);
    const again = await fetch(`${base}${path}`, { headers: { 'if-none-match': res.headers.get('etag') } });
    assert.equal(again.status, 304, `${path} revalidates by ETag`);
  }
  const token = await fetch(`${base}/api/token`);
  assert.equal(token.status, 200);
  assert.equal((await token.json()).token_type, 'Bearer');
});

/** Dotfiles and unknown paths are 404s, overlong names too (never a 500). */
test('hidden_unknown_and_overlong_paths_are_not_found', async () => {
  for (const path of ['/.env', '/%2Egit/config', '/missing.html', `/${'a'.repeat(300)}`]) {
    assert.equal((await fetch(`${base}${path}`)).status, 404, path);
  }
});
