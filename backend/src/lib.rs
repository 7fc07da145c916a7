//! Token broker for browser viewers: keeps the OAuth client secret on the
//! server and hands browsers short-lived, scope-limited access tokens.
//!
//! # Layout
//!
//! - [`config`]: typed configuration from the environment and an optional TOML
//!   file, validated once at start-up ([`Config`], [`ConfigError`]).
//! - [`provider`]: the upstream authorization server's endpoints and client
//!   authentication, from a preset (`aps`, `glimesh`, `generic`) or OIDC discovery.
//! - [`exchange`]: the OAuth 2.0 grants against the upstream, through the `oauth2`
//!   crate, and validation of what the upstream answers ([`ExchangeError`]).
//! - [`token_cache`]: per-profile token cache with single-flight and
//!   refresh-ahead; the reason this project exists.
//! - [`app`]: [`AppState`] and [`app()`], the one place routes and layers meet;
//!   the route families live in `routes/`.
//! - [`error`]: [`ApiError`], the only place errors become HTTP responses.
//! - [`telemetry`]: tracing subscriber and the Prometheus registry.
//! - [`server`]: serving with graceful shutdown.
//! - [`session`]: server-side sessions (tower-sessions) and what they hold.
//! - [`sign_in`]: the three-legged flow: sign-in with PKCE, user tokens kept
//!   fresh with the refresh grant, sign-out with revocation.
//! - [`single_flight`]: one run per key at a time, shared by its waiters; used by
//!   the token cache and the per-session refresh.
//! - [`cluster`]: several replicas sharing one Redis: shared tokens, locks,
//!   outage tracking.
//! - [`transport`]: the one upstream HTTP client (timeouts, no redirects, body
//!   cap), built at start-up; a failure to build it stops start-up.
//! - [`constant_time`]: the one comparison of secrets.
//! - [`http_headers`]: no-store headers and HTML escaping, shared with the dev server.
//! - [`dev_auth_server`]: the embedded authorization server behind `--dev`.

pub mod app;
pub mod cluster;
pub mod config;
pub mod constant_time;
pub mod dev_auth_server;
pub mod error;
pub mod exchange;
pub mod http_headers;
pub mod provider;
mod routes;
pub mod server;
pub mod session;
pub mod sign_in;
pub mod single_flight;
pub mod telemetry;
pub mod token_cache;
pub mod transport;

pub use app::Config;
pub use app::{AppState, app};
pub use config::ConfigError;
pub use error::ApiError;
pub use exchange::{Exchange, ExchangeError};
