//! The dev server's token endpoint (RFC 6749 §3.2) and its metadata (RFC 8414).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::{DevState, random_token};
use crate::error::no_store_headers;

/// `POST /token`: authenticates the client, then dispatches on `grant_type`.
pub(super) async fn token(
    State(state): State<Arc<DevState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !is_client_authenticated(&state, &headers, &form) {
        let mut response = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"dev\""),
        );
        return response;
    }
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => client_credentials(&state, &form),
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
    Json(json!({
        "issuer": state.issuer,
        "token_endpoint": format!("{}/token", state.issuer),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
    .into_response()
}

fn client_credentials(state: &DevState, form: &HashMap<String, String>) -> Response {
    let scope = form.get("scope").map(String::as_str).unwrap_or_default();
    let body = json!({
        "access_token": format!("dev_{}", random_token(24)),
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
    let secret_ok: bool = secret.as_bytes().ct_eq(state.client_secret.secret().as_bytes()).into();
    id == state.client_id && secret_ok
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        no_store_headers(),
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}
