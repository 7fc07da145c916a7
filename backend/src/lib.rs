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
//! - `log_text`: upstream text made fit for a log line (credentials scrubbed,
//!   control characters escaped, length capped).
//! - [`server`]: serving with a connection cap, timeouts for slow and idle
//!   clients, and graceful shutdown with a deadline.
//! - [`session`]: server-side sessions (tower-sessions) and what they hold.
//! - `login_state`: pending sign-ins sealed (AES-256-GCM) in a short-lived
//!   browser cookie, so anonymous `/auth/login` stores nothing server-side.
//! - [`sign_in`]: the three-legged flow: sign-in with PKCE, user tokens kept
//!   fresh with the refresh grant, sign-out with revocation.
//! - [`cluster`]: several replicas sharing one Redis: shared tokens, locks,
//!   outage tracking.
//! - [`dev_auth_server`]: the embedded authorization server behind `--dev`.
//! - `static_site`: the site at `/`, from `PUBLIC_DIR` or, in `--dev`, the demo
//!   site embedded in the binary.
//! - [`effective_settings`]: what `token-backend check-config` prints.
//! - `openapi`: the OpenAPI 3.1 description of the routes (`GET /openapi.json`).

pub mod app;
pub mod cluster;
pub mod config;
pub mod dev_auth_server;
pub mod effective_settings;
pub mod error;
pub mod exchange;
mod log_text;
mod login_state;
mod openapi;
pub mod provider;
mod routes;
pub mod server;
pub mod session;
pub mod sign_in;
mod static_site;
pub mod telemetry;
pub mod token_cache;

pub use app::{AppState, app};
pub use config::{Config, ConfigError};
pub use error::ApiError;
pub use exchange::{Exchange, ExchangeError};
