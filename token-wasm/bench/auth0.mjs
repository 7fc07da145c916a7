// Locates (installing on first use, outside the repository) the
// @auth0/auth0-spa-js@2.1.3 build the benchmarks compare against.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export const AUTH0_VERSION = '2.1.3';

export function auth0Esm() {
  const prefix = process.env.AUTH0_PREFIX ?? join(tmpdir(), 'token-wasm-bench', 'auth0');
  const file = join(prefix, 'node_modules', '@auth0', 'auth0-spa-js', 'dist', 'auth0-spa-js.production.esm.js');
  if (!existsSync(file)) {
    execFileSync('npm', ['install', '--no-save', '--prefix', prefix, `@auth0/auth0-spa-js@${AUTH0_VERSION}`], { stdio: 'inherit' });
  }
  return file;
}
