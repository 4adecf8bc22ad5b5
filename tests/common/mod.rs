//! Shared helpers of the end-to-end tests: they run the real `tlsedge` binary on loopback
//! (port 0 everywhere), real origins in the test process, certificates made by the one test CA
//! (`tlsedge_testkit`, rcgen), and real clients (reqwest with rustls, tokio-rustls, curl,
//! openssl). One module per role:
//!
//! - [`node`]: the `tlsedge serve` child process, its config, signals and edge clients;
//! - [`api`]: the admin API client;
//! - [`ca`]: the test CA, leaves and digests;
//! - [`origin`]: origins that record requests, stream, or hold answers at a gate;
//! - [`tls`]: rustls handshakes, raw TLS streams, `openssl s_client`.
#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used
)]

pub mod api;
pub mod ca;
pub mod node;
pub mod origin;
pub mod tls;

use std::time::{Duration, Instant};

pub use api::*;
pub use ca::*;
pub use node::*;
pub use origin::*;
pub use tls::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_tlsedge");

/// Polls `f` until it returns `Some`, or panics after `deadline` with `what`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Panics unless the peer tool `tool` runs (`tool args…` exits 0), naming the Debian package
/// that provides it: a test that needs a real peer never passes by skipping itself. `.ci/run`
/// installs these packages.
pub fn require_tool(tool: &str, version_args: &[&str], debian_package: &str) {
    let ok = std::process::Command::new(tool)
        .args(version_args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "this test needs `{tool}`: install the Debian package `{debian_package}` (.ci/run does)"
    );
}
