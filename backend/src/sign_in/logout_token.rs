//! The logout token of OpenID Connect Back-Channel Logout 1.0 (§2.4), checked
//! as §2.6 asks: signed by the provider with an asymmetric key from its JWKS,
//! from our issuer, for our client, recent, with the logout event, without a
//! `nonce` (so an ID token cannot pass for one), naming a `sid` and/or a `sub`.
//!
//! Signature and the registered claims are checked by `jsonwebtoken`; the rest
//! is this file. Refusal reasons are fixed texts: the token is never quoted.

use std::time::Duration;

use jsonwebtoken::jwk::PublicKeyUse;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;

use super::jwks::Jwks;
use super::{LogoutError, LogoutFailure};
use crate::session::Subject;

/// The member of `events` that makes a JWT a logout token (§2.4).
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The oldest `iat` accepted. The provider sends the token as the session
/// ends, so a few minutes cover slow networks and retries; the `jti` is
/// remembered this long (plus [`LEEWAY`]), since an older token is refused anyway.
const MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// Clock difference tolerated between the provider and us.
const LEEWAY: Duration = Duration::from_secs(60);

/// Only asymmetric algorithms: no `none` (which `jsonwebtoken` cannot even
/// parse), and no HMAC, which would let anyone holding the provider's public
/// key sign with it as a shared secret.
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What a valid logout token says.
#[derive(Debug)]
pub(super) struct LogoutToken {
    pub jti: String,
    /// Whose sessions end: its `sid` when it has one, else its `sub`.
    pub subject: Subject,
    /// Its `sub`, which sessions of its `sid` must also belong to.
    pub sub: Option<String>,
    /// Until when its `jti` must be remembered (Unix ms).
    pub remember_until_ms: i64,
}

/// The claims §2.4 defines beyond those `jsonwebtoken` checks.
#[derive(Deserialize)]
struct Claims {
    iat: Option<i64>,
    jti: Option<String>,
    sid: Option<String>,
    sub: Option<String>,
    nonce: Option<serde_json::Value>,
    events: Option<serde_json::Map<String, serde_json::Value>>,
}

fn invalid(reason: &'static str) -> LogoutError {
    LogoutFailure::Invalid(reason).into()
}

/// Checks `raw` against the provider's keys, `issuer` and `client_id` at `now_ms`.
pub(super) async fn verify(
    raw: &str,
    jwks: &Jwks,
    issuer: &str,
    client_id: &str,
    now_ms: i64,
) -> Result<LogoutToken, LogoutError> {
    let header = jsonwebtoken::decode_header(raw).map_err(|_| invalid("not a signed JWT"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(invalid("its algorithm is not an asymmetric signature algorithm"));
    }
    // §2.4 recommends explicit typing; a provider may still send plain `JWT`.
    if header.typ.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("logout+jwt") && !t.eq_ignore_ascii_case("JWT")) {
        return Err(invalid("its typ is not logout+jwt"));
    }
    let jwk = jwks.key(header.kid.as_deref()).await?.ok_or_else(|| invalid("its key is not in the provider's JWKS"))?;
    if jwk.common.key_algorithm.is_some_and(|alg| alg.to_string() != format!("{:?}", header.alg))
        || matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature)
    {
        return Err(invalid("its algorithm is not the one its key is for"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("its key in the provider's JWKS is unusable"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["iss", "aud"]);
    validation.leeway = LEEWAY.as_secs();
    let claims = jsonwebtoken::decode::<Claims>(raw, &key, &validation)
        .map_err(|e| {
            invalid(match e.kind() {
                ErrorKind::InvalidSignature => "its signature does not verify",
                ErrorKind::InvalidIssuer => "its iss is not the issuer",
                ErrorKind::InvalidAudience => "its aud does not name this client",
                ErrorKind::MissingRequiredClaim(_) => "it lacks iss or aud",
                ErrorKind::ExpiredSignature => "it has expired",
                ErrorKind::InvalidAlgorithm => "its algorithm does not fit its key",
                _ => "its claims are malformed",
            })
        })?
        .claims;
    check_claims(claims, now_ms)
}

/// §2.6 steps 3–6 after the signature, `iss`, `aud` and `exp`.
fn check_claims(claims: Claims, now_ms: i64) -> Result<LogoutToken, LogoutError> {
    let iat_ms = claims.iat.ok_or_else(|| invalid("it has no iat"))?.saturating_mul(1000);
    let (max_age_ms, leeway_ms) = (millis(MAX_AGE), millis(LEEWAY));
    if iat_ms > now_ms.saturating_add(leeway_ms) {
        return Err(invalid("its iat is in the future"));
    }
    if iat_ms < now_ms.saturating_sub(max_age_ms + leeway_ms) {
        return Err(invalid("its iat is too old"));
    }
    let event = claims.events.as_ref().and_then(|events| events.get(LOGOUT_EVENT));
    if !event.is_some_and(serde_json::Value::is_object) {
        return Err(invalid("its events lack the back-channel logout event"));
    }
    if claims.nonce.is_some() {
        return Err(invalid("it has a nonce"));
    }
    let present = |value: Option<String>| value.filter(|v| !v.is_empty());
    let sub = present(claims.sub);
    let subject = match (present(claims.sid), &sub) {
        (Some(sid), _) => Subject::Sid(sid),
        (None, Some(sub)) => Subject::Sub(sub.clone()),
        (None, None) => return Err(invalid("it names neither sid nor sub")),
    };
    let jti = present(claims.jti).ok_or_else(|| invalid("it has no jti"))?;
    Ok(LogoutToken { jti, subject, sub, remember_until_ms: iat_ms + max_age_ms + leeway_ms })
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_700_000_000_000;

    fn claims(mutate: impl FnOnce(&mut serde_json::Value)) -> Claims {
        let mut claims = serde_json::json!({
            "iat": NOW_MS / 1000, "jti": "j1", "sid": "s1", "sub": "u1",
            "events": { LOGOUT_EVENT: {} },
        });
        mutate(&mut claims);
        serde_json::from_value(claims).expect("claims")
    }

    fn refusal(claims: Claims) -> String {
        match check_claims(claims, NOW_MS) {
            Err(LogoutError::Failed(LogoutFailure::Invalid(reason))) => reason.to_owned(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// A token with the logout event, a recent `iat`, a `jti` and a `sid` or `sub` is accepted,
    /// and its `jti` is remembered as long as the token could be accepted.
    #[test]
    fn a_logout_token_is_accepted() {
        let token = check_claims(claims(|_| {}), NOW_MS).expect("valid");
        assert_eq!(
            (token.jti.as_str(), &token.subject, token.sub.as_deref()),
            ("j1", &Subject::Sid("s1".into()), Some("u1"))
        );
        assert_eq!(token.remember_until_ms, NOW_MS + millis(MAX_AGE) + millis(LEEWAY));
        let only_sub = check_claims(claims(|c| c["sid"] = serde_json::Value::Null), NOW_MS).expect("sub alone");
        assert_eq!(only_sub.subject, Subject::Sub("u1".into()));
        let only_sid = check_claims(claims(|c| c["sub"] = serde_json::Value::Null), NOW_MS).expect("sid alone");
        assert_eq!((only_sid.subject, only_sid.sub), (Subject::Sid("s1".into()), None));
    }

    /// Each rule of §2.6 refuses on its own: an ID token (nonce, no events), an
    /// event that is not an object, neither sid nor sub, no jti, an old or future iat.
    #[test]
    fn each_rule_refuses() {
        use serde_json::{Value, json};
        let cases = [
            ("nonce", vec![("nonce", json!("n"))]),
            ("events", vec![("events", Value::Null)]),
            ("events", vec![("events", json!({ LOGOUT_EVENT: "yes" }))]),
            ("events", vec![("events", json!({ "http://other/event": {} }))]),
            ("neither", vec![("sid", json!("")), ("sub", Value::Null)]),
            ("jti", vec![("jti", Value::Null)]),
            ("too old", vec![("iat", json!(NOW_MS / 1000 - 400))]),
            ("future", vec![("iat", json!(NOW_MS / 1000 + 120))]),
        ];
        for (expected, changes) in cases {
            let reason = refusal(claims(|c| changes.into_iter().for_each(|(name, value)| c[name] = value)));
            assert!(reason.contains(expected), "{expected}: {reason}");
        }
    }

    /// Only asymmetric signature algorithms are on the list.
    #[test]
    fn no_symmetric_algorithms() {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert!(!ALGORITHMS.contains(&alg), "{alg:?}");
        }
    }
}
