//! Logs (tracing) and metrics (Prometheus text at `/metrics`).
//!
//! Hot-path counters are resolved once per profile ([`ProfileMetrics`]) so a cache
//! hit costs one atomic increment, not a label lookup.

use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `RUST_LOG` filters; by default `info`, with
/// the Redis client's own reconnect chatter kept to errors (the broker logs the
/// start and end of a Redis outage once each itself).
/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init_tracing(format: LogFormat) {
    // tower-sessions warns on every request whose cookie names a session that has
    // expired or was signed out: routine for a browser, noise in the log.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,fred=error,tower_sessions_core::session=error"));
    // Colour only for a person at a terminal (and not asked for `NO_COLOR`):
    // escape codes corrupt log files and collectors.
    let is_colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(is_colour);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileLabel {
    profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    profile: String,
    /// `ok` or the failure's kind (`ExchangeError::kind`).
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    /// The `error` code of the response.
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabel {
    api: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiStatusLabels {
    api: String,
    /// `2xx` … `5xx` for the API's answer, or `error` when there was none
    /// (refused before sending, unreachable, timed out).
    status: String,
}

type HistogramFamily = Family<ProfileLabel, Histogram, fn() -> Histogram>;
type ApiHistogramFamily = Family<ApiLabel, Histogram, fn() -> Histogram>;

/// The process's metrics; cloning is one reference count (it happens per request).
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Families>);

#[derive(Debug)]
struct Families {
    registry: Registry,
    upstream_requests: Family<UpstreamLabels, Counter>,
    upstream_seconds: HistogramFamily,
    cache_hits: Family<ProfileLabel, Counter>,
    cache_misses: Family<ProfileLabel, Counter>,
    errors: Family<ErrorLabels, Counter>,
    redis_outages: Counter,
    proxy_requests: Family<ApiStatusLabels, Counter>,
    proxy_seconds: ApiHistogramFamily,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("token_broker");
        let upstream_requests = Family::<UpstreamLabels, Counter>::default();
        let upstream_seconds: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 12)));
        let cache_hits = Family::<ProfileLabel, Counter>::default();
        let cache_misses = Family::<ProfileLabel, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "upstream_requests",
            "Token requests sent to the authorization server, by outcome",
            upstream_requests.clone(),
        );
        registry.register(
            "upstream_request_duration_seconds",
            "Latency of token requests to the authorization server",
            upstream_seconds.clone(),
        );
        registry.register("token_cache_hits", "Token route requests answered from the cache", cache_hits.clone());
        registry.register(
            "token_cache_misses",
            "Token route requests that waited for the authorization server",
            cache_misses.clone(),
        );
        registry.register("errors", "Error responses, by error code", errors.clone());
        let redis_outages = Counter::default();
        registry.register(
            "redis_outages",
            "Times Redis became unreachable and this replica fell back to local mode",
            redis_outages.clone(),
        );
        let proxy_requests = Family::<ApiStatusLabels, Counter>::default();
        let proxy_seconds: ApiHistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 12)));
        registry.register(
            "proxy_requests",
            "Requests through the API proxy, by API and status class of the API's answer",
            proxy_requests.clone(),
        );
        registry.register(
            "proxy_upstream_duration_seconds",
            "Time until an API's response headers arrived through the proxy",
            proxy_seconds.clone(),
        );
        Self(Arc::new(Families {
            registry,
            proxy_requests,
            proxy_seconds,
            upstream_requests,
            upstream_seconds,
            cache_hits,
            cache_misses,
            errors,
            redis_outages,
        }))
    }

    /// Handles for one profile's cache.
    pub fn profile(&self, name: &str) -> ProfileMetrics {
        let label = ProfileLabel { profile: name.to_owned() };
        ProfileMetrics {
            profile: name.to_owned(),
            cache_hits: self.0.cache_hits.get_or_create(&label).clone(),
            cache_misses: self.0.cache_misses.get_or_create(&label).clone(),
            upstream_seconds: self.0.upstream_seconds.get_or_create(&label).clone(),
            upstream_requests: self.0.upstream_requests.clone(),
        }
    }

    /// Handles for one proxied API.
    pub fn api(&self, name: &str) -> ApiMetrics {
        ApiMetrics {
            api: name.to_owned(),
            requests: self.0.proxy_requests.clone(),
            by_class: Default::default(),
            seconds: self.0.proxy_seconds.get_or_create(&ApiLabel { api: name.to_owned() }).clone(),
        }
    }

    /// Counts Redis outages (see [`crate::cluster::Cluster::note`]).
    pub fn redis_outages(&self) -> Counter {
        self.0.redis_outages.clone()
    }

    /// Counts an error response by its `error` code.
    pub fn record_error(&self, kind: &str) {
        self.0.errors.get_or_create(&ErrorLabels { kind: kind.to_owned() }).inc();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.0.registry);
        out
    }
}

/// One profile's metric handles.
#[derive(Clone, Debug)]
pub struct ProfileMetrics {
    profile: String,
    pub(crate) cache_hits: Counter,
    pub(crate) cache_misses: Counter,
    upstream_seconds: Histogram,
    upstream_requests: Family<UpstreamLabels, Counter>,
}

impl ProfileMetrics {
    /// `error_kind` is `None` for success, else a short stable name of the failure.
    pub(crate) fn record_upstream(&self, elapsed: Duration, error_kind: Option<&'static str>) {
        self.upstream_seconds.observe(elapsed.as_secs_f64());
        let outcome = error_kind.unwrap_or("ok").to_owned();
        self.upstream_requests.get_or_create(&UpstreamLabels { profile: self.profile.clone(), outcome }).inc();
    }
}

/// The `status` label of `token_broker_proxy_requests_total`, by index.
const PROXY_STATUSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];

/// One proxied API's metric handles.
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    api: String,
    requests: Family<ApiStatusLabels, Counter>,
    /// Each status's counter (`PROXY_STATUSES`), looked up in `requests` on
    /// its first use (so a series appears only once it counts something, as
    /// before) and kept: counting is then one atomic add, with no labels built
    /// and no lock taken per request.
    by_class: [OnceLock<Counter>; PROXY_STATUSES.len()],
    seconds: Histogram,
}

impl ApiMetrics {
    /// A request that reached the API: its status class and the wait for its headers.
    pub fn record_answer(&self, status: u16, elapsed: Duration) {
        self.seconds.observe(elapsed.as_secs_f64());
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        self.count(class);
    }

    /// A request that got no answer from the API (refused here, unreachable, timed out).
    pub fn record_no_answer(&self) {
        self.count(5);
    }

    fn count(&self, class: usize) {
        let counter = self.by_class[class].get_or_init(|| {
            let labels = ApiStatusLabels { api: self.api.clone(), status: PROXY_STATUSES[class].to_owned() };
            self.requests.get_or_create(&labels).clone()
        });
        counter.inc();
    }
}
