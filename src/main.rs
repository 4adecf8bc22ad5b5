//! `tlsedge`: the HTTPS edge of a content delivery network.
//!
//! This binary only wires the crates together: it parses the command line and the config file,
//! opens the store, starts the data plane and the admin API (`serve`), runs a self-contained
//! demo (`demo`), or talks to a node's admin API (`cert …`, `domain …`).

// A binary has no public API: `pub` in its modules means "used by main".
#![allow(unreachable_pub)]

mod cli;
mod config;
mod demo;
mod import;
mod node;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "tlsedge",
    version,
    about = "The HTTPS edge of a content delivery network"
)]
struct Cli {
    /// Config file (TOML). Default: ./tlsedge.toml if it exists, else built-in defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(flatten)]
    client: cli::ClientOpts,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a node: edge listeners, admin API, store.
    Serve,
    /// Run a self-contained demo node on loopback and print curl commands that use it.
    Demo {
        /// Folder for the demo's data, CA and config (recreated at every start).
        #[arg(long, default_value = "tlsedge-demo")]
        dir: PathBuf,
    },
    /// Manage certificates through the admin API.
    #[command(subcommand)]
    Cert(cli::CertCommand),
    /// Manage domains through the admin API.
    #[command(subcommand)]
    Domain(cli::DomainCommand),
    /// Load a folder of certificates (NAME.crt + NAME.key) and their domains straight into the
    /// store, in a few large transactions; run it while no node uses the store.
    Import(import::ImportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let serve_config = match cli.command {
        Command::Serve => Some(config::Config::load_or_default(cli.config.as_deref())?),
        _ => None,
    };
    // A node's traffic runs on its own data-plane threads (`[runtime] worker_threads`); this
    // runtime only carries the control plane (admin API, store follower, signals).
    let mut builder = if serve_config.is_some() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        match (cli.command, serve_config) {
            (Command::Serve, Some(cfg)) => {
                init_logging();
                node::run(cfg, node::Announce::Stdout, node::shutdown_on_signal()).await
            }
            (Command::Serve, None) => unreachable_config(),
            (Command::Demo { dir }, _) => {
                init_logging();
                demo::run(&dir).await
            }
            (Command::Cert(cmd), _) => cli::run_cert(&cli.client, cli.config.as_deref(), cmd).await,
            (Command::Import(args), _) => import::run(cli.config.as_deref(), args).await,
            (Command::Domain(cmd), _) => {
                cli::run_domain(&cli.client, cli.config.as_deref(), cmd).await
            }
        }
    })
}

fn unreachable_config() -> anyhow::Result<()> {
    anyhow::bail!("internal error: serve without a config")
}

/// Logs to stderr; `RUST_LOG` filters (default: info).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
