//! The container image as the README's "Deploy" section builds and runs it:
//! `scripts/build-image`, then `podman run … --dev`, fetched from the host and
//! stopped. The image must hold only the binary and CA roots, and run as non-root.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ROOT, freePort } from '../support/backend.mjs';
import { requireStaticBinary, run, waitForOk } from './process.mjs';

/** An image with more than the binary and a CA bundle in it would be well past this. */
const MAX_IMAGE_BYTES = 30 * 1024 * 1024;

let image, confDir, env, container, base;

before(async () => {
  requireStaticBinary();
  // On these machines `podman run` needs runc, host networking, and this file
  // (the default crun fails on cgroups); the README says the same.
  confDir = mkdtempSync(join(tmpdir(), 'token-backend-podman-'));
  const conf = join(confDir, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = "cgroupfs"\n');
  env = { ...process.env, CONTAINERS_CONF: conf };
  const built = await run(join(ROOT, 'scripts', 'build-image'), [], { cwd: ROOT, env });
  assert.equal(built.code, 0, built.stderr);
  image = built.stdout.trim();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const started = await run('podman', [
    'run', '--detach', '--rm', '--runtime', 'runc', '--network', 'host',
    '--env', `BIND_ADDR=127.0.0.1:${port}`, image, '--dev',
  ], { env });
  assert.equal(started.code, 0, started.stderr);
  container = started.stdout.trim();
  await waitForOk(`${base}/healthz`, {
    describe: async () => (await run('podman', ['logs', container], { env })).stderr,
  });
});

after(async () => {
  if (container) await run('podman', ['rm', '--force', '--time', '2', container], { env });
  if (confDir) rmSync(confDir, { recursive: true, force: true });
});

/** The running container answers the probes and hands out a token. */
test('container_serves_tokens_and_health_to_the_host', async () => {
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  const token = await fetch(`${base}/api/token`);
  assert.equal(token.status, 200);
  const body = await token.json();
  assert.equal(body.token_type, 'Bearer');
  assert.ok(body.access_token.length > 10 && body.expires_in > 0, JSON.stringify(body));
  assert.match(await (await fetch(`${base}/`)).text(), /<title>Token broker/);
});

/** Non-root, no shell or libraries: just the binary and the CA bundle, and small. */
test('image_is_minimal_and_runs_as_non_root', async () => {
  const inspected = await run('podman', ['image', 'inspect', image], { env });
  assert.equal(inspected.code, 0, inspected.stderr);
  const [info] = JSON.parse(inspected.stdout);
  assert.equal(info.Config.User, '65532:65532');
  assert.deepEqual(info.Config.Entrypoint, ['/token-backend']);
  assert.equal(info.Config.Healthcheck, undefined, 'probes come from the orchestrator');
  assert.ok(info.Size < MAX_IMAGE_BYTES, `image is ${info.Size} bytes`);
  const checked = await run('podman', ['exec', container, '/token-backend', 'check-config', '--dev'], { env });
  assert.equal(checked.code, 0, checked.stderr);
  const shell = await run('podman', ['exec', container, '/bin/sh', '-c', 'true'], { env });
  assert.notEqual(shell.code, 0, 'the image has no shell');
  console.log(`image ${image}: ${(info.Size / 1024 / 1024).toFixed(1)} MiB`);
});
