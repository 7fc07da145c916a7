//! Which console lines a journey may leave behind: the lines Chromium logs for
//! failed loads, spelled once, and the one filter every test applies to the
//! errors `collectPageErrors` (chromium.mjs) gathered.

const STATUS_TEXT = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

/**
 * The console line Chromium logs when `url` answers `status` (401, 403 or
 * 404): a network log, not a page error, and expected where a journey asks on
 * purpose (asking who is signed in while signed out, say).
 *
 * @param {string} url the absolute URL of the resource
 * @param {401 | 403 | 404} status
 */
export function failedLoadLine(url, status) {
  const text = STATUS_TEXT[status];
  if (!text) throw new Error(`no status text known for ${status}`);
  return `console: Failed to load resource: the server responded with a status of ${status} (${text}) (${url}:0)`;
}

/**
 * Accepts {@link failedLoadLine} for `url` and `status` however often it
 * appears (an entry of `unexpectedErrors`' `expected`).
 *
 * @returns {(line: string) => boolean}
 */
export function isFailedLoad(url, status) {
  const expected = failedLoadLine(url, status);
  return (line) => line === expected;
}

/**
 * Accepts oidc-provider's own login and consent pages failing to load their
 * web font from Google Fonts, which this sandbox cannot reach. Only for
 * journeys through those pages: no page of ours may ask the internet.
 *
 * @param {string} line
 */
export function isProviderFontMiss(line) {
  return line.startsWith('console: Failed to load resource: net::') && line.includes('(https://fonts.googleapis.com/');
}

/**
 * Chromium asks a page without an icon of its own (the dev sign-in page, the
 * "Sign-in cancelled" page) for `/favicon.ico`, which 404s on our servers. The
 * pages of the demo and the package site bring their own icon, so only
 * journeys through those sign-in pages accept it.
 *
 * @param {string} line
 */
export function isFaviconMiss(line) {
  return /^console: Failed to load resource: the server responded with a status of 404 \(Not Found\) \(http:\/\/127\.0\.0\.1:\d+\/favicon\.ico:0\)$/.test(line);
}

/**
 * The lines of `lines` (as `collectPageErrors` records them) that nothing
 * expects; a test asserts this is `[]`. Each entry of `expected` accepts some:
 *
 * - a string accepts one occurrence of exactly that line (list it twice to
 *   accept two), for a failure the test caused and counted;
 * - a function `(line) => boolean` accepts every line it returns true for
 *   (e.g. {@link isFailedLoad}, {@link isFaviconMiss}, {@link isProviderFontMiss}).
 *
 * @param {string[]} lines
 * @param {Array<string | ((line: string) => boolean)>} [expected]
 * @returns {string[]}
 */
export function unexpectedErrors(lines, expected = []) {
  const accepts = expected.filter((e) => typeof e === 'function');
  const rest = lines.filter((line) => !accepts.some((accept) => accept(line)));
  for (const line of expected.filter((e) => typeof e === 'string')) {
    const i = rest.indexOf(line);
    if (i >= 0) rest.splice(i, 1);
  }
  return rest;
}
