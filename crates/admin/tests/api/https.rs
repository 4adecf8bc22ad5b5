//! A domain's HTTPS settings: what needs HTTPS on, and certificates private to one domain.

use serde_json::{json, Value};

use crate::certs::{sha256_hex, TestCa};
use crate::harness::{show, Admin};

#[tokio::test]
async fn disabling_https_is_refused_while_something_needs_it() {
    let api = Admin::new();
    let ca = TestCa::new("dependency CA").unwrap();
    api.upload_cert("a", &ca.leaf(&["a.rules.test"]).unwrap())
        .await;
    api.add_domain("a.rules.test").await;
    api.enable_https("a.rules.test", "a").await;

    // HttpsDependency: a redirect to HTTPS, deny_http, or HSTS needs HTTPS on.
    for (what, setting) in [
        (
            "http_to_https",
            json!({"force_redirect": "http_to_https", "redirect_status": 308}),
        ),
        ("deny_http", json!({"force_redirect": "deny_http"})),
        (
            "HSTS",
            json!({"force_redirect": "off", "hsts": {"enabled": true, "max_age": 600}}),
        ),
    ] {
        api.ok("PUT", "/domains/a.rules.test/https", Some(setting))
            .await;
        api.rejected(
            &format!("disable HTTPS while {what} is on"),
            (
                "PUT",
                "/domains/a.rules.test/https",
                Some(json!({"enabled": false})),
            ),
            409,
            "HttpsDependency",
            Some("enabled"),
        )
        .await;
    }
    // The same rule holds when the whole domain is replaced.
    let mut cfg = api.ok("GET", "/domains/a.rules.test", None).await;
    cfg["https"]["enabled"] = json!(false);
    api.rejected(
        "replace the domain with HTTPS off and HSTS on",
        ("PUT", "/domains/a.rules.test", Some(cfg)),
        409,
        "HttpsDependency",
        Some("enabled"),
    )
    .await;

    // Turning HSTS off along with HTTPS works; so does turning the redirect off along with it.
    let h = api
        .ok(
            "PUT",
            "/domains/a.rules.test/https",
            Some(json!({"enabled": false, "hsts": {"enabled": false}})),
        )
        .await;
    assert_eq!(h["enabled"], false, "{h}");
    assert_eq!(h["hsts"]["enabled"], false, "{h}");
    api.ok(
        "PUT",
        "/domains/a.rules.test/https",
        Some(json!({"enabled": true})),
    )
    .await;
    api.ok(
        "PUT",
        "/domains/a.rules.test/https",
        Some(json!({"force_redirect": "http_to_https"})),
    )
    .await;
    let h = api
        .ok(
            "PUT",
            "/domains/a.rules.test/https",
            Some(json!({"enabled": false, "force_redirect": "off"})),
        )
        .await;
    assert_eq!(h["enabled"], false, "{h}");
    assert_eq!(h["force_redirect"], "off", "{h}");
}

/// Whether `GET /certificates` lists `name`.
async fn listed(api: &Admin, name: &str) -> bool {
    let v = api.ok("GET", "/certificates", None).await;
    v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == name)
}

#[tokio::test]
async fn private_certificate_lives_and_dies_with_https() {
    let api = Admin::new();
    let ca = TestCa::new("private CA").unwrap();
    let d = "p.private.test";
    api.add_domain(d).await;
    api.add_domain("q.private.test").await;
    let leaf = ca.leaf(&[d, "q.private.test"]).unwrap();

    let v = api
        .ok(
            "PUT",
            &format!("/domains/{d}/https"),
            Some(json!({"enabled": true, "certificate": null, "cert_pem": leaf.cert_pem, "key_pem": leaf.key_pem})),
        )
        .await;
    assert_eq!(v["enabled"], true, "{}", show(&v));
    let cert_name = v["certificate"]
        .as_str()
        .unwrap_or_else(|| panic!("no certificate named: {}", show(&v)))
        .to_owned();
    let h = api.ok("GET", &format!("/domains/{d}/https"), None).await;
    assert_eq!(h["certificate"], cert_name.as_str());
    let info = &h["certificate_info"];
    assert_eq!(info["fingerprint_sha256"], sha256_hex(&leaf.der), "{h}");
    assert_eq!(info["name"], cert_name.as_str());
    assert_eq!(info["domains"], json!([d]));
    assert!(
        listed(&api, &cert_name).await,
        "the private certificate is listed"
    );

    // It belongs to its domain: no other domain may use it.
    api.rejected(
        "another domain uses the private certificate",
        (
            "PUT",
            "/domains/q.private.test/https",
            Some(json!({"enabled": true, "certificate": cert_name})),
        ),
        400,
        "InvalidRequest",
        Some("certificate"),
    )
    .await;
    api.rejected(
        "deploy the private certificate",
        (
            "POST",
            &format!("/certificates/{cert_name}/deploy"),
            Some(json!({"domains": ["q.private.test"]})),
        ),
        400,
        "InvalidRequest",
        None,
    )
    .await;

    // A refused private upload changes nothing (the current one stays).
    let stranger = ca.leaf(&[d]).unwrap();
    api.rejected(
        "private upload with a mismatched key",
        (
            "PUT",
            &format!("/domains/{d}/https"),
            Some(json!({"cert_pem": leaf.cert_pem, "key_pem": stranger.key_pem})),
        ),
        422,
        "KeyMismatch",
        Some("key_pem"),
    )
    .await;
    api.rejected(
        "private upload with a key that is not PEM",
        (
            "PUT",
            "/domains/q.private.test/https",
            Some(json!({"enabled": true, "cert_pem": ca.leaf(&["x.private.test"]).unwrap().cert_pem, "key_pem": "-"})),
        ),
        422,
        "InvalidPem",
        Some("key_pem"),
    )
    .await;
    let elsewhere = ca.leaf(&["x.private.test"]).unwrap();
    api.rejected(
        "private certificate that does not cover the domain",
        (
            "PUT",
            "/domains/q.private.test/https",
            Some(
                json!({"enabled": true, "cert_pem": elsewhere.cert_pem, "key_pem": elsewhere.key_pem}),
            ),
        ),
        422,
        "DomainNotCovered",
        Some("certificate"),
    )
    .await;

    // Deleting a domain deletes its private certificate too.
    let q = ca.leaf(&["q.private.test"]).unwrap();
    let v = api
        .ok(
            "PUT",
            "/domains/q.private.test/https",
            Some(json!({"cert_pem": q.cert_pem, "key_pem": q.key_pem})),
        )
        .await;
    assert_eq!(
        v["enabled"],
        true,
        "a private upload enables HTTPS: {}",
        show(&v)
    );
    let q_cert = v["certificate"].as_str().unwrap().to_owned();
    assert_ne!(q_cert, cert_name);
    let q_info = api
        .ok("GET", &format!("/certificates/{q_cert}"), None)
        .await;
    assert_eq!(q_info["fingerprint_sha256"], sha256_hex(&q.der));
    let (s, _) = api.call("DELETE", "/domains/q.private.test", None).await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call("GET", &format!("/certificates/{q_cert}"), None)
        .await;
    assert_eq!(s, 404, "the private certificate outlived its domain");

    // Disabling HTTPS deletes it, key included.
    let v = api
        .ok(
            "PUT",
            &format!("/domains/{d}/https"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(v["enabled"], false);
    assert!(
        !listed(&api, &cert_name).await,
        "the private certificate outlived its domain's HTTPS"
    );
    let (s, _) = api
        .call("GET", &format!("/certificates/{cert_name}"), None)
        .await;
    assert_eq!(s, 404);
    let h = api.ok("GET", &format!("/domains/{d}/https"), None).await;
    assert_eq!(h["certificate_info"], Value::Null, "{h}");
}

#[tokio::test]
async fn https_settings_change_only_what_is_sent() {
    let api = Admin::new();
    api.add_domain("s.test").await;
    // The contract's HttpsConfig, with its defaults, plus `certificate_info`.
    let mut expected = json!({
        "enabled": false,
        "certificate": null,
        "force_redirect": "off",
        "redirect_status": 301,
        "hsts": {"enabled": false, "max_age": 5184000, "include_subdomains": false, "preload": false},
        "http2": true,
        "tls_versions": ["1.2", "1.3"],
        "certificate_info": null
    });
    assert_eq!(api.ok("GET", "/domains/s.test/https", None).await, expected);

    let changes = [
        json!({"redirect_status": 302}),
        json!({"redirect_status": 307}),
        json!({"redirect_status": 308}),
        json!({"http2": false, "tls_versions": ["1.3"]}),
        json!({"hsts": {"max_age": 600}}),
        json!({"hsts": {"include_subdomains": true, "preload": true}}),
        json!({"force_redirect": "https_to_http"}),
        json!({"redirect_status": 301, "tls_versions": ["1.2"]}),
    ];
    for change in changes {
        for (k, v) in change.as_object().unwrap() {
            match v.as_object() {
                // Fields of `hsts` merge one by one.
                Some(fields) => {
                    for (f, fv) in fields {
                        expected[k][f] = fv.clone();
                    }
                }
                None => expected[k] = v.clone(),
            }
        }
        let rev = api.revision();
        let got = api
            .ok("PUT", "/domains/s.test/https", Some(change.clone()))
            .await;
        assert_eq!(got, expected, "after {change}");
        assert_eq!(api.revision(), rev + 1, "{change} is one change");
        assert_eq!(
            api.ok("GET", "/domains/s.test/https", None).await,
            expected,
            "GET after {change}"
        );
    }

    // What needs HTTPS on cannot be turned on while it is off.
    for (what, change) in [
        ("HSTS", json!({"hsts": {"enabled": true}})),
        ("http_to_https", json!({"force_redirect": "http_to_https"})),
        ("deny_http", json!({"force_redirect": "deny_http"})),
    ] {
        api.rejected(
            &format!("{what} on while HTTPS is off"),
            ("PUT", "/domains/s.test/https", Some(change)),
            409,
            "HttpsDependency",
            Some("enabled"),
        )
        .await;
    }
    api.rejected(
        "no TLS version",
        (
            "PUT",
            "/domains/s.test/https",
            Some(json!({"tls_versions": []})),
        ),
        400,
        "InvalidRequest",
        Some("tls_versions"),
    )
    .await;
}
