//! Certificates: every refusal of an upload or a replacement, the CertificateInfo format, the
//! expiry filter and statistics, deploy and replace.

use std::time::Duration;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::certs::{openssl, pem_body_lines, sha256_hex, Alg, TestCa};
use crate::harness::{assert_error, eventually, show, upload_body, Admin};

/// `POST /certificates` with `cert_pem`/`key_pem`, under the name `c1`.
fn upload(cert_pem: &str, key_pem: &str) -> (&'static str, &'static str, Option<Value>) {
    (
        "POST",
        "/certificates",
        Some(upload_body("c1", cert_pem, key_pem)),
    )
}

#[tokio::test]
async fn upload_refuses_unreadable_or_unsupported_pem() {
    let api = Admin::new();
    let ca = TestCa::new("pem CA").unwrap();
    api.upload_cert("existing", &ca.leaf(&["other.pem.test"]).unwrap())
        .await;
    let good = ca.leaf(&["pem.test"]).unwrap();
    let cert_lines: Vec<&str> = good.cert_pem.lines().collect();
    let truncated = format!("{}\n{}\n", cert_lines[0], cert_lines[1]);

    // InvalidPem: cert_pem that is not PEM, or PEM that is not a certificate.
    for (what, cert) in [
        ("plain text", "hello, I am not a certificate".to_owned()),
        ("empty", String::new()),
        (
            "escaped newlines",
            good.cert_pem.trim_end().replace('\n', "\\n"),
        ),
        (
            "bad base64",
            "-----BEGIN CERTIFICATE-----\n@@@ not base64 @@@\n-----END CERTIFICATE-----\n"
                .to_owned(),
        ),
        ("no END line", truncated),
        (
            "not X.509",
            "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n".to_owned(),
        ),
    ] {
        api.rejected(
            &format!("cert_pem {what}"),
            upload(&cert, &good.key_pem),
            422,
            "InvalidPem",
            Some("cert_pem"),
        )
        .await;
    }

    // InvalidPem: key_pem that is not PEM, or PEM that is not a key.
    for (what, key) in [
        ("plain text", "not a key".to_owned()),
        ("empty", String::new()),
        (
            "bad base64",
            "-----BEGIN PRIVATE KEY-----\n@@@\n-----END PRIVATE KEY-----\n".to_owned(),
        ),
        (
            "not PKCS#8",
            "-----BEGIN PRIVATE KEY-----\nAAECAwQFBgcICQ==\n-----END PRIVATE KEY-----\n".to_owned(),
        ),
        ("a certificate", good.cert_pem.clone()),
    ] {
        api.rejected(
            &format!("key_pem {what}"),
            upload(&good.cert_pem, &key),
            422,
            "InvalidPem",
            Some("key_pem"),
        )
        .await;
    }

    // UnsupportedFormat: a PKCS#7 bundle instead of PEM certificates.
    let pkcs7 = openssl(
        &["crl2pkcs7", "-nocrl", "-certfile", "/dev/stdin"],
        &good.cert_pem,
    );
    assert!(pkcs7.contains("-----BEGIN PKCS7-----"), "{pkcs7}");
    api.rejected(
        "PKCS#7 bundle",
        upload(&pkcs7, &good.key_pem),
        422,
        "UnsupportedFormat",
        Some("cert_pem"),
    )
    .await;

    // UnsupportedFormat: DSA and OpenSSH keys by their PEM labels.
    let body_of_key: String = pem_body_lines(&good.key_pem).join("\n");
    for label in ["DSA PRIVATE KEY", "OPENSSH PRIVATE KEY"] {
        let key = format!("-----BEGIN {label}-----\n{body_of_key}\n-----END {label}-----\n");
        api.rejected(
            label,
            upload(&good.cert_pem, &key),
            422,
            "UnsupportedFormat",
            Some("key_pem"),
        )
        .await;
    }

    // UnsupportedFormat: well-formed PKCS#8 keys of kinds the edge cannot serve with.
    let tmp = tempfile::tempdir().unwrap();
    let dsa_params = tmp.path().join("dsa.params");
    let dsa_params = dsa_params.to_str().unwrap();
    openssl(
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DSA",
            "-pkeyopt",
            "dsa_paramgen_bits:1024",
            "-out",
            dsa_params,
        ],
        "",
    );
    let others = [
        ("DSA (PKCS#8)", vec!["genpkey", "-paramfile", dsa_params]),
        ("Ed448", vec!["genpkey", "-algorithm", "ed448"]),
        (
            "secp256k1",
            vec![
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:secp256k1",
            ],
        ),
        (
            "RSA 1024",
            vec![
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:1024",
            ],
        ),
    ];
    for (what, args) in others {
        let key = openssl(&args, "");
        assert!(key.contains("-----BEGIN PRIVATE KEY-----"), "{what}");
        api.rejected(
            what,
            upload(&good.cert_pem, &key),
            422,
            "UnsupportedFormat",
            Some("key_pem"),
        )
        .await;
    }

    // After all that, the good pair uploads.
    let info = api.upload_cert("c1", &good).await;
    assert_eq!(info["name"], "c1");
    assert_eq!(info["fingerprint_sha256"], sha256_hex(&good.der));
}

#[tokio::test]
async fn upload_refuses_wrong_encrypted_or_out_of_date_pairs() {
    let api = Admin::new();
    let ca = TestCa::new("pair CA").unwrap();
    api.upload_cert("existing", &ca.leaf(&["other.pair.test"]).unwrap())
        .await;
    let good = ca.leaf(&["pair.test"]).unwrap();
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);

    // KeyMismatch: the key of another certificate, of the same and of another algorithm.
    let other_ec = ca.leaf(&["pair.test"]).unwrap();
    let other_rsa = ca.leaf_with(&["pair.test"], Alg::Rsa2048, |_| {}).unwrap();
    for (what, key) in [("EC", &other_ec.key_pem), ("RSA", &other_rsa.key_pem)] {
        api.rejected(
            &format!("{what} key of another certificate"),
            upload(&good.cert_pem, key),
            422,
            "KeyMismatch",
            Some("key_pem"),
        )
        .await;
    }

    // EncryptedKey: a PKCS#8 key encrypted with a passphrase, and a traditional one.
    let enc = openssl(
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:x",
        ],
        &good.key_pem,
    );
    assert!(enc.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    api.rejected(
        "PKCS#8 encrypted key",
        upload(&good.cert_pem, &enc),
        422,
        "EncryptedKey",
        Some("key_pem"),
    )
    .await;
    let traditional = format!(
        "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n{}\n-----END EC PRIVATE KEY-----\n",
        pem_body_lines(&good.key_pem).join("\n")
    );
    api.rejected(
        "traditional encrypted key",
        upload(&good.cert_pem, &traditional),
        422,
        "EncryptedKey",
        Some("key_pem"),
    )
    .await;

    // CertificateExpired / CertificateNotYetValid.
    let expired = ca
        .leaf_with(&["pair.test"], Alg::EcdsaP256, |p| {
            (p.not_before, p.not_after) = (now - 90 * day, now - day);
        })
        .unwrap();
    api.rejected(
        "expired leaf",
        upload(&expired.cert_pem, &expired.key_pem),
        422,
        "CertificateExpired",
        Some("cert_pem"),
    )
    .await;
    let future = ca
        .leaf_with(&["pair.test"], Alg::EcdsaP256, |p| {
            (p.not_before, p.not_after) = (now + day, now + 90 * day);
        })
        .unwrap();
    api.rejected(
        "leaf valid from tomorrow",
        upload(&future.cert_pem, &future.key_pem),
        422,
        "CertificateNotYetValid",
        Some("cert_pem"),
    )
    .await;

    // The same checks guard a replacement.
    api.rejected(
        "replace with an expired leaf",
        (
            "PUT",
            "/certificates/existing",
            Some(json!({"cert_pem": expired.cert_pem, "key_pem": expired.key_pem})),
        ),
        422,
        "CertificateExpired",
        Some("cert_pem"),
    )
    .await;
    api.rejected(
        "replace with a mismatched key",
        (
            "PUT",
            "/certificates/existing",
            Some(json!({"cert_pem": good.cert_pem, "key_pem": other_ec.key_pem})),
        ),
        422,
        "KeyMismatch",
        Some("key_pem"),
    )
    .await;

    api.upload_cert("c1", &good).await;
}

/// An RFC 3339 field of a JSON object as a time.
fn time_of(v: &Value, key: &str) -> OffsetDateTime {
    let t = v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string: {v}"));
    OffsetDateTime::parse(t, &Rfc3339)
        .unwrap_or_else(|e| panic!("{key} {t:?} is not RFC 3339: {e}"))
}

#[tokio::test]
async fn certificate_info_format() {
    let api = Admin::new();
    let ca = TestCa::new("info root").unwrap();
    let inter = ca.intermediate("info intermediate").unwrap();
    // Whole seconds: X.509 times carry no fractions.
    let not_before =
        OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::days(2);
    let not_after = not_before + time::Duration::days(100);
    // A serial whose first byte has its high bit set (DER adds a 0x00 that must not show) and
    // hex letters (which must be upper case).
    let ec = inter
        .leaf_with(&["info.test", "*.info.test"], Alg::EcdsaP256, |p| {
            p.serial_number = Some(rcgen::SerialNumber::from_slice(&[
                0x8f, 0xab, 0x01, 0xcd, 0xef,
            ]));
            (p.not_before, p.not_after) = (not_before, not_after);
        })
        .unwrap();
    let rsa = ca
        .leaf_with_serial(&["rsa.info.test"], Alg::Rsa2048, &[0x7a, 0x00, 0x3c])
        .unwrap();
    let chain = format!("{}{}", ec.cert_pem, inter.cert_pem);
    let (s, up) = api
        .call(
            "POST",
            "/certificates",
            Some(upload_body("ec-chain", &chain, &ec.key_pem)),
        )
        .await;
    assert_eq!(s, 201, "{}", show(&up));
    let rsa_info = api.upload_cert("rsa", &rsa).await;

    let keys = [
        "name",
        "subject",
        "issuer",
        "sans",
        "not_before",
        "not_after",
        "serial",
        "fingerprint_sha256",
        "key_type",
        "chain_length",
        "status",
        "domains",
        "warnings",
    ];
    for info in [&up, &rsa_info] {
        for k in keys {
            assert!(info.get(k).is_some(), "CertificateInfo lacks {k:?}: {info}");
        }
        let fp = info["fingerprint_sha256"].as_str().unwrap();
        assert_eq!(fp.len(), 64, "{fp}");
        assert!(
            fp.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "fingerprint is not lowercase hex: {fp}"
        );
        assert!(info["warnings"].is_array(), "{info}");
        assert_eq!(info["status"], "valid");
        time_of(info, "not_before");
        time_of(info, "not_after");
    }

    assert_eq!(up["name"], "ec-chain");
    assert_eq!(up["serial"], "8FAB01CDEF");
    assert_eq!(up["fingerprint_sha256"], sha256_hex(&ec.der));
    assert_eq!(up["key_type"], "ecdsa-p256");
    assert_eq!(up["chain_length"], 2);
    assert_eq!(up["sans"], json!(["info.test", "*.info.test"]));
    assert!(
        up["subject"].as_str().unwrap().contains("info.test"),
        "{up}"
    );
    assert!(
        up["issuer"].as_str().unwrap().contains("info intermediate"),
        "{up}"
    );
    assert_eq!(up["domains"], json!([]));
    assert_eq!(time_of(&up, "not_before"), not_before);
    assert_eq!(time_of(&up, "not_after"), not_after);

    assert_eq!(rsa_info["serial"], "7A003C");
    assert_eq!(rsa_info["fingerprint_sha256"], sha256_hex(&rsa.der));
    assert_eq!(rsa_info["key_type"], "rsa-2048");
    assert_eq!(rsa_info["chain_length"], 1);
    assert_eq!(rsa_info["sans"], json!(["rsa.info.test"]));
    assert!(
        rsa_info["issuer"].as_str().unwrap().contains("info root"),
        "{rsa_info}"
    );

    // GET answers the same, and lists the domains that serve it once there are some.
    let shown = api.ok("GET", "/certificates/ec-chain", None).await;
    assert_eq!(shown, up);
    api.add_domain("info.test").await;
    api.add_domain("www.info.test").await;
    api.enable_https("www.info.test", "ec-chain").await;
    api.enable_https("info.test", "ec-chain").await;
    let shown = api.ok("GET", "/certificates/ec-chain", None).await;
    let mut domains: Vec<String> = serde_json::from_value(shown["domains"].clone()).unwrap();
    domains.sort();
    assert_eq!(domains, ["info.test", "www.info.test"]);
    let listed = api.ok("GET", "/certificates", None).await;
    let listed = listed["certificates"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let listed_ec = listed.iter().find(|c| c["name"] == "ec-chain").unwrap();
    assert_eq!(listed_ec, &shown);
}

/// The sorted names of a `{"certificates": […]}` answer.
fn names(v: Value) -> Vec<String> {
    let mut n: Vec<String> = v["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    n.sort();
    n
}

fn warns_of_expiry(info: &Value) -> bool {
    info["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("30 days"))
}

#[tokio::test]
async fn expiring_filter_and_stats() {
    let api = Admin::new();
    let ca = TestCa::new("expiry CA").unwrap();
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let valid_until = |end: OffsetDateTime| {
        move |p: &mut rcgen::CertificateParams| (p.not_before, p.not_after) = (now - day, end)
    };
    let soon = ca
        .leaf_with(&["soon.test"], Alg::EcdsaP256, valid_until(now + 10 * day))
        .unwrap();
    let later = ca
        .leaf_with(&["later.test"], Alg::EcdsaP256, valid_until(now + 90 * day))
        .unwrap();
    let soon_info = api.upload_cert("soon", &soon).await;
    let later_info = api.upload_cert("later", &later).await;
    assert!(
        warns_of_expiry(&soon_info),
        "a certificate expiring in 10 days carries a warning: {soon_info}"
    );
    assert!(!warns_of_expiry(&later_info), "{later_info}");

    assert_eq!(
        names(api.ok("GET", "/certificates", None).await),
        ["later", "soon"]
    );
    for (days, expected) in [
        (30, vec!["soon"]),
        (9, vec![]),
        (11, vec!["soon"]),
        (89, vec!["soon"]),
        (91, vec!["later", "soon"]),
        (0, vec![]),
    ] {
        let path = format!("/certificates?expiring_within_days={days}");
        assert_eq!(names(api.ok("GET", &path, None).await), expected, "{path}");
    }
    for (query, expiring) in [
        ("?within_days=30", 1),
        ("", 1),
        ("?within_days=5", 0),
        ("?within_days=100", 2),
    ] {
        let s = api
            .ok("GET", &format!("/stats/certificates{query}"), None)
            .await;
        assert_eq!(
            s,
            json!({"total": 2, "expired": 0, "expiring": expiring}),
            "stats{query}"
        );
    }

    // A certificate that expires while the API runs counts as expired, not expiring, from its
    // not_after on (not before), and leaves the expiry filter. Valid for 2 s: X.509 drops the
    // fraction, which leaves at least 1 s to upload it.
    let brief = ca
        .leaf_with(
            &["brief.test"],
            Alg::EcdsaP256,
            valid_until(OffsetDateTime::now_utc() + time::Duration::seconds(2)),
        )
        .unwrap();
    let info = api.upload_cert("brief", &brief).await;
    let expires = time_of(&info, "not_after");
    eventually(Duration::from_secs(10), "brief expires", || async {
        let c = api.ok("GET", "/certificates/brief", None).await;
        let seen_at = OffsetDateTime::now_utc();
        if c["status"] == "expired" {
            assert!(
                seen_at >= expires,
                "expired at {seen_at}, before its not_after {expires}"
            );
            return Some(());
        }
        assert_eq!(c["status"], "valid", "{c}");
        None
    })
    .await;
    let s = api
        .ok("GET", "/stats/certificates?within_days=30", None)
        .await;
    assert_eq!(s, json!({"total": 3, "expired": 1, "expiring": 1}));
    assert_eq!(
        names(
            api.ok("GET", "/certificates?expiring_within_days=30", None)
                .await
        ),
        ["soon"]
    );
    // A bad query value is a bad request, not a silent default.
    for (path, field) in [
        (
            "/certificates?expiring_within_days=soon",
            "expiring_within_days",
        ),
        (
            "/certificates?expiring_within_days=-1",
            "expiring_within_days",
        ),
        ("/stats/certificates?within_days=x", "within_days"),
    ] {
        let got = api.call("GET", path, None).await;
        assert_error(path, &got, 400, "InvalidRequest", Some(field));
    }
}

/// Issue 13 kind 9: a day count from a request is bounded (0..=3650, as the OpenAPI document
/// says) and checked: a value that would overflow a date is 400 naming the parameter, never a
/// panic and a dropped connection.
#[tokio::test]
async fn day_windows_are_bounded_and_named() {
    let api = Admin::new();
    for (path, field) in [
        ("/stats/certificates?within_days=3000000", "within_days"),
        ("/stats/certificates?within_days=3651", "within_days"),
        (
            "/stats/certificates?within_days=99999999999999999999",
            "within_days",
        ),
        ("/stats/certificates?within_days=-1", "within_days"),
        (
            "/certificates?expiring_within_days=3000000",
            "expiring_within_days",
        ),
        (
            "/certificates?expiring_within_days=4294967295",
            "expiring_within_days",
        ),
        (
            "/certificates?expiring_within_days=soon",
            "expiring_within_days",
        ),
    ] {
        let got = api.call("GET", path, None).await;
        assert_error(path, &got, 400, "InvalidRequest", Some(field));
    }
    // The bound itself and zero are answered.
    for path in [
        "/stats/certificates?within_days=3650",
        "/stats/certificates?within_days=0",
        "/certificates?expiring_within_days=3650",
    ] {
        let (status, _) = api.call("GET", path, None).await;
        assert_eq!(status, 200, "{path}");
    }
    // The document states the bound the server enforces.
    let doc = api.ok("GET", "/openapi.json", None).await;
    for (path, name) in [
        ("/api/v1/stats/certificates", "within_days"),
        ("/api/v1/certificates", "expiring_within_days"),
    ] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let p = params.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(
            p["schema"]["maximum"],
            tlsedge_api::MAX_WINDOW_DAYS,
            "{path} {name}: {p}"
        );
        assert_eq!(p["schema"]["minimum"], 0, "{path} {name}: {p}");
    }
}

/// The sorted strings of a JSON array.
fn sorted(v: &Value) -> Vec<String> {
    let mut d: Vec<String> = serde_json::from_value(v.clone()).unwrap();
    d.sort();
    d
}

#[tokio::test]
async fn deploy_to_three_domains_then_replace() {
    let api = Admin::new();
    let ca = TestCa::new("deploy CA").unwrap();
    let names = ["a.multi.test", "b.multi.test", "c.multi.test"];
    let first = ca.leaf(&names).unwrap();
    api.upload_cert("multi", &first).await;
    for d in names {
        api.add_domain(d).await;
    }
    let rev = api.revision();
    let v = api
        .ok(
            "POST",
            "/certificates/multi/deploy",
            Some(json!({"domains": ["c.multi.test", "a.multi.test", "b.multi.test"]})),
        )
        .await;
    assert_eq!(sorted(&v["domains"]), names);
    assert_eq!(api.revision(), rev + 1, "a deploy is one atomic change");
    for d in names {
        let h = api.ok("GET", &format!("/domains/{d}/https"), None).await;
        assert_eq!(h["enabled"], true, "{d}: {h}");
        assert_eq!(h["certificate"], "multi", "{d}: {h}");
        assert_eq!(
            h["certificate_info"]["fingerprint_sha256"],
            sha256_hex(&first.der)
        );
    }
    let v = api.ok("GET", "/certificates/multi/domains", None).await;
    assert_eq!(sorted(&v["domains"]), names);

    // A replacement that no longer covers c.multi.test is refused; nothing changes.
    let narrower = ca.leaf(&["a.multi.test", "b.multi.test"]).unwrap();
    let err = api
        .rejected(
            "replace with a certificate that drops a served name",
            (
                "PUT",
                "/certificates/multi",
                Some(json!({"cert_pem": narrower.cert_pem, "key_pem": narrower.key_pem})),
            ),
            422,
            "DomainNotCovered",
            Some("cert_pem"),
        )
        .await;
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("c.multi.test"),
        "{err}"
    );
    let shown = api.ok("GET", "/certificates/multi", None).await;
    assert_eq!(shown["fingerprint_sha256"], sha256_hex(&first.der));

    // A replacement that covers them all is what every domain bound to it now has.
    let wider = ca.leaf(&["*.multi.test"]).unwrap();
    let rev = api.revision();
    let v = api
        .ok(
            "PUT",
            "/certificates/multi",
            Some(json!({"cert_pem": wider.cert_pem, "key_pem": wider.key_pem})),
        )
        .await;
    assert_eq!(api.revision(), rev + 1, "a replacement is one change");
    assert_eq!(v["fingerprint_sha256"], sha256_hex(&wider.der));
    assert_eq!(v["sans"], json!(["*.multi.test"]));
    assert_eq!(sorted(&v["domains"]), names);
    for d in names {
        let h = api.ok("GET", &format!("/domains/{d}/https"), None).await;
        assert_eq!(
            h["certificate_info"]["fingerprint_sha256"],
            sha256_hex(&wider.der),
            "{d}: {h}"
        );
    }
}
