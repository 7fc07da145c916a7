//! The ID token's claims that bind it to one sign-in and one client, and the
//! user claims kept from it for `/api/user/me`.

use base64::Engine;
use serde::Deserialize;

use super::SignInFailure;
use crate::constant_time;
use crate::exchange::IdToken;

/// The ID token's claims that describe the token and this sign-in rather than
/// the user (OpenID Connect Core §2, §3.1.3.6); they are not kept in the session.
const PROTOCOL_CLAIMS: &[&str] =
    &["aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash", "c_hash", "s_hash", "jti", "sid"];

/// The user claims of a checked ID token (`sub`, `iss`, `name`, `email`, …):
/// everything but [`PROTOCOL_CLAIMS`]. An ID token carries no secrets; the raw
/// JWT itself is not kept.
pub type IdClaims = serde_json::Map<String, serde_json::Value>;

/// What sign-in keeps of a checked ID token.
#[derive(Debug)]
pub(super) struct Checked {
    pub claims: IdClaims,
    /// The provider's session (`sid`, Back-Channel Logout 1.0 §2.1), when it names one.
    pub sid: Option<String>,
}

/// Checks the ID token's `iss` (when the issuer is known), `nonce`, `aud` and
/// `exp` (OpenID Connect Core §3.1.3.7) and returns its user claims and `sid`. The signature is not checked: the token came
/// straight from the token endpoint over TLS in a client-authenticated request,
/// which §3.1.3.7 allows in place of signature validation.
pub(super) fn check(
    id_token: &IdToken,
    nonce: &str,
    client_id: &str,
    issuer: Option<&str>,
    now_ms: i64,
) -> Result<Checked, SignInFailure> {
    #[derive(Deserialize)]
    struct Claims {
        iss: Option<String>,
        sid: Option<String>,
        nonce: Option<String>,
        aud: serde_json::Value,
        exp: Option<i64>,
    }
    let payload = id_token.as_str().split('.').nth(1).ok_or(SignInFailure::InvalidIdToken("not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| SignInFailure::InvalidIdToken("payload is not base64url"))?;
    let mut all: IdClaims =
        serde_json::from_slice(&bytes).map_err(|_| SignInFailure::InvalidIdToken("payload is not JSON"))?;
    let claims: Claims = serde_json::from_value(serde_json::Value::Object(all.clone()))
        .map_err(|_| SignInFailure::InvalidIdToken("payload is not JSON"))?;
    // Step 2: the issuer identifier must match exactly.
    if issuer.is_some_and(|issuer| claims.iss.as_deref() != Some(issuer)) {
        return Err(SignInFailure::InvalidIdToken("issuer mismatch"));
    }
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| constant_time::eq(n, nonce));
    if !nonce_ok {
        return Err(SignInFailure::InvalidIdToken("nonce mismatch"));
    }
    let aud_ok = match &claims.aud {
        serde_json::Value::String(a) => a == client_id,
        serde_json::Value::Array(list) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(SignInFailure::InvalidIdToken("audience mismatch"));
    }
    if claims.exp.is_some_and(|exp| exp * 1000 < now_ms) {
        return Err(SignInFailure::InvalidIdToken("expired"));
    }
    if !all.get("sub").is_some_and(serde_json::Value::is_string) {
        return Err(SignInFailure::InvalidIdToken("no sub"));
    }
    all.retain(|name, _| !PROTOCOL_CLAIMS.contains(&name.as_str()));
    Ok(Checked { claims: all, sid: claims.sid.filter(|sid| !sid.is_empty()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> IdToken {
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        serde_json::from_value(serde_json::Value::String(format!(
            "{}.{}.sig",
            b64(br#"{"alg":"RS256"}"#),
            b64(claims.to_string().as_bytes())
        )))
        .expect("id token")
    }

    /// The nonce and audience bind the ID token to this sign-in and this client.
    #[test]
    fn id_token_checks() {
        let ok = jwt(serde_json::json!({"sub":"u1","nonce":"n1","aud":"app","exp": 4_000_000_000i64}));
        assert!(check(&ok, "n1", "app", None, 0).is_ok());
        assert!(check(&ok, "n2", "app", None, 0).is_err());
        assert!(check(&ok, "n1", "other", None, 0).is_err());
        let listed = jwt(serde_json::json!({"sub":"u1","nonce":"n1","aud":["x","app"]}));
        assert!(check(&listed, "n1", "app", None, 0).is_ok());
        let expired = jwt(serde_json::json!({"sub":"u1","nonce":"n1","aud":"app","exp": 1}));
        assert!(check(&expired, "n1", "app", None, 10_000).is_err());
        assert!(check(&jwt(serde_json::json!({"aud":"app"})), "n1", "app", None, 0).is_err());
        assert!(check(&jwt(serde_json::json!({"nonce":"n1","aud":"app"})), "n1", "app", None, 0).is_err(), "no sub");
    }

    /// A known issuer must be the token's `iss`, exactly (Core §3.1.3.7 step 2).
    #[test]
    fn issuer_must_match_when_known() {
        let token = jwt(serde_json::json!({"iss":"https://op","sub":"u1","nonce":"n1","aud":"app"}));
        assert!(check(&token, "n1", "app", Some("https://op"), 0).is_ok());
        assert!(check(&token, "n1", "app", Some("https://evil"), 0).is_err());
        assert!(check(&token, "n1", "app", Some("https://op/"), 0).is_err());
        let no_iss = jwt(serde_json::json!({"sub":"u1","nonce":"n1","aud":"app"}));
        assert!(check(&no_iss, "n1", "app", Some("https://op"), 0).is_err());
    }

    /// The user claims are kept; the protocol claims are not.
    #[test]
    fn keeps_user_claims_only() {
        let token = jwt(serde_json::json!({
            "iss":"https://op","sub":"u1","name":"Ada","nonce":"n1","aud":"app","exp": 4_000_000_000i64,
            "iat": 1, "at_hash":"h", "sid":"s"
        }));
        let checked = check(&token, "n1", "app", None, 0).expect("valid");
        let names: Vec<&str> = checked.claims.keys().map(String::as_str).collect();
        assert_eq!(names, ["iss", "name", "sub"]);
        assert_eq!(checked.sid.as_deref(), Some("s"), "the provider's session, for back-channel logout");
    }
}
