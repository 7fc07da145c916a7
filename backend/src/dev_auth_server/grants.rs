//! What the dev server remembers between requests: authorization codes (single
//! use), refresh tokens (rotated on every use) and access tokens (for userinfo).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long an authorization code may wait for its exchange (RFC 6749 §4.1.2 says "short").
const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// An authorization code awaiting exchange.
#[derive(Debug)]
pub(super) struct CodeGrant {
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub user: String,
    issued: Instant,
}

/// Who a token belongs to and what it may do.
#[derive(Debug, Clone)]
pub(super) struct Holder {
    pub user: String,
    pub scope: String,
}

#[derive(Debug, Default)]
pub(super) struct Grants {
    codes: HashMap<String, CodeGrant>,
    refresh_tokens: HashMap<String, Holder>,
    access_tokens: HashMap<String, (Holder, Instant)>,
}

impl Grants {
    pub fn add_code(
        &mut self,
        code: String,
        redirect_uri: String,
        code_challenge: String,
        scope: String,
        nonce: Option<String>,
        user: String,
    ) {
        self.codes.retain(|_, c| c.issued.elapsed() < CODE_LIFETIME);
        self.codes.insert(code, CodeGrant { redirect_uri, code_challenge, scope, nonce, user, issued: Instant::now() });
    }

    /// Removes the code whatever happens next: a code is good for one attempt.
    pub fn take_code(&mut self, code: &str) -> Option<CodeGrant> {
        self.codes.remove(code).filter(|c| c.issued.elapsed() < CODE_LIFETIME)
    }

    pub fn add_refresh_token(&mut self, token: String, holder: Holder) {
        self.refresh_tokens.insert(token, holder);
    }

    /// Rotation: a refresh token works once.
    pub fn take_refresh_token(&mut self, token: &str) -> Option<Holder> {
        self.refresh_tokens.remove(token)
    }

    pub fn add_access_token(&mut self, token: String, holder: Holder, ttl: Duration) {
        let now = Instant::now();
        self.access_tokens.retain(|_, (_, expires)| *expires > now);
        self.access_tokens.insert(token, (holder, now + ttl));
    }

    pub fn access_token(&self, token: &str) -> Option<Holder> {
        self.access_tokens.get(token).filter(|(_, expires)| *expires > Instant::now()).map(|(h, _)| h.clone())
    }

    /// RFC 7009: forget the token, whichever kind it is.
    pub fn revoke(&mut self, token: &str) {
        self.refresh_tokens.remove(token);
        self.access_tokens.remove(token);
    }
}
