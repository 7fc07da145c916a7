//! The response sandbox: an API's answer is served on the broker's own
//! origin, next to `/api/user/token`, so nothing it sends may run as script
//! there. Every proxied response gets a CSP that sandboxes it (a unique opaque
//! origin, no script, no forms) and loads nothing, and `nosniff`; a type a
//! browser would render actively (HTML, SVG, XML, anything unknown or missing)
//! is also sent as a download unless the API's config opts in to inline.
//!
//! Only navigations read `Content-Disposition` and the CSP of the response;
//! `fetch` and the Viewer's loads ignore both, so this costs real clients nothing.

use std::borrow::Cow;

use http::{HeaderMap, HeaderValue, header};

/// No script, plugin, form or same-origin access, and nothing loaded.
pub const CSP: &str = "sandbox; default-src 'none'";

/// Types a browser shows inertly when navigated to: media, fonts, 3D models,
/// plain text and data. Everything else, including a missing or unparsable
/// type, counts as active (an allowlist, since new active types keep appearing:
/// `image/svg+xml`, `application/xhtml+xml`, `text/xsl`, `application/pdf`...).
fn is_passive(content_type: Option<&HeaderValue>) -> bool {
    let Some(essence) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = essence.split(';').next().unwrap_or_default().trim();
    // APIs send types in lowercase; only another case costs a copy.
    let essence = if essence.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(essence.to_ascii_lowercase())
    } else {
        Cow::Borrowed(essence)
    };
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    match kind {
        "image" => !subtype.contains("svg") && !subtype.contains("xml"),
        "audio" | "video" | "font" | "model" => !subtype.contains("xml"),
        "text" => matches!(subtype, "plain" | "csv" | "css"),
        "application" => {
            matches!(subtype, "json" | "octet-stream" | "wasm" | "zip" | "gzip")
                || (subtype.ends_with("+json") && !subtype.contains("xml"))
        }
        _ => false,
    }
}

/// Adds the sandbox to an API's `headers` (already allowlisted): the CSP and
/// `nosniff` always, and `Content-Disposition: attachment` for an active type
/// unless `is_inline_allowed` (the API's `inline_active_content`).
pub fn apply(headers: &mut HeaderMap, is_inline_allowed: bool) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if is_inline_allowed || is_passive(headers.get(header::CONTENT_TYPE)) {
        return;
    }
    // The API's own `attachment; filename=…` is kept; `inline` (or anything else) is not.
    let is_attachment = headers
        .get(header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().get(..10).is_some_and(|s| s.eq_ignore_ascii_case("attachment")));
    if !is_attachment {
        headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandboxed(content_type: Option<&str>, disposition: Option<&str>, is_inline_allowed: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).expect("value"));
        }
        if let Some(value) = disposition {
            headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(value).expect("value"));
        }
        apply(&mut headers, is_inline_allowed);
        headers
    }

    fn disposition(headers: &HeaderMap) -> Option<&str> {
        headers.get(header::CONTENT_DISPOSITION).and_then(|v| v.to_str().ok())
    }

    /// Active, unknown and missing types become downloads; every response is sandboxed.
    #[test]
    fn active_types_are_downloads() {
        for active in [
            None,
            Some("text/html"),
            Some("TEXT/HTML; charset=utf-8"),
            Some(" text/html ;x"),
            Some("application/xhtml+xml"),
            Some("image/svg+xml"),
            Some("text/xml"),
            Some("application/xml"),
            Some("application/rss+xml"),
            Some("text/xsl"),
            Some("application/pdf"),
            Some("application/javascript"),
            Some("multipart/x-mixed-replace; boundary=x"),
            Some("application/vnd.ms-htmlhelp"),
            Some("nonsense"),
            Some(""),
        ] {
            let headers = sandboxed(active, Some("inline"), false);
            assert_eq!(disposition(&headers), Some("attachment"), "{active:?}");
            assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP, "{active:?}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{active:?}");
        }
    }

    /// What the Viewer and ordinary clients load stays as the API sent it.
    #[test]
    fn passive_types_are_left_inline() {
        for passive in [
            "model/gltf-binary",
            "application/json",
            "image/png",
            "text/plain; charset=utf-8",
            "application/octet-stream",
        ] {
            let headers = sandboxed(Some(passive), None, false);
            assert_eq!(disposition(&headers), None, "{passive}");
            assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP);
        }
        let named = sandboxed(Some("image/png"), Some("inline; filename=a.png"), false);
        assert_eq!(disposition(&named), Some("inline; filename=a.png"));
    }

    /// The API's own attachment keeps its file name.
    #[test]
    fn an_attachment_keeps_its_name() {
        let headers = sandboxed(Some("text/html"), Some("Attachment; filename=\"page.html\""), false);
        assert_eq!(disposition(&headers), Some("Attachment; filename=\"page.html\""));
    }

    /// Opting in to inline leaves the disposition but never the sandbox.
    #[test]
    fn inline_opt_in_keeps_the_sandbox() {
        let headers = sandboxed(Some("text/html"), None, true);
        assert_eq!(disposition(&headers), None);
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
