//! The optional TOML file (`TOKEN_BACKEND_CONFIG`): the same settings, grouped,
//! plus named token profiles. Unknown keys are an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

/// `[oauth].client_secret` from the file. A value of another type (an unquoted
/// number, say) is refused without echoing it: serde's message would quote the secret.
fn file_secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::String(s) => Ok(Some(SecretString::from(s))),
        _ => Err(serde::de::Error::custom("`client_secret` must be a quoted string")),
    }
}

/// The TOML file. Unknown keys are an error, so a typo never silently falls back
/// to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) bind_addr: Option<String>,
    pub(super) public_dir: Option<String>,
    pub(super) allowed_origins: Option<Vec<String>>,
    pub(super) cors_allow_credentials: Option<bool>,
    pub(super) log_format: Option<String>,
    #[serde(default)]
    pub(super) oauth: FileOAuth,
    #[serde(default)]
    pub(super) cache: FileCache,
    #[serde(default)]
    pub(super) upstream: FileUpstream,
    #[serde(default)]
    pub(super) dev: FileDev,
    #[serde(default)]
    pub(super) session: FileSession,
    #[serde(default)]
    pub(super) redis: FileRedis,
    #[serde(default)]
    pub(super) profiles: BTreeMap<String, FileProfile>,
    #[serde(default)]
    pub(super) server: FileServer,
    #[serde(default)]
    pub(super) apis: BTreeMap<String, super::apis::FileApi>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileServer {
    pub(super) header_read_timeout_secs: Option<u64>,
    pub(super) idle_timeout_secs: Option<u64>,
    pub(super) max_connections: Option<u64>,
    pub(super) shutdown_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileOAuth {
    pub(super) provider: Option<String>,
    pub(super) issuer: Option<String>,
    pub(super) token_url: Option<String>,
    pub(super) client_id: Option<String>,
    #[serde(default, deserialize_with = "file_secret")]
    pub(super) client_secret: Option<SecretString>,
    pub(super) client_secret_file: Option<PathBuf>,
    pub(super) client_auth: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) authorize_url: Option<String>,
    pub(super) redirect_url: Option<String>,
    pub(super) user_scope: Option<String>,
    pub(super) user_browser_scope: Option<String>,
    pub(super) resource: Option<String>,
    pub(super) revoke_url: Option<String>,
    pub(super) userinfo_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRedis {
    pub(super) url: Option<SecretString>,
    pub(super) key_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSession {
    pub(super) secret: Option<SecretString>,
    pub(super) cookie_secure: Option<bool>,
    pub(super) max_lifetime_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCache {
    pub(super) min_ttl_secs: Option<u64>,
    pub(super) default_ttl_secs: Option<u64>,
    pub(super) refresh_window_percent: Option<u64>,
    pub(super) refresh_window_min_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileUpstream {
    pub(super) timeout_secs: Option<u64>,
    pub(super) connect_timeout_secs: Option<u64>,
    pub(super) backoff_max_secs: Option<u64>,
    pub(super) retry_after_max_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDev {
    pub(super) token_ttl_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileProfile {
    pub(super) scope: String,
}

pub(super) fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        // One line per problem: toml's message can span several.
        format!("{}{at}: {}", path.display(), e.message().split_whitespace().collect::<Vec<_>>().join(" "))
    })
}
