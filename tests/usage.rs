//! Per-domain metering: every request counted once, by scheme, with the bytes sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn requests_are_counted_per_domain_and_scheme() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("usage CA");
    let origin = Origin::http(echo("usage")).await;
    api.upload_cert("u", &ca.leaf(&["u.test", "r.test"])).await;
    api.add_domain("u.test", origin.addr).await;
    api.enable_https("u.test", "u", json!({})).await;
    api.add_domain("r.test", origin.addr).await;
    api.enable_https("r.test", "u", json!({"force_redirect": "http_to_https"}))
        .await;
    api.wait_applied().await;

    let h1 = client_builder(&ca.cert_pem, &["u.test", "r.test"], &node)
        .http1_only()
        .build()
        .unwrap();
    let h2 = client_builder(&ca.cert_pem, &["u.test"], &node)
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // What the echo origin answers for `path` ("usage {path}"): the expected bytes_sent is
    // counted from that, not from what the edge reports.
    let mut body_bytes = 0u64;
    let mut expect_body = |path: &str, got: &[u8]| {
        let want = format!("usage {path}");
        assert_eq!(got, want.as_bytes(), "{path}");
        body_bytes += want.len() as u64;
    };
    for i in 0..3 {
        let r = h1
            .get(node.https_url("u.test", &format!("/h1/{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_11);
        expect_body(&format!("/h1/{i}"), &r.bytes().await.unwrap());
    }
    for i in 0..2 {
        let r = h2
            .get(node.https_url("u.test", &format!("/h2/{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        expect_body(&format!("/h2/{i}"), &r.bytes().await.unwrap());
    }
    for i in 0..4 {
        let r = h1
            .get(node.http_url("u.test", &format!("/plain/{i}")))
            .send()
            .await
            .unwrap();
        expect_body(&format!("/plain/{i}"), &r.bytes().await.unwrap());
    }
    // Redirects are requests too, and belong to their own domain.
    let r = h1.get(node.http_url("r.test", "/")).send().await.unwrap();
    assert_eq!(r.status(), 301);

    let u = api.ok("GET", "/domains/u.test/usage", None).await;
    assert_eq!(u["domain"], "u.test");
    assert_eq!(
        u["requests"],
        json!({"http": 4, "https": 5, "http2": 2}),
        "{u}"
    );
    let body_bytes = body_bytes;
    assert_eq!(u["bytes_sent"].as_u64().unwrap(), body_bytes, "{u}");
    assert_eq!(u["cache"], json!({"hit": 0, "miss": 0}));
    let minutes = u["minutes"].as_array().unwrap();
    let per_minute: u64 = minutes
        .iter()
        .map(|m| m["requests"]["https"].as_u64().unwrap())
        .sum();
    assert_eq!(per_minute, 5);
    assert!(
        minutes
            .iter()
            .all(|m| m["start"].as_str().unwrap().ends_with(":00Z")),
        "{u}"
    );
    let r = api.ok("GET", "/domains/r.test/usage", None).await;
    assert_eq!(
        r["requests"],
        json!({"http": 1, "https": 0, "http2": 0}),
        "{r}"
    );

    // A window in the past holds nothing; bad windows are refused.
    let past = api
        .ok(
            "GET",
            "/domains/u.test/usage?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(past["requests"], json!({"http": 0, "https": 0, "http2": 0}));
    assert_eq!(past["minutes"], json!([]));
    let (s, v) = api
        .call("GET", "/domains/u.test/usage?from=yesterday", None)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InvalidRequest"))
    );
    let (s, v) = api
        .call(
            "GET",
            "/domains/u.test/usage?from=2021-01-02T00:00:00Z&to=2021-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InvalidRequest")),
        "a window that ends before it starts"
    );
    let (s, v) = api.call("GET", "/domains/nope.test/usage", None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("NotFound")));
}
