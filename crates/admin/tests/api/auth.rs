//! The bearer token, and the endpoints that need none (`/healthz`, `/metrics`).

use serde_json::json;

use crate::certs::TestCa;
use crate::harness::{assert_error, upload_body, Admin, DATA_PLANE_METRIC};

#[tokio::test]
async fn unauthorized_without_or_with_a_wrong_token() {
    let api = Admin::new();
    let ca = TestCa::new("auth CA").unwrap();
    let leaf = ca.leaf(&["auth.test"]).unwrap();
    api.upload_cert("secret-cert-name", &leaf).await;
    api.add_domain("auth.test").await;
    let before = api.snapshot().await;

    let token = &api.token;
    let wrong_tokens = [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer wrong".to_owned()),
        Some(format!("Bearer {}", &token[..token.len() - 1])),
        Some(format!("Bearer {token}x")),
        Some(format!("Basic {token}")),
        Some(token.clone()),
    ];
    let upload = serde_json::to_vec(&upload_body("c2", &leaf.cert_pem, &leaf.key_pem)).unwrap();
    for auth in &wrong_tokens {
        for (method, path, body) in [
            ("GET", "/api/v1/certificates", None),
            ("GET", "/api/v1/certificates/secret-cert-name", None),
            ("GET", "/api/v1/domains", None),
            ("GET", "/api/v1/nodes", None),
            ("GET", "/api/v1/openapi.json", None),
            ("GET", "/api/v1/stats/certificates", None),
            ("GET", "/api/v1/no/such/path", None),
            ("POST", "/api/v1/certificates", Some(upload.clone())),
            ("DELETE", "/api/v1/domains/auth.test", None),
            ("DELETE", "/api/v1/certificates/secret-cert-name", None),
        ] {
            let what = format!(
                "{method} {path} with {}",
                if auth.is_some() {
                    "a wrong token"
                } else {
                    "no token"
                }
            );
            let a = api.raw(method, path, auth.as_deref(), body).await;
            assert_error(&what, &(a.status, a.json()), 401, "Unauthorized", None);
            for secret in ["secret-cert-name", "auth.test", "certificates", "revision"] {
                assert!(
                    !a.text.contains(secret),
                    "{what}: the 401 body gives data away ({secret:?}): {}",
                    tlsedge_testkit::withhold_key_material(&a.text)
                );
            }
        }
    }
    api.unchanged(&before, "calls without the token were refused")
        .await;
}

#[tokio::test]
async fn health_metrics_openapi_and_nodes() {
    let api = Admin::new();
    api.add_domain("n.test").await;

    let a = api.raw("GET", "/healthz", None, None).await;
    assert_eq!(a.status, 200, "{}", a.text);

    let a = api.raw("GET", "/metrics", None, None).await;
    assert_eq!(a.status, 200);
    let ct = a
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("text/plain"), "content-type {ct:?}");
    assert!(a.text.contains("# TYPE "), "{}", a.text);
    // Every sample line is `name[{labels}] value`.
    tlsedge_testkit::prometheus_samples(&a.text);
    // The store's gauges, and what the data plane adds.
    let lines: Vec<&str> = a.text.lines().collect();
    for sample in [
        format!("tlsedge_store_revision {}", api.revision()),
        "tlsedge_domains 1".to_owned(),
        "tlsedge_certificates 0".to_owned(),
        DATA_PLANE_METRIC.to_owned(),
    ] {
        assert!(
            lines.contains(&sample.as_str()),
            "no {sample:?} in\n{}",
            a.text
        );
    }

    let doc = api.ok("GET", "/openapi.json", None).await;
    assert!(doc["openapi"].is_string(), "no \"openapi\" version");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/certificates",
        "/api/v1/certificates/{name}",
        "/api/v1/domains",
        "/api/v1/domains/{name}/https",
        "/api/v1/nodes",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    let a = api.raw("GET", "/api/v1/openapi.json", None, None).await;
    assert_error(
        "OpenAPI without a token",
        &(a.status, a.json()),
        401,
        "Unauthorized",
        None,
    );

    // The newest revision; no node reports here (no data plane follows this store).
    let v = api.ok("GET", "/nodes", None).await;
    assert_eq!(v, json!({"revision": api.revision(), "nodes": []}));
}
