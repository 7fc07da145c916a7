//! [`AppState`]: the live parts built from a [`Config`] by [`AppState::build`]
//! (the provider resolved or the dev server started, one token cache per
//! profile, sign-in, Redis, the proxy).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions_redis_store::RedisStore;

use super::{Config, Cors, Upstream};
use crate::cluster::{Cluster, ClusterError};
use crate::dev_auth_server::DevAuthServer;
use crate::exchange::{Exchange, Grant};
use crate::provider::{ClientCredentials, DiscoveryError, Provider};
use crate::proxy::{ApiSettings, DEV_MODELS_API, Proxy};
use crate::session::{MemoryStore, SessionBackend, SessionEvents};
use crate::sign_in::{NoAuthorizeUrl, SignInService, Userinfo};
use crate::telemetry::Metrics;
use crate::token_cache::{JwtBearerSource, SharedSource, TokenCache, TokenCaches, TokenSource};
use crate::transport::{Transport, TransportBuildError};

/// How often expired sessions are deleted from the in-memory store.
const SESSION_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Shared state: the live parts built from a [`Config`]; handlers ask for the
/// part they use through [`FromRef`].
#[derive(Debug, Clone)]
pub struct AppState {
    pub caches: TokenCaches,
    pub metrics: Metrics,
    /// The three-legged flow, when sign-in is configured.
    pub sign_in: Option<SignInService>,
    /// The shared Redis, when replicas are configured.
    pub cluster: Option<Cluster>,
    /// The API proxy and its configured APIs (in `--dev`, with `models`).
    pub proxy: Proxy,
    /// CORS for the token and user routes.
    pub cors: Cors,
    /// The customer's static site, served at `/`.
    pub public_dir: Option<PathBuf>,
    /// Without `public_dir`, serve the embedded demo site (`--dev`).
    pub serves_demo: bool,
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
    #[error(transparent)]
    NoAuthorizeUrl(#[from] NoAuthorizeUrl),
}

/// What [`AppState::build`] produces: the state, and the dev server when `--dev`
/// (it stops when dropped, so the caller keeps it alive).
#[derive(Debug)]
pub struct Built {
    pub state: AppState,
    pub dev_server: Option<DevAuthServer>,
}

/// The authorization server the broker talks to, once started or discovered.
struct Connected {
    provider: Provider,
    client: ClientCredentials,
    dev_server: Option<DevAuthServer>,
}

/// What only [`AppState::build`] starts; [`AppState::with_source`] runs without.
#[derive(Default)]
struct Started {
    sign_in: Option<SignInService>,
    cluster: Option<Cluster>,
    dev_models_url: Option<url::Url>,
}

impl AppState {
    /// Resolves the provider (discovery, or starting the dev server) and creates
    /// one token cache per profile, and the sign-in service when configured.
    pub async fn build(config: Config) -> Result<Built, StartupError> {
        let http = Transport::new(config.http)?;
        let redirect_url = config.sign_in.as_ref().map(|s| s.redirect_url.clone());
        let Connected { provider, client, dev_server } = connect(&config.upstream, redirect_url, &http).await?;
        let metrics = Metrics::new();
        let cluster = match &config.redis {
            Some(redis) => Some(Cluster::connect(redis, &metrics).map_err(StartupError::Cluster)?),
            None => None,
        };
        let exchange = Exchange::new(&provider, &client, http.clone(), config.cache.default_ttl);
        let sign_in = match &config.sign_in {
            Some(settings) => Some(SignInService::new(
                settings.clone(),
                exchange.clone(),
                Userinfo::new(provider.userinfo_url.clone(), http),
                session_store(cluster.as_ref()).map_err(StartupError::Cluster)?,
                cluster.clone(),
                config.cache.clone(),
                &provider,
            )?),
            None => None,
        };
        // With Redis, each grant's tokens are shared under their own identity, so
        // a subject's token is never served for the client's own.
        let share = |upstream: Arc<dyn TokenSource>, grant: &str| -> Arc<dyn TokenSource> {
            match &cluster {
                Some(cluster) => {
                    let identity = format!("{}\n{}{grant}", client.id.as_str(), provider.token_url.as_str());
                    let timeout = config.http.timeout;
                    Arc::new(SharedSource::new(upstream, cluster.clone(), config.cache.clone(), identity, timeout))
                }
                None => upstream,
            }
        };
        let client_credentials = share(Arc::new(exchange.clone()), "");
        let sources: BTreeMap<String, Arc<dyn TokenSource>> = config
            .profiles
            .values()
            .map(|profile| {
                let source = match &profile.grant {
                    Grant::ClientCredentials => Arc::clone(&client_credentials),
                    Grant::JwtBearer(grant) => share(
                        Arc::new(JwtBearerSource { exchange: exchange.clone(), grant: grant.clone() }),
                        &format!("\njwt-bearer\n{}", grant.subject),
                    ),
                };
                (profile.name.clone(), source)
            })
            .collect();
        let dev_models_url = dev_server.as_ref().map(DevAuthServer::models_url);
        let source_of = |name: &str| sources.get(name).cloned().unwrap_or_else(|| Arc::clone(&client_credentials));
        let state = Self::assemble(config, source_of, metrics, Started { sign_in, cluster, dev_models_url })?;
        Ok(Built { state, dev_server })
    }

    /// State whose caches all draw from `source`; no sign-in, no Redis.
    pub fn with_source(config: Config, source: Arc<dyn TokenSource>) -> Result<Self, StartupError> {
        Self::assemble(config, |_| Arc::clone(&source), Metrics::new(), Started::default())
    }

    /// One token cache per profile (drawing from `source_of(profile name)`), and the proxy with the configured APIs (and,
    /// in `--dev`, the dev resource server's `models` unless one is configured).
    fn assemble(
        config: Config,
        source_of: impl Fn(&str) -> Arc<dyn TokenSource>,
        metrics: Metrics,
        started: Started,
    ) -> Result<Self, StartupError> {
        let dev_api = match &started.dev_models_url {
            Some(url) if !config.apis.iter().any(|api| api.name == DEV_MODELS_API) => {
                Some(ApiSettings::read_only(DEV_MODELS_API, url.clone()))
            }
            _ => None,
        };
        let proxy = Proxy::new(config.apis.into_iter().chain(dev_api), &config.http, config.proxy_capacity, &metrics)?;
        let caches = config
            .profiles
            .into_values()
            .map(|p| {
                let cache =
                    TokenCache::new(p.scopes, source_of(&p.name), config.cache.clone(), metrics.profile(&p.name));
                (p.name, cache)
            })
            .collect::<BTreeMap<_, _>>();
        Ok(Self {
            caches: TokenCaches::new(caches),
            metrics,
            sign_in: started.sign_in,
            cluster: started.cluster,
            proxy,
            cors: config.cors,
            public_dir: config.public_dir,
            serves_demo: matches!(config.upstream, Upstream::Dev { .. }),
            dev_models_url: started.dev_models_url,
        })
    }
}

/// Starts the dev authorization server, or resolves the configured provider
/// (running discovery when asked to).
async fn connect(
    upstream: &Upstream,
    redirect_url: Option<url::Url>,
    http: &Transport,
) -> Result<Connected, StartupError> {
    Ok(match upstream {
        Upstream::Dev { token_ttl } => {
            let server = DevAuthServer::start(*token_ttl, redirect_url).await.map_err(StartupError::DevServer)?;
            Connected { provider: server.provider(), client: server.client().clone(), dev_server: Some(server) }
        }
        Upstream::Remote { provider: spec, client } => {
            Connected { provider: Provider::resolve(spec, http).await?, client: client.clone(), dev_server: None }
        }
    })
}

/// Sessions live in the shared Redis with replicas, their endings announced
/// through its pub/sub; else in memory (swept of expired sessions in the
/// background), their endings announced in this process.
fn session_store(cluster: Option<&Cluster>) -> Result<SessionBackend, ClusterError> {
    Ok(match cluster {
        Some(cluster) => SessionBackend::new(RedisStore::new(cluster.pool()), SessionEvents::shared(cluster)?),
        None => {
            let store = MemoryStore::default();
            tokio::spawn(store.clone().continuously_delete_expired(SESSION_SWEEP_INTERVAL));
            SessionBackend::new(store, SessionEvents::local())
        }
    })
}
