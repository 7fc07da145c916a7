//! The dev server's token endpoint (RFC 6749 §3.2), revocation (RFC 7009),
//! userinfo and metadata (RFC 8414).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use serde_json::json;

use super::grants::Holder;
use super::{DevState, random_token};
use crate::constant_time;
use crate::http_headers::no_store_headers;

/// `POST /token`: authenticates the client, then dispatches on `grant_type`.
pub(super) async fn token(
    State(state): State<Arc<DevState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !is_client_authenticated(&state, &headers, &form) {
        let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"dev\""));
        return response;
    }
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => client_credentials(&state, &form),
        Some("authorization_code") => authorization_code(&state, &form),
        Some("refresh_token") => refresh_token(&state, &form),
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type `{other}` is not supported"),
        ),
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is missing"),
    }
}

/// `GET /.well-known/oauth-authorization-server`.
pub(super) async fn metadata(State(state): State<Arc<DevState>>) -> Response {
    let issuer = &state.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
    .into_response()
}

/// `POST /revoke` (RFC 7009): always 200 for an authenticated client.
pub(super) async fn revoke(
    State(state): State<Arc<DevState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !is_client_authenticated(&state, &headers, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
    }
    if let Some(token) = form.get("token") {
        state.grants().revoke(token);
    }
    StatusCode::OK.into_response()
}

/// `GET /userinfo`: who the bearer token belongs to.
pub(super) async fn userinfo(State(state): State<Arc<DevState>>, headers: HeaderMap) -> Response {
    let token =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match token.and_then(|t| state.grants().access_token(t)) {
        Some(holder) => Json(json!({
            "sub": holder.user,
            "name": holder.user,
            "preferred_username": holder.user,
            "email": format!("{}@example.invalid", holder.user),
        }))
        .into_response(),
        None => {
            let mut response =
                oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "unknown or expired access token");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            response
        }
    }
}

/// `authorization_code` with PKCE: the code is single-use and bound to the
/// redirect URI and challenge it was issued for.
fn authorization_code(state: &DevState, form: &HashMap<String, String>) -> Response {
    let code = form.get("code").map(String::as_str).unwrap_or_default();
    let Some(grant) = state.grants().take_code(code) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown, expired or used authorization code");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        );
    }
    let verifier = form.get("code_verifier").map(String::as_str).unwrap_or_default();
    let challenge = {
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    if verifier.len() < 43 || !constant_time::eq(&challenge, &grant.code_challenge) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE verification failed");
    }
    let holder = Holder { user: grant.user, scope: grant.scope };
    let id_token = holder.scope.split(' ').any(|s| s == "openid").then(|| id_token(state, &holder.user, grant.nonce));
    issue_user_tokens(state, holder.clone(), &holder.scope, id_token)
}

/// `refresh_token` with rotation; `scope` may narrow the new access token.
fn refresh_token(state: &DevState, form: &HashMap<String, String>) -> Response {
    let token = form.get("refresh_token").map(String::as_str).unwrap_or_default();
    let Some(holder) = state.grants().take_refresh_token(token) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown, revoked or already used refresh token");
    };
    let scope = match form.get("scope").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => holder.scope.clone(),
        Some(requested) => {
            let granted: Vec<&str> = holder.scope.split(' ').collect();
            if requested.split(' ').any(|s| !granted.contains(&s)) {
                // Put the token back: a refused request must not burn it.
                state.grants().add_refresh_token(token.to_owned(), holder);
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "scope exceeds the original grant");
            }
            requested.to_owned()
        }
    };
    issue_user_tokens(state, holder, &scope, None)
}

fn issue_user_tokens(state: &DevState, holder: Holder, scope: &str, id_token: Option<String>) -> Response {
    let access_token = format!("dev_{}", random_token(24));
    let refresh_token = format!("devrt_{}", random_token(32));
    {
        let mut grants = state.grants();
        grants.add_access_token(
            access_token.clone(),
            Holder { user: holder.user.clone(), scope: scope.to_owned() },
            state.token_ttl,
        );
        grants.add_refresh_token(refresh_token.clone(), holder);
    }
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": state.token_ttl.as_secs(),
        "refresh_token": refresh_token,
        "scope": scope,
    });
    if let Some(id_token) = id_token {
        body["id_token"] = json!(id_token);
    }
    (no_store_headers(), Json(body)).into_response()
}

/// An unsigned (`alg: none`) ID token: enough for the broker's nonce and
/// audience checks in dev; real providers sign theirs.
fn id_token(state: &DevState, user: &str, nonce: Option<String>) -> String {
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let claims = json!({
        "iss": state.issuer, "sub": user, "aud": state.client_id, "iat": now,
        "exp": now + state.token_ttl.as_secs(), "nonce": nonce,
    });
    format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims))
}

fn client_credentials(state: &DevState, form: &HashMap<String, String>) -> Response {
    let scope = form.get("scope").map(String::as_str).unwrap_or_default();
    let access_token = format!("dev_{}", random_token(24));
    // Remembered, so the resource server can check it.
    let holder = Holder { user: state.client_id.clone(), scope: scope.to_owned() };
    state.grants().add_access_token(access_token.clone(), holder, state.token_ttl);
    let body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": state.token_ttl.as_secs(),
        "scope": scope,
    });
    (no_store_headers(), Json(body)).into_response()
}

/// HTTP Basic (`client_secret_basic`, with RFC 6749 §2.3.1 form-encoding) or
/// body parameters (`client_secret_post`); the secret is compared in constant time.
fn is_client_authenticated(state: &DevState, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let (id, secret) = match basic_credentials(headers) {
        Some(pair) => pair,
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => return false,
        },
    };
    id == state.client_id && constant_time::eq(&secret, state.client_secret.secret())
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape =
        |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, no_store_headers(), Json(json!({ "error": error, "error_description": description }))).into_response()
}
