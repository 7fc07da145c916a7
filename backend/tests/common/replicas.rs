//! Several replicas of the real binary with one configuration, the
//! three-legged sign-in driven over plain HTTP against them, and a client load
//! loop that sends every round to every replica.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::binary::BrokerProcess;
use super::broker::BrokerBuilder;
use super::code_upstream::CodeUpstream;
use super::{Reply, SESSION_SECRET, get_with, lock, wait_until};

/// The header every cookie-authenticated route wants.
pub const XRW: (&str, &str) = ("X-Requested-With", "test");

/// Several `token-backend` processes with one configuration (apart from the
/// first one's fixed port, which sign-in redirects back to).
#[derive(Debug)]
pub struct Replicas {
    pub procs: Vec<Option<BrokerProcess>>,
    /// Each replica's configuration, kept to start it again.
    builders: Vec<BrokerBuilder>,
}

impl Replicas {
    /// Starts `count` replicas of `broker` in parallel; replica 0 binds
    /// `first_port` when given.
    pub async fn start(count: usize, broker: &BrokerBuilder, first_port: Option<u16>) -> Self {
        let builders = (0..count)
            .map(|i| match (i, first_port) {
                (0, Some(port)) => broker.clone().env(&[("BIND_ADDR", &format!("127.0.0.1:{port}"))]),
                _ => broker.clone(),
            })
            .collect();
        let mut replicas = Self { procs: (0..count).map(|_| None).collect(), builders };
        replicas.start_all().await;
        replicas
    }

    async fn start_all(&mut self) {
        let starts = self.builders.iter().map(|broker| broker.clone().spawn());
        let started = futures_util::future::join_all(starts).await;
        self.procs = started.into_iter().map(Some).collect();
    }

    /// Kills every replica (SIGKILL) and starts them again with the same configuration.
    pub async fn restart_all(&mut self) {
        for slot in &mut self.procs {
            if let Some(process) = slot.take() {
                process.stop().await;
            }
        }
        self.start_all().await;
    }

    /// SIGKILLs replica `i`.
    pub async fn kill(&mut self, i: usize) {
        let process = self.procs[i].take().expect("replica is running");
        process.stop().await;
    }

    pub fn get(&self, i: usize) -> &BrokerProcess {
        self.procs[i].as_ref().expect("replica is running")
    }

    pub fn url(&self, i: usize, path: &str) -> String {
        self.get(i).url(path)
    }

    /// `path` on every replica, running or not (a stopped one keeps its last address).
    pub fn urls(&self, path: &str) -> Vec<String> {
        (0..self.procs.len()).map(|i| self.url(i, path)).collect()
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }
}

/// A two-legged replica against `token_url` sharing `redis_url`, with `extra` variables.
pub fn replica(token_url: &str, redis_url: &str, extra: &[(&str, &str)]) -> BrokerBuilder {
    BrokerBuilder::generic(token_url).env(&[("REDIS_URL", redis_url)]).env(extra)
}

/// Adds sign-in against `upstream`, redirecting back to `127.0.0.1:port`.
pub fn with_sign_in(broker: BrokerBuilder, upstream: &CodeUpstream, port: u16) -> BrokerBuilder {
    broker.env(&[
        ("OAUTH_AUTHORIZE_URL", &upstream.url("/authorize")),
        ("OAUTH_REDIRECT_URL", &format!("http://127.0.0.1:{port}/auth/callback")),
        ("OAUTH_USER_SCOPE", "profile"),
        ("SESSION_SECRET", SESSION_SECRET),
        ("COOKIE_SECURE", "false"),
    ])
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

/// `session=value` of the session's `Set-Cookie` header in `reply`, if any.
pub fn set_cookie(reply: &Reply) -> Option<String> {
    set_cookie_named(reply, "session")
}

/// `name=value` of the `Set-Cookie` header for cookie `name` in `reply`, if any.
pub fn set_cookie_named(reply: &Reply, name: &str) -> Option<String> {
    reply.headers.get_all("set-cookie").iter().find_map(|value| {
        let pair = value.to_str().ok()?.split(';').next()?;
        pair.starts_with(&format!("{name}=")).then(|| pair.to_owned())
    })
}

/// Signs in through `login_base` (`/auth/login`, the upstream's `/authorize`,
/// `/auth/callback`) and returns the session cookie (`session=…`).
pub async fn sign_in(client: &reqwest::Client, login_base: &str) -> String {
    let login = get_with(client, &format!("{login_base}/auth/login"), &[]).await;
    assert_eq!(login.status, 302, "login: {}", login.body);
    let pending = set_cookie_named(&login, "login_state").expect("login sets the login-state cookie");
    assert_eq!(set_cookie(&login), None, "an anonymous login stores no session");
    let authorize = get_with(client, login.header("location").expect("location"), &[]).await;
    assert_eq!(authorize.status, 302, "authorize: {}", authorize.body);
    let callback_url = authorize.header("location").expect("location");
    assert!(callback_url.starts_with(login_base), "the provider redirects back to the login replica: {callback_url}");
    let callback = get_with(client, callback_url, &[("Cookie", &pending)]).await;
    assert_eq!(callback.status, 302, "callback: {}", callback.body);
    let cookie = set_cookie(&callback).expect("sign-in sets a new session cookie");
    assert!(cookie.starts_with("session="), "{cookie}");
    cookie
}

/// `GET /api/user/token` with the session cookie.
pub async fn user_token(client: &reqwest::Client, base_url: &str, cookie: &str) -> Reply {
    get_with(client, &format!("{base_url}/api/user/token"), &[XRW, ("Cookie", cookie)]).await
}

/// The value of an unlabelled metric, from `/metrics`.
pub async fn metric(client: &reqwest::Client, base_url: &str, name: &str) -> f64 {
    let reply = get_with(client, &format!("{base_url}/metrics"), &[]).await;
    reply
        .body
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{}", reply.body))
}

/// The `redis` field of `/readyz`.
pub async fn readyz_redis(client: &reqwest::Client, base_url: &str) -> String {
    let reply = get_with(client, &format!("{base_url}/readyz"), &[]).await;
    reply.json()["redis"].as_str().unwrap_or("absent").to_owned()
}

/// Waits until every replica's `/readyz` reports `redis` as `state`.
pub async fn wait_for_redis_state(client: &reqwest::Client, replicas: &Replicas, state: &str) {
    for i in 0..replicas.len() {
        let base = replicas.get(i).base.clone();
        wait_until(&format!("replica {i} to report redis {state}"), || {
            let base = base.clone();
            async move { readyz_redis(client, &base).await == state }
        })
        .await;
    }
}

/// One response of the load loop.
#[derive(Debug, Clone)]
pub struct Hit {
    pub replica: usize,
    /// Which round of its worker; a round sends to every replica at once.
    pub round: u64,
    pub worker: usize,
    pub sent_at: Instant,
    /// The token, or why there is none.
    pub outcome: Result<String, String>,
}

/// Client workers that, round after round, send `GET path` to every replica at
/// once and record each outcome, until stopped.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<Vec<Hit>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    /// `pause` between a worker's rounds keeps the load steady, not maximal.
    pub fn start(urls: Vec<String>, workers: usize, pause: Duration, timeout: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let client = reqwest::Client::builder().no_proxy().timeout(timeout).build().expect("client");
        let tasks = (0..workers)
            .map(|worker| {
                let (stop, hits, client, urls) = (Arc::clone(&stop), Arc::clone(&hits), client.clone(), urls.clone());
                tokio::spawn(async move {
                    let mut round = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let sent_at = Instant::now();
                        let calls = urls.iter().enumerate().map(|(replica, url)| {
                            let client = client.clone();
                            async move { (replica, fetch_token(&client, url).await) }
                        });
                        let outcomes = futures_util::future::join_all(calls).await;
                        lock(&hits).extend(outcomes.into_iter().map(|(replica, outcome)| Hit {
                            replica,
                            round,
                            worker,
                            sent_at,
                            outcome,
                        }));
                        round += 1;
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        Self { stop, hits, tasks }
    }

    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.hits).clone()
    }

    /// Stops the workers after their current round and returns every hit.
    pub async fn stop(mut self) -> Vec<Hit> {
        self.stop.store(true, Ordering::SeqCst);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        lock(&self.hits).clone()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

async fn fetch_token(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = client.get(url).send().await.map_err(|e| format!("transport: {e}"))?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| format!("body: {e}"))?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("json: {e}"))?;
    json["access_token"].as_str().map(str::to_owned).ok_or_else(|| format!("no token: {body}"))
}
