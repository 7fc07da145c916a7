//! Typed configuration: command line, environment and an optional TOML file,
//! merged and validated once at start-up: `settings` (the table declaring every
//! setting once, expanded by the macro in `setting`; the kinds of value are in
//! `kinds`), `cli` (flags and environment), `file` (the TOML file), `validate` (the `Validator` that
//! records problems, and `build`, which runs the groups), and one file per
//! group of settings that checks them and builds its layer's settings type:
//! `server`, `cors`, `upstream`, `cache`, `profiles`, `sign_in`, `redis`, and
//! `apis` (the API proxy's `[apis.NAME]` tables and `PROXY_API`). Nothing after
//! `main` reads the environment.
//!
//! Precedence, highest first: command-line flag, environment variable, TOML file,
//! built-in default. Every problem found is reported at once, each on its own line
//! naming the variable, so a misconfigured deployment is fixed in one round trip.

mod apis;
mod cache;
mod cli;
mod cors;
mod file;
mod grant;
mod kinds;
mod profiles;
mod redis;
mod server;
mod setting;
mod settings;
mod sign_in;
mod upstream;
mod validate;

pub use cli::{Cli, Command};

use std::fmt;

use self::file::{FileConfig, read_file};
use self::settings::Settings;
use self::validate::{Validator, build};
use crate::app::Config;

/// One or more configuration problems; start-up stops and prints them all.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

/// One bad or missing setting, named by its environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub var: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "configuration error: {}: {}", p.var, p.message)?;
        }
        Ok(())
    }
}

impl Config {
    /// Builds the configuration from the parsed command line and environment
    /// (`Cli::parse()`), reading the TOML file if one is named, and validates it.
    pub fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        let mut v = Validator::default();
        let mut file = match &cli.config {
            // An unreadable file is the one problem to report: what it would have
            // provided would only show up as a list of misleading "missing" lines.
            Some(path) => read_file(path)
                .map_err(|message| ConfigError { problems: vec![Problem { var: cli::CONFIG_FILE_VAR, message }] })?,
            None => FileConfig::default(),
        };
        let settings = Settings::merge(cli.settings, std::mem::take(&mut file.values));
        let config = build(&settings, &file, cli.proxy_api.as_deref(), cli.dev, &mut v);
        match (config, v.problems.is_empty()) {
            (Some(config), true) => Ok(config),
            _ => Err(ConfigError { problems: v.problems }),
        }
    }
}
