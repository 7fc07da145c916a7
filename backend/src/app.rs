//! [`AppState`] and [`app()`]: the single place where routes and layers are
//! assembled, and [`AppState::build`], which turns a [`Config`] into live parts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::cluster::{Cluster, ClusterError, RedisSettings};
use crate::descriptors::DescriptorBudget;
use crate::dev_auth_server::DevAuthServer;
use crate::error::ErrorContext;
use crate::exchange::Exchange;
use crate::provider::{ClientCredentials, DiscoveryError, Provider, ProviderSpec};
use crate::proxy::{ApiSettings, ApiToken, DEV_MODELS_API, Proxy, ProxyBuildError, ProxyCapacity};
use crate::routes::extract::SignInState;
use crate::routes::proxy::ProxyRoutes;
use crate::routes::token::TokenRoutes;
use crate::server::ServerLimits;
use crate::session::{self, MemoryStore, SessionBackend};
use crate::sign_in::{SignIn, SignInService, Userinfo};
use crate::telemetry::{LogFormat, Metrics};
use crate::token_cache::{CachePolicy, SharedSource, TokenCache, TokenCaches, TokenSource};
use crate::transport::{Transport, TransportBuildError, UpstreamHttp};
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions_redis_store::RedisStore;

/// Upper bound on a request outside the token routes; keeps a stuck request
/// from holding shutdown open.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How often expired sessions are deleted from the in-memory store.
const SESSION_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

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

/// A named kind of browser token; the scope is everything that distinguishes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// Scope tokens, in the configured order; empty means "the server's default".
    pub scopes: Vec<String>,
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

/// Shared state; handlers ask for the part they use through [`FromRef`].
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub caches: TokenCaches,
    pub metrics: Metrics,
    /// The three-legged flow, when sign-in is configured.
    pub sign_in: Option<Arc<SignInService>>,
    /// The shared Redis, when replicas are configured.
    pub cluster: Option<Cluster>,
    /// The API proxy and its configured APIs.
    pub proxy: Proxy,
    /// In `--dev`, where the dev resource server serves the demo model.
    pub dev_models_url: Option<url::Url>,
}

impl FromRef<AppState> for TokenCaches {
    fn from_ref(state: &AppState) -> Self {
        state.caches.clone()
    }
}

impl FromRef<AppState> for Option<Cluster> {
    fn from_ref(state: &AppState) -> Self {
        state.cluster.clone()
    }
}

impl FromRef<AppState> for Metrics {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// Why the server could not start (after configuration was valid).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Transport(#[from] TransportBuildError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    #[error("cannot start the development authorization server: {0}")]
    DevServer(std::io::Error),
    #[error("cannot use REDIS_URL: {0}")]
    Cluster(ClusterError),
    #[error("OAUTH_REDIRECT_URL is set but the provider has no authorization endpoint; set OAUTH_AUTHORIZE_URL")]
    NoAuthorizeUrl,
    #[error(transparent)]
    Proxy(#[from] ProxyBuildError),
}

/// What [`AppState::build`] produces: the state, and the dev server when `--dev`
/// (it stops when dropped, so the caller keeps it alive).
#[derive(Debug)]
pub struct Built {
    pub state: AppState,
    pub dev_server: Option<DevAuthServer>,
}

impl AppState {
    /// Resolves the provider (discovery, or starting the dev server) and creates
    /// one token cache per profile, and the sign-in service when configured.
    pub async fn build(config: Config) -> Result<Built, StartupError> {
        let http = Transport::new(config.http)?;
        let redirect_url = config.sign_in.as_ref().map(|s| s.redirect_url.clone());
        let (provider, client, is_oidc, dev_server) = match &config.upstream {
            Upstream::Dev { token_ttl } => {
                let server = DevAuthServer::start(*token_ttl, redirect_url).await.map_err(StartupError::DevServer)?;
                (server.provider(), server.client().clone(), false, Some(server))
            }
            Upstream::Remote { provider: spec, client } => {
                let provider = Provider::resolve(spec, &http).await?;
                (provider, client.clone(), spec.is_oidc(), None)
            }
        };
        let userinfo = Userinfo::new(provider.userinfo_url.clone(), http.clone());
        let exchange = Exchange::new(&provider, &client, http, config.cache.default_ttl);
        let metrics = Metrics::new();
        let cluster = match &config.redis {
            Some(redis) => Some(Cluster::connect(redis, &metrics).map_err(StartupError::Cluster)?),
            None => None,
        };
        let sign_in = match &config.sign_in {
            Some(settings) => {
                if !exchange.has_authorize_url() {
                    return Err(StartupError::NoAuthorizeUrl);
                }
                let sessions = match &cluster {
                    Some(cluster) => SessionBackend::new(RedisStore::new(cluster.pool())),
                    None => {
                        let store = MemoryStore::default();
                        tokio::spawn(store.clone().continuously_delete_expired(SESSION_SWEEP_INTERVAL));
                        SessionBackend::new(store)
                    }
                };
                Some(Arc::new(SignInService::new(
                    settings.clone(),
                    exchange
                        .clone()
                        .with_redirect_url(&settings.redirect_url)
                        .with_resource(settings.resource.as_ref()),
                    userinfo,
                    sessions,
                    cluster.clone(),
                    config.cache.clone(),
                    is_oidc,
                )))
            }
            None => None,
        };
        let upstream: Arc<dyn TokenSource> = Arc::new(exchange);
        let source: Arc<dyn TokenSource> = match &cluster {
            Some(cluster) => {
                let identity = format!("{}\n{}", client.id.as_str(), provider.token_url.as_str());
                Arc::new(SharedSource::new(
                    upstream,
                    cluster.clone(),
                    config.cache.clone(),
                    identity,
                    config.http.timeout,
                ))
            }
            None => upstream,
        };
        let mut config = config;
        let dev_models_url = dev_server.as_ref().map(DevAuthServer::models_url);
        if let Some(url) = &dev_models_url
            && !config.apis.iter().any(|api| api.name == DEV_MODELS_API)
        {
            config.apis.push(ApiSettings::read_only(DEV_MODELS_API, url.clone()));
        }
        let mut state = Self::with_parts(config, source, metrics)?;
        state.sign_in = sign_in;
        state.cluster = cluster;
        state.dev_models_url = dev_models_url;
        Ok(Built { state, dev_server })
    }

    /// State whose caches all draw from `source`; no sign-in, no Redis.
    pub fn with_source(config: Config, source: Arc<dyn TokenSource>) -> Result<Self, StartupError> {
        Self::with_parts(config, source, Metrics::new())
    }

    fn with_parts(config: Config, source: Arc<dyn TokenSource>, metrics: Metrics) -> Result<Self, StartupError> {
        let proxy = Proxy::new(config.apis.clone(), &config.http, config.proxy_capacity, &metrics)?;
        let caches = config
            .profiles
            .values()
            .map(|p| {
                let cache = TokenCache::new(
                    p.scopes.clone(),
                    Arc::clone(&source),
                    config.cache.clone(),
                    metrics.profile(&p.name),
                );
                (p.name.clone(), cache)
            })
            .collect::<BTreeMap<_, _>>();
        Ok(Self {
            config: Arc::new(config),
            caches: TokenCaches::new(caches),
            metrics,
            sign_in: None,
            cluster: None,
            proxy,
            dev_models_url: None,
        })
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let cors = cors_layer(&state.config.cors);
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
        .fallback_service(crate::static_site::router(
            state.config.public_dir.as_deref(),
            matches!(state.config.upstream, Upstream::Dev { .. }),
        ))
        .with_state(state.clone());
    if let (Some(service), Some(settings)) = (&state.sign_in, &state.config.sign_in) {
        others = others.merge(sign_in_routes(&state, Arc::clone(service), settings, cors));
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
    let sign_in = match (&state.sign_in, &state.config.sign_in) {
        (Some(service), Some(settings)) => Some((sign_in_state(state, service, settings), settings)),
        _ => None,
    };
    let has_user_api = state.proxy.apis().any(|api| api.token == ApiToken::User);
    let routes = crate::routes::proxy::router(ProxyRoutes {
        proxy: state.proxy.clone(),
        caches: state.caches.clone(),
        sign_in: sign_in.as_ref().map(|(s, _)| s.clone()),
    });
    match (sign_in, &state.sign_in) {
        (Some((_, settings)), Some(service)) if has_user_api => {
            routes.layer(session::layer(&settings.session_key, settings.cookie_secure, service.sessions()))
        }
        _ => routes,
    }
}

fn sign_in_state(state: &AppState, service: &Arc<SignInService>, settings: &SignIn) -> SignInState {
    let mut trusted_origins = vec![settings.origin()];
    if let Cors::Origins { origins, allow_credentials: true } = &state.config.cors {
        trusted_origins.extend(origins.iter().cloned());
    }
    SignInState { service: Arc::clone(service), trusted_origins: Arc::new(trusted_origins) }
}

/// `/auth/*` and `/api/user/*`, behind the session layer.
fn sign_in_routes(state: &AppState, service: Arc<SignInService>, settings: &SignIn, cors: Option<CorsLayer>) -> Router {
    let sign_in_state = sign_in_state(state, &service, settings);
    let user_routes = crate::routes::user::router();
    let user_routes = match cors {
        Some(cors) => user_routes.layer(cors),
        None => user_routes,
    };
    Router::new()
        .merge(crate::routes::auth::router())
        .merge(user_routes)
        .layer(session::layer(&settings.session_key, settings.cookie_secure, service.sessions()))
        .with_state(sign_in_state)
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
