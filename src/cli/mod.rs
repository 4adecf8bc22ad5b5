//! The command-line client of the admin API: `tlsedge cert …` and `tlsedge domain …`.
//!
//! Every command is one call to the admin API (`shared/spec/api.md`), made with the API's own
//! wire types (`tlsedge-api`). The modules follow the jobs:
//!
//! - `args`: the command line (clap), and the request it asks for;
//! - `endpoint`: finding the API (`--admin` / `TLSEDGE_ADMIN_URL`, `--token` /
//!   `TLSEDGE_TOKEN`, else the node's config file);
//! - `api`: the HTTP client; a refusal becomes an [`ApiError`](api::ApiError) whose text is the
//!   API's code, message and field, which the caller prints to stderr before exiting non-zero;
//! - `cert`, `domain`: one module per resource: the calls and how their answers read;
//! - `render`: the one output path, a table or `key: value` lines for people, or the API's
//!   JSON with `--json` for scripts.
//!
//! Key material is read from files and sent, never printed: every output is built from the
//! API's answers, which hold none.

mod api;
mod args;
mod cert;
mod domain;
mod endpoint;
mod render;

use std::path::Path;

use anyhow::anyhow;
use serde::Serialize;

pub(crate) use args::{parse_origin_arg, CertCommand, ClientOpts, DomainCommand};

use api::ApiClient;
use render::Output;

/// Runs a `tlsedge cert …` command and prints its result.
pub(crate) async fn run_cert(
    opts: &ClientOpts,
    config: Option<&Path>,
    cmd: CertCommand,
) -> anyhow::Result<()> {
    let (base, token) = endpoint::resolve_endpoint(opts, config)?;
    let api = ApiClient::new(base, token)?;
    cert::run(&api, cmd, opts.json).await
}

/// Runs a `tlsedge domain …` command and prints its result.
pub(crate) async fn run_domain(
    opts: &ClientOpts,
    config: Option<&Path>,
    cmd: DomainCommand,
) -> anyhow::Result<()> {
    let (base, token) = endpoint::resolve_endpoint(opts, config)?;
    let api = ApiClient::new(base, token)?;
    domain::run(&api, cmd, opts.json).await
}

/// Reads a PEM file as text. Errors name the file, never its contents.
fn read_pem(path: &Path, what: &str) -> anyhow::Result<String> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow!("cannot read {what} file {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| {
        anyhow!(
            "{what} file {} is not PEM text (DER is not accepted)",
            path.display()
        )
    })
}

/// A delete's result: the API answers 204 without a body, so `--json` prints nothing.
#[derive(Serialize)]
struct Deleted {
    #[serde(skip)]
    what: &'static str,
    #[serde(skip)]
    name: String,
}

impl Output for Deleted {
    fn text(&self) -> String {
        format!("deleted {} {}", self.what, self.name)
    }

    fn json(&self) -> anyhow::Result<String> {
        Ok(String::new())
    }
}
