//! The broker under test, configured in one place: a [`BrokerBuilder`] holds
//! its settings and starts it either in-process ([`Broker`]: the real router
//! and server on a loopback port inside the test) or as the real binary
//! ([`BrokerProcess`], with the settings as environment variables).

use std::net::SocketAddr;

use token_backend::app::Built;
use token_backend::dev_auth_server::DevAuthServer;
use token_backend::{AppState, app, server};
use tokio::net::TcpListener;

use super::SESSION_SECRET;
use super::binary::BrokerProcess;
use super::config::config_bound_to;
use super::served::{Served, bind_loopback};

/// The client id every test broker uses unless it sets its own.
pub const CLIENT_ID: &str = "broker";
/// The client secret that goes with [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "broker-secret";

/// A setting the builder sets itself, in both spellings: the binary is given
/// the variable, the in-process broker the flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Setting {
    flag: &'static str,
    var: &'static str,
}

const PROVIDER: Setting = Setting { flag: "--provider", var: "OAUTH_PROVIDER" };
const TOKEN_URL: Setting = Setting { flag: "--token-url", var: "OAUTH_TOKEN_URL" };
const CLIENT_ID_SETTING: Setting = Setting { flag: "--client-id", var: "OAUTH_CLIENT_ID" };
const CLIENT_SECRET_SETTING: Setting = Setting { flag: "--client-secret", var: "OAUTH_CLIENT_SECRET" };

/// How a test broker is configured. Nothing comes from the developer's
/// environment: the in-process broker reads flags only, and the binary runs
/// with a cleared environment.
#[derive(Debug, Clone, Default)]
pub struct BrokerBuilder {
    /// The upstream client (provider, token URL, credentials), in either spelling.
    settings: Vec<(Setting, String)>,
    /// Further flags, after the settings.
    args: Vec<String>,
    /// Further variables; only the binary reads them.
    env: Vec<(String, String)>,
    /// Whether sign-in is turned on with a redirect URI naming the broker's own port.
    has_sign_in: bool,
}

impl BrokerBuilder {
    /// No settings at all (a provider comes through [`Self::args`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// `--dev`: the embedded authorization server as the upstream.
    pub fn dev() -> Self {
        Self::new().args(&["--dev"])
    }

    /// The `generic` preset against `token_url`, as client [`CLIENT_ID`].
    pub fn generic(token_url: &str) -> Self {
        Self::preset("generic", token_url)
    }

    /// Provider preset `provider` with its token endpoint at `token_url`, as client [`CLIENT_ID`].
    pub fn preset(provider: &str, token_url: &str) -> Self {
        Self::new().set(PROVIDER, provider).set(TOKEN_URL, token_url).client(CLIENT_ID, CLIENT_SECRET)
    }

    /// Another client id and secret.
    pub fn client(self, id: &str, secret: &str) -> Self {
        self.set(CLIENT_ID_SETTING, id).set(CLIENT_SECRET_SETTING, secret)
    }

    /// More flags.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// More environment variables (the binary only).
    pub fn env(mut self, vars: &[(&str, &str)]) -> Self {
        self.env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }

    /// Sign-in on (in-process only): the redirect URI is the broker's own
    /// `/auth/callback`, with the shared [`SESSION_SECRET`] and cookies without
    /// `Secure` (loopback).
    pub fn sign_in(mut self) -> Self {
        self.has_sign_in = true;
        self
    }

    fn set(mut self, setting: Setting, value: &str) -> Self {
        self.settings.retain(|(s, _)| *s != setting);
        self.settings.push((setting, value.to_owned()));
        self
    }

    /// Builds and serves the broker in-process on a fresh loopback port.
    pub async fn start(self) -> Broker {
        self.start_on(bind_loopback().await).await
    }

    /// Builds and serves the broker on `listener`, bound earlier so that
    /// something started before the broker (an authorization server that
    /// registers the redirect URI) could be given its address.
    pub async fn start_on(self, listener: TcpListener) -> Broker {
        assert!(self.env.is_empty(), "an in-process broker reads flags only, not {:?}", self.env);
        let addr = listener.local_addr().expect("local addr");
        let flags = self.flags(addr);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let config =
            config_bound_to(&addr.to_string(), &flags).unwrap_or_else(|e| panic!("invalid test configuration:\n{e}"));
        let built = AppState::build(config).await.expect("broker starts");
        let router = app(built.state.clone());
        // The production server (connection cap, timeouts), stopped by the abort on drop.
        let served = Served::spawn(listener, |listener| server::run(listener, router, std::future::pending()));
        Broker { served, built }
    }

    /// Starts the real binary with the settings as variables, then the
    /// further variables; the flags are its arguments.
    pub async fn spawn(self) -> BrokerProcess {
        assert!(!self.has_sign_in, "the binary's sign-in needs a port known in advance: set its variables");
        let vars: Vec<(String, String)> =
            self.settings.iter().map(|(s, v)| (s.var.to_owned(), v.clone())).chain(self.env.iter().cloned()).collect();
        let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        BrokerProcess::start(&args, &env).await
    }

    /// The in-process broker's flags when it listens on `addr`.
    fn flags(&self, addr: SocketAddr) -> Vec<String> {
        let mut flags: Vec<String> = self.settings.iter().flat_map(|(s, v)| [s.flag.to_owned(), v.clone()]).collect();
        if self.has_sign_in {
            let redirect = format!("http://{addr}/auth/callback");
            flags.extend(
                ["--redirect-url", &redirect, "--session-secret", SESSION_SECRET, "--cookie-secure", "false"]
                    .map(str::to_owned),
            );
        }
        flags.extend(self.args.iter().cloned());
        flags
    }
}

/// The real router served by the real server on a loopback port inside the
/// test process; stopped, with its background tasks, when dropped.
#[derive(Debug)]
pub struct Broker {
    served: Served,
    built: Built,
}

impl Broker {
    /// Configured by `args` alone (see [`BrokerBuilder`] for more).
    pub async fn start(args: &[&str]) -> Self {
        BrokerBuilder::new().args(args).start().await
    }

    /// The `generic` preset against `token_url`, plus `extra` flags.
    pub async fn generic(token_url: &str, extra: &[&str]) -> Self {
        BrokerBuilder::generic(token_url).args(extra).start().await
    }

    /// The socket address, for raw TCP clients.
    pub fn addr(&self) -> SocketAddr {
        self.served.addr()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        self.served.url(path)
    }

    /// The application state the router serves.
    pub fn state(&self) -> &AppState {
        &self.built.state
    }

    /// The embedded authorization server of a `--dev` broker.
    pub fn dev_server(&self) -> Option<&DevAuthServer> {
        self.built.dev_server.as_ref()
    }
}
