//! Which headers cross the proxy, each way: an allowlist, so nothing the
//! browser holds (cookies, its own `Authorization`, CSRF header) reaches an API
//! and nothing an API sets (cookies, authentication challenges, CORS, redirects)
//! reaches the browser. Hop-by-hop headers (RFC 9110 §7.6.1) are never on either
//! list, and neither crosses a header that the message's `Connection` names as
//! hop-by-hop (`Connection: keep-alive, Range` keeps `Range` to this hop).

use http::{HeaderMap, HeaderName, HeaderValue, header};

/// Browser → API: content negotiation, the body's description, conditional
/// and range requests (the Viewer and three.js use `Range` and `If-None-Match`).
const REQUEST: &[HeaderName] = &[
    header::ACCEPT,
    header::ACCEPT_ENCODING,
    header::ACCEPT_LANGUAGE,
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::IF_MATCH,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_UNMODIFIED_SINCE,
    header::IF_RANGE,
    header::RANGE,
];

/// API → browser: the body's description, caching validators and lifetimes,
/// ranges, and `Retry-After` of a 429/503.
const RESPONSE: &[HeaderName] = &[
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_ENCODING,
    header::CONTENT_RANGE,
    header::CONTENT_DISPOSITION,
    header::CONTENT_LANGUAGE,
    header::ACCEPT_RANGES,
    header::ETAG,
    header::LAST_MODIFIED,
    header::CACHE_CONTROL,
    header::EXPIRES,
    header::VARY,
    header::RETRY_AFTER,
];

/// The browser's headers that may go to the API, in a map with room for
/// `extra` more (the proxy's own: `Authorization`, `User-Agent`, `Accept`).
/// A copy, since a request may be sent twice (a renewed token), and sized
/// once, so adding the proxy's own headers never regrows it. Walks the
/// message's few headers rather than looking up every allowed name.
pub fn request_headers(from: &HeaderMap, extra: usize) -> HeaderMap {
    let hop_by_hop = hop_by_hop(from);
    let mut to = HeaderMap::with_capacity(from.len().min(REQUEST.len()) + extra);
    for (name, value) in from {
        if REQUEST.contains(name) && !hop_by_hop.contains(name) {
            to.append(name.clone(), value.clone());
        }
    }
    to
}

/// Leaves in the API's `headers` only those that may go to the browser, with
/// room for `extra` more (the sandbox's and `Cache-Control`). In place: an
/// answer is passed on once, and usually has one or two headers to drop
/// (`Date`, `Server`), where a copy would clone all the others.
pub fn keep_response_headers(headers: &mut HeaderMap, extra: usize) {
    let hop_by_hop = hop_by_hop(headers);
    while let Some(refused) = headers.keys().find(|name| !RESPONSE.contains(name) || hop_by_hop.contains(name)).cloned()
    {
        headers.remove(refused);
    }
    headers.reserve(extra);
}

/// The header names a message's `Connection` lists, which stay on this hop.
fn hop_by_hop(headers: &HeaderMap) -> Vec<HeaderName> {
    headers.get_all(header::CONNECTION).iter().flat_map(connection_options).collect()
}

/// The header names one `Connection` value lists (RFC 9110 §7.6.1:
/// comma-separated tokens, case-insensitive); anything unparsable is skipped.
fn connection_options(value: &HeaderValue) -> Vec<HeaderName> {
    let Ok(value) = value.to_str() else {
        return Vec::new();
    };
    value.split(',').filter_map(|option| HeaderName::from_bytes(option.trim().as_bytes()).ok()).collect()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    /// Credentials and hop-by-hop headers never cross; the allowlisted ones do.
    #[test]
    fn only_allowlisted_headers_cross() {
        let mut browser = HeaderMap::new();
        for (name, value) in [
            ("cookie", "id=session"),
            ("authorization", "Bearer browser-token"),
            ("x-requested-with", "fetch"),
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("host", "broker.example"),
            ("range", "bytes=0-99"),
            ("if-none-match", "\"abc\""),
        ] {
            browser.append(name, HeaderValue::from_static(value));
        }
        let sent = request_headers(&browser, 0);
        assert_eq!(sorted_names(&sent), ["if-none-match", "range"]);

        let mut api = HeaderMap::new();
        for (name, value) in [
            ("set-cookie", "tracking=1"),
            ("www-authenticate", "Bearer error=\"invalid_token\""),
            ("access-control-allow-origin", "*"),
            ("location", "https://elsewhere.example/"),
            ("transfer-encoding", "chunked"),
            ("etag", "\"abc\""),
            ("content-type", "model/gltf-binary"),
        ] {
            api.append(name, HeaderValue::from_static(value));
        }
        keep_response_headers(&mut api, 0);
        assert_eq!(sorted_names(&api), ["content-type", "etag"]);
    }

    /// The order of different names carries no meaning (RFC 9110 §5.3).
    fn sorted_names(headers: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    /// A header the message's `Connection` names stays on that hop, either way,
    /// whatever the case and spacing; the others cross.
    #[test]
    fn headers_named_in_connection_do_not_cross() {
        let mut browser = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, Range"),
            ("connection", " IF-NONE-MATCH ,,"),
            ("range", "bytes=0-99"),
            ("if-none-match", "\"abc\""),
            ("accept", "*/*"),
        ] {
            browser.append(name, HeaderValue::from_static(value));
        }
        let sent = request_headers(&browser, 0);
        assert_eq!(sent.keys().map(HeaderName::as_str).collect::<Vec<_>>(), ["accept"]);

        let mut api = HeaderMap::new();
        for (name, value) in [
            ("connection", "ETag, Cache-Control"),
            ("etag", "\"v1\""),
            ("cache-control", "public, max-age=3600"),
            ("content-type", "model/gltf-binary"),
        ] {
            api.append(name, HeaderValue::from_static(value));
        }
        keep_response_headers(&mut api, 0);
        assert_eq!(api.keys().map(HeaderName::as_str).collect::<Vec<_>>(), ["content-type"]);
    }
}
