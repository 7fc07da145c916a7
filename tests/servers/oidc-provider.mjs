//! A real third-party authorization server (panva's `oidc-provider`) for tests:
//! listens on a free loopback port and prints one JSON line describing itself.
//
// Usage: node tests/servers/oidc-provider.mjs
//
// Environment (all optional):
//   ACCESS_TOKEN_TTL  lifetime in seconds of client-credentials and access tokens (default 60)
//   EXTRA_CLIENTS     JSON array of extra client metadata (e.g. authorization_code
//                     clients for browser sign-in tests), added to the built-in ones.
//                     A client's `jwks_pem: [{"kid": …, "file": "public.pem"}]` becomes
//                     its `jwks` (for `private_key_jwt`), read from the PEM public keys.
//   SIGN_IN=1         also serve the authorization code flow for those clients:
//                     oidc-provider's own login and consent pages (devInteractions),
//                     PKCE (S256) required, refresh tokens always issued and rotated,
//                     revocation and introspection endpoints; REFRESH_TOKEN_TTL
//                     (default 3600) bounds refresh tokens
//   RESOURCE_SERVER   an API's resource indicator (an absolute URI): turns on
//                     resource indicators (RFC 8707), so a token requested with
//                     `resource` set to it is a JWT for that audience carrying only
//                     its scopes (data:read viewables:read), which userinfo refuses.
//                     Requests without `resource` get the same tokens as without it.
//   BACKCHANNEL_LOGOUT=1  (with SIGN_IN=1) turns on OpenID Connect Back-Channel Logout 1.0:
//                     a client's `backchannel_logout_uri` (http on loopback is fine; oidc-provider 8
//                     posts with node's own agent, which allows loopback) gets a logout token
//                     when its user's session ends at the end-session endpoint
//   SIGNING_KEY_FILE  a PEM RSA private key to sign ID and logout tokens with, under
//   SIGNING_KEY_ID    this `kid`, instead of oidc-provider's development keys, so tests
//                     can sign logout tokens of their own with the provider's key
//
// Stdout gets exactly one line once listening:
//   {"issuer":"http://127.0.0.1:PORT","token_endpoint":"…","clients":{"basic":{…},"post":{…},"special":{…}}}
// The process exits on SIGTERM, SIGINT, or when its stdin closes, so a test
// runner that dies cannot leave it behind.
//
// Test-only routes (not part of oidc-provider):
//   GET  /test/token-requests        {"count": N}: requests that reached the token endpoint
//   POST /test/token-requests/reset  sets that count to 0
//   GET  /test/events                (SIGN_IN=1) {"counts":{event:N},"refresh_tokens":[{jti,account,saved,consumed,destroyed}],
//                                    "grant_errors":[{grant_type,error,description}]}: what happened to refresh tokens

import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

const ttl = Number.parseInt(process.env.ACCESS_TOKEN_TTL ?? '60', 10);
if (!Number.isInteger(ttl) || ttl < 1) {
  console.error(`ACCESS_TOKEN_TTL must be a positive whole number of seconds, got ${process.env.ACCESS_TOKEN_TTL}`);
  process.exit(2);
}
const extraClients = JSON.parse(process.env.EXTRA_CLIENTS ?? '[]').map(withJwks);

/** `jwks_pem` (see the header) → `jwks`: the registered public keys as JWKs. */
function withJwks({ jwks_pem: keys, ...client }) {
  if (!keys) return client;
  const jwk = ({ kid, file }) => ({ ...createPublicKey(readFileSync(file)).export({ format: 'jwk' }), kid, use: 'sig' });
  return { ...client, jwks: { keys: keys.map(jwk) } };
}
const signIn = process.env.SIGN_IN === '1';
const refreshTtl = Number.parseInt(process.env.REFRESH_TOKEN_TTL ?? '3600', 10);
const resourceServer = process.env.RESOURCE_SERVER;
const backchannelLogout = process.env.BACKCHANNEL_LOGOUT === '1';

/** SIGNING_KEY_FILE and SIGNING_KEY_ID (see the header): the provider's own signing key. */
function signingKeys() {
  const file = process.env.SIGNING_KEY_FILE;
  if (!file) return {};
  const jwk = { ...createPrivateKey(readFileSync(file)).export({ format: 'jwk' }), kid: process.env.SIGNING_KEY_ID ?? 'test-key', use: 'sig', alg: 'RS256' };
  return { jwks: { keys: [jwk] } };
}

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

/** SIGN_IN=1: event counts and each refresh token's fate, for /test/events. */
const events = { counts: {}, refreshTokens: new Map(), grantErrors: [] };
function countEvent(name) {
  events.counts[name] = (events.counts[name] ?? 0) + 1;
}
function refreshTokenEntry(token) {
  if (!events.refreshTokens.has(token.jti)) {
    events.refreshTokens.set(token.jti, { jti: token.jti, account: token.accountId ?? null, saved: false, consumed: false, destroyed: false });
  }
  return events.refreshTokens.get(token.jti);
}

/** The code-flow configuration added by SIGN_IN=1 (see the header). */
function signInConfiguration() {
  return {
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      backchannelLogout: { enabled: backchannelLogout },
    },
    pkce: { required: () => true },
    // `profile` (added to the scopes) releases a name at userinfo.
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
    findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, name: sub, preferred_username: sub }) }),
    // Without this, oidc-provider issues a refresh token only when offline_access
    // was consented with prompt=consent; the broker relies on one.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
  };
}

/** RESOURCE_SERVER: the one API whose tokens are audience-restricted JWTs. */
function resourceIndicatorsConfiguration() {
  return {
    enabled: true,
    // No `resource`: no audience, the token (and userinfo) behave as without the feature.
    defaultResource: () => undefined,
    useGrantedResource: () => false,
    getResourceServerInfo: (ctx, indicator) => {
      if (indicator !== resourceServer) throw new errors.InvalidTarget();
      return { scope: 'data:read viewables:read', audience: resourceServer, accessTokenTTL: ttl, accessTokenFormat: 'jwt' };
    },
  };
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const extra = signIn ? signInConfiguration() : { features: {} };
  const provider = new Provider(issuer, {
    ...extra,
    ...signingKeys(),
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
    scopes: signIn ? [...scopes, 'profile'] : scopes,
    features: {
      clientCredentials: { enabled: true },
      // Login and consent pages meant for trying the library by hand; tests that need
      // a browser sign-in provide their own interactions.
      devInteractions: { enabled: false },
      ...extra.features,
      // Without a `resource` parameter the token is an opaque client-credentials
      // token whose scope is the requested one, which is what the broker asks for.
      // RESOURCE_SERVER turns them on for that one API (see the header).
      resourceIndicators: resourceServer ? resourceIndicatorsConfiguration() : { enabled: false },
    },
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
      ...(signIn ? { RefreshToken: refreshTtl, IdToken: ttl, Grant: refreshTtl, Session: refreshTtl, Interaction: 600, AuthorizationCode: 60 } : {}),
    },
  });
  // Loopback http issuer: nothing to proxy, keep Koa's defaults.
  provider.proxy = false;

  // Count and expose token-endpoint traffic so tests can prove single-flight
  // against a server we did not write.
  if (signIn) {
    for (const name of ['grant.success', 'revocation.success', 'introspection.success', 'authorization.success', 'backchannel.success', 'backchannel.error']) {
      provider.on(name, () => countEvent(name));
    }
    provider.on('grant.error', (ctx, error) => {
      countEvent('grant.error');
      events.grantErrors.push({
        grant_type: ctx.oidc?.params?.grant_type ?? null,
        error: error.error ?? error.name,
        description: error.error_description ?? error.message,
      });
    });
    for (const fate of ['saved', 'consumed', 'destroyed']) {
      provider.on(`refresh_token.${fate}`, (token) => {
        countEvent(`refresh_token.${fate}`);
        refreshTokenEntry(token)[fate] = true;
      });
    }
  }

  provider.use(async (ctx, next) => {
    if (signIn && ctx.path === '/test/events' && ctx.method === 'GET') {
      ctx.body = { counts: events.counts, refresh_tokens: [...events.refreshTokens.values()], grant_errors: events.grantErrors };
      return;
    }
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
