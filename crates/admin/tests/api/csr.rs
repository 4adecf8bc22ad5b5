//! Certificate signing requests: the key is made and kept on the server, the CSR carries the
//! subject, the certificate is `pending_csr` until the signed certificate comes back, and only a
//! certificate for that key completes it.

use serde_json::json;

use crate::certs::{sha256_hex, TestCa};
use crate::harness::Admin;

#[tokio::test]
async fn csr_is_signed_elsewhere_and_completes_on_the_server() {
    let api = Admin::new();
    let ca = TestCa::new("csr CA").unwrap();
    for (bad, field) in [
        (
            json!({"name": "c", "common_name": "csr.test", "country": "Germany"}),
            "country",
        ),
        (
            json!({"name": "c", "common_name": "csr.test", "key_type": "dsa-1024"}),
            "key_type",
        ),
        (
            json!({"name": "c", "common_name": "", "sans": ["csr.test"]}),
            "common_name",
        ),
    ] {
        api.rejected(
            "bad CSR",
            ("POST", "/csrs", Some(bad)),
            400,
            "InvalidRequest",
            Some(field),
        )
        .await;
    }
    api.rejected(
        "bad SAN",
        (
            "POST",
            "/csrs",
            Some(json!({"name": "c", "common_name": "x", "sans": ["a..b"]})),
        ),
        422,
        "InvalidDomain",
        Some("sans"),
    )
    .await;

    let rev = api.revision();
    let v = api
        .ok(
            "POST",
            "/csrs",
            Some(json!({"name": "csr-1", "common_name": "csr.test", "sans": ["csr.test", "www.csr.test"],
                        "key_type": "ecdsa-p256", "organization": "Example Org", "country": "DE"})),
        )
        .await;
    assert_eq!(api.revision(), rev + 1, "a CSR is one change");
    assert_eq!(v["name"], "csr-1");
    let csr_pem = v["csr_pem"].as_str().unwrap().to_owned();
    assert!(
        csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr_pem}"
    );
    assert!(!v.to_string().contains("PRIVATE KEY"));
    let info = api.ok("GET", "/certificates/csr-1", None).await;
    assert_eq!(info["status"], "pending_csr");
    api.rejected(
        "duplicate CSR",
        (
            "POST",
            "/csrs",
            Some(json!({"name": "csr-1", "common_name": "csr.test"})),
        ),
        409,
        "AlreadyExists",
        Some("name"),
    )
    .await;

    // The CA signs the CSR as it came: subject and SANs from the request.
    let req = rcgen::CertificateSigningRequestParams::from_pem(&csr_pem).unwrap();
    let sans: Vec<String> = req
        .params
        .subject_alt_names
        .iter()
        .map(|s| match s {
            rcgen::SanType::DnsName(n) => n.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(sans, vec!["csr.test", "www.csr.test"]);
    let signed = req.signed_by(ca.issuer()).unwrap();

    // A certificate for another key does not complete it.
    let other = ca.leaf(&["csr.test"]).unwrap();
    api.rejected(
        "wrong certificate for the CSR",
        (
            "PUT",
            "/certificates/csr-1",
            Some(json!({"cert_pem": other.cert_pem})),
        ),
        422,
        "KeyMismatch",
        Some("key_pem"),
    )
    .await;

    // The signed certificate, without a key, completes it.
    let info = api
        .ok(
            "PUT",
            "/certificates/csr-1",
            Some(json!({"cert_pem": signed.pem()})),
        )
        .await;
    assert_eq!(info["status"], "valid");
    assert_eq!(info["sans"], json!(["csr.test", "www.csr.test"]));
    assert_eq!(info["key_type"], "ecdsa-p256");
    assert_eq!(info["fingerprint_sha256"], sha256_hex(signed.der()));
    assert!(
        info["subject"].as_str().unwrap().contains("Example Org"),
        "{info}"
    );

    // And a domain can serve it.
    api.add_domain("www.csr.test").await;
    let h = api.enable_https("www.csr.test", "csr-1").await;
    assert_eq!(h["certificate"], "csr-1", "{h}");
}
