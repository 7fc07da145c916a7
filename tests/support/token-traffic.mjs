//! What the browser exchanged with the token route, seen from Playwright: every
//! request, and for each served token a lower bound of its expiry. Plus the
//! check that a page never held a token past that expiry.
import assert from 'node:assert/strict';

/** Characters of the token the demo page shows (its `PREFIX_LENGTH`). */
export const PREFIX_LENGTH = 8;
export const maskToken = (token) => `${token.slice(0, PREFIX_LENGTH)}•••`;

/**
 * Watches `page` for requests to `path`. `requests` counts them as they are
 * sent; `served` lists each 200 answer as `{ token, prefix, expiresIn,
 * expiresAt }`, where `expiresAt` = request start + `expires_in` ≤ the real
 * expiry (the backend floors `expires_in` when it answers, after the start).
 * `failures` lists non-200 answers and failed requests; `unreadBodies` counts
 * 200 answers whose body Playwright could not read (so `served` is complete
 * only while it is 0).
 */
export function recordTokenTraffic(page, path = '/api/token') {
  const traffic = { requests: [], served: [], failures: [], unreadBodies: 0, pending: new Set() };
  const isTokenRoute = (url) => new URL(url).pathname === path;

  page.on('request', (request) => {
    if (isTokenRoute(request.url())) traffic.requests.push({ at: Date.now(), url: request.url() });
  });
  page.on('requestfailed', (request) => {
    if (isTokenRoute(request.url())) traffic.failures.push({ at: Date.now(), error: request.failure()?.errorText });
  });
  page.on('response', (response) => {
    if (!isTokenRoute(response.url())) return;
    if (response.status() !== 200) {
      traffic.failures.push({ at: Date.now(), status: response.status() });
      return;
    }
    const startTime = response.request().timing().startTime;
    const read = response.json().then((body) => {
      const startedAt = startTime > 0 ? startTime : Date.now();
      traffic.served.push({
        token: body.access_token,
        prefix: maskToken(body.access_token),
        expiresIn: body.expires_in,
        expiresAt: startedAt + body.expires_in * 1000,
      });
    }, () => { traffic.unreadBodies += 1; });
    traffic.pending.add(read);
    read.finally(() => traffic.pending.delete(read));
  });

  /** Waits (≤ `timeoutMs`) until every request sent so far was answered or failed, and its body read. */
  traffic.settle = async (timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    const answered = () => traffic.served.length + traffic.failures.length + traffic.unreadBodies;
    while (answered() < traffic.requests.length || traffic.pending.size > 0) {
      if (Date.now() > deadline) {
        throw new Error(`token route: ${traffic.requests.length} requests, only ${answered()} answered after ${timeoutMs} ms`);
      }
      await Promise.race([Promise.all([...traffic.pending]), new Promise((ok) => setTimeout(ok, 20))]);
    }
  };
  /** The latest known expiry of a served token with this masked prefix. */
  traffic.expiryOf = (prefix) => {
    const matches = traffic.served.filter((s) => s.prefix === prefix);
    return matches.length ? Math.max(...matches.map((s) => s.expiresAt)) : undefined;
  };
  return traffic;
}

/**
 * `log` is a page's record of what it held: `[{ prefix, at }]` in time order,
 * each entry replacing the previous one (`prefix: null` = nothing held).
 * Asserts every held token was served and was dropped or replaced before
 * `expiresAt`; the last one must still be valid at `until`.
 */
export function assertNeverHeldExpired(log, traffic, until, who) {
  assert.ok(log.length > 0, `${who}: the page logged no tokens`);
  log.forEach((entry, i) => {
    if (entry.prefix === null) return;
    const heldUntil = i + 1 < log.length ? log[i + 1].at : until;
    const expiresAt = traffic.expiryOf(entry.prefix);
    assert.ok(expiresAt !== undefined, `${who}: held ${entry.prefix}, which the token route never served`);
    assert.ok(
      heldUntil <= expiresAt,
      `${who}: held ${entry.prefix} until ${new Date(heldUntil).toISOString()}, `
        + `${heldUntil - expiresAt} ms after it expired (${new Date(expiresAt).toISOString()})`,
    );
  });
}
