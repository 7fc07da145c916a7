//! The demo page's view helpers: DOM access, masking, time formatting, and the
//! token panel that the app token and the user token cards both render.

/** Characters of a token shown; the rest is masked. */
export const PREFIX_LENGTH = 8;

export const $ = (id) => document.getElementById(id);
export const mask = (token) => `${token.slice(0, PREFIX_LENGTH)}•••`;
export const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

export const STATUS_TEXT = { empty: 'Empty', fresh: 'Fresh', stale: 'Stale', refreshing: 'Refreshing', error: 'Error' };

export function formatSeconds(seconds) {
  if (seconds <= 0) return '0 s';
  const m = Math.floor(seconds / 60), s = seconds % 60;
  return m > 0 ? `${m} min ${String(s).padStart(2, '0')} s` : `${s} s`;
}

export function setBadge(element, state, text) {
  element.dataset.state = state;
  if (element.textContent !== text) element.textContent = text;
}

export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/**
 * One token panel, from a client's `getState()`: the masked `prefix` (or `null`
 * when no unexpired token is shown), time left with a meter scaled to
 * `lifetimeMs`, the request count and the last error. Its elements are
 * `${id}-prefix`, `${id}-expiry`, `${id}-meter`, `${id}-fetches` and `${id}-error`.
 */
export function renderTokenPanel(id, { prefix, state, lifetimeMs, now }) {
  const tokenEl = $(`${id}-prefix`);
  setText(tokenEl, prefix ?? '—');
  tokenEl.dataset.prefix = prefix ?? '';
  if (prefix) {
    const left = Math.max(0, Math.floor((state.expiresAt - now) / 1000));
    setText($(`${id}-expiry`), `${formatSeconds(left)} · at ${clock.format(state.expiresAt)}`);
    $(`${id}-meter`).style.width = `${Math.min(100, ((state.expiresAt - now) / lifetimeMs) * 100)}%`;
  } else {
    setText($(`${id}-expiry`), '—');
    $(`${id}-meter`).style.width = '0';
  }
  setText($(`${id}-fetches`), String(state.fetches));
  const errorEl = $(`${id}-error`);
  errorEl.dataset.code = state.lastError?.code ?? '';
  setText(errorEl, state.lastError
    ? `${state.lastError.code}${state.lastError.status ? ` (HTTP ${state.lastError.status})` : ''}: ${state.lastError.message}`
    : 'None');
}
