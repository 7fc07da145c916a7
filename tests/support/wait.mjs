//! Waiting on a condition, never on a fixed sleep: poll until it holds, fail
//! with what was awaited after a bound.

/** The bound on a wait for anything that should happen "soon" on a loaded 2-core machine. */
export const DEADLINE_MS = 20_000;

/**
 * Calls `check` every `intervalMs` until it returns (or resolves to) a truthy
 * value, and returns that value. After `timeoutMs` it throws
 * `timed out waiting for ${what}`.
 *
 * An error thrown by `check` is not swallowed: it ends the wait and fails the
 * caller, so an assertion inside `check` fails at once with its own message.
 * Where a failure is expected while waiting (a server not listening yet), say
 * so in `check`, e.g. `fetch(url).then((r) => r.ok, () => false)`.
 *
 * @template T
 * @param {string} what the awaited condition, for the timeout message
 * @param {() => T | Promise<T>} check
 * @param {{ intervalMs?: number, timeoutMs?: number }} [options]
 * @returns {Promise<T>}
 */
export async function until(what, check, { intervalMs = 100, timeoutMs = DEADLINE_MS } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, intervalMs));
  }
}
