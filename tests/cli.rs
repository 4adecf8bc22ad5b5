//! The `tlsedge cert …` / `tlsedge domain …` client, run as a separate process against a real
//! node: credentials from flags, environment and config file; tables, details and `--json`;
//! HTTPS settings that reach the API and the edge; refusals that exit non-zero with the API's
//! code on stderr; and no private key in any output.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// What one run of the client printed.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self, what: &str) -> Run {
        assert!(
            self.success,
            "{what} failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    fn fails_with(self, what: &str, code: &str) -> Run {
        assert!(
            !self.success,
            "{what} should have failed:\nstdout: {}",
            self.stdout
        );
        assert!(
            self.stderr.contains(code),
            "{what}: stderr lacks {code:?}: {}",
            self.stderr
        );
        self
    }
}

/// Runs the binary with `args` in `cwd`, with only the `TLSEDGE_*` variables in `env`. Panics
/// (without printing it) if anything printed holds private-key material from `keys`.
async fn tlsedge(args: &[&str], env: &[(&str, &str)], cwd: &Path, keys: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .env_remove("TLSEDGE_ADMIN_URL")
        .env_remove("TLSEDGE_TOKEN")
        .current_dir(cwd)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("tlsedge {args:?} did not finish within 30 s"))
        .unwrap();
    let run = Run {
        success: out.status.success(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    };
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains("PRIVATE KEY"),
            "tlsedge {:?}: {name} contains \"PRIVATE KEY\"",
            args.first()
        );
        for key in keys {
            for (i, line) in pem_body_lines(key).iter().enumerate() {
                assert!(
                    line.len() < 16 || !text.contains(line.as_str()),
                    "tlsedge {:?}: {name} contains line {i} of a private key",
                    args.first()
                );
            }
        }
    }
    run
}

/// The client pointed at `node` with `--admin` and `--token`.
struct Cli<'a> {
    node: &'a Node,
    cwd: PathBuf,
    keys: Vec<String>,
}

impl Cli<'_> {
    async fn run(&self, args: &[&str]) -> Run {
        let admin = format!("http://{}", self.node.admin);
        let mut all = vec!["--admin", &admin, "--token", &self.node.token];
        all.extend_from_slice(args);
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        tlsedge(&all, &[], &self.cwd, &keys).await
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

/// The table row whose first cell is `first`.
fn row<'a>(table: &'a str, first: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(first))
        .unwrap_or_else(|| panic!("no row {first:?} in\n{table}"))
}

#[tokio::test]
async fn cli_manages_certificates_and_domains() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("cli CA");
    let origin = Origin::http(echo("cli-origin")).await;
    let leaf = ca.leaf(&["a.cli.test", "www.cli.test"]);
    let other = ca.leaf(&["a.cli.test"]);
    let tmp = tempfile::tempdir().unwrap();
    let cert = write(tmp.path(), "cert.pem", &leaf.cert_pem);
    let key = write(tmp.path(), "key.pem", &leaf.key_pem);
    let other_key = write(tmp.path(), "other-key.pem", &other.key_pem);
    let cli = Cli {
        node: &node,
        cwd: tmp.path().to_path_buf(),
        keys: vec![leaf.key_pem.clone(), other.key_pem.clone()],
    };
    let fingerprint = sha256_hex(&leaf.der);

    // Upload, and a refused upload.
    let out = cli
        .run(&["cert", "upload", "c1", "--cert", &cert, "--key", &key])
        .await
        .ok("cert upload");
    assert!(out.stdout.contains("c1"), "{}", out.stdout);
    assert!(out.stdout.contains(&fingerprint), "{}", out.stdout);
    cli.run(&["cert", "upload", "c2", "--cert", &cert, "--key", &other_key])
        .await
        .fails_with("cert upload with another key", "KeyMismatch");
    let (s, _) = api.call("GET", "/certificates/c2", None).await;
    assert_eq!(s, 404, "a refused upload created c2");

    // List, show, JSON.
    let out = cli.run(&["cert", "list"]).await.ok("cert list");
    let header = out.stdout.lines().next().unwrap_or("");
    for col in ["NAME", "SANS", "STATUS", "DOMAINS"] {
        assert!(header.contains(col), "no {col} column: {}", out.stdout);
    }
    let r = row(&out.stdout, "c1");
    assert!(
        r.contains("a.cli.test") && r.contains("www.cli.test"),
        "{r}"
    );
    assert!(r.contains("valid"), "{r}");
    let out = cli.run(&["cert", "show", "c1"]).await.ok("cert show");
    for want in ["c1", "a.cli.test", "ecdsa-p256", "valid", &fingerprint] {
        assert!(out.stdout.contains(want), "no {want:?} in\n{}", out.stdout);
    }
    let out = cli
        .run(&["cert", "list", "--json"])
        .await
        .ok("cert list --json");
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("cert list --json is not JSON ({e}):\n{}", out.stdout));
    assert_eq!(v["certificates"][0]["name"], "c1");
    assert_eq!(v["certificates"][0]["fingerprint_sha256"], fingerprint);

    // A domain, and its HTTPS settings.
    let origin_arg = format!("127.0.0.1:{}", origin.addr.port());
    cli.run(&["domain", "add", "a.cli.test", "--origin", &origin_arg])
        .await
        .ok("domain add");
    let d = api.ok("GET", "/domains/a.cli.test", None).await;
    assert_eq!(d["origins"][0]["address"], "127.0.0.1", "{d}");
    assert_eq!(d["origins"][0]["http_port"], origin.addr.port(), "{d}");
    assert_eq!(d["https"]["enabled"], false, "{d}");
    cli.run(&[
        "domain",
        "https",
        "a.cli.test",
        "--cert",
        "c1",
        "--force-redirect",
        "http-to-https",
        "--hsts",
        "600",
        "--tls",
        "1.3",
        "--no-http2",
    ])
    .await
    .ok("domain https");
    let h = api.ok("GET", "/domains/a.cli.test/https", None).await;
    assert_eq!(h["enabled"], true, "{h}");
    assert_eq!(h["certificate"], "c1", "{h}");
    assert_eq!(h["force_redirect"], "http_to_https", "{h}");
    assert_eq!(h["hsts"]["enabled"], true, "{h}");
    assert_eq!(h["hsts"]["max_age"], 600, "{h}");
    assert_eq!(h["tls_versions"], json!(["1.3"]), "{h}");
    assert_eq!(h["http2"], false, "{h}");

    // The edge applies them: TLS 1.3 only, no h2, HTTP redirected.
    api.wait_applied().await;
    let hs = eventually(Duration::from_secs(5), "TLS 1.3 handshake", || async {
        handshake(
            node.https,
            Some("a.cli.test"),
            &ca.cert_pem,
            &[TLS13],
            &[b"h2", b"http/1.1"],
        )
        .await
        .ok()
    })
    .await;
    assert_eq!(hs.leaf_der, leaf.der);
    // The client offers h2 and http/1.1; with HTTP/2 off the edge picks http/1.1.
    assert_eq!(
        hs.alpn.as_deref(),
        Some(&b"http/1.1"[..]),
        "ALPN with --no-http2"
    );
    assert_eq!(
        handshake(node.https, Some("a.cli.test"), &ca.cert_pem, &[TLS12], &[])
            .await
            .err()
            .as_deref(),
        Some("received fatal alert: ProtocolVersion"),
        "a TLS 1.2 client on a domain set to --tls 1.3 gets the protocol_version alert"
    );
    let client = node.client(&ca.cert_pem, &["a.cli.test"]);
    let resp = client
        .get(node.http_url("a.cli.test", "/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 301);
    let resp = client
        .get(node.https_url("a.cli.test", "/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=600")
    );

    let out = cli.run(&["domain", "list"]).await.ok("domain list");
    let r = row(&out.stdout, "a.cli.test");
    for want in ["on", "c1", "http-to-https", &origin_arg] {
        assert!(r.contains(want), "no {want:?} in {r:?}");
    }
    let out = cli.run(&["cert", "list"]).await.ok("cert list");
    assert!(
        row(&out.stdout, "c1").contains("a.cli.test"),
        "{}",
        out.stdout
    );

    // Refusals: exit non-zero, the API's code on stderr, nothing changed.
    cli.run(&["domain", "https", "a.cli.test", "--disable"])
        .await
        .fails_with(
            "domain https --disable with a redirect on",
            "HttpsDependency",
        );
    let h = api.ok("GET", "/domains/a.cli.test/https", None).await;
    assert_eq!(h["enabled"], true, "{h}");
    cli.run(&["cert", "delete", "c1"])
        .await
        .fails_with("cert delete of a served certificate", "CertificateInUse");
    api.ok("GET", "/certificates/c1", None).await;

    // Once the dependencies are off, both go through.
    cli.run(&[
        "domain",
        "https",
        "a.cli.test",
        "--disable",
        "--force-redirect",
        "off",
        "--no-hsts",
    ])
    .await
    .ok("domain https --disable with the dependencies off");
    cli.run(&["cert", "delete", "c1"])
        .await
        .ok("cert delete of an unused certificate");
    let out = cli.run(&["cert", "list"]).await.ok("cert list");
    assert!(!out.stdout.contains("c1"), "{}", out.stdout);
}

#[tokio::test]
async fn cli_reads_credentials_from_the_environment() {
    let node = Node::start("");
    let ca = TestCa::new("env CA");
    let leaf = ca.leaf(&["env.cli.test"]);
    let tmp = tempfile::tempdir().unwrap();
    let cert = write(tmp.path(), "cert.pem", &leaf.cert_pem);
    let key = write(tmp.path(), "key.pem", &leaf.key_pem);
    let keys = [leaf.key_pem.as_str()];
    let url = format!("http://{}", node.admin);
    let good = [
        ("TLSEDGE_ADMIN_URL", url.as_str()),
        ("TLSEDGE_TOKEN", node.token.as_str()),
    ];
    let bad = [
        ("TLSEDGE_ADMIN_URL", url.as_str()),
        ("TLSEDGE_TOKEN", "not-the-token"),
    ];

    tlsedge(
        &["cert", "upload", "env1", "--cert", &cert, "--key", &key],
        &good,
        tmp.path(),
        &keys,
    )
    .await
    .ok("cert upload with env credentials");
    let out = tlsedge(&["cert", "list"], &good, tmp.path(), &keys)
        .await
        .ok("cert list with env credentials");
    assert!(row(&out.stdout, "env1").contains("env.cli.test"));
    tlsedge(&["cert", "list"], &bad, tmp.path(), &keys)
        .await
        .fails_with("cert list with a wrong token", "Unauthorized");
    // A flag wins over the environment.
    tlsedge(
        &["cert", "show", "env1", "--token", &node.token],
        &bad,
        tmp.path(),
        &keys,
    )
    .await
    .ok("--token over a wrong TLSEDGE_TOKEN");
}

#[tokio::test]
async fn cli_falls_back_to_the_config_file() {
    let node = Node::start("");
    let api = node.api();
    // The node's config asks for port 0; an operator's names a fixed one. Write the port the
    // node got into its config (the running node does not read it again).
    let config = node.dir.join("tlsedge.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let fixed = text.replace(
        "admin = \"127.0.0.1:0\"",
        &format!("admin = \"{}\"", node.admin),
    );
    assert_ne!(text, fixed, "the harness's config changed shape");
    std::fs::write(&config, fixed).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let config_arg = config.to_str().unwrap();

    tlsedge(
        &[
            "--config",
            config_arg,
            "domain",
            "add",
            "cfg.cli.test",
            "--origin",
            "127.0.0.1:8080",
        ],
        &[],
        empty.path(),
        &[],
    )
    .await
    .ok("domain add with --config");
    api.ok("GET", "/domains/cfg.cli.test", None).await;
    let out = tlsedge(
        &["domain", "list", "--config", config_arg],
        &[],
        empty.path(),
        &[],
    )
    .await
    .ok("domain list with --config");
    assert!(row(&out.stdout, "cfg.cli.test").contains("127.0.0.1:8080"));
    // ./tlsedge.toml in the working folder is the default config.
    let out = tlsedge(&["domain", "show", "cfg.cli.test"], &[], &node.dir, &[])
        .await
        .ok("domain show with ./tlsedge.toml");
    assert!(out.stdout.contains("cfg.cli.test"), "{}", out.stdout);
    // Neither flags, nor environment, nor a config: a clear error, not a hang.
    let out = tlsedge(&["domain", "list"], &[], empty.path(), &[]).await;
    assert!(!out.success, "{}", out.stdout);
    assert!(
        out.stderr.contains("--token") || out.stderr.contains("--admin"),
        "{}",
        out.stderr
    );
}
