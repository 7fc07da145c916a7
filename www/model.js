//! Where the demo's 3D model comes from and how the page fetches it, in one of
//! two modes: `token` (the page calls the model API itself with the viewer's
//! access token) or `proxy` (the page calls the broker's `/api/proxy/…`, which
//! attaches a token the page never sees).

/** The loading modes, as `?mode=` spells them; `token` is the default. */
export const MODES = ['token', 'proxy'];

/** The mode `?mode=` asks for, or `token`. */
export function modeFrom(params) {
  const asked = params.get('mode');
  return MODES.includes(asked) ? asked : 'token';
}

/** Why the model could not be shown; `isRetryable` failures are tried again with the next token. */
export class ModelError extends Error {
  constructor(message, { isRetryable = false, isUnavailable = false, cause } = {}) {
    super(message, { cause });
    this.name = 'ModelError';
    this.isRetryable = isRetryable;
    /** There is no model to load here (not `token-backend --dev`). */
    this.isUnavailable = isUnavailable;
  }
}

/**
 * The model's name and its two URLs from `/dev/demo.json`: `{ name,
 * directUrl, proxyUrl }`. `token-backend --dev` answers that route itself;
 * elsewhere the site's own `www/dev/demo.json` says `{"model":null}`, so a
 * page without a model finds out without a 404 in the console.
 */
export async function locateModel() {
  let response;
  try {
    response = await fetch('/dev/demo.json', { headers: { accept: 'application/json' } });
  } catch (cause) {
    throw new ModelError('Can’t reach the broker to find the model.', { isRetryable: true, cause });
  }
  const noModel = () => new ModelError('No demo model here: it is served by token-backend --dev.', { isUnavailable: true });
  if (response.status === 404) throw noModel();
  if (!response.ok) throw new ModelError(`The broker answered ${response.status} for /dev/demo.json.`, { isRetryable: true });
  const model = (await response.json().catch(() => undefined))?.model;
  if (model === null) throw noModel();
  if (typeof model?.name !== 'string' || typeof model.directUrl !== 'string' || typeof model.proxyUrl !== 'string') {
    throw new ModelError('The broker’s /dev/demo.json does not describe a model.');
  }
  return model;
}

/**
 * The model's bytes. In `token` mode from `model.directUrl` with `token` as
 * `Authorization: Bearer`; in `proxy` mode from `model.proxyUrl`, same origin,
 * with no token and no credentials beyond the page's own cookies.
 */
export async function fetchModel(model, mode, token) {
  const url = mode === 'proxy' ? model.proxyUrl : model.directUrl;
  const init = mode === 'proxy'
    ? { credentials: 'same-origin' }
    : { headers: { authorization: `Bearer ${token}` }, credentials: 'omit' };
  let response;
  try {
    response = await fetch(url, init);
  } catch (cause) {
    throw new ModelError('Can’t reach the model server.', { isRetryable: true, cause });
  }
  if (!response.ok) {
    // 401/403 in token mode: the token expired or was revoked in between; the
    // next one from the viewer's renewal gets another try. 5xx may pass too.
    const isRetryable = response.status === 401 || response.status === 403 || response.status >= 500;
    throw new ModelError(`The model server answered ${response.status}.`, { isRetryable });
  }
  return response.arrayBuffer();
}
