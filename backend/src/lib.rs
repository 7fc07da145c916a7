//! Token broker for browser viewers: keeps the OAuth client secret on the
//! server and hands browsers short-lived, scope-limited access tokens.
//!
//! # Layout
//!
//! Top to bottom; every `use crate::…` points down a layer or sideways, never up
//! (`tests/module_graph.rs` checks it, and the README's "Architecture" explains it).
//!
//! 1. [`config`]: command line, environment and an optional TOML file (each
//!    setting declared once, as a row of one table), validated once at start-up
//!    into [`Config`], made of each layer's own settings types
//!    ([`ConfigError`] names every bad variable at once); [`effective_settings`]:
//!    what `token-backend check-config` prints.
//! 2. [`app`]: [`Config`], [`AppState`] (the live parts, built at start-up) and
//!    [`app()`], the one place routes and layers meet (route families live in
//!    `routes/`); [`server`]: serving with a
//!    connection cap, timeouts for slow and idle clients, and graceful shutdown
//!    with a deadline; `openapi`: the OpenAPI 3.1 description of the routes
//!    (`GET /openapi.json`).
//! 3. [`error`]: [`ApiError`] and its [`error::ErrorCode`], the only place errors
//!    become HTTP responses; `static_site`: the site at `/`, from `PUBLIC_DIR`
//!    or, in `--dev`, the demo site embedded in the binary.
//! 4. Services: [`token_cache`] (per-profile cache with single-flight,
//!    refresh-ahead and backoff after upstream failures; the reason this project
//!    exists), [`sign_in`] (sign-in with PKCE, user tokens kept fresh with the
//!    refresh grant, userinfo, sign-out with revocation, back-channel logout), [`session`]
//!    (server-side sessions, what they hold, their index by `sid` and `sub`, and
//!    their endings announced to the browsers' event streams on every replica), `login_state` (pending sign-ins
//!    sealed with AES-256-GCM in a short-lived browser cookie, so anonymous
//!    `/auth/login` stores nothing server-side), [`dev_auth_server`] (the
//!    embedded authorization server behind `--dev`).
//! 5. Upstream: [`exchange`] (the OAuth 2.0 grants through the `oauth2` crate,
//!    token-response parsing, revocation; [`ExchangeError`]), [`provider`]
//!    (presets and OIDC discovery), [`cluster`] (several replicas sharing one
//!    Redis: shared tokens, locks, pub/sub, outage tracking).
//! 6. Leaves: [`transport`] (every upstream HTTP client, the authorization
//!    server's and the API proxy's, built at start-up; a failure to build one
//!    stops start-up), [`telemetry`] (tracing and the
//!    Prometheus registry), [`single_flight`] (one run per key, shared by its
//!    waiters), [`http_headers`] (no-store headers, HTML escaping),
//!    [`constant_time`] (the one comparison of secrets), [`descriptors`] (the
//!    descriptor limit, raised at start-up and shared out between client
//!    connections and the proxy), `log_text` (upstream
//!    text made fit for a log line: credentials scrubbed, control characters
//!    escaped, length capped).

pub mod app;
pub mod cluster;
pub mod config;
pub mod constant_time;
pub mod descriptors;
pub mod dev_auth_server;
pub mod effective_settings;
pub mod error;
pub mod exchange;
pub mod http_headers;
mod log_text;
mod login_state;
mod openapi;
pub mod provider;
pub mod proxy;
mod routes;
pub mod server;
pub mod session;
pub mod sign_in;
pub mod single_flight;
mod static_site;
pub mod telemetry;
pub mod token_cache;
pub mod transport;

pub use app::Config;
pub use app::{AppState, app};
pub use config::ConfigError;
pub use error::ApiError;
pub use exchange::{Exchange, ExchangeError};
