//! The dev server's authorization endpoint (RFC 6749 §4.1.1): a sign-in and
//! consent page, then a redirect back with a code or `error=access_denied`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use url::Url;

use super::{DevState, random_token};
use crate::http_headers::escape_html;

/// The parameters of an authorization request, checked.
struct AuthorizationRequest {
    redirect_uri: String,
    state: Option<String>,
    scope: String,
    code_challenge: String,
    nonce: Option<String>,
}

/// Errors about the client or redirect URI are shown, never redirected
/// (RFC 6749 §4.1.2.1): the redirect target itself is untrusted then.
fn check(state: &DevState, params: &HashMap<String, String>) -> Result<AuthorizationRequest, &'static str> {
    if params.get("client_id") != Some(&state.client_id) {
        return Err("unknown client_id");
    }
    let redirect_uri = params.get("redirect_uri").cloned().unwrap_or_default();
    if state.redirect_uri.as_deref() != Some(redirect_uri.as_str()) {
        return Err("redirect_uri is not the registered one");
    }
    if params.get("response_type").map(String::as_str) != Some("code") {
        return Err("response_type must be code");
    }
    let code_challenge = params.get("code_challenge").cloned().unwrap_or_default();
    if code_challenge.len() < 43 || params.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return Err("PKCE with code_challenge_method=S256 is required");
    }
    Ok(AuthorizationRequest {
        redirect_uri,
        state: params.get("state").cloned(),
        scope: params.get("scope").cloned().unwrap_or_default(),
        code_challenge,
        nonce: params.get("nonce").cloned(),
    })
}

fn refuse(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Html(format!("<h1>Invalid request</h1><p>{message}</p>"))).into_response()
}

/// `GET /authorize`: the sign-in page.
pub(super) async fn page(
    State(state): State<Arc<DevState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let request = match check(&state, &params) {
        Ok(request) => request,
        Err(message) => return refuse(message),
    };
    let hidden: String = params
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape_html(k), escape_html(v)))
        .collect();
    let scope = if request.scope.is_empty() { "(default)".to_owned() } else { escape_html(&request.scope) };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Dev sign-in</title><link rel=\"icon\" href=\"data:,\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}\
         input[type=text]{{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}}\
         button{{font:inherit;padding:.5rem 1rem;margin:1rem .5rem 0 0}}</style></head><body><main>\
         <h1>Development sign-in</h1><p>This is the embedded development authorization server. \
         <code>{client}</code> asks for: <strong>{scope}</strong></p>\
         <form method=\"post\" action=\"/authorize\">{hidden}\
         <label for=\"user\">User name</label><input type=\"text\" id=\"user\" name=\"user\" value=\"dev-user\" autocomplete=\"username\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form></main></body></html>",
        client = escape_html(&state.client_id),
    ))
    .into_response()
}

/// `POST /authorize`: the user's decision.
pub(super) async fn decide(
    State(state): State<Arc<DevState>>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let request = match check(&state, &params) {
        Ok(request) => request,
        Err(message) => return refuse(message),
    };
    let Ok(mut target) = Url::parse(&request.redirect_uri) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is not a URL").into_response();
    };
    let user = params.get("user").map(|u| u.trim()).filter(|u| !u.is_empty()).unwrap_or("dev-user").to_owned();
    {
        let mut query = target.query_pairs_mut();
        if params.get("decision").map(String::as_str) == Some("allow") {
            let code = random_token(24);
            state.grants().add_code(
                code.clone(),
                request.redirect_uri.clone(),
                request.code_challenge,
                request.scope,
                request.nonce,
                user,
            );
            query.append_pair("code", &code);
        } else {
            query.append_pair("error", "access_denied");
        }
        if let Some(s) = &request.state {
            query.append_pair("state", s);
        }
        query.append_pair("iss", &state.issuer);
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}
