//! `token-backend`: parse the configuration, start telemetry, build the state, serve;
//! or, with `check-config`, validate the configuration and print it.

use std::process::ExitCode;

use clap::Parser;
use token_backend::Config;
use token_backend::app::Upstream;
use token_backend::config::{Cli, Command};
use token_backend::descriptors::{self, DescriptorBudget, Raised};
use token_backend::{AppState, app, effective_settings, server, telemetry};

/// A proxied request makes some forty small allocations (hyper, http, the
/// proxy's own) that live for the request: mimalloc's thread-local free lists
/// serve them for less than glibc's malloc does, and for far less than musl's,
/// which the static binary would otherwise use (issue 20; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // Before the configuration, which shares out the raised limit.
    let raised = descriptors::raise_soft_limit();
    let cli = Cli::parse();
    let command = cli.command;
    let config = match Config::from_cli(cli) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if command == Some(Command::CheckConfig) {
        print!("{}", effective_settings::render(&config));
        for warning in &config.warnings {
            eprintln!("warning: {warning}");
        }
        return ExitCode::SUCCESS;
    }
    telemetry::init_tracing(config.log_format);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    log_descriptors(&raised, &config.descriptors);
    let bind_addr = config.bind_addr;
    let limits = config.server.clone();
    if let Upstream::Dev { token_ttl } = &config.upstream {
        print_dev_banner(bind_addr, token_ttl.as_secs());
    }
    let built = match AppState::build(config).await {
        Ok(built) => built,
        Err(e) => return startup_failure(&e),
    };
    let listener = match server::bind(bind_addr) {
        Ok(listener) => listener,
        Err(e) => return startup_failure(&format!("cannot listen on BIND_ADDR {bind_addr}: {e}")),
    };
    let local = listener.local_addr().unwrap_or(bind_addr);
    tracing::info!(address = %local, "token-backend listening on http://{local}");
    let result = server::serve(listener, app(built.state), server::shutdown_signal(), limits).await;
    drop(built.dev_server);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A start-up that failed after the configuration was valid (discovery, Redis
/// URL, port taken): one log line, and exit code 2 like a configuration error,
/// since retrying the same configuration will not help.
fn startup_failure(error: &dyn std::fmt::Display) -> ExitCode {
    tracing::error!("cannot start: {error}");
    ExitCode::from(2)
}

/// How the descriptor limit was raised and shared out: an operator sizing
/// `ulimit -n` or `MAX_CONNECTIONS` reads it here.
fn log_descriptors(raised: &std::io::Result<Raised>, budget: &DescriptorBudget) {
    match raised {
        Ok(Raised { from, to }) if from < to => {
            tracing::info!(from, to, "raised the soft descriptor limit (RLIMIT_NOFILE) to the hard limit");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not raise the soft descriptor limit (RLIMIT_NOFILE)"),
    }
    tracing::info!(
        limit = budget.limit,
        max_connections = budget.connections,
        derived = budget.is_derived,
        proxy_connections = budget.proxy_connections,
        reserved = budget.reserved,
        "descriptor budget"
    );
    if budget.is_overcommitted {
        tracing::warn!(
            limit = budget.limit,
            max_connections = budget.connections,
            "the descriptor limit is too low for MAX_CONNECTIONS and the proxy's share: raise `ulimit -n` or lower \
             MAX_CONNECTIONS, or requests may fail with \"Too many open files\""
        );
    }
}

/// Dev mode must be impossible to miss: a banner on stderr and a warning in the log.
fn print_dev_banner(bind_addr: std::net::SocketAddr, ttl: u64) {
    let rule = "=".repeat(72);
    eprintln!(
        "\n{rule}\n  DEVELOPMENT MODE (--dev)\n  Tokens come from an embedded, insecure authorization server with\n  \
         throw-away credentials. Never use this in production.\n  Token lifetime: {ttl} s    Demo: http://{bind_addr}\n{rule}\n"
    );
    tracing::warn!(token_ttl_secs = ttl, "running in development mode with the embedded authorization server");
}
