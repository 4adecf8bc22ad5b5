//! End-to-end tests of the TLS side of the edge: certificate selection by SNI (exact, wildcard,
//! case), key types, refusals with an alert, ALPN/HTTP/2 and TLS versions per domain, and
//! configuration changes (certificate replaced, HTTPS disabled, domain deleted) reaching new
//! handshakes within a second without breaking a response in flight.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use rustls::AlertDescription;
use serde_json::{json, Value};

/// The contract: a committed change is served within this long.
const PROPAGATION: Duration = Duration::from_secs(1);

/// Uploads `leaf` as `cert`, creates `domain` towards `origin` and enables HTTPS on it with
/// `extra` HTTPS settings.
async fn https_domain(
    api: &Api,
    domain: &str,
    cert: &str,
    leaf: &Leaf,
    origin: SocketAddr,
    extra: Value,
) {
    api.upload_cert(cert, leaf).await;
    api.add_domain(domain, origin).await;
    api.enable_https(domain, cert, extra).await;
}

/// Asserts that a handshake was refused by the server with exactly the TLS alert `alert` (not
/// another alert, not the client's own verification, not a cut without an alert).
#[track_caller]
fn assert_refused(r: Result<Handshake, String>, alert: AlertDescription, what: &str) {
    match r {
        Ok(h) => panic!(
            "{what}: the handshake succeeded ({:?}, ALPN {:?})",
            h.version, h.alpn
        ),
        Err(e) => assert_eq!(
            e,
            alert_text(alert),
            "{what}: the handshake failed, but not with the server's {alert:?} alert"
        ),
    }
}

/// How rustls reports a fatal alert received from the server.
fn alert_text(alert: AlertDescription) -> String {
    format!("received fatal alert: {alert:?}")
}

/// The alert for a name no certificate answers (no SNI, unknown name, HTTPS off):
/// `unrecognized_name` (112, RFC 6066; spec/api.md v1.1).
const NO_CERTIFICATE: AlertDescription = AlertDescription::UnrecognisedName;

/// The leaf certificate a handshake for `sni` gets, trusting `ca_pem`.
async fn leaf_of(node: &Node, sni: &str, ca_pem: &str) -> Vec<u8> {
    handshake(node.https, Some(sni), ca_pem, BOTH, &[])
        .await
        .unwrap_or_else(|e| panic!("handshake for {sni}: {e}"))
        .leaf_der
}

/// Polls until `done` holds for a fresh handshake for `sni` (deadline: [`PROPAGATION`] from
/// `since`), and returns how long after `since` it held.
async fn until_handshake<F>(
    node: &Node,
    sni: &str,
    ca_pem: &str,
    since: Instant,
    what: &str,
    done: F,
) -> Duration
where
    F: Fn(&Result<Handshake, String>) -> bool,
{
    loop {
        let r = handshake(node.https, Some(sni), ca_pem, BOTH, &[]).await;
        let elapsed = since.elapsed();
        if done(&r) {
            return elapsed;
        }
        assert!(
            elapsed < PROPAGATION,
            "{what}: not seen by new handshakes {elapsed:?} after the change (last: {:?})",
            r.map(|h| h.version)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs `openssl s_client` off the async workers.
async fn s_client(addr: SocketAddr, args: &[&str]) -> (bool, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        openssl_s_client(addr, &a)
    })
    .await
    .unwrap()
}

async fn get_text(client: &reqwest::Client, url: &str) -> (u16, String) {
    let r = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (r.status().as_u16(), r.text().await.unwrap())
}

// ---------------------------------------------------------------------------------------------
// 1. SNI selection

#[tokio::test]
async fn sni_selects_each_domains_certificate() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("sni")).await;
    let names = ["a.sni.test", "b.sni.test", "c.other.test"];
    let cas: Vec<TestCa> = names
        .iter()
        .map(|n| TestCa::new(&format!("CA of {n}")))
        .collect();
    let leaves: Vec<Leaf> = names
        .iter()
        .zip(&cas)
        .map(|(n, ca)| ca.leaf(&[n]))
        .collect();
    for (i, n) in names.iter().enumerate() {
        https_domain(
            &api,
            n,
            &format!("sni-{i}"),
            &leaves[i],
            origin.addr,
            json!({}),
        )
        .await;
    }
    api.wait_applied().await;

    for (i, n) in names.iter().enumerate() {
        let got = leaf_of(&node, n, &cas[i].cert_pem).await;
        assert!(got == leaves[i].der, "{n} was not served its own leaf");
        for (j, other) in leaves.iter().enumerate() {
            if j != i {
                assert!(got != other.der, "{n} was served the leaf of {}", names[j]);
            }
        }
        // The other CAs do not vouch for it: the client refuses, proving the chain differs.
        let wrong = &cas[(i + 1) % cas.len()];
        let e = handshake(node.https, Some(n), &wrong.cert_pem, BOTH, &[])
            .await
            .expect_err("a certificate of another CA was served");
        assert!(e.contains("invalid peer certificate"), "{n}: {e}");

        let client = node.client(&cas[i].cert_pem, &[n]);
        let (status, body) = get_text(&client, &node.https_url(n, "/p")).await;
        assert_eq!((status, body.as_str()), (200, "sni /p"), "{n}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Key types

#[tokio::test]
async fn ecdsa_p256_p384_and_rsa2048_certificates_serve() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("alg")).await;
    let ca = TestCa::new("alg CA");
    let cases = [
        ("p256.alg.test", Alg::EcdsaP256, "ecdsa-p256"),
        ("p384.alg.test", Alg::EcdsaP384, "ecdsa-p384"),
        ("rsa.alg.test", Alg::Rsa2048, "rsa-2048"),
    ];
    let mut leaves = Vec::new();
    for (i, (name, alg, key_type)) in cases.iter().enumerate() {
        let leaf = ca.leaf_with(&[name], *alg, None);
        let info = api.upload_cert(&format!("alg-{i}"), &leaf).await;
        assert_eq!(info["key_type"], *key_type, "{name}");
        api.add_domain(name, origin.addr).await;
        api.enable_https(name, &format!("alg-{i}"), json!({})).await;
        leaves.push(leaf);
    }
    api.wait_applied().await;

    let names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let client = node.client(&ca.cert_pem, &names);
    for ((name, alg, _), leaf) in cases.iter().zip(&leaves) {
        // Both protocol versions: TLS 1.2 signs with the key differently (ECDHE_ECDSA/RSA suites).
        for (versions, expect) in [
            (&[TLS13][..], rustls::ProtocolVersion::TLSv1_3),
            (&[TLS12][..], rustls::ProtocolVersion::TLSv1_2),
        ] {
            let h = handshake(node.https, Some(name), &ca.cert_pem, versions, &[])
                .await
                .unwrap_or_else(|e| panic!("{alg:?} over {expect:?}: {e}"));
            assert_eq!(h.version, expect, "{alg:?}");
            assert!(h.leaf_der == leaf.der, "{name}: not its {alg:?} leaf");
        }
        let (status, body) = get_text(&client, &node.https_url(name, "/k")).await;
        assert_eq!((status, body.as_str()), (200, "alg /k"), "{alg:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Wildcards

#[tokio::test]
async fn wildcard_matches_one_level_and_exact_wins() {
    let node = Node::start("");
    let api = node.api();
    let wild_origin = Origin::http(echo("wild")).await;
    let exact_origin = Origin::http(echo("exact")).await;
    let ca = TestCa::new("wildcard CA");
    // The wildcard certificate also names w.test and a.b.w.test: if the edge served it for
    // them, the client would accept it, so a failure below is the edge refusing.
    let wild = ca.leaf(&["*.w.test", "w.test", "a.b.w.test"]);
    let exact = ca.leaf(&["x.w.test"]);
    https_domain(&api, "*.w.test", "wild", &wild, wild_origin.addr, json!({})).await;
    https_domain(
        &api,
        "x.w.test",
        "exact",
        &exact,
        exact_origin.addr,
        json!({}),
    )
    .await;
    api.wait_applied().await;

    assert!(leaf_of(&node, "a.w.test", &ca.cert_pem).await == wild.der);
    assert!(leaf_of(&node, "zz-9.w.test", &ca.cert_pem).await == wild.der);
    assert_refused(
        handshake(node.https, Some("a.b.w.test"), &ca.cert_pem, BOTH, &[]).await,
        NO_CERTIFICATE,
        "a.b.w.test (two levels below the wildcard)",
    );
    assert_refused(
        handshake(node.https, Some("w.test"), &ca.cert_pem, BOTH, &[]).await,
        NO_CERTIFICATE,
        "w.test (the wildcard's parent)",
    );
    let got = leaf_of(&node, "x.w.test", &ca.cert_pem).await;
    assert!(
        got == exact.der,
        "x.w.test got the wildcard leaf, not its own"
    );

    let client = node.client(&ca.cert_pem, &["a.w.test", "x.w.test"]);
    let (s, b) = get_text(&client, &node.https_url("a.w.test", "/")).await;
    assert_eq!((s, b.as_str()), (200, "wild /"));
    let (s, b) = get_text(&client, &node.https_url("x.w.test", "/")).await;
    assert_eq!((s, b.as_str()), (200, "exact /"));
}

// ---------------------------------------------------------------------------------------------
// 4. Refusals

#[tokio::test]
async fn no_sni_unknown_sni_and_https_off_are_refused_with_an_alert() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("plain")).await;
    let ca = TestCa::new("refusal CA");
    // ok.test is the control: the same node and client do handshake when they should.
    let ok = ca.leaf(&["ok.test"]);
    https_domain(&api, "ok.test", "ok", &ok, origin.addr, json!({})).await;
    // plain.test exists, is covered by an uploaded certificate, but has HTTPS off.
    api.upload_cert("plain", &ca.leaf(&["plain.test"])).await;
    api.add_domain("plain.test", origin.addr).await;
    api.wait_applied().await;

    assert!(leaf_of(&node, "ok.test", &ca.cert_pem).await == ok.der);
    assert_refused(
        handshake(node.https, None, &ca.cert_pem, BOTH, &[]).await,
        NO_CERTIFICATE,
        "no SNI",
    );
    assert_refused(
        handshake(node.https, Some("unknown.test"), &ca.cert_pem, BOTH, &[]).await,
        NO_CERTIFICATE,
        "unknown SNI",
    );
    assert_refused(
        handshake(node.https, Some("plain.test"), &ca.cert_pem, BOTH, &[]).await,
        NO_CERTIFICATE,
        "domain with HTTPS disabled",
    );
    // It is served over plain HTTP all the same.
    let client = node.client(&ca.cert_pem, &["plain.test"]);
    let (s, b) = get_text(&client, &node.http_url("plain.test", "/h")).await;
    assert_eq!((s, b.as_str()), (200, "plain /h"));

    require_openssl();
    let (ok_ran, out) = s_client(node.https, &["-servername", "ok.test", "-brief"]).await;
    assert!(ok_ran, "control: openssl failed with SNI ok.test:\n{out}");
    for (what, args) in [
        ("-noservername", &["-noservername"][..]),
        ("unknown SNI", &["-servername", "unknown.test"][..]),
        ("HTTPS off", &["-servername", "plain.test"][..]),
        // TLS 1.2 ClientHellos get the same alert.
        (
            "TLS 1.2, unknown SNI",
            &["-tls1_2", "-servername", "unknown.test"][..],
        ),
    ] {
        let (ran, out) = s_client(node.https, args).await;
        assert!(!ran, "openssl s_client {what} succeeded:\n{out}");
        assert!(
            out.contains("unrecognized name") && out.contains("SSL alert number 112"),
            "openssl s_client {what} failed without the server's unrecognized_name alert:\n{out}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5. HTTP/2 per domain

#[tokio::test]
async fn http2_is_offered_per_domain() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("h2")).await;
    let ca = TestCa::new("alpn CA");
    https_domain(
        &api,
        "on.h2.test",
        "on",
        &ca.leaf(&["on.h2.test"]),
        origin.addr,
        json!({}),
    )
    .await;
    https_domain(
        &api,
        "off.h2.test",
        "off",
        &ca.leaf(&["off.h2.test"]),
        origin.addr,
        json!({"http2": false}),
    )
    .await;
    api.wait_applied().await;

    let alpn: &[&[u8]] = &[b"h2", b"http/1.1"];
    let on = handshake(node.https, Some("on.h2.test"), &ca.cert_pem, BOTH, alpn)
        .await
        .unwrap();
    assert_eq!(on.alpn.as_deref(), Some(&b"h2"[..]));
    let off = handshake(node.https, Some("off.h2.test"), &ca.cert_pem, BOTH, alpn)
        .await
        .unwrap();
    assert_eq!(off.alpn.as_deref(), Some(&b"http/1.1"[..]));

    // reqwest offers h2 and http/1.1 and speaks what was chosen.
    let client = node.client(&ca.cert_pem, &["on.h2.test", "off.h2.test"]);
    for (host, version) in [
        ("on.h2.test", reqwest::Version::HTTP_2),
        ("off.h2.test", reqwest::Version::HTTP_11),
    ] {
        let r = client.get(node.https_url(host, "/v")).send().await.unwrap();
        assert_eq!(r.version(), version, "{host}");
        assert_eq!(r.status(), 200, "{host}");
        assert_eq!(r.text().await.unwrap(), "h2 /v");
    }

    // Turning HTTP/2 off on the first domain applies to its next handshakes.
    api.ok(
        "PUT",
        "/domains/on.h2.test/https",
        Some(json!({"http2": false})),
    )
    .await;
    let since = Instant::now();
    loop {
        let h = handshake(node.https, Some("on.h2.test"), &ca.cert_pem, BOTH, alpn)
            .await
            .unwrap();
        if h.alpn.as_deref() == Some(&b"http/1.1"[..]) {
            break;
        }
        assert!(since.elapsed() < PROPAGATION, "http2 off not applied");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// 6. TLS versions per domain

#[tokio::test]
async fn tls_versions_apply_per_domain() {
    use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("v")).await;
    let ca = TestCa::new("versions CA");
    let v13 = ca.leaf(&["v13.test"]);
    let v12 = ca.leaf(&["v12.test"]);
    https_domain(
        &api,
        "v13.test",
        "v13",
        &v13,
        origin.addr,
        json!({"tls_versions": ["1.3"]}),
    )
    .await;
    https_domain(
        &api,
        "v12.test",
        "v12",
        &v12,
        origin.addr,
        json!({"tls_versions": ["1.2"]}),
    )
    .await;
    https_domain(
        &api,
        "any.test",
        "any",
        &ca.leaf(&["any.test"]),
        origin.addr,
        json!({}),
    )
    .await;
    api.wait_applied().await;

    let hs = |sni: &'static str, v: &'static [&'static rustls::SupportedProtocolVersion]| {
        handshake(node.https, Some(sni), &ca.cert_pem, v, &[])
    };
    // 1.3 only.
    assert_refused(
        hs("v13.test", &[TLS12]).await,
        AlertDescription::ProtocolVersion,
        "TLS 1.2 client on a 1.3-only domain",
    );
    assert_eq!(hs("v13.test", &[TLS13]).await.unwrap().version, TLSv1_3);
    assert_eq!(hs("v13.test", BOTH).await.unwrap().version, TLSv1_3);
    // 1.2 only: chosen even when the client prefers 1.3.
    let h = hs("v12.test", BOTH).await.unwrap();
    assert_eq!(h.version, TLSv1_2);
    assert!(h.leaf_der == v12.der);
    assert_refused(
        hs("v12.test", &[TLS13]).await,
        AlertDescription::ProtocolVersion,
        "TLS 1.3 client on a 1.2-only domain",
    );
    // Default: both, 1.3 preferred.
    assert_eq!(hs("any.test", BOTH).await.unwrap().version, TLSv1_3);
    assert_eq!(hs("any.test", &[TLS12]).await.unwrap().version, TLSv1_2);

    // HTTP over the 1.2-only domain works end to end.
    let client = node.client(&ca.cert_pem, &["v12.test"]);
    let (s, b) = get_text(&client, &node.https_url("v12.test", "/x")).await;
    assert_eq!((s, b.as_str()), (200, "v /x"));

    require_openssl();
    // Control: the same openssl invocation succeeds with TLS 1.2.
    let (ran, out) = s_client(
        node.https,
        &["-servername", "any.test", "-tls1_2", "-brief"],
    )
    .await;
    assert!(ran, "control: openssl -tls1_2 failed:\n{out}");
    assert!(out.contains("TLSv1.2"), "control: not TLS 1.2:\n{out}");
    for old in ["-tls1_1", "-tls1"] {
        // SECLEVEL=0 so openssl really offers the old version instead of refusing locally.
        let (ran, out) = s_client(
            node.https,
            &[
                "-servername",
                "any.test",
                old,
                "-cipher",
                "DEFAULT:@SECLEVEL=0",
                "-brief",
            ],
        )
        .await;
        assert!(!ran, "openssl s_client {old} succeeded:\n{out}");
        assert!(
            // rustls finds no version in common in a TLS 1.0/1.1 hello: handshake_failure (40).
            out.contains("alert handshake failure") && out.contains("SSL alert number 40"),
            "openssl s_client {old} failed without the server's handshake_failure alert (did it offer {old}?):\n{out}"
        );
    }
    let (ran, out) = s_client(
        node.https,
        &["-servername", "v12.test", "-tls1_3", "-brief"],
    )
    .await;
    assert!(
        !ran,
        "openssl -tls1_3 on a 1.2-only domain succeeded:\n{out}"
    );
    assert!(
        out.contains("alert protocol version") && out.contains("SSL alert number 70"),
        "openssl -tls1_3 on a 1.2-only domain failed without the server's protocol_version alert:\n{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Certificate replaced with responses in flight

#[tokio::test]
async fn certificate_replaced_mid_stream() {
    let node = Node::start("");
    let api = node.api();
    let chunks: Vec<Bytes> = (0..6)
        .map(|i| Bytes::from(format!("chunk {i} of a slow body;")))
        .collect();
    // Chunk 0 at once; the other five 250 ms apart once released (≈1.25 s of streaming).
    let origin = StreamOrigin::gated(chunks.clone(), Duration::from_millis(250)).await;
    let old_ca = TestCa::new("old CA");
    let new_ca = TestCa::new("new CA");
    let old = old_ca.leaf(&["live.test"]);
    let new = new_ca.leaf(&["live.test"]);
    https_domain(&api, "live.test", "live", &old, origin.addr, json!({})).await;
    api.wait_applied().await;
    let both_cas = format!("{}{}", old_ca.cert_pem, new_ca.cert_pem);
    assert!(leaf_of(&node, "live.test", &both_cas).await == old.der);

    // One response in flight over HTTP/2 and one over HTTP/1.1, both on the old certificate.
    let h2 = node.client(&old_ca.cert_pem, &["live.test"]);
    let h1 = client_builder(&old_ca.cert_pem, &["live.test"], &node)
        .http1_only()
        .build()
        .unwrap();
    let url = node.https_url("live.test", "/stream");
    let mut in_flight = Vec::new();
    for (client, version) in [
        (&h2, reqwest::Version::HTTP_2),
        (&h1, reqwest::Version::HTTP_11),
    ] {
        let mut r = client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.version(), version);
        let first = r.chunk().await.unwrap().expect("a first chunk");
        assert_eq!(first, chunks[0]);
        in_flight.push(r);
    }
    assert_eq!(origin.started.load(std::sync::atomic::Ordering::SeqCst), 2);

    // Replace the certificate (same name, same domain) while both bodies wait for chunk 1.
    let info = api
        .ok(
            "PUT",
            "/certificates/live",
            Some(json!({"cert_pem": new.cert_pem, "key_pem": new.key_pem})),
        )
        .await;
    let put_returned = Instant::now();
    assert_eq!(
        info["issuer"].as_str().map(|s| s.contains("new CA")),
        Some(true)
    );
    let elapsed = until_handshake(
        &node,
        "live.test",
        &both_cas,
        put_returned,
        "the replaced certificate",
        |r| r.as_ref().is_ok_and(|h| h.leaf_der == new.der),
    )
    .await;
    println!(
        "certificate change propagation: new handshakes served the new leaf {} ms after PUT /certificates returned",
        elapsed.as_millis()
    );

    // Now let the origin finish: both old-certificate responses complete in full.
    let released = Instant::now();
    origin.release();
    for (mut r, proto) in in_flight.into_iter().zip(["HTTP/2", "HTTP/1.1"]) {
        let mut rest = Vec::new();
        while let Some(c) = r
            .chunk()
            .await
            .unwrap_or_else(|e| panic!("{proto} response broken by the change: {e}"))
        {
            rest.extend_from_slice(&c);
        }
        assert_eq!(
            String::from_utf8_lossy(&rest),
            chunks[1..]
                .iter()
                .map(|c| String::from_utf8_lossy(c))
                .collect::<String>(),
            "{proto} body incomplete"
        );
    }
    assert!(
        released.elapsed() >= Duration::from_millis(1000),
        "the bodies did not stream after the change ({:?})",
        released.elapsed()
    );

    // A new client that trusts only the new CA is served.
    let fresh = node.client(&new_ca.cert_pem, &["live.test"]);
    let r = fresh.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().len(),
        chunks.iter().map(Bytes::len).sum::<usize>()
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Domain deleted / HTTPS disabled, then back

#[tokio::test]
async fn disabling_or_deleting_stops_new_handshakes_and_enabling_restores_them() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("toggle")).await;
    let ca = TestCa::new("toggle CA");
    let off = ca.leaf(&["off.test"]);
    let del = ca.leaf(&["del.test"]);
    let private = ca.leaf(&["priv.test"]);
    https_domain(&api, "off.test", "off", &off, origin.addr, json!({})).await;
    https_domain(&api, "del.test", "del", &del, origin.addr, json!({})).await;
    api.add_domain("priv.test", origin.addr).await;
    api.ok(
        "PUT",
        "/domains/priv.test/https",
        Some(json!({"enabled": true, "cert_pem": private.cert_pem, "key_pem": private.key_pem})),
    )
    .await;
    api.wait_applied().await;
    for (n, leaf) in [
        ("off.test", &off),
        ("del.test", &del),
        ("priv.test", &private),
    ] {
        assert!(leaf_of(&node, n, &ca.cert_pem).await == leaf.der, "{n}");
    }
    let refused = |r: &Result<Handshake, String>| {
        r.as_ref()
            .err()
            .is_some_and(|e| *e == alert_text(NO_CERTIFICATE))
    };

    // Off.
    api.ok(
        "PUT",
        "/domains/off.test/https",
        Some(json!({"enabled": false})),
    )
    .await;
    let t = until_handshake(
        &node,
        "off.test",
        &ca.cert_pem,
        Instant::now(),
        "HTTPS off",
        refused,
    )
    .await;
    println!(
        "HTTPS disabled: handshakes refused after {} ms",
        t.as_millis()
    );
    api.ok("DELETE", "/domains/del.test", None).await;
    let t = until_handshake(
        &node,
        "del.test",
        &ca.cert_pem,
        Instant::now(),
        "delete",
        refused,
    )
    .await;
    println!(
        "domain deleted: handshakes refused after {} ms",
        t.as_millis()
    );
    api.ok(
        "PUT",
        "/domains/priv.test/https",
        Some(json!({"enabled": false})),
    )
    .await;
    until_handshake(
        &node,
        "priv.test",
        &ca.cert_pem,
        Instant::now(),
        "private off",
        refused,
    )
    .await;
    // Its private certificate went with it.
    let (s, _) = api
        .call("GET", "/certificates/priv.test.private", None)
        .await;
    assert_eq!(s, 404);

    // On again.
    let works = |leaf: &Leaf| {
        let der = leaf.der.clone();
        move |r: &Result<Handshake, String>| r.as_ref().is_ok_and(|h| h.leaf_der == der)
    };
    api.enable_https("off.test", "off", json!({})).await;
    let t = until_handshake(
        &node,
        "off.test",
        &ca.cert_pem,
        Instant::now(),
        "re-enable",
        works(&off),
    )
    .await;
    println!(
        "HTTPS re-enabled: handshakes served after {} ms",
        t.as_millis()
    );
    api.add_domain("del.test", origin.addr).await;
    api.enable_https("del.test", "del", json!({})).await;
    until_handshake(
        &node,
        "del.test",
        &ca.cert_pem,
        Instant::now(),
        "re-create",
        works(&del),
    )
    .await;
    let private2 = ca.leaf(&["priv.test"]);
    api.ok(
        "PUT",
        "/domains/priv.test/https",
        Some(json!({"enabled": true, "cert_pem": private2.cert_pem, "key_pem": private2.key_pem})),
    )
    .await;
    until_handshake(
        &node,
        "priv.test",
        &ca.cert_pem,
        Instant::now(),
        "private re-enable",
        works(&private2),
    )
    .await;

    let client = node.client(&ca.cert_pem, &["off.test", "del.test", "priv.test"]);
    for n in ["off.test", "del.test", "priv.test"] {
        let (s, b) = get_text(&client, &node.https_url(n, "/back")).await;
        assert_eq!((s, b.as_str()), (200, "toggle /back"), "{n}");
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Case-insensitive names

#[tokio::test]
async fn sni_and_host_are_case_insensitive() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("case")).await;
    let ca = TestCa::new("case CA");
    let a = ca.leaf(&["a.example.test"]);
    let b = ca.leaf(&["b.example.test"]);
    https_domain(&api, "a.example.test", "a", &a, origin.addr, json!({})).await;
    // A domain created with capitals is stored, and served, lowercase.
    https_domain(&api, "B.Example.Test", "b", &b, origin.addr, json!({})).await;
    api.wait_applied().await;
    let v = api.ok("GET", "/domains/b.example.test", None).await;
    assert_eq!(v["name"], "b.example.test");

    for (sni, host, leaf) in [
        ("A.Example.Test", "A.Example.Test", &a),
        ("A.EXAMPLE.TEST", "a.example.TEST", &a),
        ("b.example.test", "B.EXAMPLE.test", &b),
        ("B.Example.Test", "b.example.test", &b),
    ] {
        let mut tls = tls_connect(node.https, sni, &ca.cert_pem, BOTH, &[b"http/1.1"])
            .await
            .unwrap_or_else(|e| panic!("SNI {sni}: {e}"));
        let der = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        assert!(der == leaf.der, "SNI {sni}: wrong leaf");
        let (status, text) = raw_get(&mut tls, host, "/c").await;
        assert_eq!(status, 200, "SNI {sni}, Host {host}: {text}");
        assert!(text.ends_with("case /c"), "SNI {sni}, Host {host}: {text}");
    }
    // Plain HTTP routes by Host the same way.
    let mut tcp = tokio::net::TcpStream::connect(node.http).await.unwrap();
    let (status, text) = raw_get(
        &mut tcp,
        &format!("A.Example.TEST:{}", node.http.port()),
        "/p",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("case /p"), "{text}");
}

/// A request for one domain on a TLS connection made for another gets 421 unless both serve
/// the same certificate with the same TLS versions: otherwise a client could reach a 1.3-only
/// domain over a 1.2 connection, or one whose certificate it never saw.
#[tokio::test]
async fn host_must_match_the_connection_sni() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("misdirect")).await;
    let ca = TestCa::new("misdirect CA");
    let shared = ca.leaf(&["s1.m.test", "s2.m.test"]);
    https_domain(
        &api,
        "v12.m.test",
        "v12",
        &ca.leaf(&["v12.m.test"]),
        origin.addr,
        json!({}),
    )
    .await;
    https_domain(
        &api,
        "v13.m.test",
        "v13",
        &ca.leaf(&["v13.m.test"]),
        origin.addr,
        json!({"tls_versions": ["1.3"]}),
    )
    .await;
    https_domain(&api, "s1.m.test", "shared", &shared, origin.addr, json!({})).await;
    api.add_domain("s2.m.test", origin.addr).await;
    api.enable_https("s2.m.test", "shared", json!({})).await;
    api.wait_applied().await;

    // Another domain's certificate and a stricter TLS version: refused.
    let mut tls = tls_connect(
        node.https,
        "v12.m.test",
        &ca.cert_pem,
        &[TLS12],
        &[b"http/1.1"],
    )
    .await
    .unwrap();
    let (status, text) = raw_get(&mut tls, "v13.m.test", "/x").await;
    assert_eq!(status, 421, "{text}");
    // The connection's own domain: served.
    let mut tls = tls_connect(
        node.https,
        "v12.m.test",
        &ca.cert_pem,
        &[TLS12],
        &[b"http/1.1"],
    )
    .await
    .unwrap();
    let (status, text) = raw_get(&mut tls, "v12.m.test", "/x").await;
    assert_eq!(status, 200, "{text}");
    // Two domains on one certificate with the same versions share connections (HTTP/2 coalescing).
    let mut tls = tls_connect(node.https, "s1.m.test", &ca.cert_pem, BOTH, &[b"http/1.1"])
        .await
        .unwrap();
    let (status, text) = raw_get(&mut tls, "s2.m.test", "/x").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("misdirect /x"), "{text}");
}

/// With `[tls] session_resumption` on (the default) a client's second handshake resumes with
/// the ticket of its first; with it off every handshake is full.
#[tokio::test]
async fn session_resumption_follows_the_setting() {
    for (extra, resumes) in [("", true), ("[tls]\nsession_resumption = false\n", false)] {
        let node = Node::start(extra);
        let api = node.api();
        let ca = TestCa::new("resume CA");
        let origin = Origin::http(echo("resume")).await;
        https_domain(
            &api,
            "r.example.test",
            "r",
            &ca.leaf(&["r.example.test"]),
            origin.addr,
            json!({}),
        )
        .await;
        api.wait_applied().await;
        let mut cfg = test_client_config(&ca.cert_pem, &[TLS13], &[b"http/1.1"]);
        cfg.resumption = rustls::client::Resumption::in_memory_sessions(16);
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
        let mut kinds = Vec::new();
        for _ in 0..2 {
            let tcp = tokio::net::TcpStream::connect(node.https).await.unwrap();
            let name = rustls_pki_types::ServerName::try_from("r.example.test").unwrap();
            let mut tls = connector.connect(name, tcp).await.unwrap();
            // The ticket arrives after the handshake: a request makes sure it has been read.
            let (status, _) = raw_get(&mut tls, "r.example.test", "/").await;
            assert_eq!(status, 200);
            kinds.push(tls.get_ref().1.handshake_kind());
        }
        let expected = if resumes {
            rustls::HandshakeKind::Resumed
        } else {
            rustls::HandshakeKind::Full
        };
        assert_eq!(kinds[0], Some(rustls::HandshakeKind::Full), "{extra:?}");
        assert_eq!(kinds[1], Some(expected), "{extra:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Cipher-suite preference

/// The suite a rustls client offering `suites` (in that order) negotiates with `node` over
/// `version`, for `sni`.
async fn negotiated_suite(
    node: &Node,
    sni: &str,
    ca_pem: &str,
    version: &'static rustls::SupportedProtocolVersion,
    suites: &[rustls::SupportedCipherSuite],
) -> rustls::CipherSuite {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites = suites.to_vec();
    let cfg = test_client_config_with(provider, ca_pem, &[version], &[]);
    let tcp = tokio::net::TcpStream::connect(node.https).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from(sni.to_owned()).unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(name, tcp)
        .await
        .unwrap_or_else(|e| panic!("handshake offering {suites:?}: {e}"));
    tls.get_ref().1.negotiated_cipher_suite().unwrap().suite()
}

/// The server prefers AES-128-GCM over AES-256-GCM whatever the client's order (its SHA-256
/// key schedule is the cheaper one), serves AES-256-GCM to a client offering only that, and
/// honours a client that lists ChaCha20 first (no AES hardware), in TLS 1.3 and TLS 1.2.
#[tokio::test]
async fn cipher_suite_follows_server_preference_except_for_chacha_first_clients() {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    use rustls::CipherSuite as S;
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("suites CA");
    let origin = Origin::http(echo("suites")).await;
    https_domain(
        &api,
        "s.example.test",
        "s",
        &ca.leaf(&["s.example.test"]),
        origin.addr,
        json!({}),
    )
    .await;
    api.wait_applied().await;
    let pem = &ca.cert_pem;
    let cases: [(&'static rustls::SupportedProtocolVersion, Vec<_>, S); 8] = [
        (
            TLS13,
            vec![cs::TLS13_AES_256_GCM_SHA384, cs::TLS13_AES_128_GCM_SHA256],
            S::TLS13_AES_128_GCM_SHA256,
        ),
        (
            TLS13,
            vec![
                cs::TLS13_AES_256_GCM_SHA384,
                cs::TLS13_CHACHA20_POLY1305_SHA256,
                cs::TLS13_AES_128_GCM_SHA256,
            ],
            S::TLS13_AES_128_GCM_SHA256,
        ),
        (
            TLS13,
            vec![cs::TLS13_AES_256_GCM_SHA384],
            S::TLS13_AES_256_GCM_SHA384,
        ),
        (
            TLS13,
            vec![
                cs::TLS13_CHACHA20_POLY1305_SHA256,
                cs::TLS13_AES_128_GCM_SHA256,
            ],
            S::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (
            TLS13,
            vec![
                cs::TLS13_AES_128_GCM_SHA256,
                cs::TLS13_CHACHA20_POLY1305_SHA256,
            ],
            S::TLS13_AES_128_GCM_SHA256,
        ),
        (
            TLS12,
            vec![
                cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ],
            S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            TLS12,
            vec![
                cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ],
            S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            TLS12,
            vec![cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384],
            S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
    ];
    for (version, offered, expected) in cases {
        let got = negotiated_suite(&node, "s.example.test", pem, version, &offered).await;
        assert_eq!(got, expected, "client offering {offered:?}");
    }
    // A ChaCha20-first client and an AES client alternate on the same domain: each keeps
    // getting its own choice (the client-order config is built once and kept beside the
    // server-order one).
    for _ in 0..2 {
        let chacha = vec![
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS13_AES_256_GCM_SHA384,
        ];
        let aes = vec![cs::TLS13_AES_256_GCM_SHA384, cs::TLS13_AES_128_GCM_SHA256];
        assert_eq!(
            negotiated_suite(&node, "s.example.test", pem, TLS13, &chacha).await,
            S::TLS13_CHACHA20_POLY1305_SHA256
        );
        assert_eq!(
            negotiated_suite(&node, "s.example.test", pem, TLS13, &aes).await,
            S::TLS13_AES_128_GCM_SHA256
        );
    }
    node.stop().await;
}
