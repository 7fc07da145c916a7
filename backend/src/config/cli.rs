//! The command line and environment: every setting declared once, as a flag
//! named after its variable, with `env = …` so clap reads the variable too.

use std::path::PathBuf;

use clap::Parser;
use secrecy::SecretString;

/// Command line; every setting is a flag named after its environment variable
/// in kebab case (`--oauth-provider` for `OAUTH_PROVIDER`), and `--help` lists
/// each with its variable and default. Defaults are applied in validation, not
/// here, because a TOML file value sits between the variable and the default;
/// the `[default: …]` in each help line says what validation uses. Earlier short
/// spellings (`--provider`, `--config`) stay as hidden aliases.
#[derive(Debug, Parser)]
#[command(name = "token-backend", version, about)]
pub struct Cli {
    /// TOML configuration file; environment variables override its values.
    #[arg(
        global = true,
        long = "token-backend-config",
        alias = "config",
        value_name = "FILE",
        env = "TOKEN_BACKEND_CONFIG"
    )]
    pub config: Option<PathBuf>,

    /// Run against the embedded development authorization server (no credentials,
    /// no network) and serve the embedded demo site. Never use in production.
    #[arg(global = true, long)]
    pub dev: bool,

    /// What to do instead of serving; none serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on [default: 127.0.0.1:3000]
    #[arg(global = true, long = "bind-addr", env = "BIND_ADDR")]
    pub(super) bind_addr: Option<String>,
    /// Directory of your static site, served at / (dotfiles never) [default: none; the embedded demo in --dev]
    #[arg(global = true, long = "public-dir", env = "PUBLIC_DIR")]
    pub(super) public_dir: Option<String>,
    /// Provider preset: aps, oidc, glimesh or generic (required unless --dev)
    #[arg(
        global = true,
        long = "oauth-provider",
        alias = "provider",
        env = "OAUTH_PROVIDER",
        value_name = "OAUTH_PROVIDER"
    )]
    pub(super) provider: Option<String>,
    /// Issuer URL for `oidc` discovery
    #[arg(global = true, long = "oauth-issuer", alias = "issuer", env = "OAUTH_ISSUER", value_name = "OAUTH_ISSUER")]
    pub(super) issuer: Option<String>,
    /// Token endpoint; required for `generic`, overrides any preset [default: from the preset]
    #[arg(
        global = true,
        long = "oauth-token-url",
        alias = "token-url",
        env = "OAUTH_TOKEN_URL",
        value_name = "OAUTH_TOKEN_URL"
    )]
    pub(super) token_url: Option<String>,
    /// Client id (required unless --dev)
    #[arg(
        global = true,
        long = "oauth-client-id",
        alias = "client-id",
        env = "OAUTH_CLIENT_ID",
        value_name = "OAUTH_CLIENT_ID"
    )]
    pub(super) client_id: Option<String>,
    /// Client secret; or use OAUTH_CLIENT_SECRET_FILE
    #[arg(global = true, long = "oauth-client-secret", alias = "client-secret", env = "OAUTH_CLIENT_SECRET", value_name = "OAUTH_CLIENT_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub(super) client_secret: Option<SecretString>,
    /// File holding the client secret
    #[arg(
        global = true,
        long = "oauth-client-secret-file",
        alias = "client-secret-file",
        env = "OAUTH_CLIENT_SECRET_FILE",
        value_name = "FILE"
    )]
    pub(super) client_secret_file: Option<PathBuf>,
    /// Client authentication: basic or post [default: basic]
    #[arg(
        global = true,
        long = "oauth-client-auth",
        alias = "client-auth",
        env = "OAUTH_CLIENT_AUTH",
        value_name = "OAUTH_CLIENT_AUTH"
    )]
    pub(super) client_auth: Option<String>,
    /// Scope of the default browser token (/api/token) [default: from the preset]
    #[arg(global = true, long = "oauth-scope", alias = "scope", env = "OAUTH_SCOPE", value_name = "OAUTH_SCOPE")]
    pub(super) scope: Option<String>,
    /// Comma-separated CORS allowlist for the token routes, or * [default: same origin only]
    #[arg(global = true, long = "allowed-origins", env = "ALLOWED_ORIGINS")]
    pub(super) allowed_origins: Option<String>,
    /// Allow credentialed cross-origin requests (not with *) [default: false]
    #[arg(global = true, long = "cors-allow-credentials", env = "CORS_ALLOW_CREDENTIALS")]
    pub(super) cors_allow_credentials: Option<String>,
    /// A token with less life left is never served [default: 30]
    #[arg(global = true, long = "token-min-ttl-secs", env = "TOKEN_MIN_TTL_SECS")]
    pub(super) token_min_ttl_secs: Option<String>,
    /// Lifetime assumed when the upstream omits expires_in [default: 3600]
    #[arg(global = true, long = "token-default-ttl-secs", env = "TOKEN_DEFAULT_TTL_SECS")]
    pub(super) token_default_ttl_secs: Option<String>,
    /// Refresh ahead in the last N % of a token's lifetime [default: 20]
    #[arg(global = true, long = "token-refresh-window-percent", env = "TOKEN_REFRESH_WINDOW_PERCENT")]
    pub(super) token_refresh_window_percent: Option<String>,
    /// ... but at least this long before expiry [default: 60]
    #[arg(global = true, long = "token-refresh-window-min-secs", env = "TOKEN_REFRESH_WINDOW_MIN_SECS")]
    pub(super) token_refresh_window_min_secs: Option<String>,
    /// Total timeout of one upstream request [default: 10]
    #[arg(global = true, long = "upstream-timeout-secs", env = "UPSTREAM_TIMEOUT_SECS")]
    pub(super) upstream_timeout_secs: Option<String>,
    /// Connect timeout of one upstream request [default: 5]
    #[arg(global = true, long = "upstream-connect-timeout-secs", env = "UPSTREAM_CONNECT_TIMEOUT_SECS")]
    pub(super) upstream_connect_timeout_secs: Option<String>,
    /// After a failed token request, leave the upstream alone for its Retry-After, up to this long (0: ignore it) [default: 60]
    #[arg(global = true, long = "upstream-retry-after-max-secs", env = "UPSTREAM_RETRY_AFTER_MAX_SECS")]
    pub(super) upstream_retry_after_max_secs: Option<String>,
    /// ... or, without Retry-After, a jittered backoff doubling up to this (0: off) [default: 30]
    #[arg(global = true, long = "upstream-backoff-max-secs", env = "UPSTREAM_BACKOFF_MAX_SECS")]
    pub(super) upstream_backoff_max_secs: Option<String>,
    /// A request's headers must arrive within this; also closes idle keep-alive connections [default: 10]
    #[arg(global = true, long = "header-read-timeout-secs", env = "HEADER_READ_TIMEOUT_SECS")]
    pub(super) header_read_timeout_secs: Option<String>,
    /// A connection that moves no byte either way for this long is closed [default: 60]
    #[arg(global = true, long = "idle-timeout-secs", env = "IDLE_TIMEOUT_SECS")]
    pub(super) idle_timeout_secs: Option<String>,
    /// Open client connections at most [default: 512]
    #[arg(global = true, long = "max-connections", env = "MAX_CONNECTIONS")]
    pub(super) max_connections: Option<String>,
    /// After SIGTERM, in-flight requests get this long [default: 20]
    #[arg(global = true, long = "shutdown-timeout-secs", env = "SHUTDOWN_TIMEOUT_SECS")]
    pub(super) shutdown_timeout_secs: Option<String>,
    /// Lifetime of tokens from the --dev authorization server; longer than TOKEN_MIN_TTL_SECS [default: 120]
    #[arg(global = true, long = "dev-token-ttl-secs", env = "DEV_TOKEN_TTL_SECS")]
    pub(super) dev_token_ttl_secs: Option<String>,
    /// Log format: text or json [default: text]
    #[arg(global = true, long = "log-format", env = "LOG_FORMAT")]
    pub(super) log_format: Option<String>,
    /// Authorization endpoint [default: from the preset or discovery]
    #[arg(
        global = true,
        long = "oauth-authorize-url",
        alias = "authorize-url",
        env = "OAUTH_AUTHORIZE_URL",
        value_name = "OAUTH_AUTHORIZE_URL"
    )]
    pub(super) authorize_url: Option<String>,
    /// The exact redirect URI registered with the provider; turns sign-in on
    #[arg(
        global = true,
        long = "oauth-redirect-url",
        alias = "redirect-url",
        env = "OAUTH_REDIRECT_URL",
        value_name = "OAUTH_REDIRECT_URL"
    )]
    pub(super) redirect_url: Option<String>,
    /// Scope requested at sign-in [default: from the preset]
    #[arg(
        global = true,
        long = "oauth-user-scope",
        alias = "user-scope",
        env = "OAUTH_USER_SCOPE",
        value_name = "OAUTH_USER_SCOPE"
    )]
    pub(super) user_scope: Option<String>,
    /// Narrower scope for the user token handed to the browser
    #[arg(
        global = true,
        long = "oauth-user-browser-scope",
        alias = "user-browser-scope",
        env = "OAUTH_USER_BROWSER_SCOPE",
        value_name = "OAUTH_USER_BROWSER_SCOPE"
    )]
    pub(super) user_browser_scope: Option<String>,
    /// Resource indicator (RFC 8707) sent at sign-in and on user-token requests
    #[arg(global = true, long = "oauth-resource", env = "OAUTH_RESOURCE", value_name = "OAUTH_RESOURCE")]
    pub(super) resource: Option<String>,
    /// Revocation endpoint [default: from the preset or discovery]
    #[arg(
        global = true,
        long = "oauth-revoke-url",
        alias = "revoke-url",
        env = "OAUTH_REVOKE_URL",
        value_name = "OAUTH_REVOKE_URL"
    )]
    pub(super) revoke_url: Option<String>,
    /// Userinfo endpoint [default: from the preset or discovery]
    #[arg(
        global = true,
        long = "oauth-userinfo-url",
        alias = "userinfo-url",
        env = "OAUTH_USERINFO_URL",
        value_name = "OAUTH_USERINFO_URL"
    )]
    pub(super) userinfo_url: Option<String>,
    /// At least 32 characters; signs the session cookie [default: random in --dev]
    #[arg(global = true, long = "session-secret", env = "SESSION_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub(super) session_secret: Option<SecretString>,
    /// Secure session cookie [default: true; false in --dev]
    #[arg(global = true, long = "cookie-secure", env = "COOKIE_SECURE")]
    pub(super) cookie_secure: Option<String>,
    /// A session never outlives this [default: 1209600]
    #[arg(global = true, long = "session-max-lifetime-secs", env = "SESSION_MAX_LIFETIME_SECS")]
    pub(super) session_max_lifetime_secs: Option<String>,
    /// Redis shared by several replicas (redis:// or rediss://) [default: standalone]
    #[arg(global = true, long = "redis-url", env = "REDIS_URL", hide_env_values = true, value_parser = parse_secret)]
    pub(super) redis_url: Option<SecretString>,
    /// APIs reachable at /api/proxy/NAME/…: NAME=BASE_URL[,…], each GET and HEAD with the default token [default: none]
    #[arg(global = true, long = "proxy-api", env = "PROXY_API")]
    pub(super) proxy_api: Option<String>,
    /// Prefix of the keys written to Redis [default: token-broker:]
    #[arg(global = true, long = "redis-key-prefix", env = "REDIS_KEY_PREFIX")]
    pub(super) redis_key_prefix: Option<String>,
}

/// Subcommands of `token-backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Validate the configuration, print the effective settings (secrets
    /// redacted) and exit: 0 when valid, 2 when not. Nothing is contacted.
    CheckConfig,
}

fn parse_secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw.to_owned()))
}
