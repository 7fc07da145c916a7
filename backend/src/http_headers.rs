//! Small HTTP helpers shared by the broker and the dev authorization server:
//! the no-store headers of every token response, HTML escaping for the few
//! pages we write, and the mark of a response that never ends by itself. A leaf: it imports nothing of ours.

use http::{HeaderName, HeaderValue, header};

/// `Cache-Control: no-store` and `Pragma: no-cache`: token responses and their
/// errors must never be stored by a browser or proxy (RFC 6749 §5.1).
pub fn no_store_headers() -> [(HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// A response extension marking a body that never ends by itself (an event
/// stream): the server ends it at shutdown, and counts its connection as free
/// to close when the connection cap needs room (the client reconnects), rather
/// than as a request in progress.
#[derive(Debug, Clone, Copy)]
pub struct OpenEnded;

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
