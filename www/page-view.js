//! What the demo page shows for the app token, the broker's health and the
//! viewer, decided from the state alone: no DOM, no clock of its own, so each
//! rule reads on its own and can be tested without a browser. `app.js` paints
//! what `pageView` returns.
import { STATUS_TEXT, clock, formatSeconds, mask } from './view.js';

/**
 * The page's view model.
 *
 * @param {object} input
 * @param {number} input.now milliseconds since the epoch
 * @param {'token' | 'proxy'} input.mode the viewer's mode
 * @param {object} input.state the app token client's `getState()`
 * @param {object | null} input.latestError the last `onError` failure, until a token arrives
 * @param {string | null} input.cachedToken the client's token from `onTokenChange`
 * @param {object} input.model the model's state (see `model` in app.js)
 * @param {object} input.viewer the viewer's authorization (viewer.js)
 */
export function pageView({ now, mode, state, latestError, cachedToken, model, viewer }) {
  // Failing from the first error until a token arrives; steady across retries.
  const isFailing = state.status === 'error' || (latestError !== null && state.status !== 'fresh');
  const words = isFailing ? describe(latestError ?? state.lastError) : null;
  return {
    token: tokenView({ now, mode, state, isFailing, cachedToken }),
    alert: words && { title: words[0], body: words[1] },
    connection: connectionState({ mode, model, viewer, hasAlert: words !== null }),
    viewer: mode === 'proxy' ? proxiedViewerView(model) : tokenViewerView({ now, isFailing, model, viewer }),
    details: viewerDetails({ now, model, viewer }),
  };
}

/**
 * The token panel: the masked token while it is unexpired (an expired one is
 * never shown, even while the backend is away), and its badge.
 */
function tokenView({ now, mode, state, isFailing, cachedToken }) {
  const isExpired = state.expiresAt === null || state.expiresAt <= now;
  const prefix = cachedToken && !isExpired ? mask(cachedToken) : null;
  const cacheHits = String(state.cacheHits);
  // Proxy mode: the page holds no token, whatever the client says.
  if (mode === 'proxy') return { prefix, badge: { state: 'empty', text: 'None held' }, prefixText: 'None in this page', cacheHits };
  // Past its leeway but not yet replaced: still valid, no longer handed out.
  const status = isFailing ? 'error' : state.status === 'empty' && prefix ? 'stale' : state.status;
  return { prefix, badge: { state: status, text: STATUS_TEXT[status] }, prefixText: null, cacheHits };
}

/** Friendly words for a failure, by code and the broker's `error` field. */
export function describe(error) {
  if (!error) return null;
  if (error.code === 'network') {
    return ['Can’t reach the token service', 'The backend is not answering. This page keeps trying and recovers by itself once it is back.'];
  }
  if (error.code === 'timeout') {
    return ['The token service is too slow', 'A token request timed out. Retrying automatically.'];
  }
  if (error.status === 503 || error.error === 'upstream_unavailable') {
    return ['The authorization server is unavailable', 'The broker can’t get a token right now. Retrying automatically; no action needed.'];
  }
  if (error.error === 'upstream_rejected') {
    return ['The authorization server refused the broker', 'Its client credentials were rejected. Check the broker’s configuration and log.'];
  }
  if (error.code === 'login_required') {
    return ['Sign-in required', 'This token route needs a signed-in user.'];
  }
  return ['Couldn’t get a token', `${error.message} Retrying automatically.`];
}

const CONNECTION_TEXT = { error: 'Reconnecting…', ok: 'Connected', connecting: 'Connecting…' };

/** The connection pill: failing, connected (the viewer has what it needs), or not yet. */
function connectionState({ mode, model, viewer, hasAlert }) {
  if (hasAlert) return { state: 'error', text: CONNECTION_TEXT.error };
  const isConnected = mode === 'proxy' ? model.state === 'loaded' || model.state === 'unavailable' : viewer.token;
  const state = isConnected ? 'ok' : 'connecting';
  return { state, text: CONNECTION_TEXT[state] };
}

/** The model's own overlay text: empty once it is shown. */
function modelOverlay(model) {
  return { locating: 'Finding the model…', loading: 'Loading the model…', loaded: '', unavailable: model.message, error: model.message }[model.state];
}

/** Proxy mode: the viewport and badge follow the model's loading alone. */
function proxiedViewerView(model) {
  const badgeState = { locating: 'empty', loading: 'refreshing', loaded: 'fresh', unavailable: 'empty', error: 'error' }[model.state];
  const badgeText = { empty: model.state === 'unavailable' ? 'No model' : 'Starting', refreshing: 'Loading', fresh: 'Proxied', error: 'Error' }[badgeState];
  return { state: 'proxied', tokenPrefix: undefined, overlay: modelOverlay(model), badge: { state: badgeState, text: badgeText } };
}

/** Token mode: the viewport waits for, shows or renews the viewer's authorization. */
function tokenViewerView({ now, isFailing, model, viewer }) {
  const isAuthorized = viewer.isAuthorized(now);
  return {
    state: isAuthorized ? 'authorized' : 'waiting',
    tokenPrefix: viewer.token ? mask(viewer.token) : '',
    overlay: tokenModeOverlay({ isAuthorized, isFailing, model, viewer }),
    badge: tokenModeBadge({ isFailing, viewer }),
  };
}

function tokenModeOverlay({ isAuthorized, isFailing, model, viewer }) {
  if (!viewer.token) return isFailing ? 'Waiting for the token service…' : 'Waiting for an access token…';
  if (!isAuthorized) return isFailing ? 'Token service unreachable · retrying…' : 'Renewing authorization…';
  return modelOverlay(model);
}

const VIEWER_BADGE_TEXT = { empty: 'Starting', error: 'Offline', refreshing: 'Renewing', fresh: 'Authorized' };

function tokenModeBadge({ isFailing, viewer }) {
  let state;
  if (isFailing && (!viewer.token || viewer.isRenewing)) state = 'error';
  else if (!viewer.token) state = 'empty';
  else state = viewer.isRenewing ? 'refreshing' : 'fresh';
  return { state, text: VIEWER_BADGE_TEXT[state] };
}

/** The lines under the viewer: the model, and the viewer's authorization and renewal. */
function viewerDetails({ now, model, viewer }) {
  let modelInfo = 'Finding the model…';
  if (model.state === 'loaded') modelInfo = model.summary;
  else if (model.state === 'error' || model.state === 'unavailable') modelInfo = model.message;
  let renews = '—';
  if (viewer.token) renews = viewer.isRenewing ? 'now' : formatSeconds(Math.max(0, Math.ceil((viewer.renewAt - now) / 1000)));
  return {
    tag: model.located ? `${model.located.name} · 3D view` : '3D view',
    modelInfo,
    until: viewer.token ? clock.format(viewer.authorizedUntil) : '—',
    renews,
    received: String(viewer.received),
  };
}
