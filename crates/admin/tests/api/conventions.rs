//! Issue 13 kind 11: API conventions users expect. `PUT` takes the body `POST` takes (a `name`
//! equal to the path's is fine, another is 400 naming the field), and Unicode domain names are
//! accepted and stored, returned and looked up as A-labels (UTS 46).

use serde_json::json;

use crate::certs::TestCa;
use crate::harness::{upload_body, Admin};

#[tokio::test]
async fn a_certificate_put_takes_the_post_body() {
    let api = Admin::new();
    let ca = TestCa::new("conventions CA").unwrap();
    let first = ca.leaf(&["put.conventions.test"]).unwrap();
    api.upload_cert("c1", &first).await;
    let second = ca.leaf(&["put.conventions.test"]).unwrap();
    let rev = api.revision();
    let v = api
        .ok(
            "PUT",
            "/certificates/c1",
            Some(upload_body("c1", &second.cert_pem, &second.key_pem)),
        )
        .await;
    assert_eq!(v["name"], "c1", "{v}");
    assert_eq!(api.revision(), rev + 1);
    let rev = api.revision();
    api.rejected(
        "a body naming another certificate than the path",
        (
            "PUT",
            "/certificates/c1",
            Some(upload_body("c2", &second.cert_pem, &second.key_pem)),
        ),
        400,
        "InvalidRequest",
        Some("name"),
    )
    .await;
    assert_eq!(api.revision(), rev, "a refused PUT changes nothing");
}

#[tokio::test]
async fn unicode_domain_names_are_stored_as_a_labels() {
    let api = Admin::new();
    let (s, created) = api
        .call(
            "POST",
            "/domains",
            Some(json!({"name": "b\u{fc}cher.example", "origins": [{"address": "10.0.0.5"}]})),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["name"], "xn--bcher-kva.example", "{created}");
    let got = api.ok("GET", "/domains/xn--bcher-kva.example", None).await;
    assert_eq!(got, created);
    // The path may name it in Unicode too (percent-encoded UTF-8).
    let by_unicode = api.ok("GET", "/domains/b%C3%BCcher.example", None).await;
    assert_eq!(by_unicode, created);
    let list = api.ok("GET", "/domains", None).await;
    assert_eq!(
        list["domains"][0]["name"], "xn--bcher-kva.example",
        "{list}"
    );
    // The same name in its other form is the same domain.
    let (s, v) = api
        .call(
            "POST",
            "/domains",
            Some(json!({"name": "xn--bcher-kva.example", "origins": [{"address": "10.0.0.5"}]})),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    // What GET returned can be PUT back as it is.
    let put = api
        .ok("PUT", "/domains/b%C3%BCcher.example", Some(got.clone()))
        .await;
    assert_eq!(put, got);

    // Names that are not valid IDNA are refused as invalid domain names.
    for bad in ["xn--a-ecp.example", "\u{301}a.example", "a\u{e000}.example"] {
        api.rejected(
            bad,
            (
                "POST",
                "/domains",
                Some(json!({"name": bad, "origins": [{"address": "10.0.0.5"}]})),
            ),
            422,
            "InvalidDomain",
            Some("name"),
        )
        .await;
    }
}
