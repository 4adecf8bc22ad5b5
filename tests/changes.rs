//! What the contract promises about a committed change (spec/api.md, "Edge behaviour"): it is
//! served within 1 second, without a restart, and without failing a request already in flight.
//! Every kind of change is measured from the moment the admin API answered; requests in flight
//! are held at the origin by a gate the test opens, never by a sleep.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};

use common::*;

/// The contract's bound: a committed change reaches new requests within 1 s.
const PROPAGATION: Duration = Duration::from_secs(1);

/// Polls `probe` until it returns true; asserts that happened within [`PROPAGATION`] of `since`
/// (the API's answer) and returns how long it took.
async fn within_a_second<F, Fut>(what: &str, since: Instant, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if probe().await {
            let took = since.elapsed();
            assert!(
                took < PROPAGATION,
                "{what}: reached new requests {took:?} after the API answered"
            );
            return took;
        }
        assert!(
            since.elapsed() < PROPAGATION,
            "{what}: not seen by new requests {PROPAGATION:?} after the API answered"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A body large enough to span many TLS records and HTTP/2 frames, with a pattern that shows
/// truncation or reordering: what the test compares the whole answer against.
fn big_body() -> Bytes {
    Bytes::from(
        (0..256 * 1024)
            .map(|i: u32| b"0123456789abcdef"[(i % 16) as usize])
            .collect::<Vec<u8>>(),
    )
}

/// A fresh client (no pooled connection), so a probe makes a new connection and handshake.
fn fresh(node: &Node, ca: &TestCa, name: &str) -> reqwest::Client {
    node.client(&ca.cert_pem, &[name])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_in_flight_fails_when_https_is_disabled_or_the_domain_deleted() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("in-flight CA");
    let body = big_body();

    for (name, change) in [
        ("off.flight.test", "disable HTTPS"),
        ("del.flight.test", "delete the domain"),
    ] {
        let origin = HeldOrigin::start(body.clone()).await;
        api.upload_cert(name, &ca.leaf(&[name])).await;
        api.add_domain(name, origin.addr).await;
        api.enable_https(name, name, json!({})).await;
        api.wait_applied().await;

        // One request held over HTTP/2 and one over HTTP/1.1.
        let h2 = fresh(&node, &ca, name);
        let h1 = client_builder(&ca.cert_pem, &[name], &node)
            .http1_only()
            .build()
            .unwrap();
        let mut in_flight = Vec::new();
        for (client, version, path) in [
            (h2, reqwest::Version::HTTP_2, "/held/h2"),
            (h1, reqwest::Version::HTTP_11, "/held/h1"),
        ] {
            let url = node.https_url(name, path);
            in_flight.push((
                path,
                tokio::spawn(async move {
                    let resp = client.get(&url).send().await?;
                    assert_eq!(resp.version(), version, "{url}");
                    let status = resp.status().as_u16();
                    Ok::<_, reqwest::Error>((status, resp.bytes().await?))
                }),
            ));
            assert_eq!(origin.arrived().await, path, "{change}");
        }

        match change {
            "disable HTTPS" => {
                api.ok(
                    "PUT",
                    &format!("/domains/{name}/https"),
                    Some(json!({"enabled": false})),
                )
                .await;
            }
            _ => {
                api.ok("DELETE", &format!("/domains/{name}"), None).await;
            }
        }
        // The change is in force: a new handshake for the name is refused...
        let since = Instant::now();
        within_a_second(change, since, || async {
            handshake(node.https, Some(name), &ca.cert_pem, BOTH, &[])
                .await
                .is_err_and(|e| e == UNRECOGNIZED_NAME)
        })
        .await;
        // ...while the requests that started before it still wait at the origin.
        for (path, task) in &in_flight {
            assert!(!task.is_finished(), "{change}: {path} ended while held");
        }

        origin.release();
        for (path, task) in in_flight {
            let (status, got) = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .unwrap_or_else(|_| panic!("{change}: {path} never finished"))
                .unwrap()
                .unwrap_or_else(|e| panic!("{change}: {path} in flight failed: {e}"));
            assert_eq!(status, 200, "{change}: {path}");
            assert_eq!(got.len(), body.len(), "{change}: {path} body length");
            assert!(
                got == body,
                "{change}: {path} body differs from the origin's"
            );
        }
    }
}

/// The error text of a handshake the edge refused because no certificate answers the name:
/// `unrecognized_name` (112, RFC 6066; spec/api.md v1.1).
const UNRECOGNIZED_NAME: &str = "received fatal alert: UnrecognisedName";

#[tokio::test]
async fn every_kind_of_change_reaches_new_requests_within_a_second() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("change CA");
    let name = "kinds.change.test";
    let first = Origin::http(echo("first")).await;
    let second = Origin::http(echo("second")).await;
    let leaf = ca.leaf(&[name]);
    api.upload_cert("kinds", &leaf).await;
    api.add_domain(name, first.addr).await;
    api.enable_https(name, "kinds", json!({})).await;
    api.wait_applied().await;
    let get = |scheme: &'static str| {
        let client = fresh(&node, &ca, name);
        let url = match scheme {
            "http" => node.http_url(name, "/k"),
            _ => node.https_url(name, "/k"),
        };
        async move { client.get(&url).send().await.unwrap() }
    };
    let https_patch = |patch: Value| {
        let api = &api;
        async move {
            api.ok("PUT", &format!("/domains/{name}/https"), Some(patch))
                .await;
            Instant::now()
        }
    };
    let mut report = Vec::new();

    // Origins: the domain is replaced with another origin.
    let mut domain = api.ok("GET", &format!("/domains/{name}"), None).await;
    domain["origins"] = json!([{"address": "127.0.0.1", "http_port": second.addr.port(),
                                 "https_port": second.addr.port()}]);
    api.ok("PUT", &format!("/domains/{name}"), Some(domain))
        .await;
    let since = Instant::now();
    let t = within_a_second("origins", since, || async {
        get("https").await.text().await.unwrap() == "second /k"
    })
    .await;
    report.push(("origins", t));

    // Redirect: plain HTTP is sent to HTTPS with the configured status, keeping host and path
    // (and the HTTPS listener's port, which is not 443 here).
    let location = format!("https://{name}:{}/k", node.https.port());
    let since =
        https_patch(json!({"force_redirect": "http_to_https", "redirect_status": 308})).await;
    let t = within_a_second("redirect", since, || async {
        let r = get("http").await;
        r.status().as_u16() == 308
            && r.headers().get("location").and_then(|v| v.to_str().ok()) == Some(location.as_str())
    })
    .await;
    report.push(("redirect", t));

    // HSTS: HTTPS answers carry the header with the configured max-age.
    let since = https_patch(json!({"hsts": {"enabled": true, "max_age": 600}})).await;
    let t = within_a_second("HSTS", since, || async {
        let r = get("https").await;
        r.headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("max-age=600"))
    })
    .await;
    report.push(("HSTS", t));

    // TLS versions: a TLS 1.2-only client is refused once the domain is 1.3-only.
    let since = https_patch(json!({"tls_versions": ["1.3"]})).await;
    let t = within_a_second("TLS versions", since, || async {
        handshake(node.https, Some(name), &ca.cert_pem, &[TLS12], &[])
            .await
            .is_err_and(|e| e == "received fatal alert: ProtocolVersion")
    })
    .await;
    report.push(("TLS versions", t));

    // HTTP/2 off: ALPN falls back to http/1.1.
    let since = https_patch(json!({"http2": false})).await;
    let t = within_a_second("http2", since, || async {
        handshake(
            node.https,
            Some(name),
            &ca.cert_pem,
            BOTH,
            &[b"h2", b"http/1.1"],
        )
        .await
        .is_ok_and(|h| h.alpn.as_deref() == Some(&b"http/1.1"[..]))
    })
    .await;
    report.push(("http2", t));

    // Certificate: a renewed leaf for the same name replaces the old one.
    let renewed = ca.leaf(&[name]);
    api.ok(
        "PUT",
        "/certificates/kinds",
        Some(json!({"cert_pem": renewed.cert_pem, "key_pem": renewed.key_pem})),
    )
    .await;
    let since = Instant::now();
    let t = within_a_second("certificate", since, || async {
        handshake(node.https, Some(name), &ca.cert_pem, &[TLS13], &[])
            .await
            .is_ok_and(|h| h.leaf_der == renewed.der)
    })
    .await;
    report.push(("certificate", t));

    for (what, t) in report {
        println!(
            "{what}: reached new requests {} ms after the API answered",
            t.as_millis()
        );
    }
}
