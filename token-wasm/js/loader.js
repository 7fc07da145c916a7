// Loads the WebAssembly module in the background. The entry asks for the load
// when it is imported and returns at once (no top-level await: importing never
// waits for, nor fails with, the module); the first call that needs the module
// awaits `whenLoaded()`. In a page the download starts right after the app's
// first paint, or at once when a client is made before it: a page's first
// `fetch()` costs its main thread about 2 ms (Chromium), which the app's first
// render need not wait for while nothing needs the module. A module that
// cannot load (a missing or mis-served .wasm, a Content Security Policy
// without 'wasm-unsafe-eval') becomes one `TokenError` with code
// `module_unavailable`, which every such call rejects with.
//
// The wasm-bindgen glue (token_wasm.js) is not part of the entry: index.js
// imports it dynamically, so an app parses and runs only the small entry
// before its first render (issue 19 item 1), and the glue arrives while the
// .wasm downloads. The first token does not need it (early.js, answer.js).
import { MODULE_UNAVAILABLE, TokenError } from './error.js';

/** Settles once: resolves when the module is ready, rejects with the `TokenError`. */
let loading = null;
/** The glue module once the wasm is instantiated (its `TokenClient`). */
let glue = null;
/** Resolves to whether the module is on its way (see `whenOnItsWay`). */
let onItsWay = Promise.resolve(false);
/** What the module's compile waits for (see `compileAfter`); `null` once it started. */
let holds = [];
/** Starts the load that `load` asked for; `null` once started (or if none was asked). */
let pending = null;

/**
 * Loads the module from `source` (a URL, or the bytes; see the entries) with
 * the glue that `importGlue()` resolves to: after the page's first paint, or
 * as soon as something needs the module (`begin`), whichever comes first.
 */
export function load(source, importGlue) {
  pending = () => start(source, importGlue);
  afterFirstPaint(begin);
}

/** Starts the load now, if it has not started: a client needs the module. */
function begin() {
  const starting = pending;
  pending = null;
  starting?.();
}

/** A page whose frames do not come (hidden since the import, or throttled) starts the load after this long. */
const PAINT_BOUND_MS = 100;

/**
 * Runs `task` once the page has painted its next frame (a task queued from
 * `requestAnimationFrame` runs after that frame's paint), or now where there
 * is no page to paint (Node, workers) or it is hidden (no frames come).
 */
function afterFirstPaint(task) {
  if (typeof requestAnimationFrame !== 'function' || globalThis.document?.visibilityState !== 'visible') return task();
  requestAnimationFrame(() => setTimeout(task, 0));
  setTimeout(task, PAINT_BOUND_MS);
}

/** The load itself: the download, the glue, then the compile (after `compileAfter`'s holds). */
function start(source, importGlue) {
  // The download starts now, before the glue is there to instantiate it.
  const module = source instanceof URL ? fetch(source) : source;
  const gluing = importGlue();
  const arrived = Promise.all([module, gluing]);
  // Checked once, as soon as both arrived: under a policy without
  // 'wasm-unsafe-eval' the load fails then, not after the whole download
  // (WebKit refuses only the instance, once it has every byte).
  const refusal = arrived.then(() => compileRefusal(), () => null);
  onItsWay = Promise.all([arrived, refusal]).then(([[got], refused]) => !(got instanceof Response && !got.ok) && !refused, () => false);
  loading = gluing
    .then(async (loaded) => {
      await module;
      const refused = await refusal;
      if (refused) throw refused;
      const held = holds;
      holds = null;
      if (held.length) await Promise.race([Promise.allSettled(held), bound(HOLD_BOUND_MS)]);
      await loaded.default({ module_or_path: module });
      glue = loaded;
    })
    .catch((cause) => { throw unavailable(cause); });
  // Reported by the calls that need the module, not as unhandled rejections.
  loading.catch(() => {});
  module.catch?.(() => {});
}

/**
 * Resolves to whether the module is on its way: the .wasm answered with a
 * success (or came inlined), the glue loaded, and the page may compile
 * WebAssembly. Early tokens (client.js) wait for this much, so that a module
 * that cannot load still rejects every call with `module_unavailable`, as
 * the first call finds out about as soon as the token arrives.
 */
export function whenOnItsWay() {
  begin();
  return onItsWay;
}

/**
 * Has the module's compile wait until `settled` settles (at most
 * `HOLD_BOUND_MS`), if it has not started yet: an early token request's
 * answer (client.js). Compiling the .wasm keeps the page's threads busy for
 * tens of ms (two cores: most of the time to a first token at no network
 * latency went there), and an early answer needs no module to reach its
 * callers; the module adopts it once ready. The .wasm still downloads
 * meanwhile.
 */
export function compileAfter(settled) {
  holds?.push(settled);
}

/** A slow token route (up to `timeoutMs`) must not hold the module back that long. */
const HOLD_BOUND_MS = 3000;

/** Resolves after `ms` (without keeping Node running). */
function bound(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

/** The smallest module (header only). */
const EMPTY_MODULE = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);

/**
 * Why a Content Security Policy keeps the page from running WebAssembly (no
 * `'wasm-unsafe-eval'`), or `null`: instantiating the empty module throws if
 * so (and reports the violation the module's own load would). Instantiating,
 * not only compiling: WebKit compiles under such a policy and refuses the instance.
 */
function compileRefusal() {
  try {
    new WebAssembly.Instance(new WebAssembly.Module(EMPTY_MODULE));
    return null;
  } catch (error) {
    return error;
  }
}

/** The wasm `TokenClient` class once the module is ready, else `null`. */
export function wasmClientClass() {
  return glue?.TokenClient ?? null;
}

/** Whether the module is ready now (clients then start without waiting). */
export function isLoaded() {
  return glue !== null;
}

/** Resolves once the module is ready; rejects with the `module_unavailable` `TokenError`. */
export function whenLoaded() {
  begin();
  return loading ?? Promise.reject(unavailable(new Error('no entry started loading the module')));
}

/**
 * The error for a module that did not load, naming the likely fix. Browsers
 * word a CSP refusal differently (Chromium and WebKit name 'unsafe-eval',
 * Firefox says "CSP"), so the message names 'wasm-unsafe-eval' in any case.
 */
function unavailable(cause) {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const message = /content.security.policy|\bCSP\b|unsafe-eval/i.test(reason)
    ? `token-wasm could not compile its WebAssembly module: the page's Content Security Policy refuses it. `
      + `Add 'wasm-unsafe-eval' to script-src (${reason})`
    : `token-wasm could not load its WebAssembly module (${reason}). Serve token_wasm_bg.wasm (as application/wasm) `
      + `and token_wasm.js next to the package entry; under a Content Security Policy, script-src needs 'wasm-unsafe-eval'.`;
  return new TokenError(message, MODULE_UNAVAILABLE, { cause });
}
