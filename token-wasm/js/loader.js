// Loads the WebAssembly module in the background. The entry starts the load
// when it is imported and returns at once (no top-level await: importing never
// waits for, nor fails with, the module); the first call that needs the module
// awaits `whenLoaded()`. A module that cannot load (a missing or mis-served
// .wasm, a Content Security Policy without 'wasm-unsafe-eval') becomes one
// `TokenError` with code `module_unavailable`, which every such call rejects with.
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

/**
 * Starts loading the module from `source` (a URL, or the bytes; see the
 * entries) with the glue that `importGlue()` resolves to.
 */
export function load(source, importGlue) {
  // The download starts now, before the glue is there to instantiate it.
  const module = source instanceof URL ? fetch(source) : source;
  const gluing = importGlue();
  onItsWay = Promise.all([module, gluing]).then(([got]) => !(got instanceof Response && !got.ok) && canCompile(), () => false);
  loading = gluing
    .then(async (loaded) => {
      await module;
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
 * Whether a Content Security Policy lets the page compile WebAssembly
 * (`'wasm-unsafe-eval'`): compiling the empty module throws if not (and
 * reports the same violation the module's own compile will).
 */
function canCompile() {
  try {
    return new WebAssembly.Module(EMPTY_MODULE) instanceof WebAssembly.Module;
  } catch {
    return false;
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
