//! The command line and environment: `--dev`, the configuration file, the
//! subcommand, and every setting of the table in `settings.rs` as a flag named
//! after its variable, with `env = …` so clap reads the variable too.

use std::path::PathBuf;

use clap::Parser;

use super::settings::SettingArgs;

/// The variable naming the TOML file; problems inside the file are reported
/// under it.
pub(super) const CONFIG_FILE_VAR: &str = "TOKEN_BACKEND_CONFIG";

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
        env = CONFIG_FILE_VAR
    )]
    pub config: Option<PathBuf>,

    /// Run against the embedded development authorization server (no credentials,
    /// no network) and serve the embedded demo site. Never use in production.
    #[arg(global = true, long)]
    pub dev: bool,

    /// What to do instead of serving; none serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    // Every plain setting, declared once in `settings.rs`. (A doc comment here
    // would become clap's help heading for the group.)
    #[command(flatten)]
    pub(super) settings: SettingArgs,

    /// APIs reachable at /api/proxy/NAME/…: NAME=BASE_URL[,…], each GET and HEAD with the default token [default: none]
    // Outside the settings table: it adds entries to the `[apis.NAME]` maps
    // of the file rather than setting one key (see `apis.rs`).
    #[arg(global = true, long = "proxy-api", env = "PROXY_API")]
    pub(super) proxy_api: Option<String>,
}

/// Subcommands of `token-backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Validate the configuration, print the effective settings (secrets
    /// redacted) and exit: 0 when valid, 2 when not. Nothing is contacted.
    CheckConfig,
}
