// The three browser engines the package suite runs in, each the Debian build
// that `scripts/setup test` installs (no browser download), behind one small
// interface: `launch(name)` → `{ name, version, goto(url), evaluate(fn, arg),
// waitFor(fn, timeoutMs), close() }`, one page per browser.
//
// - chromium: playwright-core driving /usr/bin/chromium (CDP).
// - firefox:  puppeteer-core over WebDriver BiDi, driving firefox-esr.
// - webkit:   selenium-webdriver and WebKitGTK's WebKitWebDriver (Debian's
//             webkit2gtk-driver), whose MiniBrowser needs an X display: a
//             private Xvfb started here.
//
// `TOKEN_WASM_ENGINES` (comma-separated) picks a subset; by default all three.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const ENGINES = (process.env.TOKEN_WASM_ENGINES ?? 'chromium,firefox,webkit').split(',').filter(Boolean);

const BINARIES = {
  chromium: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  firefox: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr',
  webkit: process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver',
};
const MINIBROWSER = process.env.WEBKIT_MINIBROWSER_PATH ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const SCRIPT_TIMEOUT_MS = 30_000;

/** Starts engine `name` with one blank page. */
export async function launch(name) {
  const binary = BINARIES[name];
  if (!binary) throw new Error(`unknown engine ${name} (expected ${Object.keys(BINARIES).join(', ')})`);
  if (!existsSync(binary)) throw new Error(`${name}: ${binary} is missing (run \`scripts/setup test\`)`);
  if (name === 'chromium') return launchChromium(binary);
  if (name === 'firefox') return launchFirefox(binary);
  return launchWebKit(binary);
}

/** Polls `fn` in the page until it returns a truthy value. */
async function waitFor(evaluate, fn, timeoutMs, name) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await evaluate(fn)) return;
    if (Date.now() > deadline) throw new Error(`${name}: timed out after ${timeoutMs} ms waiting for ${fn}`);
    await new Promise((ok) => setTimeout(ok, 25));
  }
}

async function launchChromium(executablePath) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const evaluate = (fn, arg) => page.evaluate(fn, arg);
  return {
    name: 'chromium',
    version: browser.version(),
    goto: (url) => page.goto(url).then(() => {}),
    evaluate,
    waitFor: (fn, timeoutMs = 10_000) => waitFor(evaluate, fn, timeoutMs, 'chromium'),
    close: () => browser.close(),
  };
}

async function launchFirefox(executablePath) {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath,
    headless: true,
    // No update checks, telemetry or captive-portal probes: the suite's only traffic is its own.
    extraPrefsFirefox: { 'network.captive-portal-service.enabled': false, 'app.update.enabled': false },
  });
  const [page] = await browser.pages();
  const evaluate = (fn, arg) => page.evaluate(fn, arg);
  return {
    name: 'firefox',
    version: await browser.version(),
    goto: (url) => page.goto(url).then(() => {}),
    evaluate,
    waitFor: (fn, timeoutMs = 10_000) => waitFor(evaluate, fn, timeoutMs, 'firefox'),
    close: () => browser.close(),
  };
}

async function launchWebKit(driverPath) {
  const { Builder } = await import('selenium-webdriver');
  const xvfb = await startXvfb();
  let driverProcess = null;
  try {
    driverProcess = await startWebKitWebDriver(driverPath, xvfb.display);
    const driver = await new Builder().usingServer(driverProcess.url).withCapabilities({
      browserName: 'MiniBrowser',
      // MiniBrowser takes its proxy settings as its own arguments, not from
      // the WebDriver proxy capability: keep loopback traffic off any proxy.
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation', '--ignore-host=127.0.0.1,localhost'] },
    }).build();
    await driver.manage().setTimeouts({ script: SCRIPT_TIMEOUT_MS });
    const capabilities = await driver.getCapabilities();
    // WebDriver runs the script with `arguments`; a returned promise is awaited.
    const evaluate = (fn, arg) => driver.executeScript(`return (${fn}).apply(null, arguments)`, arg);
    const stopAll = async () => {
      await driverProcess.stop();
      await xvfb.stop();
    };
    return {
      name: 'webkit',
      version: capabilities.get('browserVersion'),
      goto: (url) => driver.get(url),
      evaluate,
      waitFor: (fn, timeoutMs = 10_000) => waitFor(evaluate, fn, timeoutMs, 'webkit'),
      close: async () => {
        await driver.quit().catch(() => {});
        await stopAll();
      },
    };
  } catch (error) {
    await driverProcess?.stop();
    await xvfb.stop();
    throw error;
  }
}

/** WebKitWebDriver on a free loopback port, answering `/status`: `{ url, stop() }`. */
async function startWebKitWebDriver(driverPath, display) {
  const { createServer } = await import('node:net');
  const port = await new Promise((ok, fail) => {
    const probe = createServer().once('error', fail).listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => ok(free));
    });
  });
  const child = spawn(driverPath, [`--port=${port}`, '--host=127.0.0.1'], {
    env: { ...process.env, DISPLAY: display },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((done) => child.once('exit', done));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`WebKitWebDriver exited: ${stderr}`);
    try {
      if ((await fetch(`${url}/status`, { signal: AbortSignal.timeout(1000) })).ok) return { url, stop };
    } catch {
      // Not listening yet.
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  await stop();
  throw new Error(`WebKitWebDriver did not answer on ${url}: ${stderr}`);
}

/** A private X server on a display it picks itself (`-displayfd`): `{ display, stop() }`. */
function startXvfb() {
  return new Promise((ok, fail) => {
    const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`Xvfb exited with ${code}: ${stderr}`)));
    let number = '';
    child.stdio[3].on('data', (chunk) => {
      number += chunk;
      if (!number.includes('\n')) return;
      const exited = new Promise((done) => child.once('exit', done));
      ok({
        display: `:${number.trim()}`,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}
