//! Operations: `/healthz` (the process is up), `/readyz` (it can hand out a
//! token), `/metrics` (Prometheus text).

use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::cluster::Cluster;
use crate::error::ApiError;
use crate::telemetry::Metrics;
use crate::token_cache::{DEFAULT_PROFILE, TokenCaches};

pub fn router<S>() -> Router<S>
where
    TokenCaches: FromRef<S>,
    Option<Cluster>: FromRef<S>,
    Metrics: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready when the default profile has, or can get, a token. A cached token answers
/// at once, so probes do not load the upstream. With Redis, its state is reported
/// too; a replica whose Redis is down still serves two-legged tokens, so it stays ready.
async fn readyz(State(caches): State<TokenCaches>, State(cluster): State<Option<Cluster>>) -> impl IntoResponse {
    let result = match caches.get(DEFAULT_PROFILE) {
        Some(cache) => cache.token().await.map(|_| ()).map_err(ApiError::from),
        None => Err(ApiError::UnknownProfile(DEFAULT_PROFILE.to_owned())),
    };
    let redis = match &cluster {
        Some(cluster) => Some(if cluster.is_reachable().await { "up" } else { "down" }),
        None => None,
    };
    match result {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "redis": redis }))),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "error": e.code().as_str(), "redis": redis })),
        ),
    }
}

async fn metrics(State(metrics): State<Metrics>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], metrics.render())
}
