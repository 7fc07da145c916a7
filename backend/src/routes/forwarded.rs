//! The host and scheme a request was addressed to, as the browser saw them:
//! from `Forwarded` (RFC 7239) or `X-Forwarded-Host`/`-Proto` when a proxy in
//! front is trusted to set them, else from `Host`.
//!
//! Written here because axum-extra's `Host` trusts forwarded headers always and
//! drops the scheme; reading the first element of `Forwarded` is a few lines.

use axum::http::{HeaderMap, header};

/// Where a request was addressed: `host[:port]`, and the scheme when a trusted
/// proxy said which it was.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Authority {
    pub host: String,
    pub scheme: Option<String>,
}

impl Authority {
    /// Whether this is `host` over `scheme` (hosts compare case-insensitively).
    pub fn is(&self, host: &str, scheme: &str) -> bool {
        self.host.eq_ignore_ascii_case(host) && self.scheme.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(scheme))
    }
}

/// The request's authority; `None` without a `Host` (HTTP/1.0).
pub(super) fn authority(headers: &HeaderMap, trust_forwarded: bool) -> Option<Authority> {
    if trust_forwarded {
        if let Some(forwarded) = from_forwarded(headers) {
            return Some(forwarded);
        }
        if let Some(host) = first_value(headers, "x-forwarded-host") {
            return Some(Authority { host, scheme: first_value(headers, "x-forwarded-proto") });
        }
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    Some(Authority { host: host.to_owned(), scheme: None })
}

/// Whether a proxy in front announced itself with forwarded headers.
pub(super) fn has_forwarded_headers(headers: &HeaderMap) -> bool {
    ["forwarded", "x-forwarded-host", "x-forwarded-proto"].iter().any(|name| headers.contains_key(*name))
}

/// The first element's `host` (and `proto`) of `Forwarded`, the closest proxy's view
/// being the last; the first is what the browser asked for.
fn from_forwarded(headers: &HeaderMap) -> Option<Authority> {
    let value = headers.get("forwarded")?.to_str().ok()?;
    let first = value.split(',').next()?;
    let mut host = None;
    let mut scheme = None;
    for pair in first.split(';') {
        let Some((name, value)) = pair.split_once('=') else { continue };
        let value = value.trim().trim_matches('"').to_owned();
        match name.trim().to_ascii_lowercase().as_str() {
            "host" => host = Some(value),
            "proto" => scheme = Some(value),
            _ => {}
        }
    }
    Some(Authority { host: host?, scheme })
}

/// The first comma-separated value of header `name`, trimmed.
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.split(',').next()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (axum::http::HeaderName::from_static(k), v.parse().expect("value"))).collect()
    }

    /// Forwarded headers count only when trusted; `Forwarded` wins over `X-Forwarded-*`.
    #[test]
    fn forwarded_headers_only_when_trusted() {
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("x-forwarded-host", "app.example, proxy.internal"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(authority(&h, false), Some(Authority { host: "127.0.0.1:3000".into(), scheme: None }));
        let seen = authority(&h, true).expect("authority");
        assert!(seen.is("app.example", "https") && !seen.is("app.example", "http"));
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("forwarded", r#"for=1.2.3.4;Host="localhost:5173";proto=http, for=5.6.7.8;host=inner"#),
            ("x-forwarded-host", "ignored"),
        ]);
        assert!(authority(&h, true).expect("authority").is("localhost:5173", "http"));
        assert!(has_forwarded_headers(&h) && !has_forwarded_headers(&headers(&[("host", "x")])));
        assert_eq!(authority(&headers(&[]), true), None);
    }
}
