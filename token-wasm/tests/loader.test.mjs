// When the package's module starts to download (token-wasm/js/loader.js): in
// a visible page, after the app's first paint (a page's first `fetch()` costs
// its main thread ~2 ms, which the first render should not wait for), unless a
// client needs the module sooner; at once where nothing paints. Runs the
// loader in Node with the page's parts (requestAnimationFrame, document,
// fetch) stood in for, so each step can be taken in order; a fresh copy of the
// loader per test (its state is the module's).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';

const WASM_URL = new URL('https://app.example/token_wasm_bg.wasm');
let copies = 0;

/**
 * A fresh loader in a page whose `visibilityState` is `visibility`:
 * `{ loader, fetches, frame() }`, where `frame()` runs the queued animation
 * frame callbacks (the browser's next frame, before its paint).
 */
async function pageWithLoader(visibility = 'visible') {
  const fetches = [];
  let frames = [];
  globalThis.document = { visibilityState: visibility };
  globalThis.requestAnimationFrame = (callback) => frames.push(callback);
  globalThis.fetch = (url) => { fetches.push(String(url)); return new Promise(() => {}); };
  const loader = await import(`../js/loader.js?copy=${++copies}`);
  const frame = () => { const due = frames; frames = []; for (const callback of due) callback(performance.now()); };
  return { loader, fetches, frame };
}

const realFetch = globalThis.fetch;
afterEach(() => {
  delete globalThis.document;
  delete globalThis.requestAnimationFrame;
  globalThis.fetch = realFetch;
});

/** Resolves after the tasks queued so far (a `setTimeout(…, 0)` from a frame callback included). */
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
/** The glue never arrives here: these tests are about the download's start. */
const noGlue = () => new Promise(() => {});

test('importing starts no download before the first paint, and starts it after', async () => {
  const { loader, fetches, frame } = await pageWithLoader();
  loader.load(WASM_URL, noGlue);
  await nextTask();
  assert.deepEqual(fetches, [], 'the download started before the page painted');
  frame();
  assert.deepEqual(fetches, [], 'the download started in the frame, before its paint');
  await nextTask();
  assert.deepEqual(fetches, [WASM_URL.href]);
});

test('a client made before the first paint starts the download at once, once', async () => {
  const { loader, fetches, frame } = await pageWithLoader();
  loader.load(WASM_URL, noGlue);
  loader.whenLoaded().catch(() => {});
  assert.deepEqual(fetches, [WASM_URL.href]);
  loader.whenOnItsWay();
  frame();
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.deepEqual(fetches, [WASM_URL.href], 'a second download');
});

test('a page with no frames (hidden) starts the download at once', async () => {
  const { loader, fetches } = await pageWithLoader('hidden');
  loader.load(WASM_URL, noGlue);
  assert.deepEqual(fetches, [WASM_URL.href]);
});

test('a visible page whose frames do not come still starts the download, after a bound', async () => {
  const { loader, fetches } = await pageWithLoader();
  loader.load(WASM_URL, noGlue);
  await nextTask();
  assert.deepEqual(fetches, []);
  const started = performance.now();
  while (!fetches.length && performance.now() - started < 5000) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(fetches, [WASM_URL.href], 'no download without a frame');
});
