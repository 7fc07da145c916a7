//! A fake APS authentication v2 token endpoint for Secure Service Account
//! tokens: it checks each jwt-bearer request the way APS's SSA documentation
//! describes ("JWT Assertions", "Task 3 – Generate Three-Legged Access Token")
//! and answers `400 invalid_grant` or `401 invalid_client` naming what failed.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::broker::{CLIENT_ID, CLIENT_SECRET};
use super::served::Served;
use super::{key_fixture, lock};

/// Where the token endpoint is, as in APS.
pub const TOKEN_PATH: &str = "/authentication/v2/token";
/// The `aud` every SSA assertion must carry.
pub const APS_AUDIENCE: &str = "https://developer.api.autodesk.com/authentication/v2/token";
/// The service account whose key is `rsa.pem`, and that key's id.
pub const SERVICE_ACCOUNT: &str = "Z752CT5MKW2S9N7E";
pub const KEY_ID: &str = "ssa-key-1";

struct ApsState {
    public_key: DecodingKey,
    /// Every `jti` accepted so far: APS refuses a replayed assertion.
    seen: Mutex<HashSet<String>>,
    exchanges: AtomicUsize,
    refusals: Mutex<Vec<String>>,
    assertions: Mutex<Vec<String>>,
}

impl std::fmt::Debug for ApsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApsState").field("exchanges", &self.exchanges).finish_non_exhaustive()
    }
}

/// The fake endpoint, verifying with `rsa.pub.pem`.
#[derive(Debug)]
pub struct FakeAps {
    served: Served,
    state: Arc<ApsState>,
}

impl FakeAps {
    pub async fn start() -> Self {
        let pem = std::fs::read(key_fixture("rsa.pub.pem")).expect("public key fixture");
        let state = Arc::new(ApsState {
            public_key: DecodingKey::from_rsa_pem(&pem).expect("RSA public key"),
            seen: Mutex::default(),
            exchanges: AtomicUsize::new(0),
            refusals: Mutex::default(),
            assertions: Mutex::default(),
        });
        let router = axum::Router::new().route(TOKEN_PATH, axum::routing::post(token)).with_state(Arc::clone(&state));
        Self { served: Served::start(router).await, state }
    }

    pub fn token_url(&self) -> String {
        self.served.url(TOKEN_PATH)
    }

    /// Tokens issued.
    pub fn exchanges(&self) -> usize {
        self.state.exchanges.load(Ordering::SeqCst)
    }

    /// Why requests were refused, in order.
    pub fn refusals(&self) -> Vec<String> {
        lock(&self.state.refusals).clone()
    }

    /// The assertions of accepted requests, in order.
    pub fn assertions(&self) -> Vec<String> {
        lock(&self.state.assertions).clone()
    }
}

type Answer = (StatusCode, Json<Value>);

async fn token(State(state): State<Arc<ApsState>>, headers: HeaderMap, body: String) -> Answer {
    match check(&state, &headers, &body) {
        Ok(assertion) => {
            let n = state.exchanges.fetch_add(1, Ordering::SeqCst);
            lock(&state.assertions).push(assertion);
            (
                StatusCode::OK,
                Json(json!({"access_token": format!("ssa-token-{n}"), "token_type": "Bearer", "expires_in": 3600})),
            )
        }
        Err((status, error, reason)) => {
            lock(&state.refusals).push(reason.clone());
            (status, Json(json!({"error": error, "error_description": reason})))
        }
    }
}

type Refusal = (StatusCode, &'static str, String);

/// The request's assertion when every rule holds.
fn check(state: &ApsState, headers: &HeaderMap, body: &str) -> Result<String, Refusal> {
    let invalid = |reason: &str| (StatusCode::BAD_REQUEST, "invalid_grant", reason.to_owned());
    let basic = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "));
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    if basic != Some(expected.as_str()) {
        return Err((StatusCode::UNAUTHORIZED, "invalid_client", "no valid HTTP Basic client authentication".into()));
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if field("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return Err(invalid("grant_type is not jwt-bearer"));
    }
    let assertion = field("assertion").ok_or_else(|| invalid("no assertion"))?;
    let header = jsonwebtoken::decode_header(&assertion).map_err(|e| invalid(&format!("header: {e}")))?;
    if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(KEY_ID) {
        return Err(invalid(&format!("alg {:?} / kid {:?}", header.alg, header.kid)));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.set_audience(&[APS_AUDIENCE]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.sub = Some(SERVICE_ACCOUNT.to_owned());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<Value>(&assertion, &state.public_key, &validation)
        .map_err(|e| invalid(&format!("assertion: {e}")))?
        .claims;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    let exp = claims["exp"].as_u64().unwrap_or_default();
    if exp <= now || exp > now + 300 {
        return Err(invalid(&format!("exp is not within 5 minutes: {exp} at {now}")));
    }
    let scope = claims["scope"].as_array().ok_or_else(|| invalid("scope is not an array"))?;
    if scope.is_empty() || !scope.iter().all(Value::is_string) {
        return Err(invalid("scope is not an array of strings"));
    }
    let jti = claims["jti"].as_str().ok_or_else(|| invalid("no jti"))?;
    if !lock(&state.seen).insert(jti.to_owned()) {
        return Err(invalid("jti already used"));
    }
    Ok(assertion)
}
