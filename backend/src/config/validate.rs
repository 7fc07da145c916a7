//! Validation: every value checked, every problem recorded with its variable's
//! name, and each layer's own settings type built from what passed. The values
//! come merged from the settings table (`settings.rs`); each group of settings
//! is checked in its own file (`server.rs`, `cors.rs`, `upstream.rs`,
//! `cache.rs`, `profiles.rs`, `sign_in.rs`, `redis.rs`, `apis.rs`), and
//! [`build`] puts the groups together in the order their rules need.

use std::time::Duration;

use super::Problem;
use super::file::FileConfig;
use super::kinds::{Kind, Seconds, Text};
use super::setting::Setting;
use super::settings::Settings;
use crate::app::Config;
use crate::descriptors::{Demand, DescriptorBudget};
use crate::provider::Preset;
use crate::proxy::{ApiSettings, ProxyCapacity};

#[derive(Default)]
pub(super) struct Validator {
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<&'static str>,
}

impl Validator {
    pub(super) fn problem(&mut self, var: &'static str, message: impl Into<String>) {
        self.problems.push(Problem { var, message: message.into() });
    }

    /// A problem with a setting's value: named by its variable and, when the value
    /// came from the file, by its key there too (the variable is not set then).
    pub(super) fn problem_with<K: Kind>(&mut self, setting: &Setting<K>, message: impl Into<String>) {
        let message = message.into();
        match setting.file_key() {
            Some(key) => self.problem(setting.var, format!("{message} (from {key} in the file)")),
            None => self.problem(setting.var, message),
        }
    }

    /// Records the error (naming `setting`) and yields `None`, so validation
    /// carries on to the next value.
    pub(super) fn check_setting<K: Kind, T>(&mut self, setting: &Setting<K>, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.problem_with(setting, message)).ok()
    }

    /// The setting's value; `None` when unset, or when the flag's or variable's
    /// text does not parse (recorded as a problem).
    pub(super) fn value<K: Kind>(&mut self, setting: &Setting<K>) -> Option<K::Value> {
        setting.value().map_err(|message| self.problem(setting.var, message)).ok().flatten()
    }

    /// The setting's value, else its row's default. `None` when unset without a
    /// default, or when the text does not parse: that is recorded, and the
    /// default does not stand in for it, so nothing is checked against a value
    /// the user did not give.
    pub(super) fn value_or_default<K: Kind>(&mut self, setting: &Setting<K>) -> Option<K::Value> {
        match setting.value() {
            Ok(value) => value.or_else(|| setting.default.clone()),
            Err(message) => {
                self.problem(setting.var, message);
                None
            }
        }
    }

    /// The setting's value, else its row's default, parsed by `parse`.
    pub(super) fn parse<T>(
        &mut self,
        setting: &Setting<Text>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.value_or_default(setting).unwrap_or_default();
        let result = parse(&raw);
        self.check_setting(setting, result)
    }

    /// The setting's value, else `default` (one that depends on other settings,
    /// which the row only describes), parsed by `parse`.
    pub(super) fn parse_or<T>(
        &mut self,
        setting: &Setting<Text>,
        default: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.value(setting);
        let result = parse(raw.as_deref().unwrap_or(default));
        self.check_setting(setting, result)
    }

    /// [`Self::number`] as a duration.
    pub(super) fn seconds(&mut self, setting: &Setting<Seconds>) -> Option<Duration> {
        self.number(setting).map(Duration::from_secs)
    }

    /// A whole number within the row's range: the setting's, else the row's
    /// default. `None` when unset without a default, or bad (recorded).
    pub(super) fn number<K: Kind<Value = u64>>(&mut self, setting: &Setting<K>) -> Option<u64> {
        let value = self.value_or_default(setting)?;
        match setting.range {
            Some((low, high)) if !(low..=high).contains(&value) => {
                self.problem_with(setting, format!("{value} is out of range ({low}..={high})"));
                None
            }
            _ => Some(value),
        }
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
    let bind_addr = super::server::bind_addr(s, v);
    let public_dir = super::server::public_dir(s, v);
    let log_format = super::server::log_format(s, v);
    let cors = super::cors::parse(s, v);

    let preset = match v.value(&s.provider) {
        Some(name) => v.check_setting(&s.provider, Preset::parse(&name)),
        None => None,
    };
    let profiles = super::profiles::parse(s, &file.profiles, preset.unwrap_or(Preset::Generic), dev, v);
    let http = super::upstream::http(s, v);
    let upstream = if dev { super::upstream::dev(s, v) } else { super::upstream::remote(s, preset, v) };
    let cache = super::cache::parse(s, upstream.as_ref(), v);
    let sign_in = match (&upstream, bind_addr) {
        (Some(upstream), Some(bind_addr)) => super::sign_in::parse(s, upstream, bind_addr, preset, v),
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
        cache: cache?,
        http: http?,
        log_format: log_format?,
        sign_in,
        warnings: std::mem::take(&mut v.warnings),
        redis: super::redis::parse(s, v),
        server: super::server::limits(s, &descriptors, v)?,
        proxy_capacity: proxy_capacity(&descriptors, &apis, dev),
        apis,
        descriptors,
    })
}

/// The descriptor limit shared out: `MAX_CONNECTIONS` when set, else derived;
/// a share for the proxy when it has APIs (always in `--dev`, for the demo's).
fn parse_descriptor_budget(s: &Settings, apis: &[ApiSettings], dev: bool, v: &mut Validator) -> DescriptorBudget {
    // Unset (or bad, which is reported): derived from the descriptor limit.
    let max_connections = v.number(&s.max_connections).map(|n| n as usize);
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

#[cfg(test)]
pub(super) mod tests {
    use clap::Parser;

    use super::*;
    use crate::app::Upstream;
    use crate::config::{Cli, ConfigError};
    use crate::provider::{ClientProof, ProviderSpec};
    use crate::token_cache::DEFAULT_PROFILE;

    pub(in crate::config) fn cli(args: &[&str]) -> Cli {
        let mut full = vec!["token-backend"];
        full.extend_from_slice(args);
        Cli::parse_from(full)
    }

    pub(in crate::config) fn problems(result: Result<Config, ConfigError>) -> Vec<Problem> {
        match result {
            Ok(_) => Vec::new(),
            Err(e) => e.problems,
        }
    }

    /// `build` from flags and a TOML text, without touching the disk.
    pub(in crate::config) fn with_file(args: &[&str], text: &str) -> Result<Config, Vec<Problem>> {
        let mut file: FileConfig = toml::from_str(text).expect("valid toml");
        let cli = cli(args);
        let settings = Settings::merge(cli.settings, std::mem::take(&mut file.values));
        let mut v = Validator::default();
        match build(&settings, &file, cli.proxy_api.as_deref(), cli.dev, &mut v) {
            Some(config) if v.problems.is_empty() => Ok(config),
            _ => Err(v.problems),
        }
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
        assert!(matches!(client.proof, ClientProof::Basic(_)));
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

    /// One bad value is one problem line: a bad provider name is not also
    /// "missing", a bad token URL is not also "`generic` needs OAUTH_TOKEN_URL",
    /// and an out-of-range minimum lifetime is not also compared with the default one.
    #[test]
    fn one_bad_value_gives_one_problem_line() {
        let credentials = ["--client-id", "id", "--client-secret", "s3cr3t"];
        for (args, var, message) in [
            (&["--provider", "bogus"][..], "OAUTH_PROVIDER", "`bogus` is not one of: aps, oidc, glimesh, generic"),
            (
                &["--provider", "generic", "--token-url", "nope"][..],
                "OAUTH_TOKEN_URL",
                "`nope` is not a URL: relative URL without a base",
            ),
            (
                &["--provider", "oidc", "--issuer", "nope"][..],
                "OAUTH_ISSUER",
                "`nope` is not a URL: relative URL without a base",
            ),
            (
                &["--provider", "aps", "--token-min-ttl-secs", "3601"][..],
                "TOKEN_MIN_TTL_SECS",
                "3601 is out of range (0..=3600)",
            ),
            (&["--dev", "--token-min-ttl-secs", "3601"][..], "TOKEN_MIN_TTL_SECS", "3601 is out of range (0..=3600)"),
        ] {
            let p = problems(Config::from_cli(cli(&[args, &credentials[..]].concat())));
            let lines: Vec<(&str, &str)> = p.iter().map(|p| (p.var, p.message.as_str())).collect();
            assert_eq!(lines, [(var, message)], "{args:?}");
        }
    }

    /// A percent is not read as seconds: its message names its own unit.
    #[test]
    fn a_bad_percent_says_percent() {
        let p = problems(Config::from_cli(cli(&["--dev", "--token-refresh-window-percent", "half"])));
        let lines: Vec<(&str, &str)> = p.iter().map(|p| (p.var, p.message.as_str())).collect();
        assert_eq!(lines, [("TOKEN_REFRESH_WINDOW_PERCENT", "`half` is not a whole number of percent")]);
    }

    /// With nothing set, validation yields the layers' own defaults: the rows'
    /// defaults and the `Default` impls the layers' tests use agree.
    #[test]
    fn row_defaults_are_the_layers_defaults() {
        let config = Config::from_cli(cli(&["--dev"])).expect("valid config");
        assert_eq!(config.cache, crate::token_cache::CachePolicy::default());
        let limits = crate::server::ServerLimits::default();
        assert_eq!(
            (config.server.header_read_timeout, config.server.idle_timeout, config.server.shutdown_timeout),
            (limits.header_read_timeout, limits.idle_timeout, limits.shutdown_timeout)
        );
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
}
