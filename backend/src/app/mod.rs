//! [`Config`], the validated settings; [`app()`], the single place where routes
//! and layers are assembled; and (in `state`) [`AppState`], the live parts
//! [`AppState::build`] makes of a [`Config`].

mod state;

pub use state::{AppState, Built, StartupError};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::cluster::RedisSettings;
use crate::descriptors::DescriptorBudget;
use crate::error::ErrorContext;
use crate::exchange::Grant;
use crate::provider::{ClientCredentials, ProviderSpec};
use crate::proxy::{ApiSettings, ApiToken, ProxyCapacity};
use crate::routes::extract::SignInState;
use crate::routes::proxy::ProxyRoutes;
use crate::routes::token::TokenRoutes;
use crate::server::ServerLimits;
use crate::session;
use crate::sign_in::{SignIn, SignInService};
use crate::telemetry::{LogFormat, Metrics};
use crate::token_cache::CachePolicy;
use crate::transport::UpstreamHttp;

/// Upper bound on a request outside the token routes; keeps a stuck request
/// from holding shutdown open.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The broker's settings, validated: built by `config` (`Config::from_cli`) from
/// the command line, environment and file, and made of each layer's own
/// settings types.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    /// The customer's own static site, served at `/`; `None` serves none (the
    /// embedded demo site in `--dev`).
    pub public_dir: Option<PathBuf>,
    pub upstream: Upstream,
    /// Token profiles by name; always contains [`DEFAULT_PROFILE`](crate::token_cache::DEFAULT_PROFILE).
    pub profiles: BTreeMap<String, Profile>,
    pub cors: Cors,
    pub cache: CachePolicy,
    pub http: UpstreamHttp,
    pub log_format: LogFormat,
    /// User sign-in (authorization code + PKCE); `None` when not configured.
    pub sign_in: Option<SignIn>,
    /// Things that work but deserve a warning once logging is up.
    pub warnings: Vec<&'static str>,
    /// The shared Redis of a multi-replica deployment; `None` runs standalone.
    pub redis: Option<RedisSettings>,
    /// Bounds on client connections and shutdown.
    pub server: ServerLimits,
    /// The APIs reachable through `/api/proxy/{name}/…`; in `--dev`, `models`
    /// (the dev resource server) is added at start-up unless configured.
    pub apis: Vec<ApiSettings>,
    /// The proxy's bound on upstream connections, its share of `descriptors`.
    pub proxy_capacity: ProxyCapacity,
    /// The descriptor limit shared out between client connections (`server`)
    /// and the proxy (`proxy_capacity`); logged at start-up.
    pub descriptors: DescriptorBudget,
}

/// Where tokens come from.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant, reason = "one value per process, built once at start-up")]
pub enum Upstream {
    /// The embedded development authorization server (`--dev`).
    Dev { token_ttl: Duration },
    /// A real authorization server.
    Remote { provider: ProviderSpec, client: ClientCredentials },
}

/// A named kind of browser token: its scope, and the grant it is obtained with.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// Scope tokens, in the configured order; empty means "the server's default".
    pub scopes: Vec<String>,
    /// How the profile's tokens are obtained.
    pub grant: Grant,
}

/// CORS for the token routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers: only pages served by this origin can read tokens.
    SameOrigin,
    /// Any origin may read tokens (no credentials).
    AnyOrigin,
    /// These exact origins (`scheme://host[:port]`).
    Origins { origins: Vec<String>, allow_credentials: bool },
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let cors = cors_layer(&state.cors);
    // The token routes get the smallest stack that keeps their guarantees: they
    // set no-store and nosniff and record their errors themselves, and take CORS
    // when it is configured. No request timeout (their only waits, the upstream
    // request and the cluster lock, are bounded already), no error middleware and
    // no trace span: each costs a measurable share of a cache hit (BENCHMARKS.md).
    let token_state = TokenRoutes { caches: state.caches.clone(), metrics: state.metrics.clone() };
    let token_routes = crate::routes::token::router(Arc::new(token_state));
    let token_routes = match &cors {
        Some(cors) => token_routes.layer(cors.clone()),
        None => token_routes,
    };
    let mut others: Router = Router::new()
        .merge(crate::routes::ops::router())
        .merge(crate::openapi::router())
        .fallback_service(crate::static_site::router(state.public_dir.as_deref(), state.serves_demo))
        .with_state(state.clone());
    if let Some(service) = &state.sign_in {
        others = others.merge(sign_in_routes(&state, service, cors));
    }
    if let Some(url) = &state.dev_models_url {
        others = others.merge(crate::routes::demo::router(url));
    }
    // The proxy's waits are bounded per API (its timeout, its body limits), and a
    // large download may rightly take longer than REQUEST_TIMEOUT.
    let others = others
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .merge(proxy_routes(&state))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), record_errors))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Failures are logged once where they happen (the token cache, `record_errors`),
        // not again per response: one upstream failure shared by 50 requests is one line.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        );
    token_routes.merge(others)
}

/// `/api/proxy/*`; behind the session layer when an API sends the user's token.
fn proxy_routes(state: &AppState) -> Router {
    let sign_in = state.sign_in.as_ref().map(|service| sign_in_state(state, service));
    let routes = crate::routes::proxy::router(ProxyRoutes {
        proxy: state.proxy.clone(),
        caches: state.caches.clone(),
        sign_in: sign_in.clone(),
    });
    let has_user_api = state.proxy.apis().any(|api| api.token == ApiToken::User);
    match &state.sign_in {
        Some(service) if has_user_api => with_sessions(routes, service),
        _ => routes,
    }
}

fn sign_in_state(state: &AppState, service: &SignInService) -> SignInState {
    let mut trusted_origins = vec![service.settings().origin()];
    if let Cors::Origins { origins, allow_credentials: true } = &state.cors {
        trusted_origins.extend(origins.iter().cloned());
    }
    SignInState { service: service.clone(), trusted_origins: Arc::new(trusted_origins) }
}

/// `/auth/*` and `/api/user/*`, behind the session layer.
fn sign_in_routes(state: &AppState, service: &SignInService, cors: Option<CorsLayer>) -> Router {
    let user_routes = crate::routes::user::router();
    let user_routes = match cors {
        Some(cors) => user_routes.layer(cors),
        None => user_routes,
    };
    let routes = Router::new().merge(crate::routes::auth::router()).merge(user_routes);
    with_sessions(routes, service).with_state(sign_in_state(state, service))
}

/// `routes` behind the session cookie and store of the sign-in routes and
/// user-token APIs; during a `SESSION_SECRET` rotation, behind the middleware
/// that accepts cookies signed with the previous secret, too.
fn with_sessions<S: Clone + Send + Sync + 'static>(routes: Router<S>, service: &SignInService) -> Router<S> {
    let settings = service.settings();
    let routes = routes.layer(session::layer(&settings.session_key, settings.cookie_secure, service.sessions()));
    match &settings.previous_session_key {
        Some(previous) => {
            let rekey = session::Rekey::new(&settings.session_key, previous, settings.cookie_secure);
            routes.layer(axum::middleware::from_fn_with_state(rekey, session::rekey))
        }
        None => routes,
    }
}

/// The request's span names the path only: query strings can hold secrets
/// (the sign-in callback's `code` and `state`).
fn request_span(request: &Request) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
}

/// `None` for same-origin only: without CORS headers, browsers keep other
/// origins from reading token responses.
fn cors_layer(cors: &Cors) -> Option<CorsLayer> {
    let base = CorsLayer::new()
        .allow_methods([Method::GET])
        .allow_headers([header::AUTHORIZATION, HeaderName::from_static("x-requested-with")])
        .max_age(Duration::from_secs(600));
    match cors {
        Cors::SameOrigin => None,
        Cors::AnyOrigin => Some(base.allow_origin(AllowOrigin::any())),
        Cors::Origins { origins, allow_credentials } => {
            let values = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect::<Vec<_>>();
            Some(base.allow_origin(AllowOrigin::list(values)).allow_credentials(*allow_credentials))
        }
    }
}

/// Counts and logs each error response once ([`ApiError::record`]).
async fn record_errors(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(ErrorContext(error)) = response.extensions().get::<ErrorContext>() {
        error.record(&metrics);
    }
    response
}
