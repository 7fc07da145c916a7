//! Validation: every value checked, every problem recorded with its variable's
//! name, and each layer's own settings type built from what passed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use oauth2::{ClientId, ClientSecret};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::Problem;
use super::cli::Cli;
use super::file::FileConfig;
use crate::app::{Config, Cors, Profile, Upstream};
use crate::cluster::RedisSettings;
use crate::provider::{
    ClientAuth, ClientCredentials, EndpointOverrides, ProviderSpec, is_loopback, parse_endpoint_url,
};
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

    /// Records the error and yields `None`, so validation carries on to the next value.
    fn check<T>(&mut self, var: &'static str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.problem(var, message)).ok()
    }

    fn seconds(
        &mut self,
        var: &'static str,
        env: Option<&str>,
        file: Option<u64>,
        default: u64,
        range: (u64, u64),
    ) -> Duration {
        Duration::from_secs(self.number(var, env, file, default, range, "seconds"))
    }

    /// A whole number of `unit`s within `range`, from the environment, else the file, else `default`.
    fn number(
        &mut self,
        var: &'static str,
        env: Option<&str>,
        file: Option<u64>,
        default: u64,
        range: (u64, u64),
        unit: &str,
    ) -> u64 {
        let value = match env {
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    self.problem(var, format!("`{raw}` is not a whole number of {unit}"));
                    default
                }
            },
            None => file.unwrap_or(default),
        };
        if value < range.0 || value > range.1 {
            self.problem(var, format!("{value} is out of range ({}..={})", range.0, range.1));
        }
        value
    }
}

pub(super) fn build(cli: &Cli, file: FileConfig, v: &mut Validator) -> Option<Config> {
    let bind_addr =
        v.check("BIND_ADDR", parse_bind_addr(pick(&cli.bind_addr, &file.bind_addr).unwrap_or("127.0.0.1:3000")));
    // Off unless set (an empty value, as container environments often pass,
    // counts as unset): a production deployment serves no demo page by accident.
    let public_dir = match pick(&cli.public_dir, &file.public_dir).filter(|raw| !raw.trim().is_empty()) {
        Some(raw) => v.check("PUBLIC_DIR", parse_public_dir(raw)).map(Some),
        None => Some(None),
    };
    let log_format = v.check("LOG_FORMAT", parse_log_format(pick(&cli.log_format, &file.log_format).unwrap_or("text")));
    let cors = parse_cors(cli, &file, v);

    let upstream_provider = pick(&cli.provider, &file.oauth.provider);
    let preset = match upstream_provider {
        Some(name) => v.check("OAUTH_PROVIDER", ProviderSpec::preset_name(name)),
        None => None,
    };
    let profiles = parse_profiles(cli, &file, preset.unwrap_or(crate::provider::Preset::Generic), cli.dev, v);

    let cache = CachePolicy {
        min_ttl: v.seconds(
            "TOKEN_MIN_TTL_SECS",
            cli.token_min_ttl_secs.as_deref(),
            file.cache.min_ttl_secs,
            30,
            (0, 3600),
        ),
        default_ttl: v.seconds(
            "TOKEN_DEFAULT_TTL_SECS",
            cli.token_default_ttl_secs.as_deref(),
            file.cache.default_ttl_secs,
            3600,
            (1, 86_400),
        ),
        refresh_window_percent: v
            .seconds(
                "TOKEN_REFRESH_WINDOW_PERCENT",
                cli.token_refresh_window_percent.as_deref(),
                file.cache.refresh_window_percent,
                20,
                (1, 50),
            )
            .as_secs() as u32,
        refresh_window_min: v.seconds(
            "TOKEN_REFRESH_WINDOW_MIN_SECS",
            cli.token_refresh_window_min_secs.as_deref(),
            file.cache.refresh_window_min_secs,
            60,
            (0, 86_400),
        ),
        backoff: parse_backoff(cli, &file, v),
        ..CachePolicy::default()
    };
    let http = UpstreamHttp {
        timeout: v.seconds(
            "UPSTREAM_TIMEOUT_SECS",
            cli.upstream_timeout_secs.as_deref(),
            file.upstream.timeout_secs,
            10,
            (1, 300),
        ),
        connect_timeout: v.seconds(
            "UPSTREAM_CONNECT_TIMEOUT_SECS",
            cli.upstream_connect_timeout_secs.as_deref(),
            file.upstream.connect_timeout_secs,
            5,
            (1, 60),
        ),
        max_body_bytes: 64 * 1024,
    };

    let upstream = if cli.dev {
        let token_ttl = v.seconds(
            "DEV_TOKEN_TTL_SECS",
            cli.dev_token_ttl_secs.as_deref(),
            file.dev.token_ttl_secs,
            120,
            (2, 86_400),
        );
        Some(Upstream::Dev { token_ttl })
    } else {
        parse_remote(cli, &file, preset, v)
    };
    check_lifetimes(&cache, upstream.as_ref(), v);
    let sign_in = match (&upstream, bind_addr) {
        (Some(upstream), Some(bind_addr)) => parse_sign_in(cli, &file, upstream, bind_addr, preset, v),
        _ => None,
    };

    let api_context = super::apis::Context {
        profiles: profiles.as_ref().map(|p| p.keys().map(String::as_str).collect()),
        has_sign_in: sign_in.is_some(),
        preset,
    };
    let apis = super::apis::parse(cli.proxy_api.as_deref(), &file.apis, &api_context, &mut v.problems);
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
        redis: parse_redis(cli, &file, v),
        server: parse_server_limits(cli, &file, v),
        apis,
    })
}

/// Lifetimes that no token could be served with stop the start-up: every such
/// token would be refused as too short, at every request.
fn check_lifetimes(cache: &CachePolicy, upstream: Option<&Upstream>, v: &mut Validator) {
    let min = cache.min_ttl.as_secs();
    if cache.default_ttl <= cache.min_ttl {
        v.problem(
            "TOKEN_DEFAULT_TTL_SECS",
            format!(
                "{} must be longer than TOKEN_MIN_TTL_SECS ({min}), or tokens without `expires_in` are never served",
                cache.default_ttl.as_secs()
            ),
        );
    }
    if let Some(Upstream::Dev { token_ttl }) = upstream {
        if *token_ttl <= cache.min_ttl {
            v.problem(
                "DEV_TOKEN_TTL_SECS",
                format!(
                    "{} must be longer than TOKEN_MIN_TTL_SECS ({min}), or no dev token is ever served",
                    token_ttl.as_secs()
                ),
            );
        }
    }
}

/// What slow, idle and numerous clients may hold open, and how long shutdown waits.
fn parse_server_limits(cli: &Cli, file: &FileConfig, v: &mut Validator) -> ServerLimits {
    let defaults = ServerLimits::default();
    ServerLimits {
        header_read_timeout: v.seconds(
            "HEADER_READ_TIMEOUT_SECS",
            cli.header_read_timeout_secs.as_deref(),
            file.server.header_read_timeout_secs,
            defaults.header_read_timeout.as_secs(),
            (1, 3600),
        ),
        idle_timeout: v.seconds(
            "IDLE_TIMEOUT_SECS",
            cli.idle_timeout_secs.as_deref(),
            file.server.idle_timeout_secs,
            defaults.idle_timeout.as_secs(),
            (1, 3600),
        ),
        max_connections: v.number(
            "MAX_CONNECTIONS",
            cli.max_connections.as_deref(),
            file.server.max_connections,
            defaults.max_connections as u64,
            (1, 1_000_000),
            "connections",
        ) as usize,
        shutdown_timeout: v.seconds(
            "SHUTDOWN_TIMEOUT_SECS",
            cli.shutdown_timeout_secs.as_deref(),
            file.server.shutdown_timeout_secs,
            defaults.shutdown_timeout.as_secs(),
            (0, 3600),
        ),
    }
}

/// How long a failing upstream is left alone. 0 turns a bound off, which only
/// tests that script one upstream failure after another should want.
fn parse_backoff(cli: &Cli, file: &FileConfig, v: &mut Validator) -> BackoffPolicy {
    let defaults = BackoffPolicy::default();
    BackoffPolicy {
        max: v.seconds(
            "UPSTREAM_BACKOFF_MAX_SECS",
            cli.upstream_backoff_max_secs.as_deref(),
            file.upstream.backoff_max_secs,
            defaults.max.as_secs(),
            (0, 3600),
        ),
        retry_after_max: v.seconds(
            "UPSTREAM_RETRY_AFTER_MAX_SECS",
            cli.upstream_retry_after_max_secs.as_deref(),
            file.upstream.retry_after_max_secs,
            defaults.retry_after_max.as_secs(),
            (0, 3600),
        ),
        ..defaults
    }
}

/// Sign-in is on in dev mode, and elsewhere when `OAUTH_REDIRECT_URL` is set.
pub(super) fn parse_sign_in(
    cli: &Cli,
    file: &FileConfig,
    upstream: &Upstream,
    bind_addr: SocketAddr,
    preset: Option<crate::provider::Preset>,
    v: &mut Validator,
) -> Option<SignIn> {
    let dev = matches!(upstream, Upstream::Dev { .. });
    let redirect_url = match pick(&cli.redirect_url, &file.oauth.redirect_url) {
        Some(raw) => v.check("OAUTH_REDIRECT_URL", parse_redirect_url(raw))?,
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
    let user_scopes = v.check(
        "OAUTH_USER_SCOPE",
        parse_scope(pick(&cli.user_scope, &file.oauth.user_scope).unwrap_or(default_scope)),
    )?;
    let browser_scopes = match pick(&cli.user_browser_scope, &file.oauth.user_browser_scope) {
        Some(raw) => {
            let scopes = v.check("OAUTH_USER_BROWSER_SCOPE", parse_scope(raw))?;
            if let Some(extra) = scopes.iter().find(|s| !user_scopes.contains(s)) {
                v.problem(
                    "OAUTH_USER_BROWSER_SCOPE",
                    format!("`{extra}` is not in OAUTH_USER_SCOPE; the browser scope must be narrower"),
                );
                return None;
            }
            Some(scopes).filter(|s| !s.is_empty())
        }
        None => None,
    };
    let resource = match pick(&cli.resource, &file.oauth.resource) {
        // RFC 8707 §2: an absolute URI without a fragment.
        Some(raw) => match Url::parse(raw.trim()) {
            Ok(url) if url.fragment().is_none() => Some(url),
            _ => {
                v.problem("OAUTH_RESOURCE", "must be an absolute URI without a fragment (RFC 8707)");
                return None;
            }
        },
        None => None,
    };
    let loopback = is_loopback(&redirect_url);
    let cookie_secure = match &cli.cookie_secure {
        Some(raw) => v.check("COOKIE_SECURE", parse_bool(raw))?,
        None => file.session.cookie_secure.unwrap_or(!dev),
    };
    if !cookie_secure && !loopback {
        v.problem("COOKIE_SECURE", "may be false only when OAUTH_REDIRECT_URL is on localhost/loopback");
        return None;
    }
    if redirect_url.scheme() == "http" && !loopback {
        v.problem("OAUTH_REDIRECT_URL", "must use https (plain http is allowed only on loopback)");
        return None;
    }
    let session_key = match cli.session_secret.as_ref().or(file.session.secret.as_ref()) {
        Some(secret) if secret.expose_secret().len() >= 32 => SessionKey::derive(secret.expose_secret()),
        Some(_) => {
            v.problem("SESSION_SECRET", "must be at least 32 characters (e.g. `openssl rand -base64 48`)");
            return None;
        }
        None if dev => {
            v.warnings.push("SESSION_SECRET is not set; using a random one, so sessions end when the process restarts");
            SessionKey::random()
        }
        None => {
            v.problem(
                "SESSION_SECRET",
                "missing: sign-in (OAUTH_REDIRECT_URL) needs a secret of at least 32 characters",
            );
            return None;
        }
    };
    let session_max_lifetime = v.seconds(
        "SESSION_MAX_LIFETIME_SECS",
        cli.session_max_lifetime_secs.as_deref(),
        file.session.max_lifetime_secs,
        14 * 24 * 3600,
        (60, 400 * 24 * 3600),
    );
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
pub(super) fn parse_redis(cli: &Cli, file: &FileConfig, v: &mut Validator) -> Option<RedisSettings> {
    let url = cli.redis_url.as_ref().or(file.redis.url.as_ref())?;
    let parsed = Url::parse(url.expose_secret().trim());
    match parsed.as_ref().map(|u| (u.scheme(), u.host_str().is_some())) {
        Ok(("redis" | "rediss", true)) => {}
        Ok(_) => {
            v.problem("REDIS_URL", "must be a redis:// or rediss:// URL with a host");
            return None;
        }
        Err(e) => {
            v.problem("REDIS_URL", format!("is not a URL ({e})"));
            return None;
        }
    }
    let key_prefix = pick(&cli.redis_key_prefix, &file.redis.key_prefix).unwrap_or("token-broker:").to_owned();
    Some(RedisSettings { url: SecretString::from(url.expose_secret().trim().to_owned()), key_prefix })
}

/// The redirect URI must be absolute, without a fragment (RFC 6749 §3.1.2).
pub(super) fn parse_redirect_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.fragment().is_some() {
        return Err(format!("`{raw}` must be an http(s) URL without a fragment"));
    }
    Ok(url)
}

/// The command line / environment value if set, else the file's.
pub(super) fn pick<'a>(cli: &'a Option<String>, file: &'a Option<String>) -> Option<&'a str> {
    cli.as_deref().or(file.as_deref())
}

pub(super) fn parse_bind_addr(raw: &str) -> Result<SocketAddr, String> {
    raw.trim().parse().map_err(|_| format!("`{raw}` is not an IP:PORT address such as 127.0.0.1:3000"))
}

pub(super) fn parse_public_dir(raw: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(raw);
    if path.is_dir() { Ok(path) } else { Err(format!("`{raw}` is not a directory")) }
}

pub(super) fn parse_log_format(raw: &str) -> Result<LogFormat, String> {
    match raw.trim() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("`{other}` is not one of: text, json")),
    }
}

pub(super) fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(format!("`{other}` is not a boolean (true or false)")),
    }
}

pub(super) fn parse_cors(cli: &Cli, file: &FileConfig, v: &mut Validator) -> Option<Cors> {
    let credentials = match &cli.cors_allow_credentials {
        Some(raw) => v.check("CORS_ALLOW_CREDENTIALS", parse_bool(raw))?,
        None => file.cors_allow_credentials.unwrap_or(false),
    };
    let entries: Vec<String> = match (&cli.allowed_origins, &file.allowed_origins) {
        (Some(raw), _) => raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        (None, Some(list)) => list.iter().map(|s| s.trim().to_owned()).collect(),
        (None, None) => Vec::new(),
    };
    if entries.is_empty() {
        return Some(Cors::SameOrigin);
    }
    if entries.iter().any(|e| e == "*") {
        if entries.len() > 1 {
            v.problem("ALLOWED_ORIGINS", "`*` cannot be combined with other origins");
            return None;
        }
        if credentials {
            v.problem(
                "ALLOWED_ORIGINS",
                "`*` cannot be used with CORS_ALLOW_CREDENTIALS=true; list the origins instead",
            );
            return None;
        }
        return Some(Cors::AnyOrigin);
    }
    let origins: Result<Vec<String>, String> = entries.iter().map(|e| parse_origin(e)).collect();
    let origins = v.check("ALLOWED_ORIGINS", origins)?;
    Some(Cors::Origins { origins, allow_credentials: credentials })
}

/// Normalises `https://Example.com:443/` to `https://example.com`, the form browsers send.
pub(super) fn parse_origin(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not an origin: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{raw}` is not an http(s) origin"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!("`{raw}` must be an origin only (scheme://host[:port]), without a path"));
    }
    Ok(url.origin().ascii_serialization())
}

pub(super) fn parse_profiles(
    cli: &Cli,
    file: &FileConfig,
    preset: crate::provider::Preset,
    dev: bool,
    v: &mut Validator,
) -> Option<BTreeMap<String, Profile>> {
    let default_scope = pick(&cli.scope, &file.oauth.scope)
        .map(str::to_owned)
        .unwrap_or_else(|| if dev { "viewables:read".to_owned() } else { preset.default_scope().to_owned() });
    let mut profiles = BTreeMap::new();
    let scopes = v.check("OAUTH_SCOPE", parse_scope(&default_scope))?;
    profiles.insert(DEFAULT_PROFILE.to_owned(), Profile { name: DEFAULT_PROFILE.to_owned(), scopes });
    let mut ok = true;
    for (name, profile) in &file.profiles {
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

/// Splits a space-separated scope, checking each token against RFC 6749 §3.3.
pub(super) fn parse_scope(raw: &str) -> Result<Vec<String>, String> {
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

pub(super) fn parse_remote(
    cli: &Cli,
    file: &FileConfig,
    preset: Option<crate::provider::Preset>,
    v: &mut Validator,
) -> Option<Upstream> {
    let token_url =
        pick(&cli.token_url, &file.oauth.token_url).and_then(|raw| v.check("OAUTH_TOKEN_URL", parse_endpoint_url(raw)));
    let issuer = pick(&cli.issuer, &file.oauth.issuer).and_then(|raw| v.check("OAUTH_ISSUER", parse_endpoint_url(raw)));
    let provider = match preset {
        None => {
            v.problem("OAUTH_PROVIDER", "missing: set one of aps, oidc, glimesh, generic (or run with --dev)");
            None
        }
        Some(preset) => {
            let mut url = |var: &'static str, cli_value: &Option<String>, file_value: &Option<String>| {
                pick(cli_value, file_value).and_then(|raw| v.check(var, parse_endpoint_url(raw)))
            };
            let overrides = EndpointOverrides {
                token_url,
                authorize_url: url("OAUTH_AUTHORIZE_URL", &cli.authorize_url, &file.oauth.authorize_url),
                revocation_url: url("OAUTH_REVOKE_URL", &cli.revoke_url, &file.oauth.revoke_url),
                userinfo_url: url("OAUTH_USERINFO_URL", &cli.userinfo_url, &file.oauth.userinfo_url),
            };
            v.check("OAUTH_PROVIDER", ProviderSpec::new(preset, issuer, overrides))
        }
    };
    let auth = match pick(&cli.client_auth, &file.oauth.client_auth) {
        Some(raw) => v.check("OAUTH_CLIENT_AUTH", ClientAuth::parse(raw)),
        None => preset.map(crate::provider::Preset::default_client_auth),
    };
    let id = match pick(&cli.client_id, &file.oauth.client_id).map(str::trim) {
        Some(id) if !id.is_empty() => Some(ClientId::new(id.to_owned())),
        _ => {
            v.problem("OAUTH_CLIENT_ID", "missing (required unless --dev)");
            None
        }
    };
    let secret = client_secret(cli, file, v);
    Some(Upstream::Remote { provider: provider?, client: ClientCredentials { id: id?, secret: secret?, auth: auth? } })
}

pub(super) fn client_secret(cli: &Cli, file: &FileConfig, v: &mut Validator) -> Option<ClientSecret> {
    let inline = cli.client_secret.as_ref().or(file.oauth.client_secret.as_ref());
    let path = cli.client_secret_file.as_ref().or(file.oauth.client_secret_file.as_ref());
    let secret = match (inline, path) {
        (Some(_), Some(_)) => {
            v.problem("OAUTH_CLIENT_SECRET", "set either OAUTH_CLIENT_SECRET or OAUTH_CLIENT_SECRET_FILE, not both");
            return None;
        }
        (Some(secret), None) => secret.expose_secret().trim().to_owned(),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => text.trim().to_owned(),
            Err(e) => {
                v.problem("OAUTH_CLIENT_SECRET_FILE", format!("cannot read {}: {}", path.display(), e.kind()));
                return None;
            }
        },
        (None, None) => {
            v.problem(
                "OAUTH_CLIENT_SECRET",
                "missing: set OAUTH_CLIENT_SECRET or OAUTH_CLIENT_SECRET_FILE (or run with --dev)",
            );
            return None;
        }
    };
    if secret.is_empty() {
        v.problem("OAUTH_CLIENT_SECRET", "is empty");
        return None;
    }
    Some(ClientSecret::new(secret))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::config::ConfigError;

    fn cli(args: &[&str]) -> Cli {
        let mut full = vec!["token-backend"];
        full.extend_from_slice(args);
        Cli::parse_from(full)
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
        let mut v = Validator::default();
        let profiles =
            parse_profiles(&cli(&["--dev"]), &file, crate::provider::Preset::Aps, true, &mut v).expect("profiles");
        assert_eq!(profiles["data"].scopes, ["data:read"]);
        assert!(toml::from_str::<FileConfig>("bind_adr = \"x\"").is_err());
    }
}
