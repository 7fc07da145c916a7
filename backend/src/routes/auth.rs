//! `GET /auth/login`, `GET /auth/callback`, `POST /auth/logout`: the browser's
//! side of sign-in. Handlers only translate HTTP; the flow is in [`crate::sign_in`].

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tower_sessions::Session;

use super::extract::{SignInState, is_trusted_origin};
use crate::error::{ApiError, SignInPage, no_store_headers};
use crate::sign_in::CallbackParams;

pub fn router() -> Router<SignInState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
}

/// Redirects to the provider (302) with state, PKCE challenge and nonce.
async fn login(
    State(state): State<SignInState>,
    session: Session,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<LoginQuery>,
) -> Result<Response, SignInPage> {
    // The session cookie must be set on the origin the provider will redirect
    // back to, or the callback would find no sign-in in progress.
    let redirect = &state.service.config().redirect_url;
    let expected_host = redirect.host_str().map(|h| match redirect.port() {
        Some(port) => format!("{h}:{port}"),
        None => h.to_owned(),
    });
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if let (Some(host), Some(expected)) = (host, expected_host)
        && !host.eq_ignore_ascii_case(&expected)
    {
        let mut canonical = redirect.clone();
        canonical.set_path("/auth/login");
        canonical.set_query(uri.query());
        return Ok(found(canonical.as_str())?);
    }
    let url = state.service.begin(&session, query.return_to.as_deref()).await?;
    Ok(found(url.as_str())?)
}

/// Completes sign-in and redirects to `return_to`; failures are a page.
async fn callback(
    State(state): State<SignInState>,
    session: Session,
    Query(params): Query<CallbackParams>,
) -> Result<Response, SignInPage> {
    let return_to = state.service.complete(&session, params).await?;
    let mut response = found(&return_to)?;
    // The callback URL carries the code: keep it out of the next page's Referer.
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(response)
}

/// Revokes and forgets the session. A `fetch` (with `X-Requested-With`) gets
/// 204; a plain form post is sent back to `/`.
async fn logout(State(state): State<SignInState>, session: Session, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN)
        && !is_trusted_origin(&state, origin)
    {
        return Err(ApiError::CrossSite("the Origin is not this site"));
    }
    state.service.sign_out(&session).await?;
    if headers.get("x-requested-with").is_some_and(|v| !v.is_empty()) {
        Ok((StatusCode::NO_CONTENT, no_store_headers()).into_response())
    } else {
        Ok((StatusCode::SEE_OTHER, no_store_headers(), [(header::LOCATION, "/")]).into_response())
    }
}

/// A 302 to `location`, which we built or validated; one that is not a valid
/// header value (a `return_to` with non-ASCII text) is our bug, reported as such.
fn found(location: &str) -> Result<Response, ApiError> {
    let location =
        HeaderValue::from_str(location).map_err(|_| ApiError::Internal("a redirect location is not a header value"))?;
    Ok((StatusCode::FOUND, no_store_headers(), [(header::LOCATION, location)]).into_response())
}
