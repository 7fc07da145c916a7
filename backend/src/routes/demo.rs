//! `GET /dev/demo.json` (`--dev` only): where the demo page finds the model,
//! directly at the dev resource server (token mode) and through the proxy.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use url::Url;

use crate::dev_auth_server::MODEL_NAME;
use crate::proxy::DEV_MODELS_API;

/// The route, with both URLs of the model fixed at start-up.
pub fn router<S: Clone + Send + Sync + 'static>(models_url: &Url) -> Router<S> {
    let body = json!({
        "model": {
            "name": MODEL_NAME,
            "directUrl": format!("{}/{MODEL_NAME}", models_url.as_str().trim_end_matches('/')),
            "proxyUrl": format!("/api/proxy/{DEV_MODELS_API}/{MODEL_NAME}"),
        }
    });
    Router::new().route("/dev/demo.json", get(move || std::future::ready(Json(body.clone()))))
}
