//! Small HTTP helpers shared by the broker and the dev authorization server:
//! the no-store headers of every token response, and HTML escaping for the
//! few pages we write. A leaf: it imports nothing of ours.

use http::{HeaderName, HeaderValue, header};

/// `Cache-Control: no-store` and `Pragma: no-cache`: token responses and their
/// errors must never be stored by a browser or proxy (RFC 6749 §5.1).
pub fn no_store_headers() -> [(HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// Escapes text for an HTML element or a quoted attribute value.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markup and both quote characters are neutralised.
    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape_html("<a href='x' title=\"y\">&"), "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;");
    }
}
