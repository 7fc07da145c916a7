//! Everything a page or browser context exchanged over HTTP, as text (method,
//! URL, headers, body), so a test can search it for secrets; and the request
//! paths in order.

/**
 * Records `target`'s (a Playwright page or context) requests and responses.
 * `texts` fills in as bodies are read; `settle()` waits for every read started
 * so far. Redirects have no readable body; their headers (Location) are what matters.
 */
export function recordExchanges(target) {
  const texts = [];
  const paths = [];
  const pending = new Set();
  const track = (read) => {
    const entry = read.then((text) => texts.push(text), (error) => texts.push(`[unreadable: ${error.message}]`));
    pending.add(entry);
    entry.finally(() => pending.delete(entry));
  };
  const headerText = (headers) => Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\n');
  target.on('request', (request) => {
    paths.push(new URL(request.url()).pathname);
    track(request.allHeaders().then((headers) => `> ${request.method()} ${request.url()}\n${headerText(headers)}\n\n${request.postData() ?? ''}`));
  });
  target.on('response', (response) => {
    const body = response.text().catch(() => '');
    track(Promise.all([response.allHeaders(), body]).then(([headers, text]) => `< ${response.status()} ${response.url()}\n${headerText(headers)}\n\n${text}`));
  });
  return {
    texts,
    paths,
    /** Waits until everything seen so far has been read. */
    async settle() {
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
}
