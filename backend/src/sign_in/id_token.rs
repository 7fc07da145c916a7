//! The ID token's claims that bind it to one sign-in and one client.

use base64::Engine;
use serde::Deserialize;

use super::SignInError;
use crate::constant_time;
use crate::exchange::IdToken;

/// Checks the ID token's `nonce` and `aud` (OpenID Connect Core §3.1.3.7). The
/// signature is not checked: the token came straight from the token endpoint
/// over TLS in a client-authenticated request, which §3.1.3.7 allows in place of
/// signature validation, and we use no claim from it.
pub(super) fn check(id_token: &IdToken, nonce: &str, client_id: &str, now_ms: i64) -> Result<(), SignInError> {
    #[derive(Deserialize)]
    struct Claims {
        nonce: Option<String>,
        aud: serde_json::Value,
        exp: Option<i64>,
    }
    let payload = id_token.as_str().split('.').nth(1).ok_or(SignInError::InvalidIdToken("not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| SignInError::InvalidIdToken("payload is not base64url"))?;
    let claims: Claims =
        serde_json::from_slice(&bytes).map_err(|_| SignInError::InvalidIdToken("payload is not JSON"))?;
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| constant_time::eq(n, nonce));
    if !nonce_ok {
        return Err(SignInError::InvalidIdToken("nonce mismatch"));
    }
    let aud_ok = match &claims.aud {
        serde_json::Value::String(a) => a == client_id,
        serde_json::Value::Array(list) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err(SignInError::InvalidIdToken("audience mismatch"));
    }
    if claims.exp.is_some_and(|exp| exp * 1000 < now_ms) {
        return Err(SignInError::InvalidIdToken("expired"));
    }
    Ok(())
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
        let ok = jwt(serde_json::json!({"nonce":"n1","aud":"app","exp": 4_000_000_000i64}));
        assert!(check(&ok, "n1", "app", 0).is_ok());
        assert!(check(&ok, "n2", "app", 0).is_err());
        assert!(check(&ok, "n1", "other", 0).is_err());
        let listed = jwt(serde_json::json!({"nonce":"n1","aud":["x","app"]}));
        assert!(check(&listed, "n1", "app", 0).is_ok());
        let expired = jwt(serde_json::json!({"nonce":"n1","aud":"app","exp": 1}));
        assert!(check(&expired, "n1", "app", 10_000).is_err());
        assert!(check(&jwt(serde_json::json!({"aud":"app"})), "n1", "app", 0).is_err());
    }
}
