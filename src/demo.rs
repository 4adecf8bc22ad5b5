//! `tlsedge demo`: a whole edge on loopback with nothing installed. It makes a demo CA and a
//! certificate, starts a small origin, starts a node, configures two domains through the real
//! admin API, and prints curl commands that work as printed from the folder it was started in.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use tlsedge_node::{Config, Node};

/// The demo's names: one domain that forces HTTPS with HSTS, one wildcard that serves both.
const SECURE: &str = "www.tlsedge.test";
const WILDCARD: &str = "*.cdn.tlsedge.test";
const WILDCARD_EXAMPLE: &str = "img.cdn.tlsedge.test";

pub async fn run(dir: &Path) -> anyhow::Result<()> {
    // The folder is the demo's own: start from a clean one each time.
    if dir.join(".tlsedge-demo").exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    } else if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        anyhow::bail!(
            "{} exists and is not a tlsedge demo folder; pass --dir to use another",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(".tlsedge-demo"),
        "made by `tlsedge demo`; deleted at its next start\n",
    )?;

    let (ca_pem, cert_pem, key_pem) = make_certificates()?;
    std::fs::write(dir.join("ca.pem"), &ca_pem)?;

    let origin = start_origin().await?;

    // Ports: free ones on loopback, written into a real config so the CLI can find this node.
    let ports = [free_port()?, free_port()?, free_port()?];
    let d = dir.display();
    let config_text = format!(
        "[listen]\nhttp = \"127.0.0.1:{}\"\nhttps = \"127.0.0.1:{}\"\nadmin = \"127.0.0.1:{}\"\n\n[store]\npath = \"{d}/tlsedge.db\"\n\n\
         [secrets]\nmaster_key_file = \"{d}/master.key\"\n\n[admin]\ntoken_file = \"{d}/admin.token\"\n\n[node]\nname = \"demo\"\n",
        ports[0], ports[1], ports[2]
    );
    let config_path = dir.join("tlsedge.toml");
    std::fs::write(&config_path, &config_text)?;
    let cfg = Config::load(&config_path)?;
    let token_file = cfg.admin.token_file.clone();

    let node = Node::build(cfg).await?;
    let bound = node.bound();
    let node = tokio::spawn(node.serve(tlsedge_node::shutdown_on_signal()));
    let (Some(http), Some(https), Some(admin)) = (bound.http, bound.https, bound.admin) else {
        anyhow::bail!("the demo node did not open all its listeners");
    };
    let token = std::fs::read_to_string(&token_file)?.trim().to_owned();
    configure(admin, &token, &cert_pem, &key_pem, origin).await?;

    let (hp, sp) = (http.port(), https.port());
    let ca = format!("{d}/ca.pem");
    println!(
        "tlsedge demo: a node on 127.0.0.1 (http {hp}, https {sp}, admin {}), origin {origin}",
        admin.port()
    );
    println!("data, CA and config in {d}/ ; stop with Ctrl-C. Try:");
    println!();
    println!(
        "curl --cacert {ca} --resolve {SECURE}:{sp}:127.0.0.1 https://{SECURE}:{sp}/hello?x=1"
    );
    println!(
        "curl --cacert {ca} --resolve {SECURE}:{sp}:127.0.0.1 --http2 -sSI https://{SECURE}:{sp}/"
    );
    println!("curl -sSI --resolve {SECURE}:{hp}:127.0.0.1 http://{SECURE}:{hp}/some/path?q=1");
    println!("curl --cacert {ca} --resolve {WILDCARD_EXAMPLE}:{sp}:127.0.0.1 https://{WILDCARD_EXAMPLE}:{sp}/logo.png");
    println!("curl --resolve {WILDCARD_EXAMPLE}:{hp}:127.0.0.1 http://{WILDCARD_EXAMPLE}:{hp}/");
    println!();
    println!("The CLI talks to the same node:");
    println!("  tlsedge --config {d}/tlsedge.toml cert list");
    println!("  tlsedge --config {d}/tlsedge.toml domain list");
    node.await.context("node task")??;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// A demo CA and a leaf for the demo names (ECDSA P-256, valid 90 days), from the one test CA
/// builder of the workspace: `(ca_pem, cert_pem, key_pem)`.
fn make_certificates() -> anyhow::Result<(String, String, String)> {
    let ca = tlsedge_testkit::TestCa::new("tlsedge demo CA")?;
    let leaf = ca.leaf(&[SECURE, WILDCARD])?;
    Ok((ca.cert_pem, leaf.cert_pem, leaf.key_pem))
}

/// Configures the node through its admin API, as an operator would.
async fn configure(
    admin: SocketAddr,
    token: &str,
    cert_pem: &str,
    key_pem: &str,
    origin: SocketAddr,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let base = format!("http://{admin}/api/v1");
    let call = |method: reqwest::Method, path: &str, body: serde_json::Value| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let origins =
        serde_json::json!([{"address": origin.ip().to_string(), "http_port": origin.port()}]);
    let steps = [
        (
            reqwest::Method::POST,
            "/certificates".to_owned(),
            serde_json::json!({"name": "demo", "cert_pem": cert_pem, "key_pem": key_pem}),
        ),
        (
            reqwest::Method::POST,
            "/domains".to_owned(),
            serde_json::json!({"name": SECURE, "origins": origins}),
        ),
        (
            reqwest::Method::POST,
            "/domains".to_owned(),
            serde_json::json!({"name": WILDCARD, "origins": origins}),
        ),
        (
            reqwest::Method::PUT,
            format!("/domains/{SECURE}/https"),
            serde_json::json!({"enabled": true, "certificate": "demo", "force_redirect": "http_to_https",
                               "hsts": {"enabled": true, "max_age": 300}}),
        ),
        (
            reqwest::Method::PUT,
            format!("/domains/{WILDCARD}/https"),
            serde_json::json!({"enabled": true, "certificate": "demo"}),
        ),
    ];
    for (method, path, body) in steps {
        let resp = call(method.clone(), &path, body)
            .await
            .with_context(|| format!("{method} {path}"))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            anyhow::bail!("{method} {path}: {status}: {text}");
        }
    }
    Ok(())
}

/// A tiny origin that says where the request came from.
async fn start_origin() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let h = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_owned()
                    };
                    let body = format!(
                        "Hello from the tlsedge demo origin.\nhost: {}\npath: {}\nx-forwarded-proto: {}\nx-forwarded-for: {}\nvia: {}\n",
                        h("host"),
                        req.uri(),
                        h("x-forwarded-proto"),
                        h("x-forwarded-for"),
                        h("via")
                    );
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}
