//! `tlsedge serve` and its config file: a refused file stops the start before anything is
//! opened, and the error names the file and the key; without `--config` the file is
//! `./tlsedge.toml` (the one discovery rule of the binary).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_tlsedge");

/// Runs `tlsedge serve ARGS` in `dir` to its end (every case here exits at once).
fn serve_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("serve")
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "off")
        .output()
        .unwrap()
}

/// Asserts a refused start: exit status 1, no `listening` line, `needle` on stderr, and no
/// data folder created (nothing was opened).
fn assert_refused(dir: &Path, out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains(needle), "wanted {needle:?} in: {stderr}");
    assert!(
        !dir.join("data").exists(),
        "the refused start created data/"
    );
}

#[test]
fn a_refused_config_file_stops_serve_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("[listen]\nhttps = \"nowhere\"\n", "listen.https"),
        ("[listen]\nadmin = \"localhost:9180\"\n", "listen.admin"),
        (
            "[timeouts]\nhandshake_secs = -1\n",
            "timeouts.handshake_secs",
        ),
        ("[store]\nbackend = \"mysql\"\n", "store.backend"),
        (
            "[limits]\nmax_header_bytes = 10\n",
            "limits.max_request_header_bytes",
        ),
        ("[node]\nname = \"\"\n", "node.name"),
    ] {
        std::fs::write(dir.path().join("edge.toml"), text).unwrap();
        let out = serve_in(dir.path(), &["--config", "edge.toml"]);
        assert_refused(
            dir.path(),
            &out,
            &format!("error: invalid config file edge.toml: {key}"),
        );
    }
    let out = serve_in(dir.path(), &["--config", "missing.toml"]);
    assert_refused(
        dir.path(),
        &out,
        "error: cannot read config file missing.toml",
    );
}

#[test]
fn without_config_serve_reads_tlsedge_toml_of_the_working_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tlsedge.toml"),
        "[listen]\nhttp = \"\"\nbogus = 1\n",
    )
    .unwrap();
    let out = serve_in(dir.path(), &[]);
    assert_refused(
        dir.path(),
        &out,
        "error: invalid config file tlsedge.toml: listen",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}

#[test]
fn the_etcd_backend_is_accepted_by_the_file_but_not_served_by_this_build() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tlsedge.toml"),
        "[listen]\nhttp = \"\"\nhttps = \"\"\nadmin = \"\"\n\n[store]\nbackend = \"etcd\"\nendpoints = [\"http://127.0.0.1:1\"]\n",
    )
    .unwrap();
    let out = serve_in(dir.path(), &["--config", "tlsedge.toml"]);
    assert_refused(
        dir.path(),
        &out,
        "error: store backend \"etcd\" is not available in this build (use \"sqlite\")",
    );
}
