//! The dev server's end-session endpoint (OpenID Connect RP-Initiated Logout
//! 1.0 §2), so `--dev` shows sign-out's whole loop: the broker sends the browser
//! here and it comes back to the site. The dev server keeps no browser session
//! (its sign-in page shows every time), so there is nothing else to end.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use url::Url;

use super::DevState;
use crate::http_headers::escape_html;

/// `GET /end-session`: checks the request as a provider must (§2, §3) and sends
/// the browser to `post_logout_redirect_uri` with `state`, or shows a page.
pub(super) async fn end_session(
    State(state): State<Arc<DevState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(client_id) = params.get("client_id")
        && *client_id != state.client_id
    {
        return refuse("unknown client_id");
    }
    if let Some(hint) = params.get("id_token_hint")
        && !is_ours(&state, hint)
    {
        return refuse("id_token_hint is not an ID token this server issued to this client");
    }
    let Some(target) = params.get("post_logout_redirect_uri") else {
        return Html("<!doctype html><title>Signed out</title><h1>Signed out</h1>").into_response();
    };
    // Registered post-logout URIs: any page on the registered redirect URI's origin.
    let registered = state.redirect_uri.as_deref().and_then(|r| Url::parse(r).ok()).map(|r| r.origin());
    let Some(mut target) = Url::parse(target).ok().filter(|t| Some(t.origin()) == registered) else {
        return refuse("post_logout_redirect_uri is not on the registered redirect URI's origin");
    };
    if let Some(s) = params.get("state") {
        target.query_pairs_mut().append_pair("state", s);
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

/// The hint's issuer and audience are ours (its expiry does not matter, §2).
fn is_ours(state: &DevState, id_token: &str) -> bool {
    let claims = id_token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok());
    claims.is_some_and(|c| c["iss"] == state.issuer.as_str() && c["aud"] == state.client_id.as_str())
}

fn refuse(message: &str) -> Response {
    let body = format!("<h1>Invalid logout request</h1><p>{}</p>", escape_html(message));
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}
