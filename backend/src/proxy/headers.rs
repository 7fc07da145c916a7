//! Which headers cross the proxy, each way: an allowlist, so nothing the
//! browser holds (cookies, its own `Authorization`, CSRF header) reaches an API
//! and nothing an API sets (cookies, authentication challenges, CORS, redirects)
//! reaches the browser. Hop-by-hop headers (RFC 9110 §7.6.1) are never on either list.

use http::{HeaderMap, HeaderName, header};

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

/// The browser's headers that may go to the API.
pub fn request_headers(from: &HeaderMap) -> HeaderMap {
    copy(from, REQUEST)
}

/// The API's headers that may go to the browser.
pub fn response_headers(from: &HeaderMap) -> HeaderMap {
    copy(from, RESPONSE)
}

fn copy(from: &HeaderMap, allowed: &[HeaderName]) -> HeaderMap {
    let mut to = HeaderMap::new();
    for name in allowed {
        for value in from.get_all(name) {
            to.append(name.clone(), value.clone());
        }
    }
    to
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
        let sent = request_headers(&browser);
        let names: Vec<&str> = sent.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["if-none-match", "range"]);

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
        let passed = response_headers(&api);
        let names: Vec<&str> = passed.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["content-type", "etag"]);
    }
}
