//! Requests the API cannot act on: missing objects, names taken, bodies that are not the
//! resource, and bodies over the size limit.

use serde_json::json;

use crate::certs::{sha256_hex, TestCa};
use crate::harness::{assert_error, upload_body, Admin, MAX_BODY_BYTES};

#[tokio::test]
async fn not_found_and_already_exists() {
    let api = Admin::new();
    let ca = TestCa::new("nf CA").unwrap();
    let leaf = ca.leaf(&["nf.test"]).unwrap();
    api.upload_cert("c1", &leaf).await;
    api.add_domain("nf.test").await;

    // A missing object named in the body is that field's fault; one in the path has no field.
    for (method, path, body, field) in [
        ("GET", "/certificates/nope", None, None),
        ("GET", "/certificates/nope/domains", None, None),
        (
            "PUT",
            "/certificates/nope",
            Some(json!({"cert_pem": leaf.cert_pem, "key_pem": leaf.key_pem})),
            None,
        ),
        ("DELETE", "/certificates/nope", None, None),
        (
            "POST",
            "/certificates/nope/deploy",
            Some(json!({"domains": ["nf.test"]})),
            None,
        ),
        (
            "POST",
            "/certificates/c1/deploy",
            Some(json!({"domains": ["nf.test", "missing.nf.test"]})),
            Some("domains"),
        ),
        ("GET", "/domains/missing.nf.test", None, None),
        ("GET", "/domains/missing.nf.test/https", None, None),
        (
            "PUT",
            "/domains/missing.nf.test/https",
            Some(json!({"enabled": false})),
            None,
        ),
        ("DELETE", "/domains/missing.nf.test", None, None),
        (
            "PUT",
            "/domains/nf.test/https",
            Some(json!({"enabled": true, "certificate": "nope"})),
            Some("certificate"),
        ),
        ("GET", "/no/such/path", None, None),
    ] {
        api.rejected(
            "missing object",
            (method, path, body),
            404,
            "NotFound",
            field,
        )
        .await;
    }

    // AlreadyExists: a certificate (even with other contents) and a domain.
    api.rejected(
        "upload under a taken name",
        (
            "POST",
            "/certificates",
            Some(upload_body(
                "c1",
                &ca.leaf(&["x.nf.test"]).unwrap().cert_pem,
                &leaf.key_pem,
            )),
        ),
        409,
        "AlreadyExists",
        Some("name"),
    )
    .await;
    let other = ca.leaf(&["other.nf.test"]).unwrap();
    api.rejected(
        "upload a valid pair under a taken name",
        (
            "POST",
            "/certificates",
            Some(upload_body("c1", &other.cert_pem, &other.key_pem)),
        ),
        409,
        "AlreadyExists",
        Some("name"),
    )
    .await;
    let c1 = api.ok("GET", "/certificates/c1", None).await;
    assert_eq!(c1["fingerprint_sha256"], sha256_hex(&leaf.der));
    api.rejected(
        "create a domain twice (names compare case-insensitively)",
        (
            "POST",
            "/domains",
            Some(json!({"name": "NF.test", "origins": [{"address": "127.0.0.2"}]})),
        ),
        409,
        "AlreadyExists",
        Some("name"),
    )
    .await;
}

#[tokio::test]
async fn invalid_requests_and_oversized_bodies() {
    let api = Admin::new();
    let ca = TestCa::new("req CA").unwrap();
    let leaf = ca.leaf(&["req.test"]).unwrap();
    api.upload_cert("c1", &leaf).await;
    api.add_domain("req.test").await;
    let auth = format!("Bearer {}", api.token);

    // Bodies that are not JSON objects.
    for (method, path) in [
        ("POST", "/api/v1/certificates"),
        ("PUT", "/api/v1/certificates/c1"),
        ("POST", "/api/v1/certificates/c1/deploy"),
        ("POST", "/api/v1/domains"),
        ("PUT", "/api/v1/domains/req.test"),
        ("PUT", "/api/v1/domains/req.test/https"),
    ] {
        let before = api.snapshot().await;
        for body in [&b"{not json"[..], b"", b"[1,2]", b"\"text\""] {
            let a = api
                .raw(method, path, Some(&auth), Some(body.to_vec()))
                .await;
            let what = format!(
                "{method} {path} with body {:?}",
                String::from_utf8_lossy(body)
            );
            assert_error(&what, &(a.status, a.json()), 400, "InvalidRequest", None);
        }
        api.unchanged(&before, &format!("{method} {path}: refused"))
            .await;
    }

    // Unknown fields, missing fields, wrong types, bad values.
    let cases = [
        (
            "unknown upload field",
            "POST",
            "/certificates",
            json!({"name": "c2", "cert_pem": leaf.cert_pem, "key_pem": leaf.key_pem, "passphrase": "x"}),
            None,
        ),
        (
            "missing key_pem",
            "POST",
            "/certificates",
            json!({"name": "c2", "cert_pem": leaf.cert_pem}),
            None,
        ),
        (
            "bad certificate name",
            "POST",
            "/certificates",
            json!({"name": "a/b", "cert_pem": leaf.cert_pem, "key_pem": leaf.key_pem}),
            Some("name"),
        ),
        (
            "unknown domain field",
            "POST",
            "/domains",
            json!({"name": "new.req.test", "origins": [{"address": "127.0.0.1"}], "colour": "red"}),
            None,
        ),
        (
            "bad redirect_status in a domain",
            "POST",
            "/domains",
            json!({"name": "new.req.test", "origins": [{"address": "127.0.0.1"}], "https": {"redirect_status": 303}}),
            Some("redirect_status"),
        ),
        (
            "no origin",
            "POST",
            "/domains",
            json!({"name": "new.req.test", "origins": []}),
            Some("origins"),
        ),
        (
            "bad redirect_status",
            "PUT",
            "/domains/req.test/https",
            json!({"redirect_status": 303}),
            Some("redirect_status"),
        ),
        (
            "redirect_status as text",
            "PUT",
            "/domains/req.test/https",
            json!({"redirect_status": "301"}),
            None,
        ),
        (
            "unknown HTTPS field",
            "PUT",
            "/domains/req.test/https",
            json!({"redirect": "always"}),
            None,
        ),
        (
            "bad force_redirect",
            "PUT",
            "/domains/req.test/https",
            json!({"force_redirect": "sometimes"}),
            None,
        ),
        (
            "TLS 1.1",
            "PUT",
            "/domains/req.test/https",
            json!({"tls_versions": ["1.1"]}),
            None,
        ),
        (
            "enabled as text",
            "PUT",
            "/domains/req.test/https",
            json!({"enabled": "yes"}),
            None,
        ),
        (
            "deploy to no domain",
            "POST",
            "/certificates/c1/deploy",
            json!({"domains": []}),
            Some("domains"),
        ),
    ];
    for (what, method, path, body, field) in cases {
        api.rejected(
            what,
            (method, path, Some(body)),
            400,
            "InvalidRequest",
            field,
        )
        .await;
    }

    // PayloadTooLarge: more than the limit (1 MiB).
    let big = "A".repeat(MAX_BODY_BYTES + 1024);
    for (method, path, body) in [
        (
            "POST",
            "/certificates",
            json!({"name": "big", "cert_pem": big, "key_pem": leaf.key_pem}),
        ),
        (
            "PUT",
            "/domains/req.test/https",
            json!({"cert_pem": big, "key_pem": "x"}),
        ),
        (
            "POST",
            "/domains",
            json!({"name": "big.req.test", "origins": [{"address": "127.0.0.1"}], "origin_ca_pem": big}),
        ),
    ] {
        api.rejected(
            "body over 1 MiB",
            (method, path, Some(body)),
            413,
            "PayloadTooLarge",
            None,
        )
        .await;
    }
    // A body just under the limit is read (and refused for what it holds, not its size).
    let under = "A".repeat(MAX_BODY_BYTES - 24 * 1024);
    api.rejected(
        "body under 1 MiB",
        (
            "POST",
            "/certificates",
            Some(json!({"name": "big", "cert_pem": under, "key_pem": leaf.key_pem})),
        ),
        422,
        "InvalidPem",
        Some("cert_pem"),
    )
    .await;
}
