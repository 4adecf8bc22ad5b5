//! The admin API end to end, on a real node: what needs a real process. The API's own rules
//! (every error code with its status and field, rejected writes that change nothing, the
//! CertificateInfo format, expiry filters and statistics, tokens, body limits, concurrent writes)
//! are tested in process in `crates/admin/tests/api`. Here: no key material in any answer, log
//! or database file; what the API deploys, replaces, makes private or completes from a CSR is
//! what the TLS listener serves, chain included; node reports; the real data plane's metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A JSON value for an assertion message, withheld when it holds a long base64 run (it could be
/// key material, which must never be printed).
fn show(v: &Value) -> String {
    let text = v.to_string();
    tlsedge_testkit::withhold_key_material(&text)
}

/// One request without the token (`/healthz`, `/metrics`).
async fn raw(node: &Node, method: &str, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let resp = reqwest::Client::new()
        .request(m, format!("http://{}{path}", node.admin))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.text().await.unwrap(), headers)
}

fn upload_body(name: &str, cert_pem: &str, key_pem: &str) -> Value {
    json!({"name": name, "cert_pem": cert_pem, "key_pem": key_pem})
}

/// Polls until a handshake for `sni` presents `der` as the leaf.
async fn served(node: &Node, sni: &str, ca_pem: &str, der: &[u8]) {
    eventually(
        Duration::from_secs(5),
        &format!("{sni} serves the expected certificate"),
        || async {
            let h = handshake(node.https, Some(sni), ca_pem, BOTH, &[])
                .await
                .ok()?;
            (h.leaf_der == der).then_some(())
        },
    )
    .await
}

/// Asserts the status and error code of an API refusal (its every detail is tested in
/// process).
fn assert_refused(what: &str, got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{what}: {}", show(&got.1));
    assert_eq!(got.1["error"]["code"], code, "{what}: {}", show(&got.1));
}

// ---------------------------------------------------------------------------------------------
// No key material anywhere

#[tokio::test]
async fn no_key_material_in_answers_logs_or_files() {
    use rustls_pki_types::pem::PemObject;
    use std::os::unix::fs::PermissionsExt;

    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("leak CA");
    let inter = ca.intermediate("leak intermediate");
    let ec = inter.leaf(&["a.leak.test"]);
    let rsa = ca.leaf_with(&["b.leak.test"], Alg::Rsa2048, None);
    let private = ca.leaf(&["p.leak.test"]);
    let renewed = inter.leaf(&["a.leak.test"]);
    let keys = [
        &ec.key_pem,
        &rsa.key_pem,
        &private.key_pem,
        &renewed.key_pem,
    ];

    let mut bodies: Vec<(String, String)> = Vec::new();
    macro_rules! record {
        ($method:expr, $path:expr, $body:expr) => {{
            let (s, v) = api.call($method, $path, $body).await;
            bodies.push((format!("{} {} -> {s}", $method, $path), v.to_string()));
            (s, v)
        }};
    }
    let chain = format!("{}{}", ec.cert_pem, inter.cert_pem);
    let (s, _) = record!(
        "POST",
        "/certificates",
        Some(upload_body("ec", &chain, &ec.key_pem))
    );
    assert_eq!(s, 201);
    let (s, _) = record!(
        "POST",
        "/certificates",
        Some(upload_body("rsa", &rsa.cert_pem, &rsa.key_pem))
    );
    assert_eq!(s, 201);
    // Refusals that concern the key.
    let (s, _) = record!(
        "POST",
        "/certificates",
        Some(upload_body("bad", &ec.cert_pem, &rsa.key_pem))
    );
    assert_eq!(s, 422);
    let (s, _) = record!(
        "POST",
        "/certificates",
        Some(upload_body("ec", &ec.cert_pem, &ec.key_pem))
    );
    assert_eq!(s, 409);
    for d in ["a.leak.test", "b.leak.test", "p.leak.test"] {
        let (s, _) = record!(
            "POST",
            "/domains",
            Some(json!({"name": d, "origins": [{"address": "127.0.0.1", "http_port": 9}]}))
        );
        assert_eq!(s, 201);
    }
    record!(
        "PUT",
        "/domains/a.leak.test/https",
        Some(json!({"enabled": true, "certificate": "ec", "hsts": {"enabled": true}}))
    );
    record!(
        "POST",
        "/certificates/rsa/deploy",
        Some(json!({"domains": ["b.leak.test"]}))
    );
    let (s, _) = record!(
        "PUT",
        "/domains/p.leak.test/https",
        Some(
            json!({"enabled": true, "certificate": null, "cert_pem": private.cert_pem, "key_pem": private.key_pem})
        )
    );
    assert_eq!(s, 200);
    let (s, _) = record!(
        "PUT",
        "/certificates/ec",
        Some(
            json!({"cert_pem": format!("{}{}", renewed.cert_pem, inter.cert_pem), "key_pem": renewed.key_pem})
        )
    );
    assert_eq!(s, 200);
    for path in [
        "/certificates",
        "/certificates?expiring_within_days=365",
        "/certificates/ec",
        "/certificates/rsa",
        "/certificates/p.leak.test.private",
        "/certificates/ec/domains",
        "/stats/certificates",
        "/domains",
        "/domains/a.leak.test",
        "/domains/a.leak.test/https",
        "/domains/b.leak.test/https",
        "/domains/p.leak.test/https",
        "/nodes",
        "/openapi.json",
    ] {
        let (s, _) = record!("GET", path, None);
        assert!(s == 200 || s == 404, "GET {path} -> {s}");
    }
    api.wait_applied().await;
    for path in ["/metrics", "/healthz"] {
        let (s, text, _) = raw(&node, "GET", path).await;
        assert_eq!(s, 200);
        bodies.push((format!("GET {path}"), text));
    }
    served(&node, "p.leak.test", &ca.cert_pem, &private.der).await;
    // Disabling HTTPS deletes the private certificate: a path that handles its key once more.
    let (s, _) = record!(
        "PUT",
        "/domains/p.leak.test/https",
        Some(json!({"enabled": false}))
    );
    assert_eq!(s, 200);
    api.wait_applied().await;

    // A key PEM also encodes the public key, which the certificates carry in the clear: a line
    // that also occurs in a certificate's PEM is public, so it is not searched for.
    let certs_pem: String = [
        &ec.cert_pem,
        &rsa.cert_pem,
        &private.cert_pem,
        &renewed.cert_pem,
    ]
    .iter()
    .map(|c| c.as_str())
    .collect();
    let secrets: Vec<String> = keys
        .iter()
        .flat_map(|k| pem_body_lines(k))
        .filter(|l| l.len() >= 16 && !certs_pem.contains(l.as_str()))
        .collect();
    assert!(secrets.len() >= 4 + 20, "too few key lines to search for");
    let logs = node.logs();
    assert!(
        logs.contains("certificate uploaded"),
        "the node's log was not captured"
    );
    bodies.push(("the node's log".to_owned(), logs));
    for (what, text) in &bodies {
        assert!(
            !text.contains("PRIVATE KEY"),
            "{what} contains \"PRIVATE KEY\""
        );
        for (i, line) in secrets.iter().enumerate() {
            assert!(
                !text.contains(line.as_str()),
                "{what} contains line {i} of an uploaded private key"
            );
        }
    }

    // The secrets files are the owner's only.
    for f in ["master.key", "admin.token"] {
        let mode = std::fs::metadata(node.dir.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f} has mode {:o}", mode & 0o777);
    }

    // The database holds the certificates but no key, in PEM or DER form.
    let mut db = Vec::new();
    for f in ["tlsedge.db", "tlsedge.db-wal", "tlsedge.db-shm"] {
        if let Ok(bytes) = std::fs::read(node.dir.join(f)) {
            db.extend_from_slice(&bytes);
        }
    }
    let contains = |needle: &[u8]| db.windows(needle.len()).any(|w| w == needle);
    let cert_line = pem_body_lines(&rsa.cert_pem)[3].clone();
    assert!(
        contains(cert_line.as_bytes()),
        "the database files do not hold the certificates: wrong files?"
    );
    assert!(!contains(b"PRIVATE KEY"), "the database holds a PEM key");
    for (i, line) in secrets.iter().enumerate() {
        assert!(
            !contains(line.as_bytes()),
            "the database holds line {i} of a private key PEM"
        );
    }
    let cert_ders = [&ec.der, &rsa.der, &private.der, &renewed.der];
    for (i, k) in keys.iter().enumerate() {
        let der = rustls_pki_types::PrivateKeyDer::from_pem_slice(k.as_bytes()).unwrap();
        let der = der.secret_der();
        // Every 32-byte piece of the DER (an EC scalar is 32 bytes) but those of the public key.
        let public = |c: &[u8]| cert_ders.iter().any(|d| d.windows(c.len()).any(|w| w == c));
        for chunk in der.chunks(32).filter(|c| c.len() == 32 && !public(c)) {
            assert!(
                !contains(chunk),
                "the database holds DER bytes of private key {i}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the API changes is what the edge serves

/// A chain deployed to three domains is served whole (a client trusting only the root
/// completes the handshake) and proxied; a refused replacement leaves the old certificate
/// served; an accepted one reaches every domain bound to it.
#[tokio::test]
async fn deploy_to_three_domains_then_replace() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("deploy CA");
    let inter = ca.intermediate("deploy intermediate");
    let origin = Origin::http(echo("deployed")).await;
    let names = ["a.multi.test", "b.multi.test", "c.multi.test"];
    let first = inter.leaf(&names);
    let (s, v) = api
        .call(
            "POST",
            "/certificates",
            Some(upload_body(
                "multi",
                &format!("{}{}", first.cert_pem, inter.cert_pem),
                &first.key_pem,
            )),
        )
        .await;
    assert_eq!(s, 201, "{}", show(&v));
    assert_eq!(v["chain_length"], 2);
    for d in names {
        api.add_domain(d, origin.addr).await;
    }
    api.ok(
        "POST",
        "/certificates/multi/deploy",
        Some(json!({"domains": names})),
    )
    .await;
    for d in names {
        served(&node, d, &ca.cert_pem, &first.der).await;
    }
    let client = node.client(&ca.cert_pem, &names);
    let resp = client
        .get(node.https_url("b.multi.test", "/p"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "deployed /p");

    // A replacement that no longer covers c.multi.test is refused; c keeps its certificate.
    let narrower = ca.leaf(&["a.multi.test", "b.multi.test"]);
    let got = api
        .call(
            "PUT",
            "/certificates/multi",
            Some(json!({"cert_pem": narrower.cert_pem, "key_pem": narrower.key_pem})),
        )
        .await;
    assert_refused("narrower replacement", &got, 422, "DomainNotCovered");
    api.wait_applied().await;
    served(&node, "c.multi.test", &ca.cert_pem, &first.der).await;

    // A replacement that covers them all is served by every domain bound to it.
    let wider = ca.leaf(&["*.multi.test"]);
    api.ok(
        "PUT",
        "/certificates/multi",
        Some(json!({"cert_pem": wider.cert_pem, "key_pem": wider.key_pem})),
    )
    .await;
    for n in names {
        served(&node, n, &ca.cert_pem, &wider.der).await;
    }
}

/// A certificate private to a domain is served and proxied for it, and once HTTPS is disabled
/// the name is refused with the contract's fatal alert `unrecognized_name` (112).
#[tokio::test]
async fn private_certificate_is_served_until_https_is_disabled() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("private CA");
    let origin = Origin::http(echo("private")).await;
    let d = "p.private.test";
    api.add_domain(d, origin.addr).await;
    let leaf = ca.leaf(&[d]);
    let v = api
        .ok(
            "PUT",
            &format!("/domains/{d}/https"),
            Some(json!({"enabled": true, "certificate": null, "cert_pem": leaf.cert_pem, "key_pem": leaf.key_pem})),
        )
        .await;
    assert_eq!(v["enabled"], true, "{}", show(&v));
    served(&node, d, &ca.cert_pem, &leaf.der).await;
    let client = node.client(&ca.cert_pem, &[d]);
    let resp = client.get(node.https_url(d, "/x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "private /x");

    api.ok(
        "PUT",
        &format!("/domains/{d}/https"),
        Some(json!({"enabled": false})),
    )
    .await;
    let refused = eventually(
        Duration::from_secs(5),
        "the handshake for p is refused",
        || async {
            handshake(node.https, Some(d), &ca.cert_pem, BOTH, &[])
                .await
                .err()
        },
    )
    .await;
    assert!(
        refused.contains("received fatal alert: UnrecognisedName"),
        "the handshake failed, but not with the unrecognized_name alert: {refused}"
    );
}

/// A certificate completed from a CSR is served; its key, made by the node and never returned,
/// outlives a restart (sealed in the store) so the signed certificate can come back later.
#[tokio::test]
async fn certificate_from_a_csr_is_completed_after_a_restart_and_served() {
    let mut node = Node::start("");
    let dir = node.take_dir().unwrap();
    let api = node.api();
    let ca = TestCa::new("csr CA");
    let v = api
        .ok(
            "POST",
            "/csrs",
            Some(json!({"name": "csr-1", "common_name": "csr.test", "sans": ["csr.test", "www.csr.test"]})),
        )
        .await;
    let status = node.stop().await;
    assert!(status.success(), "the node did not stop cleanly: {status}");

    let node = Node::start_in(dir.path(), "");
    let api = node.api();
    let req =
        rcgen::CertificateSigningRequestParams::from_pem(v["csr_pem"].as_str().unwrap()).unwrap();
    let signed = req.signed_by(ca.issuer()).unwrap();
    let info = api
        .ok(
            "PUT",
            "/certificates/csr-1",
            Some(json!({"cert_pem": signed.pem()})),
        )
        .await;
    assert_eq!(info["status"], "valid", "{}", show(&info));
    let origin = Origin::http(echo("csr")).await;
    api.add_domain("www.csr.test", origin.addr).await;
    api.enable_https("www.csr.test", "csr-1", json!({})).await;
    served(&node, "www.csr.test", &ca.cert_pem, signed.der()).await;
    let client = node.client(&ca.cert_pem, &["www.csr.test"]);
    let resp = client
        .get(node.https_url("www.csr.test", "/c"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "csr /c");
}

// ---------------------------------------------------------------------------------------------
// What only a running node reports

#[tokio::test]
async fn node_reports_and_data_plane_metrics() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("m")).await;
    api.add_domain("n.test", origin.addr).await;
    api.wait_applied().await;
    // Some data-plane traffic, so its counters have samples.
    let ca = TestCa::new("metrics CA");
    let client = node.client(&ca.cert_pem, &["n.test"]);
    let resp = client
        .get(node.http_url("n.test", "/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "m /");

    let v = api.ok("GET", "/nodes", None).await;
    let rev = v["revision"].as_u64().unwrap();
    assert!(rev >= 1, "{v}");
    let nodes = v["nodes"].as_array().unwrap();
    let me = nodes
        .iter()
        .find(|n| n["name"] == "edge-1")
        .unwrap_or_else(|| panic!("this node (edge-1) is not listed: {v}"));
    assert!(me["applied_revision"].as_u64().unwrap() >= rev, "{v}");
    let seen = me["last_seen"].as_str().unwrap();
    OffsetDateTime::parse(seen, &Rfc3339).unwrap_or_else(|e| panic!("last_seen {seen:?}: {e}"));

    let (s, _, _) = raw(&node, "GET", "/healthz").await;
    assert_eq!(s, 200);
    let (s, text, headers) = raw(&node, "GET", "/metrics").await;
    assert_eq!(s, 200);
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("text/plain"), "content-type {ct:?}");
    // Every sample line, the data plane's included, is `name[{labels}] value`.
    let samples = tlsedge_testkit::prometheus_samples(&text);
    assert!(
        samples > 3,
        "the data plane's counters are missing:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == r#"tlsedge_requests_total{scheme="http"} 1"#),
        "the one plain-HTTP request is not counted:\n{text}"
    );
}
