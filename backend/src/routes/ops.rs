//! Operations: `/healthz` (the process is up), `/readyz` (it can hand out a
//! token), `/metrics` (Prometheus text).

use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::cluster::Cluster;
use crate::error::ApiError;
use crate::exchange::ExchangeError;
use crate::telemetry::Metrics;
use crate::token_cache::{DEFAULT_PROFILE, TokenCaches};

/// `/readyz` answers within this, whatever the upstream does: orchestrators
/// give a probe about 1 s (Kubernetes' default) and count a slow one as failed.
const READY_TIMEOUT: Duration = Duration::from_millis(900);

pub fn router<S>() -> Router<S>
where
    TokenCaches: FromRef<S>,
    Option<Cluster>: FromRef<S>,
    Metrics: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// The process is up (liveness).
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "`{\"status\":\"ok\"}`", body = Object)))]
pub(crate) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready when the default profile has, or can get, a token. A cached token answers
/// at once, so probes do not load the upstream. With Redis, its state is reported
/// too; a replica whose Redis is down still serves two-legged tokens, so it stays ready.
/// A hung upstream makes the probe answer "not ready" after [`READY_TIMEOUT`];
/// the token request itself carries on in the cache.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "`status` is `ready`; `redis` is `up`, `down` or null", body = Object),
    (status = 503, description = "`status` is `not_ready`, with the `error` code", body = Object),
))]
pub(crate) async fn readyz(
    State(caches): State<TokenCaches>,
    State(cluster): State<Option<Cluster>>,
) -> impl IntoResponse {
    let token = async {
        match caches.get(DEFAULT_PROFILE) {
            Some(cache) => match tokio::time::timeout(READY_TIMEOUT, cache.token()).await {
                Ok(result) => result.map(|_| ()).map_err(ApiError::from),
                Err(_) => Err(ApiError::from(ExchangeError::Timeout(READY_TIMEOUT))),
            },
            None => Err(ApiError::UnknownProfile(DEFAULT_PROFILE.to_owned())),
        }
    };
    // Both checks at once, so the probe costs the longer of the two, not their sum.
    let redis = async {
        match &cluster {
            Some(cluster) => Some(if cluster.is_reachable().await { "up" } else { "down" }),
            None => None,
        }
    };
    let (result, redis) = tokio::join!(token, redis);
    match result {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "redis": redis }))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "error": e.code().as_str(), "redis": redis })),
        ),
    }
}

/// Prometheus / OpenMetrics text.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses(
    (status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text"),
))]
pub(crate) async fn metrics(State(metrics): State<Metrics>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], metrics.render())
}
