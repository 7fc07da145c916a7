//! The viewer's authorization in token mode, held the way the Autodesk Viewer
//! holds it: through the callback form of `getAccessToken`, renewing when the
//! token it was given expires. `app.js` loads the model with this token.
import { getAccessToken } from 'token-wasm';
import { mask } from './view.js';

/** Shortest wait before the viewer renews, so a token handed out with 0 s to
 *  spare cannot spin the renewal loop (it still has the leeway left to live). */
export const MIN_RENEW_MS = 1000;

/** Mimics how the Autodesk Viewer handles its `getAccessToken` option; calls `onToken` on each token. */
export function createViewer(onToken) {
  const viewer = {
    token: null,
    authorizedUntil: 0,
    renewAt: 0,
    received: 0,
    isRenewing: false,

    authorize() {
      this.isRenewing = true;
      getAccessToken((token, expiresInSeconds) => this.accept(token, expiresInSeconds));
    },

    accept(token, expiresInSeconds) {
      const now = Date.now();
      this.token = token;
      this.isRenewing = false;
      this.received += 1;
      this.authorizedUntil = now + expiresInSeconds * 1000;
      const wait = Math.max(expiresInSeconds * 1000, MIN_RENEW_MS);
      this.renewAt = now + wait;
      window.__viewerTokens.push({ prefix: mask(token), receivedAt: now, expiresIn: expiresInSeconds });
      setTimeout(() => this.authorize(), wait);
      onToken();
    },

    /** Holding a token, or renewing one that expired less than `MIN_RENEW_MS` ago. */
    isAuthorized(now = Date.now()) {
      return this.token !== null && now < this.authorizedUntil + MIN_RENEW_MS;
    },
  };
  return viewer;
}
