//! The token response (RFC 6749 §5.1): read leniently where real providers
//! deviate harmlessly, then validated into an [`IssuedToken`] or refused.

use std::time::Duration;

use oauth2::basic::BasicTokenType;
use oauth2::{AccessToken, RefreshToken, Scope, TokenResponse};
use serde::{Deserialize, Deserializer, Serialize};

use super::ExchangeError;

/// Longest token lifetime we believe; anything longer is a broken upstream.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// A token the upstream issued, validated.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: AccessToken,
    /// Lifetime as stated by the upstream (or the configured default), counted from receipt.
    pub expires_in: Duration,
    pub refresh_token: Option<RefreshToken>,
    /// The OpenID Connect ID token, when the upstream sent one.
    pub id_token: Option<IdToken>,
}

/// A compact-serialised JWT; `Debug` hides it (it identifies the user).
#[derive(Clone, Deserialize, Serialize)]
#[serde(transparent)]
pub struct IdToken(String);

impl std::fmt::Debug for IdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdToken([redacted])")
    }
}

impl IdToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// serde_json's message without the offending input (which could be a token).
pub(crate) fn parse_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => "not valid JSON".to_owned(),
        Category::Data => {
            let text = e.to_string();
            // "missing field `access_token` at line 1 column 2" → keep the part before " at line".
            text.split(" at line").next().unwrap_or("unexpected data").to_owned()
        }
        Category::Io => "read error".to_owned(),
    }
}

/// Checks a parsed token response and turns it into an [`IssuedToken`].
pub(super) fn validate(response: UpstreamTokenResponse, default_ttl: Duration) -> Result<IssuedToken, ExchangeError> {
    if response.access_token.secret().trim().is_empty() {
        return Err(ExchangeError::InvalidResponse("`access_token` is empty".into()));
    }
    if !matches!(response.token_type, BasicTokenType::Bearer) {
        return Err(ExchangeError::InvalidResponse(format!(
            "`token_type` is `{}`; only Bearer tokens can be handed to a browser",
            response.token_type.as_ref()
        )));
    }
    let expires_in = match response.expires_in {
        None => {
            tracing::warn!(
                default_ttl = default_ttl.as_secs(),
                "upstream token response has no `expires_in`; assuming the configured default lifetime"
            );
            default_ttl
        }
        Some(Seconds(n)) if n <= 0 => {
            return Err(ExchangeError::InvalidResponse(format!("`expires_in` is {n}; it must be positive")));
        }
        Some(Seconds(n)) => {
            let lifetime = Duration::from_secs(n.unsigned_abs());
            if lifetime > MAX_LIFETIME {
                return Err(ExchangeError::InvalidResponse(format!("`expires_in` is {n} seconds, longer than a year")));
            }
            lifetime
        }
    };
    Ok(IssuedToken {
        access_token: response.access_token,
        expires_in,
        refresh_token: response.refresh_token,
        id_token: response.id_token,
    })
}

/// RFC 6749 §5.1 token response, read leniently where real providers deviate
/// harmlessly: `token_type` missing or in any case, `expires_in` as a numeric string.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(super) struct UpstreamTokenResponse {
    access_token: AccessToken,
    #[serde(default = "bearer", deserialize_with = "lenient_token_type")]
    token_type: BasicTokenType,
    #[serde(default, deserialize_with = "lenient_seconds")]
    expires_in: Option<Seconds>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default)]
    id_token: Option<IdToken>,
}

/// `expires_in` as the upstream sent it; validated in [`validate`].
#[derive(Debug, Clone, Copy, Serialize)]
struct Seconds(i64);

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

fn lenient_token_type<'de, D: Deserializer<'de>>(d: D) -> Result<BasicTokenType, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    Ok(match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("bearer") => BasicTokenType::Bearer,
        Some("mac") => BasicTokenType::Mac,
        Some(other) => BasicTokenType::Extension(other.to_owned()),
    })
}

fn lenient_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Seconds>, D::Error> {
    use serde::de::Error;
    let value = Option::<serde_json::Value>::deserialize(d)?;
    let seconds = match value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Number(n)) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite() && f.abs() < 1e15).map(|f| f as i64))
        }
        Some(serde_json::Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    seconds.map(|s| Some(Seconds(s))).ok_or_else(|| D::Error::custom("`expires_in` is not a number of seconds"))
}

impl TokenResponse for UpstreamTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.filter(|s| s.0 > 0).map(|s| Duration::from_secs(s.0.unsigned_abs()))
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<IssuedToken, ExchangeError> {
        let response: UpstreamTokenResponse =
            serde_json::from_str(json).map_err(|e| ExchangeError::InvalidResponse(parse_reason(&e)))?;
        validate(response, Duration::from_secs(600))
    }

    /// Harmless deviations real providers send are accepted.
    #[test]
    fn accepts_harmless_deviations() {
        let t = parse(r#"{"access_token":"abc","expires_in":"3599"}"#).expect("numeric string");
        assert_eq!(t.expires_in, Duration::from_secs(3599));
        let t = parse(r#"{"access_token":"abc","token_type":"bearer","expires_in":60}"#).expect("lower-case type");
        assert_eq!(t.expires_in, Duration::from_secs(60));
        let t = parse(r#"{"access_token":"abc","token_type":"Bearer"}"#).expect("missing expires_in");
        assert_eq!(t.expires_in, Duration::from_secs(600), "falls back to the default lifetime");
    }

    /// Broken responses are errors, never tokens.
    #[test]
    fn rejects_broken_responses() {
        for body in [
            r#"{"access_token":"","expires_in":60}"#,
            r#"{"access_token":"abc","expires_in":0}"#,
            r#"{"access_token":"abc","expires_in":-5}"#,
            r#"{"access_token":"abc","expires_in":"soon"}"#,
            r#"{"access_token":"abc","expires_in":99999999999}"#,
            r#"{"access_token":"abc","token_type":"DPoP","expires_in":60}"#,
            r#"{"expires_in":60}"#,
            r#"not json"#,
        ] {
            assert!(matches!(parse(body), Err(ExchangeError::InvalidResponse(_))), "{body}");
        }
    }

    /// A parse error names the problem but never echoes the body.
    #[test]
    fn parse_errors_do_not_echo_the_body() {
        let err = serde_json::from_str::<UpstreamTokenResponse>(r#"{"access_token":"tok-SECRET","expires_in":"x"}"#)
            .expect_err("bad expires_in");
        assert!(!parse_reason(&err).contains("tok-SECRET"));
    }
}
