//! Domains: the rules that tie domains to certificates, domain names, and concurrent writes.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::certs::TestCa;
use crate::harness::{assert_error, Admin};

/// Three domains `a`, `b` and `c.rules.test`, and a certificate `ac` that covers `a` and `c`.
async fn rules_setup() -> Admin {
    let api = Admin::new();
    let ca = TestCa::new("rules CA").unwrap();
    let ac = ca.leaf(&["a.rules.test", "c.rules.test"]).unwrap();
    api.upload_cert("ac", &ac).await;
    for d in ["a.rules.test", "b.rules.test", "c.rules.test"] {
        api.add_domain(d).await;
    }
    api
}

#[tokio::test]
async fn a_certificate_must_cover_the_domains_it_serves() {
    let api = rules_setup().await;
    api.rejected(
        "enable HTTPS with a certificate that does not cover the name",
        (
            "PUT",
            "/domains/b.rules.test/https",
            Some(json!({"enabled": true, "certificate": "ac"})),
        ),
        422,
        "DomainNotCovered",
        Some("certificate"),
    )
    .await;
    let err = api
        .rejected(
            "deploy to three domains, one not covered",
            (
                "POST",
                "/certificates/ac/deploy",
                Some(json!({"domains": ["a.rules.test", "b.rules.test", "c.rules.test"]})),
            ),
            422,
            "DomainNotCovered",
            Some("domains"),
        )
        .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("b.rules.test"),
        "the refusal names the domain not covered: {err}"
    );
    for d in ["a.rules.test", "c.rules.test"] {
        let h = api.ok("GET", &format!("/domains/{d}/https"), None).await;
        assert_eq!(h["enabled"], false, "{d} must not have been deployed: {h}");
    }
}

#[tokio::test]
async fn invalid_domain_names_are_refused() {
    let api = rules_setup().await;
    for bad in ["a..b", "*.*.x.test", "-a.test", "a_b.test", "x.test:8080"] {
        api.rejected(
            &format!("domain name {bad:?}"),
            (
                "POST",
                "/domains",
                Some(json!({"name": bad, "origins": [{"address": "127.0.0.1"}]})),
            ),
            422,
            "InvalidDomain",
            Some("name"),
        )
        .await;
    }
    api.rejected(
        "deploy to an invalid name",
        (
            "POST",
            "/certificates/ac/deploy",
            Some(json!({"domains": ["a.rules.test", "a..b"]})),
        ),
        422,
        "InvalidDomain",
        Some("domains"),
    )
    .await;
}

#[tokio::test]
async fn a_certificate_in_use_cannot_be_deleted() {
    let api = rules_setup().await;
    api.enable_https("a.rules.test", "ac").await;
    api.rejected(
        "delete a certificate a domain serves",
        ("DELETE", "/certificates/ac", None),
        409,
        "CertificateInUse",
        None,
    )
    .await;
    // Once the domain no longer serves it, it goes, and the domain forgets it.
    let h = api
        .ok(
            "PUT",
            "/domains/a.rules.test/https",
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(h["enabled"], false, "{h}");
    let (s, v) = api.call("DELETE", "/certificates/ac", None).await;
    assert_eq!(s, 204, "{v}");
    let (s, _) = api.call("GET", "/certificates/ac", None).await;
    assert_eq!(s, 404);
    let h = api.ok("GET", "/domains/a.rules.test/https", None).await;
    assert_eq!(
        h["certificate"],
        Value::Null,
        "a deleted certificate is forgotten: {h}"
    );
}

/// How many writes race.
const RACERS: u64 = 20;

/// Two nodes' admin APIs on one store: each queues its own writes, so theirs meet at the store
/// (a commit conflict and a retry from a fresh state).
fn two_nodes() -> [Arc<Admin>; 2] {
    let a = Admin::new();
    let b = a.peer();
    [Arc::new(a), Arc::new(b)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_domain_creations_all_commit() {
    let nodes = two_nodes();
    let api = &nodes[0];
    let before = api.revision();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let api = nodes[i as usize % 2].clone();
        tasks.spawn(async move {
            let (s, v) = api
                .call(
                    "POST",
                    "/domains",
                    Some(json!({"name": format!("d{i}.race.test"), "origins": [{"address": "127.0.0.1"}]})),
                )
                .await;
            (i, s, v)
        });
    }
    while let Some(r) = tasks.join_next().await {
        let (i, s, v) = r.unwrap();
        assert_eq!(s, 201, "d{i}.race.test: {v}");
    }
    assert_eq!(api.revision(), before + RACERS, "one revision per creation");
    let v = api.ok("GET", "/domains", None).await;
    let mut names: Vec<String> = v["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = (0..RACERS).map(|i| format!("d{i}.race.test")).collect();
    expected.sort();
    assert_eq!(names, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_name_created_at_once_commits_once() {
    let nodes = two_nodes();
    let api = &nodes[0];
    let before = api.revision();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let api = nodes[i as usize % 2].clone();
        tasks.spawn(async move {
            let got = api
                .call(
                    "POST",
                    "/domains",
                    Some(json!({"name": "same.race.test", "origins": [{"address": format!("127.0.0.{}", i + 1)}]})),
                )
                .await;
            (i, got)
        });
    }
    let mut winners = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (i, got) = r.unwrap();
        if got.0 == 201 {
            winners.push(i);
        } else {
            assert_error(
                &format!("racer {i}"),
                &got,
                409,
                "AlreadyExists",
                Some("name"),
            );
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creation wins: {winners:?}");
    assert_eq!(api.revision(), before + 1);
    let d = api.ok("GET", "/domains/same.race.test", None).await;
    assert_eq!(
        d["origins"][0]["address"],
        format!("127.0.0.{}", winners[0] + 1),
        "the winner's domain is the one stored: {d}"
    );
}

/// Binding a certificate on one node and deleting it on another at the same time: one of the
/// two wins, the other is refused for the state the winner left, and no domain is left naming a
/// deleted certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn binding_and_deleting_a_certificate_at_once() {
    let [api, peer] = two_nodes();
    let ca = TestCa::new("race CA").unwrap();
    for round in 0..8 {
        let d = format!("r{round}.race.test");
        let cert = format!("c{round}");
        api.upload_cert(&cert, &ca.leaf(&[&d]).unwrap()).await;
        api.add_domain(&d).await;
        let bind = {
            let (api, d, cert) = (api.clone(), d.clone(), cert.clone());
            tokio::spawn(async move {
                api.call(
                    "PUT",
                    &format!("/domains/{d}/https"),
                    Some(json!({"enabled": true, "certificate": cert})),
                )
                .await
            })
        };
        let delete = {
            let (api, cert) = (peer.clone(), cert.clone());
            tokio::spawn(async move {
                api.call("DELETE", &format!("/certificates/{cert}"), None)
                    .await
            })
        };
        let (bound, deleted) = (bind.await.unwrap(), delete.await.unwrap());
        let h = api.ok("GET", &format!("/domains/{d}/https"), None).await;
        let (s, _) = api
            .call("GET", &format!("/certificates/{cert}"), None)
            .await;
        if bound.0 == 200 {
            assert_error("delete after bind", &deleted, 409, "CertificateInUse", None);
            assert_eq!(s, 200, "round {round}: the bound certificate is gone");
            assert_eq!(h["certificate"], cert.as_str(), "round {round}: {h}");
            assert_eq!(h["enabled"], true, "round {round}: {h}");
        } else {
            assert_eq!(
                deleted.0, 204,
                "round {round}: neither write won: {}",
                deleted.1
            );
            assert_error(
                "bind after delete",
                &bound,
                404,
                "NotFound",
                Some("certificate"),
            );
            assert_eq!(
                s, 404,
                "round {round}: the deleted certificate is still there"
            );
            assert_eq!(h["certificate"], Value::Null, "round {round}: {h}");
            assert_eq!(h["enabled"], false, "round {round}: {h}");
        }
    }
}

/// A domain as the contract's DomainConfig example shows it, with the defaults the contract
/// gives for every field a minimal request leaves out.
fn contract_domain(name: &str, address: &str) -> Value {
    json!({
        "name": name,
        "origins": [{"address": address, "http_port": 80, "https_port": 443, "priority": "primary", "weight": 10}],
        "origin_protocol": "http",
        "origin_host": null,
        "origin_sni": null,
        "origin_verify_tls": true,
        "origin_ca_pem": null,
        "https": {
            "enabled": false,
            "certificate": null,
            "force_redirect": "off",
            "redirect_status": 301,
            "hsts": {"enabled": false, "max_age": 5184000, "include_subdomains": false, "preload": false},
            "http2": true,
            "tls_versions": ["1.2", "1.3"]
        }
    })
}

#[tokio::test]
async fn create_read_replace_delete() {
    let api = Admin::new();
    let rev = api.revision();
    let (s, created) = api
        .call(
            "POST",
            "/domains",
            Some(json!({"name": "Www.Example.test", "origins": [{"address": "10.0.0.5"}]})),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    // Names are stored lower case.
    let expected = contract_domain("www.example.test", "10.0.0.5");
    assert_eq!(created, expected);
    assert_eq!(api.revision(), rev + 1);
    assert_eq!(
        api.ok("GET", "/domains/www.example.test", None).await,
        expected
    );
    assert_eq!(
        api.ok("GET", "/domains", None).await,
        json!({"domains": [expected]})
    );

    // PUT takes what GET returned; the path's name may differ in case only.
    let mut changed = expected.clone();
    changed["origin_host"] = json!("origin.example.test");
    changed["origins"][0]["address"] = json!("10.0.0.6");
    let replaced = api
        .ok("PUT", "/domains/WWW.example.test", Some(changed.clone()))
        .await;
    assert_eq!(replaced, changed);
    assert_eq!(api.revision(), rev + 2);
    assert_eq!(
        api.ok("GET", "/domains/www.example.test", None).await,
        changed
    );
    let mut renamed = changed.clone();
    renamed["name"] = json!("other.example.test");
    api.rejected(
        "a body naming another domain than the path",
        ("PUT", "/domains/www.example.test", Some(renamed)),
        400,
        "InvalidRequest",
        Some("name"),
    )
    .await;

    // A body without "https" keeps the domain's HTTPS settings as they are when it commits.
    api.ok(
        "PUT",
        "/domains/www.example.test/https",
        Some(json!({"http2": false})),
    )
    .await;
    let mut without_https = changed.clone();
    without_https.as_object_mut().unwrap().remove("https");
    without_https["origin_host"] = json!("other.origin.test");
    let mut kept = changed.clone();
    kept["origin_host"] = json!("other.origin.test");
    kept["https"]["http2"] = json!(false);
    assert_eq!(
        api.ok("PUT", "/domains/www.example.test", Some(without_https))
            .await,
        kept
    );
    assert_eq!(api.ok("GET", "/domains/www.example.test", None).await, kept);
    assert_eq!(api.revision(), rev + 4);

    let (s, v) = api.call("DELETE", "/domains/www.example.test", None).await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(api.revision(), rev + 5);
    let (s, _) = api.call("GET", "/domains/www.example.test", None).await;
    assert_eq!(s, 404);
    assert_eq!(
        api.ok("GET", "/domains", None).await,
        json!({"domains": []})
    );
}
