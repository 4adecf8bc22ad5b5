//! End-to-end tests of the proxy path of the real binary: scheme redirects and HSTS, routing of
//! unknown hosts, forwarding headers, origins over TLS, failover and weights, 502/504, streaming
//! both ways, restarts and crashes, graceful shutdown and origin keep-alive.
// Helpers outside `#[test]` functions panic on purpose, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------------
// Helpers of this file

fn origin_at(port: u16) -> Value {
    json!({"address": "127.0.0.1", "http_port": port, "https_port": port})
}

async fn add_domain_json(api: &Api, body: Value) {
    api.ok("POST", "/domains", Some(body)).await;
}

/// GET `url` and read the whole answer.
async fn get(client: &reqwest::Client, url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

fn location(h: &reqwest::header::HeaderMap) -> &str {
    h.get("location")
        .expect("redirect without Location")
        .to_str()
        .unwrap()
}

/// FNV-1a, 64 bit: enough to tell a body that was changed in transit.
fn fnv(mut h: u64, data: &[u8]) -> u64 {
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Sorts the objects of `v[key]` by their `name`, so lists can be compared across processes.
fn sorted_by_name(v: &Value, key: &str) -> Vec<Value> {
    let mut items = v[key].as_array().expect("a list").clone();
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    items
}

// ---------------------------------------------------------------------------------------------
// 1. Redirects

const REDIR_NAMES: &[&str] = &[
    "r301.redir.test",
    "r302.redir.test",
    "r307.redir.test",
    "r308.redir.test",
    "h2h.redir.test",
    "off.redir.test",
    "deny.redir.test",
];

#[tokio::test]
async fn redirects_keep_host_path_query_and_the_listener_port() {
    let node = Node::start("");
    let ca = TestCa::new("redirect CA");
    let origin = Origin::http(echo("origin")).await;
    let api = node.api();
    api.upload_cert("redir", &ca.leaf(REDIR_NAMES)).await;
    for name in REDIR_NAMES {
        api.add_domain(name, origin.addr).await;
    }
    for (name, status) in [
        ("r301.redir.test", None),
        ("r302.redir.test", Some(302)),
        ("r307.redir.test", Some(307)),
        ("r308.redir.test", Some(308)),
    ] {
        let mut extra = json!({"force_redirect": "http_to_https"});
        if let Some(s) = status {
            extra["redirect_status"] = json!(s);
        }
        api.enable_https(name, "redir", extra).await;
    }
    api.enable_https(
        "h2h.redir.test",
        "redir",
        json!({"force_redirect": "https_to_http", "redirect_status": 308}),
    )
    .await;
    api.enable_https("off.redir.test", "redir", json!({"force_redirect": "off"}))
        .await;
    api.enable_https(
        "deny.redir.test",
        "redir",
        json!({"force_redirect": "deny_http"}),
    )
    .await;
    api.wait_applied().await;
    let client = node.client(&ca.cert_pem, REDIR_NAMES);
    let hp = node.https.port();
    let pq = "/a/b%20c/?x=1&y=two&z";

    // http_to_https, with each redirect status; path and query kept, the HTTPS port added.
    for (name, want) in [
        ("r301.redir.test", 301),
        ("r302.redir.test", 302),
        ("r307.redir.test", 307),
        ("r308.redir.test", 308),
    ] {
        let (status, h, _) = get(&client, &node.http_url(name, pq)).await;
        assert_eq!(status, want, "{name}: HTTP request");
        assert_eq!(location(&h), format!("https://{name}:{hp}{pq}"), "{name}");
        let (status, _, body) = get(&client, &node.https_url(name, pq)).await;
        assert_eq!(status, 200, "{name}: HTTPS is served");
        assert_eq!(body, format!("origin {pq}"));
    }
    // The redirect happens at the edge: the origin saw only the HTTPS requests.
    assert_eq!(origin.seen().len(), 4);

    // https_to_http: HTTPS is redirected to the HTTP listener's port, HTTP is served.
    let (status, h, _) = get(&client, &node.https_url("h2h.redir.test", pq)).await;
    assert_eq!(status, 308);
    assert_eq!(
        location(&h),
        format!("http://h2h.redir.test:{}{pq}", node.http.port())
    );
    let (status, _, body) = get(&client, &node.http_url("h2h.redir.test", pq)).await;
    assert_eq!(
        (status, body.as_str()),
        (200, format!("origin {pq}").as_str())
    );

    // off: both schemes are served.
    for url in [
        node.http_url("off.redir.test", "/o"),
        node.https_url("off.redir.test", "/o"),
    ] {
        let (status, h, body) = get(&client, &url).await;
        assert_eq!((status, body.as_str()), (200, "origin /o"), "{url}");
        assert!(h.get("location").is_none());
    }

    // deny_http: plain HTTP is refused, HTTPS served.
    let before = origin.seen().len();
    let (status, h, _) = get(&client, &node.http_url("deny.redir.test", "/d")).await;
    assert_eq!(status, 403);
    assert!(h.get("location").is_none());
    assert_eq!(
        origin.seen().len(),
        before,
        "a denied request reached the origin"
    );
    let (status, _, body) = get(&client, &node.https_url("deny.redir.test", "/d")).await;
    assert_eq!((status, body.as_str()), (200, "origin /d"));
}

#[tokio::test]
async fn redirects_leave_out_the_default_public_port() {
    let node = Node::start_with_listen("https_public_port = 443\nhttp_public_port = 80", "");
    let ca = TestCa::new("redirect CA");
    let origin = Origin::http(echo("origin")).await;
    let api = node.api();
    let names = ["up.redir.test", "down.redir.test"];
    api.upload_cert("redir", &ca.leaf(&names)).await;
    for name in names {
        api.add_domain(name, origin.addr).await;
    }
    api.enable_https(
        "up.redir.test",
        "redir",
        json!({"force_redirect": "http_to_https"}),
    )
    .await;
    api.enable_https(
        "down.redir.test",
        "redir",
        json!({"force_redirect": "https_to_http", "redirect_status": 302}),
    )
    .await;
    api.wait_applied().await;
    let client = node.client(&ca.cert_pem, &names);
    let (status, h, _) = get(&client, &node.http_url("up.redir.test", "/p?q=1")).await;
    assert_eq!(status, 301);
    assert_eq!(location(&h), "https://up.redir.test/p?q=1");
    let (status, h, _) = get(&client, &node.https_url("down.redir.test", "/p?q=1")).await;
    assert_eq!(status, 302);
    assert_eq!(location(&h), "http://down.redir.test/p?q=1");
}

// ---------------------------------------------------------------------------------------------
// 2. HSTS

#[tokio::test]
async fn hsts_is_sent_on_https_responses_only() {
    let node = Node::start("");
    let ca = TestCa::new("hsts CA");
    let origin = Origin::http(echo("origin")).await;
    let api = node.api();
    let names = [
        "full.hsts.test",
        "short.hsts.test",
        "none.hsts.test",
        "redir.hsts.test",
    ];
    api.upload_cert("hsts", &ca.leaf(&names)).await;
    for name in names {
        api.add_domain(name, origin.addr).await;
    }
    api.enable_https(
        "full.hsts.test",
        "hsts",
        json!({"hsts": {"enabled": true, "max_age": 31536000, "include_subdomains": true, "preload": true}}),
    )
    .await;
    api.enable_https(
        "short.hsts.test",
        "hsts",
        json!({"hsts": {"enabled": true, "max_age": 600}}),
    )
    .await;
    api.enable_https("none.hsts.test", "hsts", json!({})).await;
    api.enable_https(
        "redir.hsts.test",
        "hsts",
        json!({"force_redirect": "http_to_https", "hsts": {"enabled": true, "max_age": 1000, "include_subdomains": true}}),
    )
    .await;
    api.wait_applied().await;
    let client = node.client(&ca.cert_pem, &names);
    let sts = |h: &reqwest::header::HeaderMap| {
        h.get("strict-transport-security")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    for (name, want) in [
        (
            "full.hsts.test",
            Some("max-age=31536000; includeSubDomains; preload"),
        ),
        ("short.hsts.test", Some("max-age=600")),
        ("none.hsts.test", None),
        ("redir.hsts.test", Some("max-age=1000; includeSubDomains")),
    ] {
        let (status, h, _) = get(&client, &node.https_url(name, "/")).await;
        assert_eq!(status, 200, "{name}");
        assert_eq!(sts(&h).as_deref(), want, "{name} over HTTPS");
        let (status, h, _) = get(&client, &node.http_url(name, "/")).await;
        let want_status = if name == "redir.hsts.test" { 301 } else { 200 };
        assert_eq!(status, want_status, "{name} over HTTP");
        assert_eq!(sts(&h), None, "{name}: HSTS on a plain-HTTP response");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Unknown hosts

#[tokio::test]
async fn unknown_host_gets_a_short_plain_404_on_both_listeners() {
    let node = Node::start("");
    let ca = TestCa::new("unknown CA");
    let origin = Origin::http(echo("origin")).await;
    let api = node.api();
    api.upload_cert("known", &ca.leaf(&["known.test"])).await;
    api.add_domain("known.test", origin.addr).await;
    api.enable_https("known.test", "known", json!({})).await;
    api.wait_applied().await;

    let check = |what: &str, resp: reqwest::Response| {
        let what = what.to_owned();
        async move {
            assert_eq!(resp.status(), 404, "{what}");
            let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(ct.starts_with("text/plain"), "{what}: content-type {ct}");
            let body = resp.text().await.unwrap();
            assert!(
                !body.trim().is_empty() && body.len() < 200,
                "{what}: body {body:?}"
            );
        }
    };
    // Plain HTTP: a name that resolves to the node but is not configured.
    let client = node.client(&ca.cert_pem, &["unknown.test", "known.test"]);
    let resp = client
        .get(node.http_url("unknown.test", "/x"))
        .send()
        .await
        .unwrap();
    check("HTTP", resp).await;
    // HTTPS: a valid handshake for a known name, then a request for another host.
    let h1 = client_builder(&ca.cert_pem, &["known.test"], &node)
        .http1_only()
        .build()
        .unwrap();
    let resp = h1
        .get(node.https_url("known.test", "/x"))
        .header("host", "unknown.test")
        .send()
        .await
        .unwrap();
    check("HTTPS", resp).await;
    assert!(
        origin.seen().is_empty(),
        "an unknown host reached an origin"
    );
    // The known name still works over both.
    let (s, _, _) = get(&client, &node.http_url("known.test", "/")).await;
    assert_eq!(s, 200);
    let (s, _, _) = get(&client, &node.https_url("known.test", "/")).await;
    assert_eq!(s, 200);
}

// ---------------------------------------------------------------------------------------------
// 4. Forwarding headers

#[tokio::test]
async fn forwarding_headers_host_and_hop_by_hop() {
    let node = Node::start("");
    let ca = TestCa::new("fwd CA");
    // Answers with hop-by-hop headers of its own, which must not reach the client.
    let origin = Origin::http(Arc::new(|s: &Seen| {
        Response::builder()
            .header("connection", "x-origin-hop")
            .header("x-origin-hop", "1")
            .header("keep-alive", "timeout=9")
            .header("x-origin-kept", "1")
            .body(Full::new(Bytes::from(format!("origin {}", s.uri))))
            .unwrap()
    }))
    .await;
    let api = node.api();
    let names = ["fwd.test", "host.fwd.test"];
    api.upload_cert("fwd", &ca.leaf(&names)).await;
    api.add_domain("fwd.test", origin.addr).await;
    api.enable_https("fwd.test", "fwd", json!({})).await;
    add_domain_json(
        &api,
        json!({"name": "host.fwd.test", "origins": [origin_at(origin.addr.port())],
               "origin_host": "backend.internal:8080"}),
    )
    .await;
    api.wait_applied().await;

    // Plain HTTP/1.1 with an incoming X-Forwarded-For and hop-by-hop headers.
    let h1 = client_builder(&ca.cert_pem, &names, &node)
        .http1_only()
        .build()
        .unwrap();
    let resp = h1
        .get(node.http_url("fwd.test", "/h?1"))
        .header("x-forwarded-for", "203.0.113.7")
        .header("connection", "x-hop-secret")
        .header("x-hop-secret", "s3")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("upgrade", "example/1")
        .header("x-end-to-end", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(resp.text().await.unwrap(), "origin /h?1");
    // Response direction: hop-by-hop dropped, end-to-end kept, Via added.
    assert_eq!(h["x-origin-kept"], "1");
    for n in ["x-origin-hop", "keep-alive", "upgrade"] {
        assert!(h.get(n).is_none(), "response carried hop-by-hop {n}");
    }
    if let Some(c) = h.get("connection") {
        assert!(!c.to_str().unwrap().contains("x-origin-hop"));
    }
    let via = h
        .get("via")
        .expect("response without Via")
        .to_str()
        .unwrap();
    assert!(via.contains("tlsedge"), "response Via {via:?}");
    // Request direction.
    let seen = origin.seen().pop().unwrap();
    let hd = &seen.headers;
    assert_eq!(hd["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(hd["x-forwarded-proto"], "http");
    assert!(
        hd["via"].starts_with("1.1 ") && hd["via"].len() > 4,
        "request Via {:?}",
        hd["via"]
    );
    assert_eq!(hd["host"], format!("fwd.test:{}", node.http.port()));
    assert_eq!(hd["x-end-to-end"], "yes");
    for n in ["x-hop-secret", "keep-alive", "te", "upgrade"] {
        assert!(!hd.contains_key(n), "origin got hop-by-hop {n}: {hd:?}");
    }
    if let Some(c) = hd.get("connection") {
        assert!(!c.contains("x-hop-secret"), "origin got Connection {c:?}");
    }

    // HTTPS (HTTP/2 when negotiated): proto https, our address as the only X-Forwarded-For.
    let client = node.client(&ca.cert_pem, &names);
    let resp = client
        .get(node.https_url("fwd.test", "/s"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let version = resp.version();
    resp.text().await.unwrap();
    let seen = origin.seen().pop().unwrap();
    let hd = &seen.headers;
    assert_eq!(hd["x-forwarded-for"], "127.0.0.1");
    assert_eq!(hd["x-forwarded-proto"], "https");
    let want_via = if version == reqwest::Version::HTTP_2 {
        "2 "
    } else {
        "1.1 "
    };
    assert!(
        hd["via"].starts_with(want_via),
        "request Via {:?} for {version:?}",
        hd["via"]
    );
    assert_eq!(hd["host"], format!("fwd.test:{}", node.https.port()));

    // Several incoming X-Forwarded-For / Via lines are one list (RFC 9110 §5.3): none is lost,
    // and a client's X-Forwarded-Proto is replaced, not trusted.
    let resp = h1
        .get(node.http_url("fwd.test", "/m"))
        .header("x-forwarded-for", "198.51.100.1")
        .header("x-forwarded-for", "198.51.100.2, 198.51.100.3")
        .header("via", "1.0 first")
        .header("via", "1.1 second")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    let seen = origin.seen().pop().unwrap();
    let hd = &seen.headers;
    assert_eq!(
        hd["x-forwarded-for"],
        "198.51.100.1, 198.51.100.2, 198.51.100.3, 127.0.0.1"
    );
    assert_eq!(hd["via"], "1.0 first, 1.1 second, 1.1 tlsedge");
    assert_eq!(hd["x-forwarded-proto"], "http");

    // origin_host replaces the Host header sent to the origin.
    let (s, _, _) = get(&client, &node.http_url("host.fwd.test", "/o")).await;
    assert_eq!(s, 200);
    let seen = origin.seen().pop().unwrap();
    assert_eq!(seen.headers["host"], "backend.internal:8080");
    assert_eq!(seen.uri, "/o");
}

// ---------------------------------------------------------------------------------------------
// 5. Origins over HTTPS

const ORIGIN_NAME: &str = "origin.internal.test";

#[tokio::test]
async fn origin_over_https_with_sni_and_private_ca() {
    let node = Node::start("");
    let origin_ca = TestCa::new("origin private CA");
    let origin = Origin::https(echo("tls-origin"), &origin_ca.leaf(&[ORIGIN_NAME])).await;
    let api = node.api();
    let base = json!({
        "name": "o.tls.test",
        "origins": [origin_at(origin.addr.port())],
        "origin_protocol": "https",
        "origin_sni": ORIGIN_NAME,
        "origin_ca_pem": origin_ca.cert_pem,
    });
    add_domain_json(&api, base.clone()).await;
    api.wait_applied().await;
    let client = node.client(&origin_ca.cert_pem, &["o.tls.test"]);
    let url = node.http_url("o.tls.test", "/t?1");

    let (s, _, body) = get(&client, &url).await;
    assert_eq!((s, body.as_str()), (200, "tls-origin /t?1"));
    assert_eq!(
        origin.seen().last().unwrap().sni.as_deref(),
        Some(ORIGIN_NAME)
    );

    // System roots do not know the private CA: the origin is refused.
    let put = |v: Value| {
        let api = &api;
        async move {
            api.ok("PUT", "/domains/o.tls.test", Some(v)).await;
            api.wait_applied().await;
        }
    };
    let mut no_ca = base.clone();
    no_ca["origin_ca_pem"] = Value::Null;
    put(no_ca.clone()).await;
    let n = origin.seen().len();
    let (s, _, _) = get(&client, &url).await;
    assert_eq!(
        s, 502,
        "an origin certificate from an unknown CA was accepted"
    );
    assert_eq!(
        origin.seen().len(),
        n,
        "the request reached an unverified origin"
    );

    // Verification off: accepted again.
    let mut insecure = no_ca;
    insecure["origin_verify_tls"] = json!(false);
    put(insecure).await;
    let (s, _, body) = get(&client, &url).await;
    assert_eq!((s, body.as_str()), (200, "tls-origin /t?1"));

    // No origin_sni: the SNI defaults to origin_host (without its port).
    let mut by_host = base.clone();
    by_host["origin_sni"] = Value::Null;
    by_host["origin_host"] = json!(format!("{ORIGIN_NAME}:8443"));
    put(by_host).await;
    let (s, _, _) = get(&client, &url).await;
    assert_eq!(s, 200);
    let seen = origin.seen().pop().unwrap();
    assert_eq!(seen.sni.as_deref(), Some(ORIGIN_NAME));
    assert_eq!(seen.headers["host"], format!("{ORIGIN_NAME}:8443"));
}

#[tokio::test]
async fn origin_protocol_follow_uses_the_clients_scheme() {
    let node = Node::start("");
    let edge_ca = TestCa::new("edge CA");
    let origin_ca = TestCa::new("origin private CA");
    let plain = Origin::http(echo("plain")).await;
    let tls = Origin::https(echo("tls"), &origin_ca.leaf(&[ORIGIN_NAME])).await;
    let api = node.api();
    api.upload_cert("follow", &edge_ca.leaf(&["follow.test"]))
        .await;
    add_domain_json(
        &api,
        json!({
            "name": "follow.test",
            "origins": [{"address": "127.0.0.1", "http_port": plain.addr.port(), "https_port": tls.addr.port()}],
            "origin_protocol": "follow",
            "origin_sni": ORIGIN_NAME,
            "origin_ca_pem": origin_ca.cert_pem,
        }),
    )
    .await;
    api.enable_https("follow.test", "follow", json!({})).await;
    api.wait_applied().await;
    let client = node.client(&edge_ca.cert_pem, &["follow.test"]);

    let (s, _, body) = get(&client, &node.http_url("follow.test", "/f")).await;
    assert_eq!((s, body.as_str()), (200, "plain /f"));
    let (s, _, body) = get(&client, &node.https_url("follow.test", "/f")).await;
    assert_eq!((s, body.as_str()), (200, "tls /f"));
    assert_eq!(plain.seen().len(), 1);
    assert_eq!(plain.seen()[0].headers["x-forwarded-proto"], "http");
    let t = tls.seen();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].headers["x-forwarded-proto"], "https");
    assert_eq!(t[0].sni.as_deref(), Some(ORIGIN_NAME));
}

// ---------------------------------------------------------------------------------------------
// 6. Failover and weights

#[tokio::test]
async fn failover_to_backup_and_weighted_primaries() {
    let node = Node::start("");
    let api = node.api();
    let backup = Origin::http(echo("backup")).await;
    let primary = Origin::http(echo("primary")).await;
    let idle_backup = Origin::http(echo("idle-backup")).await;
    let light = Origin::http(echo("w1")).await;
    let heavy = Origin::http(echo("w9")).await;
    let dead = dead_port();
    let with = |o: Value, prio: &str, weight: u32| {
        let mut o = o;
        o["priority"] = json!(prio);
        o["weight"] = json!(weight);
        o
    };
    add_domain_json(
        &api,
        json!({"name": "down.fo.test", "origins": [
            with(origin_at(dead), "primary", 1),
            with(origin_at(backup.addr.port()), "backup", 1)]}),
    )
    .await;
    add_domain_json(
        &api,
        json!({"name": "up.fo.test", "origins": [
            with(origin_at(idle_backup.addr.port()), "backup", 100),
            with(origin_at(primary.addr.port()), "primary", 1)]}),
    )
    .await;
    add_domain_json(
        &api,
        json!({"name": "w.fo.test", "origins": [
            with(origin_at(light.addr.port()), "primary", 1),
            with(origin_at(heavy.addr.port()), "primary", 9)]}),
    )
    .await;
    api.wait_applied().await;
    let names = ["down.fo.test", "up.fo.test", "w.fo.test"];
    let client = node.client(&TestCa::new("unused").cert_pem, &names);

    // A refusing primary: every request is answered by the backup.
    for i in 0..5 {
        let (s, _, body) = get(&client, &node.http_url("down.fo.test", &format!("/{i}"))).await;
        assert_eq!((s, body), (200, format!("backup /{i}")));
    }
    // A working primary: the backup gets nothing, whatever its weight.
    for _ in 0..20 {
        let (s, _, body) = get(&client, &node.http_url("up.fo.test", "/")).await;
        assert_eq!((s, body.as_str()), (200, "primary /"));
    }
    assert!(
        idle_backup.seen().is_empty(),
        "backup used while primary up"
    );

    // Weights 1 and 9.
    let mut heavy_count = 0;
    for _ in 0..200 {
        let (s, _, body) = get(&client, &node.http_url("w.fo.test", "/")).await;
        assert_eq!(s, 200);
        if body == "w9 /" {
            heavy_count += 1;
        } else {
            assert_eq!(body, "w1 /");
        }
    }
    assert_eq!(light.seen().len() + heavy.seen().len(), 200);
    assert!(
        heavy_count > 120,
        "weight 9 of 10 got only {heavy_count}/200 requests"
    );
    assert!(
        !light.seen().is_empty(),
        "the weight-1 primary got no request at all"
    );
}

// ---------------------------------------------------------------------------------------------
// 7. 502 and 504

#[tokio::test]
async fn bad_gateway_and_gateway_timeout() {
    // Both timeouts at 0.5 s: a 504 must come no sooner, and not much later.
    const TIMEOUT: Duration = Duration::from_millis(500);
    // Slack for a loaded 2-core CI machine, still well under the shortest default timeout (5 s),
    // so a timeout that fell back to its default cannot pass.
    const SLACK: Duration = Duration::from_millis(3000);
    let node = Node::start("[timeouts]\norigin_connect_secs = 0.5\norigin_response_secs = 0.5\n");
    let api = node.api();
    // Answers only when the test opens the gate, which it does after the 504.
    let gate = Gate::new();
    let held = gate.clone();
    let slow = test_origin(move |_req| {
        let held = held.clone();
        async move {
            held.wait().await;
            Response::new(full("too late"))
        }
    })
    .await;
    // Never answers a SYN: the connect timeout, not the response timeout, gives this 504.
    let silent = Unanswered::start().await;
    // Accepts, reads the request, then closes without a word.
    let closer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closer_port = closer.local_addr().unwrap().port();
    let closer_task = tokio::spawn(async move {
        loop {
            let Ok((mut tcp, _)) = closer.accept().await else {
                continue;
            };
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            drop(tcp);
        }
    });
    add_domain_json(
        &api,
        json!({"name": "dead.gw.test", "origins": [origin_at(dead_port())]}),
    )
    .await;
    add_domain_json(
        &api,
        json!({"name": "slow.gw.test", "origins": [origin_at(slow.addr.port())]}),
    )
    .await;
    add_domain_json(
        &api,
        json!({"name": "close.gw.test", "origins": [origin_at(closer_port)]}),
    )
    .await;
    add_domain_json(
        &api,
        json!({"name": "syn.gw.test", "origins": [origin_at(silent.addr.port())]}),
    )
    .await;
    api.wait_applied().await;
    let names = [
        "dead.gw.test",
        "slow.gw.test",
        "close.gw.test",
        "syn.gw.test",
    ];
    let client = node.client(&TestCa::new("unused").cert_pem, &names);

    let (s, _, body) = get(&client, &node.http_url("dead.gw.test", "/")).await;
    assert_eq!(s, 502, "unreachable origin: {body}");
    assert!(!body.is_empty());

    for (name, what) in [
        (
            "slow.gw.test",
            "an origin that does not answer (response timeout)",
        ),
        (
            "syn.gw.test",
            "an origin that never accepts (connect timeout)",
        ),
    ] {
        let start = Instant::now();
        let (s, _, body) = get(&client, &node.http_url(name, "/")).await;
        let took = start.elapsed();
        assert_eq!(s, 504, "{what}: {body}");
        assert!(
            took >= TIMEOUT,
            "{what}: 504 after {took:?}, before the configured {TIMEOUT:?}"
        );
        assert!(
            took < TIMEOUT + SLACK,
            "{what}: 504 after {took:?}, long after the configured {TIMEOUT:?}"
        );
    }
    assert_eq!(slow.requests.load(SeqCst), 1);
    gate.open();

    let (s, _, body) = get(&client, &node.http_url("close.gw.test", "/")).await;
    assert_eq!(s, 502, "origin closed without answering: {body}");
    closer_task.abort();
}

// ---------------------------------------------------------------------------------------------
// 8. Streaming

#[tokio::test]
async fn response_body_is_streamed_not_buffered() {
    let node = Node::start("");
    let ca = TestCa::new("stream CA");
    // Each request hands the test the sender of its response body.
    let (senders_tx, mut senders) = mpsc::unbounded_channel::<mpsc::Sender<Bytes>>();
    let origin = test_origin(move |_req| {
        let (tx, rx) = mpsc::channel(4);
        let _ = senders_tx.send(tx);
        async move { Response::new(ChannelBody(rx).boxed()) }
    })
    .await;
    let api = node.api();
    api.upload_cert("stream", &ca.leaf(&["stream.test"])).await;
    api.add_domain("stream.test", origin.addr).await;
    api.enable_https("stream.test", "stream", json!({})).await;
    api.wait_applied().await;
    let client = node.client(&ca.cert_pem, &["stream.test"]);
    let wait = Duration::from_secs(10);

    for url in [
        node.http_url("stream.test", "/s"),
        node.https_url("stream.test", "/s"),
    ] {
        let pending = tokio::spawn(client.get(&url).send());
        let body = tokio::time::timeout(wait, senders.recv())
            .await
            .expect("the origin got no request")
            .unwrap();
        body.send(Bytes::from_static(b"first piece;"))
            .await
            .unwrap();
        let mut resp = tokio::time::timeout(wait, pending)
            .await
            .unwrap_or_else(|_| panic!("{url}: no response head while the body is open"))
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut got = Vec::new();
        // Each piece must reach the client before the origin sends the next one: the origin
        // only sends it after the client has read this one.
        read_at_least(&mut resp, &mut got, b"first piece;".len(), &url).await;
        body.send(Bytes::from_static(b"second piece;"))
            .await
            .unwrap();
        read_at_least(
            &mut resp,
            &mut got,
            b"first piece;second piece;".len(),
            &url,
        )
        .await;
        body.send(Bytes::from_static(b"last piece")).await.unwrap();
        drop(body);
        while let Some(c) = tokio::time::timeout(wait, resp.chunk())
            .await
            .unwrap()
            .unwrap()
        {
            got.extend_from_slice(&c);
        }
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "first piece;second piece;last piece",
            "{url}"
        );
    }
}

/// Reads `resp` until `got` holds `len` bytes; fails if that takes 10 s (the edge is holding
/// back what the origin already sent).
async fn read_at_least(resp: &mut reqwest::Response, got: &mut Vec<u8>, len: usize, url: &str) {
    while got.len() < len {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{url}: after {:?}, the rest of a piece the origin sent never came (buffered?)",
                    String::from_utf8_lossy(got)
                )
            })
            .unwrap()
            .expect("body ended early");
        got.extend_from_slice(&chunk);
    }
}

#[tokio::test]
async fn large_request_body_reaches_the_origin_intact() {
    let node = Node::start("");
    let ca = TestCa::new("upload CA");
    let origin = test_origin(|req: Request<Incoming>| async move {
        let mut body = req.into_body();
        let (mut len, mut hash) = (0usize, FNV_START);
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return Response::new(full("body error"));
            };
            if let Ok(d) = frame.into_data() {
                len += d.len();
                hash = fnv(hash, &d);
            }
        }
        Response::new(full(format!("{len} {hash:016x}")))
    })
    .await;
    let api = node.api();
    api.upload_cert("up", &ca.leaf(&["upload.test"])).await;
    api.add_domain("upload.test", origin.addr).await;
    api.enable_https("upload.test", "up", json!({})).await;
    api.wait_applied().await;
    let client = node.client(&ca.cert_pem, &["upload.test"]);

    let data: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let want = format!("{} {:016x}", data.len(), fnv(FNV_START, &data));
    for url in [
        node.http_url("upload.test", "/up"),
        node.https_url("upload.test", "/up"),
    ] {
        let resp = client
            .post(&url)
            .body(data.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.text().await.unwrap(), want, "{url}");
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Restarts and crashes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_and_crash_keep_the_configuration() {
    let mut node = Node::start("");
    let tmp = node.take_dir().unwrap();
    let dir = tmp.path().to_path_buf();
    let ca = TestCa::new("restart CA");
    let origin = Origin::http(echo("origin")).await;
    let api = node.api();
    api.upload_cert("c1", &ca.leaf(&["a.restart.test"])).await;
    api.add_domain("a.restart.test", origin.addr).await;
    api.enable_https(
        "a.restart.test",
        "c1",
        json!({"force_redirect": "http_to_https", "hsts": {"enabled": true, "max_age": 60}}),
    )
    .await;
    api.wait_applied().await;
    let names = ["a.restart.test", "b.restart.test"];
    let (s, _, _) = get(
        &node.client(&ca.cert_pem, &names),
        &node.https_url("a.restart.test", "/"),
    )
    .await;
    assert_eq!(s, 200);
    let certs = sorted_by_name(&api.ok("GET", "/certificates", None).await, "certificates");
    let domains = sorted_by_name(&api.ok("GET", "/domains", None).await, "domains");

    let status = tokio::task::spawn_blocking(move || {
        let s = node.terminate();
        drop(node);
        s
    })
    .await
    .unwrap();
    assert!(status.success(), "SIGTERM exit status {status:?}");

    // Restarted on the same folder: serving at once (the listening line comes after loading).
    let node = Node::start_in(&dir, "");
    let client = node.client(&ca.cert_pem, &names);
    let (s, h, body) = get(&client, &node.https_url("a.restart.test", "/r")).await;
    assert_eq!((s, body.as_str()), (200, "origin /r"));
    assert_eq!(h["strict-transport-security"], "max-age=60");
    let (s, _, _) = get(&client, &node.http_url("a.restart.test", "/r")).await;
    assert_eq!(s, 301, "redirect policy lost in the restart");
    let api = node.api();
    assert_eq!(
        sorted_by_name(&api.ok("GET", "/certificates", None).await, "certificates"),
        certs
    );
    assert_eq!(
        sorted_by_name(&api.ok("GET", "/domains", None).await, "domains"),
        domains
    );

    // A crash right after writes returned loses none of them.
    api.upload_cert("c2", &ca.leaf(&["b.restart.test"])).await;
    api.add_domain("b.restart.test", origin.addr).await;
    api.enable_https("b.restart.test", "c2", json!({})).await;
    let mut node = node;
    tokio::task::block_in_place(|| node.kill9());
    drop(node);

    let node = Node::start_in(&dir, "");
    let client = node.client(&ca.cert_pem, &names);
    for name in names {
        let (s, _, body) = get(&client, &node.https_url(name, "/k")).await;
        assert_eq!(
            (s, body.as_str()),
            (200, "origin /k"),
            "{name} after kill -9"
        );
    }
    let api = node.api();
    let certs = sorted_by_name(&api.ok("GET", "/certificates", None).await, "certificates");
    let cert_names: Vec<&str> = certs.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(cert_names, ["c1", "c2"]);
    let domains = sorted_by_name(&api.ok("GET", "/domains", None).await, "domains");
    let domain_names: Vec<&str> = domains.iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(domain_names, names);
    assert_eq!(domains[1]["https"]["enabled"], true);
    drop(tmp);
}

// ---------------------------------------------------------------------------------------------
// 10. Graceful shutdown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_and_refuses_new_ones() {
    let mut node = Node::start("");
    let (got_tx, mut got) = mpsc::unbounded_channel::<()>();
    // The origin holds the request until the test has seen the listeners close.
    let gate = Gate::new();
    let held = gate.clone();
    let origin = test_origin(move |_req| {
        let (got_tx, held) = (got_tx.clone(), held.clone());
        async move {
            let _ = got_tx.send(());
            held.wait().await;
            Response::new(full("slow done"))
        }
    })
    .await;
    let api = node.api();
    api.add_domain("slow.gs.test", origin.addr).await;
    api.wait_applied().await;
    let client = node.client(&TestCa::new("unused").cert_pem, &["slow.gs.test"]);
    let url = node.http_url("slow.gs.test", "/slow");
    let in_flight = tokio::spawn(async move {
        let resp = client.get(&url).send().await?;
        let status = resp.status().as_u16();
        Ok::<_, reqwest::Error>((status, resp.text().await?))
    });
    tokio::time::timeout(Duration::from_secs(10), got.recv())
        .await
        .expect("the origin never got the request");

    unsafe_free_kill(node.child.id(), "TERM");
    // New connections are refused on both listeners while the request is still in flight.
    let (http, https) = (node.http, node.https);
    eventually(
        Duration::from_secs(5),
        "listeners to refuse connections",
        || async move {
            let refused = |r: std::io::Result<tokio::net::TcpStream>| {
                r.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
            };
            let h = refused(tokio::net::TcpStream::connect(http).await);
            let s = refused(tokio::net::TcpStream::connect(https).await);
            (h && s).then_some(())
        },
    )
    .await;
    assert!(
        !in_flight.is_finished(),
        "the in-flight request ended before the listeners closed"
    );
    gate.open();

    let (status, body) = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("in-flight request never finished")
        .unwrap()
        .expect("in-flight request failed during shutdown");
    assert_eq!((status, body.as_str()), (200, "slow done"));
    let exit = eventually(Duration::from_secs(10), "the process to exit", || {
        let s = node.child.try_wait().unwrap();
        async move { s }
    })
    .await;
    assert!(
        exit.success(),
        "exit status {exit:?}; log:\n{}",
        node.logs()
    );
}

// ---------------------------------------------------------------------------------------------
// 11. Origin keep-alive

#[tokio::test]
async fn origin_connections_are_reused() {
    let node = Node::start("");
    let origin = test_origin(|req: Request<Incoming>| async move {
        if req.uri().path() == "/empty" {
            let mut r = Response::new(full(String::new()));
            *r.status_mut() = http::StatusCode::NO_CONTENT;
            return r;
        }
        Response::new(full(format!("ka {}", req.uri())))
    })
    .await;
    let api = node.api();
    api.add_domain("ka.test", origin.addr).await;
    api.wait_applied().await;
    let client = node.client(&TestCa::new("unused").cert_pem, &["ka.test"]);
    for i in 0..20 {
        let (s, _, body) = get(&client, &node.http_url("ka.test", &format!("/{i}"))).await;
        assert_eq!((s, body), (200, format!("ka /{i}")));
    }
    // Answers without a body (HEAD, 204) free their connection too.
    for i in 0..10 {
        let r = client
            .head(node.http_url("ka.test", &format!("/h{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client
            .get(node.http_url("ka.test", "/empty"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    assert_eq!(origin.requests.load(SeqCst), 40);
    let conns = origin.conns.load(SeqCst);
    assert!(
        conns <= 5,
        "{conns} origin connections for 40 sequential requests: keep-alive not reused"
    );
}

/// The edge is no forward proxy: CONNECT gets 405 and the origin sees nothing.
#[tokio::test]
async fn connect_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let node = Node::start("");
    let origin = Origin::http(echo("connect")).await;
    node.api().add_domain("c.example.test", origin.addr).await;
    node.api().wait_applied().await;
    let mut tcp = tokio::net::TcpStream::connect(node.http).await.unwrap();
    tcp.write_all(b"CONNECT c.example.test:80 HTTP/1.1\r\nHost: c.example.test:80\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");
    assert!(origin.seen().is_empty());
}

/// Domains in front of the same origin share its keep-alive connections (the Host header goes
/// with each request), so many domains do not mean many origin connections.
#[tokio::test]
async fn domains_on_one_origin_share_its_connections() {
    let node = Node::start("[runtime]\nworker_threads = 1\n");
    let origin = test_origin(|req: Request<Incoming>| async move {
        let host = req
            .headers()
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Response::new(full(format!("{host} {}", req.uri())))
    })
    .await;
    let api = node.api();
    for d in ["s1.share.test", "s2.share.test", "s3.share.test"] {
        api.add_domain(d, origin.addr).await;
    }
    api.wait_applied().await;
    let client = node.client(
        &TestCa::new("unused").cert_pem,
        &["s1.share.test", "s2.share.test", "s3.share.test"],
    );
    for i in 0..30 {
        let d = ["s1.share.test", "s2.share.test", "s3.share.test"][i % 3];
        let (s, _, body) = get(&client, &node.http_url(d, &format!("/{i}"))).await;
        assert_eq!(s, 200);
        assert_eq!(body, format!("{d}:{} /{i}", node.http.port()));
    }
    assert_eq!(origin.requests.load(SeqCst), 30);
    let conns = origin.conns.load(SeqCst);
    assert!(
        conns <= 2,
        "{conns} origin connections for 30 sequential requests of 3 domains on one origin"
    );
}
