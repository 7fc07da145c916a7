//! A helper process for an end-to-end test (redis-server, oidc-provider, a
//! token-backend with its own configuration): spawned from the repository root
//! with exactly `env` plus `PATH`, stderr kept for failure messages.
import { spawn } from 'node:child_process';
import { ROOT } from './backend.mjs';

/**
 * Spawns `command`; `log` holds its stderr (the last `logLimit` characters;
 * `Infinity` for tests that search the whole log), `stop()` sends SIGTERM,
 * then SIGKILL after 5 s, and waits for the exit.
 */
export function startProcess(command, args, env, { logLimit = Infinity } = {}) {
  const child = spawn(command, args, { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const proc = { child, log: '', exited: new Promise((ok) => child.once('exit', ok)) };
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    proc.log += chunk;
    if (proc.log.length > logLimit) proc.log = proc.log.slice(-logLimit);
  });
  proc.stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await proc.exited;
    clearTimeout(timer);
  };
  return proc;
}
