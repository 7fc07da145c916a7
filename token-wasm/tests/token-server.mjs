// A scriptable token endpoint for the browser tests: real HTTP on 127.0.0.1,
// CORS for the test runner's origin, behaviour chosen by path and query, and
// per-key request counters the tests read back through /count.
//
//   /token?ttl=S            200 {access_token, token_type, expires_in: S}
//   /fail/STATUS            STATUS {error, error_description} (+ Retry-After with ?retry_after=S)
//   /flaky?fails=N&status=S fails N times with S (and ?retry_after), then like /token
//   /slow?ms=M              waits M ms, then like /token
//   /bad-json /missing-token /bad-expiry?value=V /empty-token
//   /401                    401 {"error":"invalid_token"}
//   /login-required         401 {"error":"login_required"}
//   /protected              an API: 401 for the first bearer token it sees per key, then 200 echoing it
//   /count?key=K            {"count": requests K received}; /headers?key=K  last request headers of K
//   /reset                  forget all counters
// Every request except /count, /headers, /reset and CORS preflights counts
// under its `key` query parameter (default: the path).
import { createServer } from 'node:http';

export function startServer({ port = 0 } = {}) {
  const counts = new Map();
  const lastHeaders = new Map();
  const seenTokens = new Map();
  let serial = 0;

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const q = url.searchParams;
    const origin = req.headers.origin;
    const cors = {
      'Access-Control-Allow-Origin': origin ?? '*',
      'Access-Control-Allow-Credentials': 'true',
      'Access-Control-Allow-Headers': 'Authorization, X-Requested-With, Accept, X-Custom',
      'Access-Control-Expose-Headers': 'Retry-After',
      'Access-Control-Max-Age': '600',
      Vary: 'Origin',
      'Cache-Control': 'no-store',
    };
    const send = (status, body, extra = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...cors, ...extra });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') return send(204, '');

    const path = url.pathname;
    if (path === '/count') return send(200, { count: counts.get(q.get('key')) ?? 0 });
    if (path === '/headers') return send(200, lastHeaders.get(q.get('key')) ?? null);
    if (path === '/reset') {
      counts.clear(); lastHeaders.clear(); seenTokens.clear();
      return send(200, { ok: true });
    }

    const key = q.get('key') ?? path;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    lastHeaders.set(key, req.headers);
    const token = () => send(200, {
      access_token: `tok-${key}-${n}-${++serial}`,
      token_type: 'Bearer',
      expires_in: Number(q.get('ttl') ?? 3600),
    });
    const fail = (status) => send(
      status,
      { error: status === 502 ? 'upstream_rejected' : `status_${status}`, error_description: `scripted ${status}` },
      q.has('retry_after') ? { 'Retry-After': q.get('retry_after') } : {},
    );

    switch (path) {
      case '/token': return token();
      case '/flaky': return n <= Number(q.get('fails') ?? 1) ? fail(Number(q.get('status') ?? 503)) : token();
      case '/slow':
        await new Promise((r) => setTimeout(r, Number(q.get('ms') ?? 1000)));
        return res.destroyed ? undefined : token();
      case '/bad-json': return send(200, 'this is not json');
      case '/missing-token': return send(200, { token_type: 'Bearer', expires_in: 3600 });
      case '/empty-token': return send(200, { access_token: '', expires_in: 3600 });
      case '/bad-expiry': return send(200, `{"access_token":"x","expires_in":${q.get('value') ?? '-5'}}`);
      case '/401': return send(401, { error: 'invalid_token' });
      case '/login-required': return send(401, { error: 'login_required', error_description: 'Sign in first' });
      case '/protected': {
        const auth = req.headers.authorization ?? '';
        if (!auth.startsWith('Bearer ')) return send(401, { error: 'no_token' });
        if (!seenTokens.has(key)) { seenTokens.set(key, auth); return send(401, { error: 'invalid_token' }); }
        return send(200, { authorization: auth });
      }
      default:
        if (path.startsWith('/fail/')) return fail(Number(path.slice(6)) || 500);
        return send(404, { error: 'not_found' });
    }
  });

  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolvePromise({
        url: `http://127.0.0.1:${actual}`,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

// `node token-server.mjs` runs it standalone and prints its URL.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await startServer({ port: Number(process.env.PORT ?? 0) });
  console.log(url);
}
