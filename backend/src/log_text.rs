//! Upstream-supplied text made fit for a log line: every credential the broker
//! sent is scrubbed in each encoding it was sent in, control characters are
//! escaped, and the length is capped.
//!
//! An upstream's `error_description` is free text: servers echo the Basic header,
//! the refresh token, code or PKCE verifier back in it, and a newline or ANSI
//! escape in it would forge or recolour lines of the text log.

use base64::Engine;

/// The most characters of upstream text a log line carries.
const MAX_CHARS: usize = 256;

/// Scrubs a fixed set of credentials from text.
#[derive(Default)]
pub struct Scrubber {
    /// Every spelling to remove, longest first so a longer one is not cut by a shorter.
    spellings: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber").field("spellings", &self.spellings.len()).finish()
    }
}

impl Scrubber {
    /// A credential sent as is or in a form body (`application/x-www-form-urlencoded`).
    pub fn credential(mut self, value: &str) -> Self {
        if !value.is_empty() {
            self.add(value.to_owned());
            self.add(form_encode(value));
        }
        self
    }

    /// Client credentials sent as HTTP Basic: the secret itself, and the header
    /// value in both the RFC 6749 §2.3.1 form-encoded and the raw spelling.
    pub fn basic(self, client_id: &str, secret: &str) -> Self {
        let mut this = self.credential(secret);
        if !secret.is_empty() {
            for pair in [format!("{}:{}", form_encode(client_id), form_encode(secret)), format!("{client_id}:{secret}")]
            {
                this.add(base64::engine::general_purpose::STANDARD.encode(pair));
            }
        }
        this
    }

    fn add(&mut self, spelling: String) {
        if !self.spellings.contains(&spelling) {
            self.spellings.push(spelling);
            self.spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` without the credentials, with control characters escaped, cut to
    /// [`MAX_CHARS`] characters.
    pub fn clean(&self, text: &str) -> String {
        let mut scrubbed = text.to_owned();
        for spelling in &self.spellings {
            scrubbed = scrubbed.replace(spelling.as_str(), "[redacted]");
        }
        printable(&scrubbed)
    }
}

/// Control characters escaped (`\n`, `\u{1b}`) and the length capped.
pub fn printable(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain, form-encoded and Basic-encoded spellings are all removed.
    #[test]
    fn every_spelling_is_scrubbed() {
        let scrubber = Scrubber::default().basic("my id", "s3cret/+=").credential("refresh-tok&en");
        let basic = base64::engine::general_purpose::STANDARD.encode("my+id:s3cret%2F%2B%3D");
        let raw_basic = base64::engine::general_purpose::STANDARD.encode("my id:s3cret/+=");
        let text =
            format!("a s3cret/+= b s3cret%2F%2B%3D c Basic {basic} d {raw_basic} e refresh-tok%26en f refresh-tok&en");
        let clean = scrubber.clean(&text);
        for leaked in ["s3cret", &basic, &raw_basic, "refresh-tok"] {
            assert!(!clean.contains(leaked), "{leaked} in {clean}");
        }
        assert_eq!(clean.matches("[redacted]").count(), 6, "{clean}");
    }

    /// A newline or an ANSI escape cannot start a forged log line or colour one.
    #[test]
    fn control_characters_are_escaped_and_length_capped() {
        let clean = printable("bad\nINFO forged line \u{1b}[31mred");
        assert!(!clean.contains('\n') && !clean.contains('\u{1b}'), "{clean}");
        assert!(clean.contains("\\n") && clean.contains("\\u{1b}"), "{clean}");
        assert_eq!(printable(&"x".repeat(10_000)).chars().count(), MAX_CHARS + 1);
    }
}
