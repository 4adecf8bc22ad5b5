//! `tlsedge`: the HTTPS edge of a content delivery network.
//!
//! This binary only parses the command line and dispatches: `serve` runs a node
//! (`crates/node`), `demo` a self-contained demo, `import` a bulk load into the store, and
//! `cert …`/`domain …` talk to a node's admin API.

// A binary has no public API: `pub` in its modules means "used by main".
#![allow(unreachable_pub)]

mod cli;
mod demo;
mod import;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tlsedge_node::{Config, Node};

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
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve => {
            let cfg = Config::discover_or_default(config)?;
            // A node's traffic runs on its own data-plane threads (`[runtime] worker_threads`);
            // this runtime only carries the control plane (admin API, store follower, signals).
            runtime(tokio::runtime::Builder::new_current_thread())?.block_on(async {
                init_logging();
                let node = Node::build(cfg).await?;
                println!("tlsedge listening {}", node.bound());
                node.serve(tlsedge_node::shutdown_on_signal()).await?;
                Ok(())
            })
        }
        Command::Demo { dir } => {
            runtime(tokio::runtime::Builder::new_multi_thread())?.block_on(async {
                init_logging();
                demo::run(&dir).await
            })
        }
        Command::Cert(cmd) => runtime(tokio::runtime::Builder::new_multi_thread())?
            .block_on(cli::run_cert(&cli.client, config, cmd)),
        Command::Domain(cmd) => runtime(tokio::runtime::Builder::new_multi_thread())?
            .block_on(cli::run_domain(&cli.client, config, cmd)),
        Command::Import(args) => runtime(tokio::runtime::Builder::new_multi_thread())?
            .block_on(import::run(config, args)),
    }
}

fn runtime(mut builder: tokio::runtime::Builder) -> anyhow::Result<tokio::runtime::Runtime> {
    builder
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the runtime: {e}"))
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
