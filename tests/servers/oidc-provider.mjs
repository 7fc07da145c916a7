//! A real third-party authorization server (panva's `oidc-provider`) for tests:
//! listens on a free loopback port and prints one JSON line describing itself.
//
// Usage: node tests/servers/oidc-provider.mjs
//
// Environment (all optional):
//   ACCESS_TOKEN_TTL  lifetime in seconds of client-credentials and access tokens (default 60)
//   EXTRA_CLIENTS     JSON array of extra client metadata (e.g. authorization_code
//                     clients for browser sign-in tests), added to the built-in ones
//
// Stdout gets exactly one line once listening:
//   {"issuer":"http://127.0.0.1:PORT","token_endpoint":"…","clients":{"basic":{…},"post":{…},"special":{…}}}
// The process exits on SIGTERM, SIGINT, or when its stdin closes, so a test
// runner that dies cannot leave it behind.
//
// Test-only routes (not part of oidc-provider):
//   GET  /test/token-requests        {"count": N}: requests that reached the token endpoint
//   POST /test/token-requests/reset  sets that count to 0

import http from 'node:http';
import Provider from 'oidc-provider';

const ttl = Number.parseInt(process.env.ACCESS_TOKEN_TTL ?? '60', 10);
if (!Number.isInteger(ttl) || ttl < 1) {
  console.error(`ACCESS_TOKEN_TTL must be a positive whole number of seconds, got ${process.env.ACCESS_TOKEN_TTL}`);
  process.exit(2);
}
const extraClients = JSON.parse(process.env.EXTRA_CLIENTS ?? '[]');

// The two client-authentication methods the broker supports (RFC 6749 §2.3.1).
// Secrets are fixed test values; tests read them from the JSON line, never hard-code them.
const clients = {
  basic: {
    client_id: 'broker-basic',
    client_secret: 'basic-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_basic',
  },
  post: {
    client_id: 'broker-post',
    client_secret: 'post-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_post',
  },
  // RFC 6749 §2.3.1 form-encodes id and secret inside HTTP Basic; a secret with
  // reserved characters shows whether a client does.
  special: {
    client_id: 'broker:special',
    client_secret: 'secret:with+reserved/chars%&=',
    token_endpoint_auth_method: 'client_secret_basic',
  },
};

const scopes = ['openid', 'offline_access', 'viewables:read', 'data:read', 'data:write'];

let tokenRequests = 0;

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      ...Object.values(clients).map((c) => ({
        ...c,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        // The scopes a client-credentials token may carry (checked by oidc-provider
        // against the requested `scope`).
        scope: 'viewables:read data:read',
      })),
      ...extraClients,
    ],
    scopes,
    features: {
      clientCredentials: { enabled: true },
      // Login and consent pages meant for trying the library by hand; tests that need
      // a browser sign-in provide their own interactions.
      devInteractions: { enabled: false },
      // Without a `resource` parameter the token is an opaque client-credentials
      // token whose scope is the requested one, which is what the broker asks for.
      resourceIndicators: { enabled: false },
    },
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
    },
  });
  // Loopback http issuer: nothing to proxy, keep Koa's defaults.
  provider.proxy = false;

  // Count and expose token-endpoint traffic so tests can prove single-flight
  // against a server we did not write.
  provider.use(async (ctx, next) => {
    if (ctx.path === '/test/token-requests' && ctx.method === 'GET') {
      ctx.body = { count: tokenRequests };
      return;
    }
    if (ctx.path === '/test/token-requests/reset' && ctx.method === 'POST') {
      tokenRequests = 0;
      ctx.body = { count: tokenRequests };
      return;
    }
    if (ctx.path === '/token' && ctx.method === 'POST') {
      tokenRequests += 1;
    }
    await next();
  });

  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, token_endpoint: `${issuer}/token`, clients })}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
