// Type-checks the shipped `token-wasm/pkg/index.d.ts` by compiling
// `types.test-d.ts` (API usage, plus `@ts-expect-error` lines that must fail)
// with `tsc --noEmit --strict`. Run `npm run build` first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const usage = join(here, 'types.test-d.ts');
const flags = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler',
  '--lib', 'es2022,dom', '--pretty', 'false'];

const check = (file, extra = []) => spawnSync(process.execPath, [tsc, ...flags, ...extra, file], { cwd: root, encoding: 'utf8' });

test('the shipped index.d.ts accepts the documented usage and rejects misuse', () => {
  assert.ok(existsSync(join(root, 'token-wasm', 'pkg', 'index.d.ts')), 'run `npm run build` first');
  const r = check(usage);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

/** A Node-only project (no DOM lib, fetch types from @types/node) compiles against the declarations. */
test('the shipped index.d.ts needs no DOM lib', () => {
  const nodeOnly = ['--lib', 'es2022', '--types', 'node'];
  const r = check(join(here, 'types-node.test-d.ts'), nodeOnly);
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('the type check can fail (a misuse without @ts-expect-error is reported)', () => {
  const dir = mkdtempSync(join(here, '.types-'));
  try {
    const file = join(dir, 'bad.ts');
    writeFileSync(file, "import { getAccessToken } from '../../pkg/index.js';\nconst n: Promise<number> = getAccessToken();\nvoid n;\n");
    const r = check(file);
    assert.notEqual(r.status, 0, 'tsc accepted a Promise<string> as Promise<number>');
    assert.match(r.stdout, /TS2322/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
