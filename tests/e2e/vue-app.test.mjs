//! Journey: a customer builds a Vite + Vue 3 app on `token-wasm/vue`
//! (tests/fixtures/vue-app) for production. The built app, served by the real
//! broker, shows its token from one request, signs in on the dev authorization
//! server's page, shows the user and their token, and signs out.
import { after, before, test } from 'node:test';

import { startBackend } from '../support/backend.mjs';
import { launchChromium } from '../support/chromium.mjs';
import {
  buildFixtureApp, expectSignedOutWithAppToken, openApp, signInAndOut, signedOutElsewhere,
} from '../support/framework-app.mjs';

let built, backend, browser, app;

before(async () => {
  built = await buildFixtureApp('vue-app');
  backend = await startBackend({ publicDir: built.dist });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await backend?.stop();
  built?.remove();
});

/** useAccessToken() and useSession(): the token on screen, one request for each. */
test('vue_app_shows_the_app_token_from_one_request', { timeout: 30_000 }, () => backend.check(async () => {
  app = await openApp(browser, backend.url);
  await expectSignedOutWithAppToken(app);
}));

/** Sign in and sign out through the hooks' login() and logout(). */
test('vue_app_signs_in_and_out', { timeout: 30_000 }, () => backend.check(async () => {
  await signInAndOut(app);
}));

/** A sign-out made elsewhere reaches the app through useSession's state (issue 21 item 3). */
test('vue_app_shows_a_sign_out_made_elsewhere', { timeout: 30_000 }, () => backend.check(async () => {
  await signedOutElsewhere(app, backend.url);
}));
