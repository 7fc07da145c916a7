//! The demo page's view model (www/page-view.js), without a browser: what the
//! token panel, the alert, the connection pill and the viewer show for a state.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { pageView } from '../../www/page-view.js';

const NOW = 1_800_000_000_000;
const TOKEN = 'dev_abcdefghijklmnopqrstuvwx';

/** A client state as `getState()` gives it, holding a fresh token for 60 s. */
const fresh = (overrides = {}) => ({ status: 'fresh', expiresAt: NOW + 60_000, cacheHits: 3, fetches: 1, lastError: null, ...overrides });
const model = (overrides = {}) => ({ state: 'locating', located: null, summary: '', message: '', ...overrides });
/** A viewer (viewer.js) holding `token` until `until`, or none. */
function viewer({ token = null, until = 0, isRenewing = false } = {}) {
  return { token, authorizedUntil: until, renewAt: until, received: token ? 1 : 0, isRenewing, isAuthorized: (now) => token !== null && now < until + 1000 };
}
const view = (input) => pageView({ now: NOW, mode: 'token', state: fresh(), latestError: null, cachedToken: TOKEN, model: model(), viewer: viewer(), ...input });

/** A fresh token shows masked, with its badge, and nothing is wrong. */
test('fresh_token_is_shown_masked_and_nothing_alerts', () => {
  const shown = view({ viewer: viewer({ token: TOKEN, until: NOW + 60_000 }) });
  assert.equal(shown.token.prefix, 'dev_abcd•••');
  assert.deepEqual(shown.token.badge, { state: 'fresh', text: 'Fresh' });
  assert.equal(shown.alert, null);
  assert.deepEqual(shown.connection, { state: 'ok', text: 'Connected' });
  assert.deepEqual(shown.viewer.badge, { state: 'fresh', text: 'Authorized' });
  assert.equal(shown.viewer.overlay, 'Finding the model…');
});

/** An expired token is never shown, even while the client still holds it. */
test('expired_token_is_never_shown', () => {
  assert.equal(view({ state: fresh({ expiresAt: NOW }) }).token.prefix, null);
  assert.equal(view({ state: fresh({ expiresAt: null }) }).token.prefix, null);
});

/** Past its leeway (the client no longer hands it out) but unexpired: stale. */
test('unexpired_token_past_its_leeway_is_stale', () => {
  assert.deepEqual(view({ state: fresh({ status: 'empty' }) }).token.badge, { state: 'stale', text: 'Stale' });
});

/** The backend away: the alert says so, the pill reconnects, the viewer waits. */
test('network_failure_alerts_and_the_viewer_waits', () => {
  const error = { code: 'network', message: 'unreachable' };
  const shown = view({ state: fresh({ status: 'error', lastError: error }), latestError: error, cachedToken: null });
  assert.equal(shown.alert.title, 'Can’t reach the token service');
  assert.deepEqual(shown.token.badge, { state: 'error', text: 'Error' });
  assert.deepEqual(shown.connection, { state: 'error', text: 'Reconnecting…' });
  assert.equal(shown.viewer.overlay, 'Waiting for the token service…');
  assert.deepEqual(shown.viewer.badge, { state: 'error', text: 'Offline' });
});

/** An error is shown from the first failure until a token arrives, not after. */
test('a_fresh_token_ends_the_alert', () => {
  const error = { code: 'timeout', message: 'slow' };
  assert.equal(view({ state: fresh({ status: 'refreshing' }), latestError: error }).alert.title, 'The token service is too slow');
  assert.equal(view({ latestError: error }).alert, null);
});

/** The broker's own codes pick the words: 503 and upstream_rejected. */
test('broker_errors_are_described_by_their_code', () => {
  const failing = (error) => view({ state: fresh({ status: 'error', lastError: error }) }).alert.title;
  assert.equal(failing({ code: 'http', status: 503, error: 'upstream_unavailable' }), 'The authorization server is unavailable');
  assert.equal(failing({ code: 'http', status: 502, error: 'upstream_rejected' }), 'The authorization server refused the broker');
  assert.equal(failing({ code: 'http', status: 500, message: 'boom.' }), 'Couldn’t get a token');
});

/** Proxy mode: the page holds no token, and the viewer follows the model alone. */
test('proxy_mode_holds_no_token', () => {
  const shown = view({ mode: 'proxy', model: model({ state: 'unavailable', message: 'No model outside --dev.' }) });
  assert.deepEqual(shown.token.badge, { state: 'empty', text: 'None held' });
  assert.equal(shown.token.prefixText, 'None in this page');
  assert.equal(shown.viewer.state, 'proxied');
  assert.equal(shown.viewer.tokenPrefix, undefined);
  assert.deepEqual(shown.viewer.badge, { state: 'empty', text: 'No model' });
  assert.equal(shown.viewer.overlay, 'No model outside --dev.');
  assert.equal(shown.details.modelInfo, 'No model outside --dev.');
  assert.deepEqual(shown.connection, { state: 'ok', text: 'Connected' });
});

/** A viewer whose token ran out renews; its badge and overlay say so. */
test('expired_viewer_authorization_renews', () => {
  const shown = view({ viewer: viewer({ token: TOKEN, until: NOW - 5_000, isRenewing: true }) });
  assert.equal(shown.viewer.state, 'waiting');
  assert.equal(shown.viewer.overlay, 'Renewing authorization…');
  assert.deepEqual(shown.viewer.badge, { state: 'refreshing', text: 'Renewing' });
  assert.equal(shown.details.renews, 'now');
});
