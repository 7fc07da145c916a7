//! Configuration builders: `Config` from test flags, never from the developer's
//! environment.

use clap::{CommandFactory, FromArgMatches};
use token_backend::Config;
use token_backend::config::Cli;

use super::scratch_dir;

/// `Config` from flags alone, listening on `bind` (the address of a listener
/// bound before start-up, so a redirect URI can name it) and serving the
/// scratch directory.
pub fn config_bound_to(bind: &str, args: &[&str]) -> Result<Config, token_backend::ConfigError> {
    let public_dir = scratch_dir();
    let mut full = vec!["--bind-addr", bind, "--public-dir", public_dir.to_str().expect("utf-8 path")];
    full.extend_from_slice(args);
    config_from_flags(&full)
}

/// `Config` from exactly these flags (no `--bind-addr` or `--public-dir`
/// added), with the CLI's environment fallbacks removed.
pub fn config_from_flags(args: &[&str]) -> Result<Config, token_backend::ConfigError> {
    let full = std::iter::once("token-backend").chain(args.iter().copied());
    let matches = Cli::command()
        .mut_args(|arg| arg.env(None::<&str>))
        .try_get_matches_from(full)
        .unwrap_or_else(|e| panic!("bad test flags: {e}"));
    let cli = Cli::from_arg_matches(&matches).expect("flags match the Cli struct");
    Config::from_cli(cli)
}
