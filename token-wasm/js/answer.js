// Reads a token out of the answer to the early first request (early.js) in
// JS, so the first callers get their token as soon as it arrives rather than
// after the WebAssembly module downloaded and compiled (issue 19 item 1: time
// to first token). These checks duplicate the wasm's (`read_response` in
// token-wasm/src/http.rs) on purpose, for that speed; they may only ever be
// stricter: anything they do not accept (an error status, a doubtful body, a
// token too short-lived to hand out under the leeway) waits for the module,
// which stays the one place that reads errors into `TokenError`s and adopts
// this same answer into its cache. token-wasm/tests/answer.test.mjs checks
// that the two agree on a table of answers.

/**
 * The token in `answer` (`{ status, text }`, what early.js reads of the
 * response) if the module is sure to accept it and to cache it as fresh
 * under `leewayMs`: `{ accessToken, expiresIn }` (seconds), else `null`.
 */
export function readEarlyToken(answer, leewayMs) {
  if (answer?.status !== 200 || typeof answer.text !== 'string') return null;
  let body;
  try { body = JSON.parse(answer.text); } catch { return null; }
  const accessToken = body?.access_token;
  const expiresIn = body?.expires_in;
  // RFC 6749 §5.1: a non-empty token, a lifetime in seconds; the module
  // refuses any other, and halves the leeway of tokens it barely covers.
  if (typeof accessToken !== 'string' || accessToken === '' || typeof expiresIn !== 'number'
    || !Number.isFinite(expiresIn) || !(expiresIn * 1000 > leewayMs)) return null;
  return { accessToken, expiresIn };
}
