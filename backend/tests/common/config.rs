//! Configuration builders: `Config` from test flags, never from the developer's
//! environment.

use clap::{CommandFactory, FromArgMatches};
use token_backend::Config;
use token_backend::config::Cli;

use super::scratch_dir;

/// `Config` from flags alone: the CLI's `env = …` fallbacks are removed so the
/// developer's environment cannot change what a test configures.
pub fn config_from_args(args: &[&str]) -> Result<Config, token_backend::ConfigError> {
    config_bound_to("127.0.0.1:0", args)
}

/// [`config_from_args`] listening on `bind` (a port known before start-up, for
/// a redirect URI that must name it).
pub fn config_bound_to(bind: &str, args: &[&str]) -> Result<Config, token_backend::ConfigError> {
    let public_dir = scratch_dir();
    let mut full = vec!["token-backend", "--bind-addr", bind, "--public-dir", public_dir.to_str().expect("utf-8 path")];
    full.extend_from_slice(args);
    let matches = Cli::command()
        .mut_args(|arg| arg.env(None::<&str>))
        .try_get_matches_from(full)
        .unwrap_or_else(|e| panic!("bad test flags: {e}"));
    let cli = Cli::from_arg_matches(&matches).expect("flags match the Cli struct");
    Config::from_cli(cli)
}
