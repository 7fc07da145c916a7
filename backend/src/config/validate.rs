//! Validation: every value checked, every problem recorded with its variable's
//! name, and each layer's own settings type built from what passed. The values
//! come merged from the settings table (`settings.rs`); what is written here is
//! each setting's parse and default, and the rules between settings.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use oauth2::{ClientId, ClientSecret};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::Problem;
use super::file::{FileConfig, FileProfile};
use super::setting::{Kind, Seconds, Setting, Text};
use super::settings::Settings;
use crate::app::{Config, Cors, Profile, Upstream};
use crate::cluster::RedisSettings;
use crate::descriptors::{Demand, DescriptorBudget};
use crate::provider::{
    ClientAuth, ClientCredentials, EndpointOverrides, Preset, ProviderSpec, is_loopback, parse_endpoint_url,
};
use crate::proxy::{ApiSettings, ProxyCapacity};
use crate::server::ServerLimits;
use crate::session::SessionKey;
use crate::sign_in::SignIn;
use crate::telemetry::LogFormat;
use crate::token_cache::{BackoffPolicy, CachePolicy, DEFAULT_PROFILE};
use crate::transport::UpstreamHttp;

#[derive(Default)]
pub(super) struct Validator {
    pub(super) problems: Vec<Problem>,
    warnings: Vec<&'static str>,
}

impl Validator {
    fn problem(&mut self, var: &'static str, message: impl Into<String>) {
        self.problems.push(Problem { var, message: message.into() });
    }

    /// A problem with a setting's value: named by its variable and, when the value
    /// came from the file, by its key there too (the variable is not set then).
    fn problem_with<K: Kind>(&mut self, setting: &Setting<K>, message: impl Into<String>) {
        let message = message.into();
        match setting.file_key() {
            Some(key) => self.problem(setting.var, format!("{message} (from {key} in the file)")),
            None => self.problem(setting.var, message),
        }
    }

    /// Records the error (naming `setting`) and yields `None`, so validation
    /// carries on to the next value.
    fn check_setting<K: Kind, T>(&mut self, setting: &Setting<K>, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.problem_with(setting, message)).ok()
    }

    /// The setting's value; `None` when unset, or when the flag's or variable's
    /// text does not parse (recorded as a problem).
    fn value<K: Kind>(&mut self, setting: &Setting<K>) -> Option<K::Value> {
        setting.value().map_err(|message| self.problem(setting.var, message)).ok().flatten()
    }

    /// `setting`'s value, or `default` when unset, parsed by `parse`.
    fn parse<T>(
        &mut self,
        setting: &Setting<Text>,
        default: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.value(setting);
        let result = parse(raw.as_deref().unwrap_or(default));
        self.check_setting(setting, result)
    }

    fn seconds(&mut self, setting: &Setting<Seconds>, default: u64, range: (u64, u64)) -> Duration {
        Duration::from_secs(self.number(setting, default, range))
    }

    /// A whole number within `range`: the setting's, else `default`.
    fn number<K: Kind<Value = u64>>(&mut self, setting: &Setting<K>, default: u64, range: (u64, u64)) -> u64 {
        let value = self.value(setting).unwrap_or(default);
        if value < range.0 || value > range.1 {
            self.problem_with(setting, format!("{value} is out of range ({}..={})", range.0, range.1));
        }
        value
    }
}

/// Validates everything and builds the configuration: the merged settings,
/// the file's named tables and `PROXY_API` (the proxy's entries, outside the
/// settings table because they add to a map).
pub(super) fn build(
    s: &Settings,
    file: &FileConfig,
    proxy_api: Option<&str>,
    dev: bool,
    v: &mut Validator,
) -> Option<Config> {
    let bind_addr = v.parse(&s.bind_addr, "127.0.0.1:3000", parse_bind_addr);
    // Off unless set (an empty value, as container environments often pass,
    // counts as unset): a production deployment serves no demo page by accident.
    let public_dir = match v.value(&s.public_dir).filter(|raw| !raw.trim().is_empty()) {
        Some(raw) => v.check_setting(&s.public_dir, parse_public_dir(&raw)).map(Some),
        None => Some(None),
    };
    let log_format = v.parse(&s.log_format, "text", parse_log_format);
    let cors = parse_cors(s, v);

    let preset = match v.value(&s.provider) {
        Some(name) => v.check_setting(&s.provider, ProviderSpec::preset_name(&name)),
        None => None,
    };
    let profiles = parse_profiles(s, &file.profiles, preset.unwrap_or(Preset::Generic), dev, v);

    let cache = CachePolicy {
        min_ttl: v.seconds(&s.token_min_ttl_secs, 30, (0, 3600)),
        default_ttl: v.seconds(&s.token_default_ttl_secs, 3600, (1, 86_400)),
        refresh_window_percent: v.number(&s.token_refresh_window_percent, 20, (1, 50)) as u32,
        refresh_window_min: v.seconds(&s.token_refresh_window_min_secs, 60, (0, 86_400)),
        backoff: parse_backoff(s, v),
        ..CachePolicy::default()
    };
    let http = UpstreamHttp {
        timeout: v.seconds(&s.upstream_timeout_secs, 10, (1, 300)),
        connect_timeout: v.seconds(&s.upstream_connect_timeout_secs, 5, (1, 60)),
        max_body_bytes: 64 * 1024,
    };

    let upstream = if dev {
        Some(Upstream::Dev { token_ttl: v.seconds(&s.dev_token_ttl_secs, 120, (2, 86_400)) })
    } else {
        parse_remote(s, preset, v)
    };
    check_lifetimes(s, &cache, upstream.as_ref(), v);
    let sign_in = match (&upstream, bind_addr) {
        (Some(upstream), Some(bind_addr)) => parse_sign_in(s, upstream, bind_addr, preset, v),
        _ => None,
    };

    let api_context = super::apis::Context {
        profiles: profiles.as_ref().map(|p| p.keys().map(String::as_str).collect()),
        has_sign_in: sign_in.is_some(),
        preset,
    };
    let apis = super::apis::parse(proxy_api, &file.apis, &api_context, &mut v.problems);
    let descriptors = parse_descriptor_budget(s, &apis, dev, v);
    Some(Config {
        bind_addr: bind_addr?,
        public_dir: public_dir?,
        upstream: upstream?,
        profiles: profiles?,
        cors: cors?,
        cache,
        http,
        log_format: log_format?,
        sign_in,
        warnings: std::mem::take(&mut v.warnings),
        redis: parse_redis(s, v),
        server: parse_server_limits(s, &descriptors, v),
        proxy_capacity: proxy_capacity(&descriptors, &apis, dev),
        apis,
        descriptors,
    })
}

/// Lifetimes that no token could be served with stop the start-up: every such
/// token would be refused as too short, at every request.
fn check_lifetimes(s: &Settings, cache: &CachePolicy, upstream: Option<&Upstream>, v: &mut Validator) {
    let min = cache.min_ttl.as_secs();
    if cache.default_ttl <= cache.min_ttl {
        v.problem_with(
            &s.token_default_ttl_secs,
            format!(
                "{} must be longer than TOKEN_MIN_TTL_SECS ({min}), or tokens without `expires_in` are never served",
                cache.default_ttl.as_secs()
            ),
        );
    }
    if let Some(Upstream::Dev { token_ttl }) = upstream {
        if *token_ttl <= cache.min_ttl {
            v.problem_with(
                &s.dev_token_ttl_secs,
                format!(
                    "{} must be longer than TOKEN_MIN_TTL_SECS ({min}), or no dev token is ever served",
                    token_ttl.as_secs()
                ),
            );
        }
    }
}

/// What slow, idle and numerous clients may hold open (the connection cap from
/// the descriptor budget), and how long shutdown waits.
fn parse_server_limits(s: &Settings, descriptors: &DescriptorBudget, v: &mut Validator) -> ServerLimits {
    let defaults = ServerLimits::default();
    ServerLimits {
        header_read_timeout: v.seconds(&s.header_read_timeout_secs, defaults.header_read_timeout.as_secs(), (1, 3600)),
        idle_timeout: v.seconds(&s.idle_timeout_secs, defaults.idle_timeout.as_secs(), (1, 3600)),
        max_connections: descriptors.connections,
        shutdown_timeout: v.seconds(&s.shutdown_timeout_secs, defaults.shutdown_timeout.as_secs(), (0, 3600)),
    }
}

/// The descriptor limit shared out: `MAX_CONNECTIONS` when set, else derived;
/// a share for the proxy when it has APIs (always in `--dev`, for the demo's).
fn parse_descriptor_budget(s: &Settings, apis: &[ApiSettings], dev: bool, v: &mut Validator) -> DescriptorBudget {
    let max_connections =
        v.value(&s.max_connections).is_some().then(|| v.number(&s.max_connections, 0, (1, 1_000_000)) as usize);
    DescriptorBudget::current(Demand {
        max_connections,
        has_proxy: dev || !apis.is_empty(),
        is_in_process_upstream: dev,
    })
}

/// The proxy's share split over its APIs and their distinct hosts (`--dev` adds
/// the demo's API on the embedded server).
fn proxy_capacity(descriptors: &DescriptorBudget, apis: &[ApiSettings], dev: bool) -> ProxyCapacity {
    let hosts: std::collections::BTreeSet<_> =
        apis.iter().map(|api| (api.base_url.scheme(), api.base_url.host_str(), api.base_url.port())).collect();
    ProxyCapacity::within(descriptors.proxy_connections, apis.len() + usize::from(dev), hosts.len() + usize::from(dev))
}

/// How long a failing upstream is left alone. 0 turns a bound off, which only
/// tests that script one upstream failure after another should want.
fn parse_backoff(s: &Settings, v: &mut Validator) -> BackoffPolicy {
    let defaults = BackoffPolicy::default();
    BackoffPolicy {
        max: v.seconds(&s.upstream_backoff_max_secs, defaults.max.as_secs(), (0, 3600)),
        retry_after_max: v.seconds(&s.upstream_retry_after_max_secs, defaults.retry_after_max.as_secs(), (0, 3600)),
        ..defaults
    }
}

/// Sign-in is on in dev mode, and elsewhere when `OAUTH_REDIRECT_URL` is set.
fn parse_sign_in(
    s: &Settings,
    upstream: &Upstream,
    bind_addr: SocketAddr,
    preset: Option<Preset>,
    v: &mut Validator,
) -> Option<SignIn> {
    let dev = matches!(upstream, Upstream::Dev { .. });
    let redirect_url = match v.value(&s.redirect_url) {
        Some(raw) => v.check_setting(&s.redirect_url, parse_redirect_url(&raw))?,
        None if dev => {
            // Browsers reach a wildcard listener through loopback.
            let host =
                if bind_addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { bind_addr.ip().to_string() };
            let host = if bind_addr.is_ipv6() && !bind_addr.ip().is_unspecified() { format!("[{host}]") } else { host };
            Url::parse(&format!("http://{host}:{}/auth/callback", bind_addr.port())).ok()?
        }
        None => return None,
    };
    let default_scope = if dev { "openid profile data:read" } else { preset.map_or("", |p| p.default_user_scope()) };
    let user_scopes = v.parse(&s.user_scope, default_scope, parse_scope)?;
    let browser_scopes = match v.value(&s.user_browser_scope) {
        Some(raw) => {
            let scopes = v.check_setting(&s.user_browser_scope, parse_scope(&raw))?;
            if let Some(extra) = scopes.iter().find(|scope| !user_scopes.contains(scope)) {
                v.problem_with(
                    &s.user_browser_scope,
                    format!("`{extra}` is not in OAUTH_USER_SCOPE; the browser scope must be narrower"),
                );
                return None;
            }
            Some(scopes).filter(|scopes| !scopes.is_empty())
        }
        None => None,
    };
    let resource = match v.value(&s.resource) {
        // RFC 8707 §2: an absolute URI without a fragment.
        Some(raw) => match Url::parse(raw.trim()) {
            Ok(url) if url.fragment().is_none() => Some(url),
            _ => {
                v.problem_with(&s.resource, "must be an absolute URI without a fragment (RFC 8707)");
                return None;
            }
        },
        None => None,
    };
    let loopback = is_loopback(&redirect_url);
    let cookie_secure = if s.cookie_secure.is_set() { v.value(&s.cookie_secure)? } else { !dev };
    if !cookie_secure && !loopback {
        v.problem_with(&s.cookie_secure, "may be false only when OAUTH_REDIRECT_URL is on localhost/loopback");
        return None;
    }
    if redirect_url.scheme() == "http" && !loopback {
        v.problem_with(&s.redirect_url, "must use https (plain http is allowed only on loopback)");
        return None;
    }
    let session_key = match v.value(&s.session_secret) {
        Some(secret) if secret.expose_secret().len() >= 32 => SessionKey::derive(secret.expose_secret()),
        Some(_) => {
            v.problem_with(&s.session_secret, "must be at least 32 characters (e.g. `openssl rand -base64 48`)");
            return None;
        }
        None if dev => {
            v.warnings.push("SESSION_SECRET is not set; using a random one, so sessions end when the process restarts");
            SessionKey::random()
        }
        None => {
            v.problem(
                s.session_secret.var,
                "missing: sign-in (OAUTH_REDIRECT_URL) needs a secret of at least 32 characters",
            );
            return None;
        }
    };
    let session_max_lifetime = v.seconds(&s.session_max_lifetime_secs, 14 * 24 * 3600, (60, 400 * 24 * 3600));
    Some(SignIn {
        redirect_url,
        user_scopes,
        browser_scopes,
        resource,
        session_key,
        cookie_secure,
        session_max_lifetime,
    })
}

/// `REDIS_URL`: `redis://` or `rediss://` (TLS). Errors never repeat the URL,
/// which may carry a password.
fn parse_redis(s: &Settings, v: &mut Validator) -> Option<RedisSettings> {
    let url = v.value(&s.redis_url)?;
    let parsed = Url::parse(url.expose_secret().trim());
    match parsed.as_ref().map(|u| (u.scheme(), u.host_str().is_some())) {
        Ok(("redis" | "rediss", true)) => {}
        Ok(_) => {
            v.problem_with(&s.redis_url, "must be a redis:// or rediss:// URL with a host");
            return None;
        }
        Err(e) => {
            v.problem_with(&s.redis_url, format!("is not a URL ({e})"));
            return None;
        }
    }
    let key_prefix = v.value(&s.redis_key_prefix).unwrap_or_else(|| "token-broker:".to_owned());
    Some(RedisSettings { url: SecretString::from(url.expose_secret().trim().to_owned()), key_prefix })
}

/// The redirect URI must be absolute, without a fragment (RFC 6749 §3.1.2).
fn parse_redirect_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.fragment().is_some() {
        return Err(format!("`{raw}` must be an http(s) URL without a fragment"));
    }
    Ok(url)
}

fn parse_bind_addr(raw: &str) -> Result<SocketAddr, String> {
    raw.trim().parse().map_err(|_| format!("`{raw}` is not an IP:PORT address such as 127.0.0.1:3000"))
}

fn parse_public_dir(raw: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(raw);
    if path.is_dir() { Ok(path) } else { Err(format!("`{raw}` is not a directory")) }
}

fn parse_log_format(raw: &str) -> Result<LogFormat, String> {
    match raw.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("`{other}` is not one of: text, json")),
    }
}

/// Normalises `https://Example.com:443/` to `https://example.com`, the form browsers send.
fn parse_origin(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not an origin: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{raw}` is not an http(s) origin"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("`{raw}` must be an origin only (scheme://host[:port]), without a path"));
    }
    Ok(url.origin().ascii_serialization())
}

/// Splits a space-separated scope, checking each token against RFC 6749 §3.3.
fn parse_scope(raw: &str) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for token in raw.split_whitespace() {
        if !token.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)) {
            return Err(format!("`{token}` has characters a scope cannot contain"));
        }
        if !scopes.iter().any(|s| s == token) {
            scopes.push(token.to_owned());
        }
    }
    Ok(scopes)
}

fn parse_cors(s: &Settings, v: &mut Validator) -> Option<Cors> {
    let credentials = if s.cors_allow_credentials.is_set() { v.value(&s.cors_allow_credentials)? } else { false };
    let entries: Vec<String> =
        v.value(&s.allowed_origins).unwrap_or_default().iter().map(|e| e.trim().to_owned()).collect();
    if entries.is_empty() {
        return Some(Cors::SameOrigin);
    }
    if entries.iter().any(|e| e == "*") {
        if entries.len() > 1 {
            v.problem_with(&s.allowed_origins, "`*` cannot be combined with other origins");
            return None;
        }
        if credentials {
            v.problem_with(
                &s.allowed_origins,
                "`*` cannot be used with CORS_ALLOW_CREDENTIALS=true; list the origins instead",
            );
            return None;
        }
        return Some(Cors::AnyOrigin);
    }
    let origins: Result<Vec<String>, String> = entries.iter().map(|e| parse_origin(e)).collect();
    let origins = v.check_setting(&s.allowed_origins, origins)?;
    Some(Cors::Origins { origins, allow_credentials: credentials })
}

fn parse_profiles(
    s: &Settings,
    named: &BTreeMap<String, FileProfile>,
    preset: Preset,
    dev: bool,
    v: &mut Validator,
) -> Option<BTreeMap<String, Profile>> {
    let default_scope = if dev { "viewables:read" } else { preset.default_scope() };
    let scopes = v.parse(&s.scope, default_scope, parse_scope)?;
    let mut profiles = BTreeMap::new();
    profiles.insert(DEFAULT_PROFILE.to_owned(), Profile { name: DEFAULT_PROFILE.to_owned(), scopes });
    let mut ok = true;
    for (name, profile) in named {
        if name == DEFAULT_PROFILE {
            v.problem(
                "TOKEN_BACKEND_CONFIG",
                "[profiles.default] is reserved; set OAUTH_SCOPE or [oauth].scope instead",
            );
            ok = false;
            continue;
        }
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            v.problem("TOKEN_BACKEND_CONFIG", format!("profile name `{name}` must be 1-64 of [A-Za-z0-9_-]"));
            ok = false;
            continue;
        }
        match parse_scope(&profile.scope) {
            Ok(scopes) => {
                profiles.insert(name.clone(), Profile { name: name.clone(), scopes });
            }
            Err(message) => {
                v.problem("TOKEN_BACKEND_CONFIG", format!("[profiles.{name}].scope: {message}"));
                ok = false;
            }
        }
    }
    ok.then_some(profiles)
}

fn parse_remote(s: &Settings, preset: Option<Preset>, v: &mut Validator) -> Option<Upstream> {
    let mut url = |setting: &Setting<Text>| {
        let raw = v.value(setting)?;
        v.check_setting(setting, parse_endpoint_url(&raw))
    };
    let token_url = url(&s.token_url);
    let issuer = url(&s.issuer);
    let provider = match preset {
        None => {
            v.problem(s.provider.var, "missing: set one of aps, oidc, glimesh, generic (or run with --dev)");
            None
        }
        Some(preset) => {
            let overrides = EndpointOverrides {
                token_url,
                authorize_url: url(&s.authorize_url),
                revocation_url: url(&s.revoke_url),
                userinfo_url: url(&s.userinfo_url),
            };
            v.check_setting(&s.provider, ProviderSpec::new(preset, issuer, overrides))
        }
    };
    let auth = match v.value(&s.client_auth) {
        Some(raw) => v.check_setting(&s.client_auth, ClientAuth::parse(&raw)),
        None => preset.map(Preset::default_client_auth),
    };
    let id = match v.value(&s.client_id).as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => Some(ClientId::new(id.to_owned())),
        _ => {
            v.problem(s.client_id.var, "missing (required unless --dev)");
            None
        }
    };
    let secret = client_secret(s, v);
    Some(Upstream::Remote { provider: provider?, client: ClientCredentials { id: id?, secret: secret?, auth: auth? } })
}

fn client_secret(s: &Settings, v: &mut Validator) -> Option<ClientSecret> {
    let secret = match (v.value(&s.client_secret), v.value(&s.client_secret_file)) {
        (Some(_), Some(_)) => {
            v.problem(s.client_secret.var, "set either OAUTH_CLIENT_SECRET or OAUTH_CLIENT_SECRET_FILE, not both");
            return None;
        }
        (Some(secret), None) => secret.expose_secret().trim().to_owned(),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().to_owned(),
            Err(e) => {
                v.problem_with(&s.client_secret_file, format!("cannot read {}: {}", path.display(), e.kind()));
                return None;
            }
        },
        (None, None) => {
            v.problem(
                s.client_secret.var,
                "missing: set OAUTH_CLIENT_SECRET or OAUTH_CLIENT_SECRET_FILE (or run with --dev)",
            );
            return None;
        }
    };
    if secret.is_empty() {
        v.problem_with(&s.client_secret, "is empty");
        return None;
    }
    Some(ClientSecret::new(secret))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::Cli;
    use crate::config::ConfigError;
    use crate::config::file::FileConfig;

    fn cli(args: &[&str]) -> Cli {
        let mut full = vec!["token-backend"];
        full.extend_from_slice(args);
        Cli::parse_from(full)
    }

    /// A secret that begins with `-` (random secrets do, one in 32 or so) is
    /// the flag's value, not an unknown flag.
    #[test]
    fn secrets_may_begin_with_a_hyphen() {
        let parsed = Cli::try_parse_from([
            "token-backend",
            "--dev",
            "--oauth-client-secret",
            "-Kx9secret",
            "--session-secret",
            "-abcdefghijklmnopqrstuvwxyz0123456789",
        ]);
        assert!(parsed.is_ok(), "{:?}", parsed.err());
    }

    fn problems(result: Result<Config, ConfigError>) -> Vec<Problem> {
        match result {
            Ok(_) => Vec::new(),
            Err(e) => e.problems,
        }
    }

    /// Every missing setting is reported in one go, each naming its variable.
    #[test]
    fn reports_all_missing_settings_at_once() {
        let vars: Vec<&str> = problems(Config::from_cli(cli(&["--public-dir", "."]))).iter().map(|p| p.var).collect();
        assert_eq!(vars, ["OAUTH_PROVIDER", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET"]);
    }

    fn aps_config() -> Config {
        Config::from_cli(cli(&[
            "--public-dir",
            ".",
            "--provider",
            "aps",
            "--client-id",
            "id",
            "--client-secret",
            "s3cr3t-value",
        ]))
        .expect("valid config")
    }

    /// The aps preset needs only credentials and picks the browser scope `viewables:read`.
    #[test]
    fn aps_preset_fills_urls_and_scope() {
        let config = aps_config();
        assert_eq!(config.profiles[DEFAULT_PROFILE].scopes, ["viewables:read"]);
        let Upstream::Remote { provider, client } = &config.upstream else { panic!("remote expected") };
        assert_eq!(client.auth, ClientAuth::Basic);
        assert!(matches!(provider, ProviderSpec::Static { token_url, .. }
            if token_url.as_str() == "https://developer.api.autodesk.com/authentication/v2/token"));
    }

    /// `Debug` of the whole configuration never shows the client secret.
    #[test]
    fn debug_output_redacts_the_secret() {
        let config = aps_config();
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cr3t-value"), "{printed}");
        assert!(printed.contains("redacted"));
    }

    /// A Redis password in `REDIS_URL` is neither printed by `Debug` nor in errors.
    #[test]
    fn redis_url_is_secret() {
        let config =
            Config::from_cli(cli(&["--dev", "--public-dir", ".", "--redis-url", "redis://:pa55word@127.0.0.1:6379/0"]))
                .expect("valid config");
        assert!(!format!("{config:?}").contains("pa55word"));
        let p = problems(Config::from_cli(cli(&["--dev", "--public-dir", ".", "--redis-url", "http://:pa55word@x/"])));
        assert_eq!(p.len(), 1);
        assert!(!p[0].message.contains("pa55word"));
    }

    /// A wildcard with credentials would make tower-http panic; it is a start-up error instead.
    #[test]
    fn wildcard_origin_with_credentials_is_rejected() {
        let p = problems(Config::from_cli(cli(&[
            "--dev",
            "--public-dir",
            ".",
            "--allowed-origins",
            "*",
            "--cors-allow-credentials",
            "true",
        ])));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].var, "ALLOWED_ORIGINS");
    }

    /// Origins are normalised to what browsers send, and paths are refused.
    #[test]
    fn origins_are_normalised_and_checked() {
        assert_eq!(parse_origin("https://App.Example.com:443/").as_deref(), Ok("https://app.example.com"));
        assert_eq!(parse_origin("http://localhost:5173").as_deref(), Ok("http://localhost:5173"));
        assert!(parse_origin("https://example.com/app").is_err());
        assert!(parse_origin("example.com").is_err());
    }

    /// The secret must not travel in clear text to a remote host.
    #[test]
    fn plain_http_upstream_only_on_loopback() {
        assert!(parse_endpoint_url("http://127.0.0.1:9000/token").is_ok());
        assert!(parse_endpoint_url("http://localhost/token").is_ok());
        assert!(parse_endpoint_url("http://auth.example.com/token").is_err());
        assert!(parse_endpoint_url("ftp://auth.example.com/token").is_err());
    }

    /// Bad values name their variable and say what is wrong.
    #[test]
    fn bad_values_name_their_variable() {
        let p = problems(Config::from_cli(cli(&[
            "--dev",
            "--public-dir",
            "/definitely/not/here",
            "--bind-addr",
            "nope",
            "--token-min-ttl-secs",
            "abc",
            "--client-auth",
            "digest",
        ])));
        let vars: Vec<&str> = p.iter().map(|p| p.var).collect();
        assert_eq!(vars, ["BIND_ADDR", "PUBLIC_DIR", "TOKEN_MIN_TTL_SECS"], "{p:?}");
        assert!(p[0].message.contains("nope"));
    }

    /// `build` from flags and a TOML text, without touching the disk.
    fn with_file(args: &[&str], text: &str) -> Result<Config, Vec<Problem>> {
        let mut file: FileConfig = toml::from_str(text).expect("valid toml");
        let cli = cli(args);
        let settings = Settings::merge(cli.settings, std::mem::take(&mut file.values));
        let mut v = Validator::default();
        match build(&settings, &file, cli.proxy_api.as_deref(), cli.dev, &mut v) {
            Some(config) if v.problems.is_empty() => Ok(config),
            _ => Err(v.problems),
        }
    }

    /// A flag beats the file, and the file beats the default, setting by setting.
    #[test]
    fn flag_beats_file_and_file_beats_default() {
        let config =
            with_file(&["--dev", "--token-min-ttl-secs", "40"], "[cache]\nmin_ttl_secs = 45\ndefault_ttl_secs = 900\n")
                .expect("valid config");
        assert_eq!(config.cache.min_ttl, Duration::from_secs(40));
        assert_eq!(config.cache.default_ttl, Duration::from_secs(900));
        assert_eq!(config.cache.refresh_window_min, Duration::from_secs(60));
    }

    /// A bad value from the file names the variable and the file key; from a
    /// flag, only the variable.
    #[test]
    fn problems_with_file_values_name_the_key() {
        let p = with_file(&["--dev"], "[server]\nidle_timeout_secs = 0\n").expect_err("out of range");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].var, "IDLE_TIMEOUT_SECS");
        assert_eq!(p[0].message, "0 is out of range (1..=3600) (from [server].idle_timeout_secs in the file)");
        let p = with_file(&["--dev", "--idle-timeout-secs", "0"], "").expect_err("out of range");
        assert_eq!(p[0].message, "0 is out of range (1..=3600)");
        let p = with_file(&["--dev"], "log_format = \"xml\"\n").expect_err("unknown format");
        assert_eq!(
            (p[0].var, p[0].message.as_str()),
            ("LOG_FORMAT", "`xml` is not one of: text, json (from log_format in the file)")
        );
    }

    /// Scope tokens are validated and de-duplicated.
    #[test]
    fn scope_parsing() {
        assert_eq!(
            parse_scope(" data:read  data:read viewables:read "),
            Ok(vec!["data:read".into(), "viewables:read".into()])
        );
        assert!(parse_scope("bad\"scope").is_err());
        assert_eq!(parse_scope(""), Ok(vec![]));
    }

    /// TOML profiles add named token kinds; unknown keys are refused.
    #[test]
    fn toml_profiles_and_unknown_keys() {
        let file: FileConfig = toml::from_str("[profiles.data]\nscope = \"data:read\"\n").expect("valid toml");
        let settings = Settings::merge(cli(&["--dev"]).settings, file.values);
        let mut v = Validator::default();
        let profiles = parse_profiles(&settings, &file.profiles, Preset::Aps, true, &mut v).expect("profiles");
        assert_eq!(profiles["data"].scopes, ["data:read"]);
        assert!(toml::from_str::<FileConfig>("bind_adr = \"x\"").is_err());
    }
}
