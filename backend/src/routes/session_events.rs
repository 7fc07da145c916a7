//! `GET /api/user/session/events`: a Server-Sent Events stream that tells the
//! browser whether it is signed in now, and when that ends.
//!
//! Why SSE: the browser must learn of an ending that happens elsewhere (another
//! tab, another device, the provider's back-channel logout, the session's
//! lifetime) within seconds, and an idle browser should cost one connection,
//! not a request per tab every few seconds. A stream gives both; SSE is plain
//! HTTP (through every proxy, CORS and cookies as for `fetch`), `EventSource`
//! is in every browser and reconnects by itself, and the server only ever
//! speaks. WebSockets would add an upgrade path and a second protocol for a
//! one-way signal; polling would cost a request per interval. The package
//! opens one stream per browser, in the tab that holds a Web Lock, and relays
//! it to the other tabs.
//!
//! The stream is `event: session` with `data: {"authenticated":true}` at once,
//! then `{"authenticated":false}` when the session ends, and then it closes;
//! without a session the first event is `false` and it closes. A client that
//! reconnects (after a restart or a closed connection) is told the current
//! state first, so an ending it missed is reported then. Comments every
//! [`HEARTBEAT`] keep idle proxies and the broker's own idle timeout from
//! closing it. At shutdown, and when the connection cap needs room, the server
//! ends it without an event ([`OpenEnded`]) and the browser reconnects after
//! [`RECONNECT`], to this replica or another.
//!
//! It is cookie-authenticated but cannot require `X-Requested-With`
//! (`EventSource` sends no custom header); it reveals only "signed in or not"
//! and changes nothing, and an `Origin` other than ours is refused as on the
//! other user routes.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tower_sessions::Session;

use super::extract::{SignInState, TrustedOrigin};
use crate::error::{ApiError, route_errors};
use crate::http_headers::{OpenEnded, no_store_headers};

/// A comment this often: well inside the broker's 60 s idle timeout and the
/// 60 s many proxies and load balancers apply.
const HEARTBEAT: Duration = Duration::from_secs(20);
/// How long the browser waits before reconnecting a stream that closed
/// without a final event (shutdown, the connection cap): short enough that a
/// missed ending is still reported within 5 s.
const RECONNECT: Duration = Duration::from_secs(2);

route_errors!(
    /// A foreign `Origin`, and the session store.
    SessionEventsErrors, Json: [CrossSiteRequest, SessionStoreUnavailable]
);

/// Whether this browser is signed in, now and until that ends (Server-Sent Events).
#[utoipa::path(get, path = "/api/user/session/events", tag = "user",
    responses(
        (status = 200, content_type = "text/event-stream",
            description = "`event: session` with `data: {\"authenticated\":true}` now and `{\"authenticated\":false}` when the session ends (then the stream closes); without a session, `false` at once and it closes. Comment lines every 20 s keep the connection alive; `retry: 2000`.",
            body = String),
        SessionEventsErrors,
    ))]
pub(crate) async fn session_events(
    State(state): State<SignInState>,
    _: TrustedOrigin,
    session: Session,
) -> Result<Response, ApiError> {
    let states = state.service.sessions().follow(session.id()).await?;
    let events = states.map(|authenticated| {
        let data = if authenticated { r#"{"authenticated":true}"# } else { r#"{"authenticated":false}"# };
        Ok::<_, Infallible>(Event::default().event("session").retry(RECONNECT).data(data))
    });
    let mut response = (
        no_store_headers(),
        // nginx buffers responses unless told not to; an event must go out at once.
        [(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"))],
        Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)),
    )
        .into_response();
    response.extensions_mut().insert(OpenEnded);
    Ok(response)
}
