//! The admin API against the contract (`shared/spec/api.md`), end to end on a real node: every
//! error code with its status and body shape, rejected writes that change nothing, no key
//! material in any answer, log or database file, the CertificateInfo format, expiry filters and
//! statistics, deploy/replace, certificates private to a domain, the unauthenticated endpoints,
//! and concurrent writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------------
// Helpers

/// An origin address for domains whose traffic these tests never proxy.
fn nowhere() -> SocketAddr {
    "127.0.0.1:9".parse().unwrap()
}

/// A JSON value for an assertion message, withheld when it holds a long base64 run (it could be
/// key material, which must never be printed).
fn show(v: &Value) -> String {
    let text = v.to_string();
    show_text(&text)
}

fn show_text(text: &str) -> String {
    let mut run = 0usize;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '+' || c == '/' {
            run += 1;
            if run >= 40 {
                return format!(
                    "<{} bytes withheld: they hold a long base64 run>",
                    text.len()
                );
            }
        } else {
            run = 0;
        }
    }
    text.to_owned()
}

/// Asserts the contract's error answer: `status`, and a body that is exactly
/// `{"error": {"code", "message", "field"?}}` with `code`, a non-empty message and, when given,
/// `field`.
fn assert_error(what: &str, got: &(u16, Value), status: u16, code: &str, field: Option<&str>) {
    let (got_status, body) = got;
    let shown = show(body);
    assert_eq!(*got_status, status, "{what}: status (body {shown})");
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("{what}: the body is not a JSON object: {shown}"));
    assert_eq!(
        obj.keys().map(String::as_str).collect::<Vec<_>>(),
        ["error"],
        "{what}: the body must hold only \"error\": {shown}"
    );
    let err = obj["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: \"error\" is not an object: {shown}"));
    for k in err.keys() {
        assert!(
            ["code", "message", "field"].contains(&k.as_str()),
            "{what}: unexpected key {k:?} in the error: {shown}"
        );
    }
    assert_eq!(
        err.get("code"),
        Some(&json!(code)),
        "{what}: code ({shown})"
    );
    let message = err.get("message").and_then(Value::as_str).unwrap_or("");
    assert!(
        !message.trim().is_empty(),
        "{what}: empty message ({shown})"
    );
    match field {
        Some(f) => assert_eq!(
            err.get("field").and_then(Value::as_str),
            Some(f),
            "{what}: field ({shown})"
        ),
        None => assert!(
            err.get("field").is_none_or(Value::is_string),
            "{what}: field is not a string ({shown})"
        ),
    }
}

/// What a rejected write must leave alone: the store's revision and every object.
async fn snapshot(api: &Api) -> Value {
    let nodes = api.ok("GET", "/nodes", None).await;
    json!({
        "revision": nodes["revision"],
        "certificates": api.ok("GET", "/certificates", None).await,
        "domains": api.ok("GET", "/domains", None).await,
    })
}

async fn revision(api: &Api) -> u64 {
    let v = api.ok("GET", "/nodes", None).await;
    v["revision"]
        .as_u64()
        .unwrap_or_else(|| panic!("no revision in GET /nodes: {v}"))
}

/// Sends a write that must be refused with `status`/`code`/`field`, and checks that the store
/// (revision and objects) is what it was before. Returns the error body.
#[allow(clippy::too_many_arguments)]
async fn rejected(
    api: &Api,
    what: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
    code: &str,
    field: Option<&str>,
) -> Value {
    let before = snapshot(api).await;
    let got = api.call(method, path, body).await;
    assert_error(
        &format!("{what} ({method} {path})"),
        &got,
        status,
        code,
        field,
    );
    let after = snapshot(api).await;
    assert!(
        before == after,
        "{what}: refused with {code}, yet the store changed\nbefore: {}\nafter:  {}",
        show(&before),
        show(&after)
    );
    got.1
}

/// One request with full control over the token and the body bytes.
async fn raw(
    node: &Node,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, String, reqwest::header::HeaderMap) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = reqwest::Client::new().request(m, format!("http://{}{path}", node.admin));
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    if let Some(b) = body {
        r = r.header("content-type", "application/json").body(b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.text().await.unwrap(), headers)
}

fn parse_body(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()))
}

/// Runs `openssl ARGS` with `input` on stdin and returns its stdout, or `None` (with a note)
/// when openssl is not installed.
fn openssl(args: &[&str], input: &str) -> Option<String> {
    use std::io::Write;
    let mut child = match Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("note: openssl is not installed; skipping `openssl {args:?}` cases");
            return None;
        }
        Err(e) => panic!("cannot run openssl: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

fn upload_body(name: &str, cert_pem: &str, key_pem: &str) -> Value {
    json!({"name": name, "cert_pem": cert_pem, "key_pem": key_pem})
}

/// Polls until a handshake for `sni` presents `der` as the leaf.
async fn served(node: &Node, sni: &str, ca_pem: &str, der: &[u8]) {
    eventually(
        Duration::from_secs(5),
        &format!("{sni} serves the expected certificate"),
        || async {
            let h = handshake(node.https, Some(sni), ca_pem, BOTH, &[])
                .await
                .ok()?;
            (h.leaf_der == der).then_some(())
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// 1. Every error code of the upload path and of the domain rules

#[tokio::test]
async fn upload_refuses_unreadable_or_unsupported_pem() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("pem CA");
    api.upload_cert("existing", &ca.leaf(&["other.pem.test"]))
        .await;
    let good = ca.leaf(&["pem.test"]);
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
        rejected(
            &api,
            &format!("cert_pem {what}"),
            "POST",
            "/certificates",
            Some(upload_body("c1", &cert, &good.key_pem)),
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
        rejected(
            &api,
            &format!("key_pem {what}"),
            "POST",
            "/certificates",
            Some(upload_body("c1", &good.cert_pem, &key)),
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
    )
    .unwrap_or_else(|| good.cert_pem.replace("CERTIFICATE", "PKCS7"));
    assert!(pkcs7.contains("-----BEGIN PKCS7-----"));
    rejected(
        &api,
        "PKCS#7 bundle",
        "POST",
        "/certificates",
        Some(upload_body("c1", &pkcs7, &good.key_pem)),
        422,
        "UnsupportedFormat",
        Some("cert_pem"),
    )
    .await;

    // UnsupportedFormat: DSA and OpenSSH keys by their PEM labels.
    let body_of_key: String = pem_body_lines(&good.key_pem).join("\n");
    for label in ["DSA PRIVATE KEY", "OPENSSH PRIVATE KEY"] {
        let key = format!("-----BEGIN {label}-----\n{body_of_key}\n-----END {label}-----\n");
        rejected(
            &api,
            label,
            "POST",
            "/certificates",
            Some(upload_body("c1", &good.cert_pem, &key)),
            422,
            "UnsupportedFormat",
            Some("key_pem"),
        )
        .await;
    }

    // UnsupportedFormat: well-formed PKCS#8 keys of kinds the edge cannot serve with.
    let tmp = tempfile::tempdir().unwrap();
    let dsa_params = tmp.path().join("dsa.params");
    let dsa = openssl(
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DSA",
            "-pkeyopt",
            "dsa_paramgen_bits:1024",
            "-out",
            dsa_params.to_str().unwrap(),
        ],
        "",
    )
    .and_then(|_| openssl(&["genpkey", "-paramfile", dsa_params.to_str().unwrap()], ""));
    let others = [
        ("DSA (PKCS#8)", dsa),
        ("Ed448", openssl(&["genpkey", "-algorithm", "ed448"], "")),
        (
            "secp256k1",
            openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:secp256k1",
                ],
                "",
            ),
        ),
        (
            "RSA 1024",
            openssl(
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:1024",
                ],
                "",
            ),
        ),
    ];
    for (what, key) in others {
        let Some(key) = key else { continue };
        assert!(key.contains("-----BEGIN PRIVATE KEY-----"), "{what}");
        rejected(
            &api,
            what,
            "POST",
            "/certificates",
            Some(upload_body("c1", &good.cert_pem, &key)),
            422,
            "UnsupportedFormat",
            Some("key_pem"),
        )
        .await;
    }

    // After all that, the good pair uploads.
    let info = api.upload_cert("c1", &good).await;
    assert_eq!(info["name"], "c1");
}

#[tokio::test]
async fn upload_refuses_wrong_encrypted_or_out_of_date_pairs() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("pair CA");
    api.upload_cert("existing", &ca.leaf(&["other.pair.test"]))
        .await;
    let good = ca.leaf(&["pair.test"]);
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);

    // KeyMismatch: the key of another certificate, of the same and of another algorithm.
    let other_ec = ca.leaf(&["pair.test"]);
    let other_rsa = ca.leaf_with(&["pair.test"], Alg::Rsa2048, None);
    for (what, key) in [("EC", &other_ec.key_pem), ("RSA", &other_rsa.key_pem)] {
        rejected(
            &api,
            &format!("{what} key of another certificate"),
            "POST",
            "/certificates",
            Some(upload_body("c1", &good.cert_pem, key)),
            422,
            "KeyMismatch",
            Some("key_pem"),
        )
        .await;
    }

    // EncryptedKey: a PKCS#8 key encrypted with a passphrase, and a traditional one.
    if let Some(enc) = openssl(
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-passout",
            "pass:x",
        ],
        &good.key_pem,
    ) {
        assert!(enc.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        rejected(
            &api,
            "PKCS#8 encrypted key",
            "POST",
            "/certificates",
            Some(upload_body("c1", &good.cert_pem, &enc)),
            422,
            "EncryptedKey",
            Some("key_pem"),
        )
        .await;
    }
    let traditional = format!(
        "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n{}\n-----END EC PRIVATE KEY-----\n",
        pem_body_lines(&good.key_pem).join("\n")
    );
    rejected(
        &api,
        "traditional encrypted key",
        "POST",
        "/certificates",
        Some(upload_body("c1", &good.cert_pem, &traditional)),
        422,
        "EncryptedKey",
        Some("key_pem"),
    )
    .await;

    // CertificateExpired / CertificateNotYetValid.
    let expired = ca.leaf_with(
        &["pair.test"],
        Alg::EcdsaP256,
        Some((now - 90 * day, now - day)),
    );
    rejected(
        &api,
        "expired leaf",
        "POST",
        "/certificates",
        Some(upload_body("c1", &expired.cert_pem, &expired.key_pem)),
        422,
        "CertificateExpired",
        Some("cert_pem"),
    )
    .await;
    let future = ca.leaf_with(
        &["pair.test"],
        Alg::EcdsaP256,
        Some((now + day, now + 90 * day)),
    );
    rejected(
        &api,
        "leaf valid from tomorrow",
        "POST",
        "/certificates",
        Some(upload_body("c1", &future.cert_pem, &future.key_pem)),
        422,
        "CertificateNotYetValid",
        Some("cert_pem"),
    )
    .await;

    // The same checks guard a replacement.
    rejected(
        &api,
        "replace with an expired leaf",
        "PUT",
        "/certificates/existing",
        Some(json!({"cert_pem": expired.cert_pem, "key_pem": expired.key_pem})),
        422,
        "CertificateExpired",
        Some("cert_pem"),
    )
    .await;
    rejected(
        &api,
        "replace with a mismatched key",
        "PUT",
        "/certificates/existing",
        Some(json!({"cert_pem": good.cert_pem, "key_pem": other_ec.key_pem})),
        422,
        "KeyMismatch",
        Some("key_pem"),
    )
    .await;

    api.upload_cert("c1", &good).await;
}

#[tokio::test]
async fn domain_rules_refuse_and_change_nothing() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("rules CA");
    let ac = ca.leaf(&["a.rules.test", "c.rules.test"]);
    api.upload_cert("ac", &ac).await;
    for d in ["a.rules.test", "b.rules.test", "c.rules.test"] {
        api.add_domain(d, nowhere()).await;
    }

    // DomainNotCovered: one domain, and a deploy to several where one is not covered.
    rejected(
        &api,
        "enable HTTPS with a certificate that does not cover the name",
        "PUT",
        "/domains/b.rules.test/https",
        Some(json!({"enabled": true, "certificate": "ac"})),
        422,
        "DomainNotCovered",
        Some("certificate"),
    )
    .await;
    let err = rejected(
        &api,
        "deploy to three domains, one not covered",
        "POST",
        "/certificates/ac/deploy",
        Some(json!({"domains": ["a.rules.test", "b.rules.test", "c.rules.test"]})),
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

    // InvalidDomain.
    for bad in ["a..b", "*.*.x.test", "-a.test", "a_b.test", "x.test:8080"] {
        rejected(
            &api,
            &format!("domain name {bad:?}"),
            "POST",
            "/domains",
            Some(json!({"name": bad, "origins": [{"address": "127.0.0.1"}]})),
            422,
            "InvalidDomain",
            Some("name"),
        )
        .await;
    }
    rejected(
        &api,
        "deploy to an invalid name",
        "POST",
        "/certificates/ac/deploy",
        Some(json!({"domains": ["a.rules.test", "a..b"]})),
        422,
        "InvalidDomain",
        Some("domains"),
    )
    .await;

    // CertificateInUse.
    api.enable_https("a.rules.test", "ac", json!({})).await;
    rejected(
        &api,
        "delete a certificate a domain serves",
        "DELETE",
        "/certificates/ac",
        None,
        409,
        "CertificateInUse",
        None,
    )
    .await;

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
        rejected(
            &api,
            &format!("disable HTTPS while {what} is on"),
            "PUT",
            "/domains/a.rules.test/https",
            Some(json!({"enabled": false})),
            409,
            "HttpsDependency",
            None,
        )
        .await;
    }
    // The same rule holds when the whole domain is replaced.
    let mut cfg = api.ok("GET", "/domains/a.rules.test", None).await;
    cfg["https"]["enabled"] = json!(false);
    rejected(
        &api,
        "replace the domain with HTTPS off and HSTS on",
        "PUT",
        "/domains/a.rules.test",
        Some(cfg),
        409,
        "HttpsDependency",
        None,
    )
    .await;
    // Turning HSTS off along with HTTPS works; so does then deleting the certificate, which
    // the disabled domain no longer serves.
    let h = api
        .ok(
            "PUT",
            "/domains/a.rules.test/https",
            Some(json!({"enabled": false, "hsts": {"enabled": false}})),
        )
        .await;
    assert_eq!(h["enabled"], false, "{h}");
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
    let (s, _) = api.call("DELETE", "/certificates/ac", None).await;
    assert_eq!(s, 204);
    let h = api.ok("GET", "/domains/a.rules.test/https", None).await;
    assert_eq!(
        h["certificate"],
        Value::Null,
        "a deleted certificate is forgotten: {h}"
    );
}

#[tokio::test]
async fn not_found_and_already_exists() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("nf CA");
    let leaf = ca.leaf(&["nf.test"]);
    api.upload_cert("c1", &leaf).await;
    api.add_domain("nf.test", nowhere()).await;

    for (method, path, body) in [
        ("GET", "/certificates/nope", None),
        ("GET", "/certificates/nope/domains", None),
        (
            "PUT",
            "/certificates/nope",
            Some(json!({"cert_pem": leaf.cert_pem, "key_pem": leaf.key_pem})),
        ),
        ("DELETE", "/certificates/nope", None),
        (
            "POST",
            "/certificates/nope/deploy",
            Some(json!({"domains": ["nf.test"]})),
        ),
        (
            "POST",
            "/certificates/c1/deploy",
            Some(json!({"domains": ["nf.test", "missing.nf.test"]})),
        ),
        ("GET", "/domains/missing.nf.test", None),
        ("GET", "/domains/missing.nf.test/https", None),
        (
            "PUT",
            "/domains/missing.nf.test/https",
            Some(json!({"enabled": false})),
        ),
        ("DELETE", "/domains/missing.nf.test", None),
        (
            "PUT",
            "/domains/nf.test/https",
            Some(json!({"enabled": true, "certificate": "nope"})),
        ),
        ("GET", "/no/such/path", None),
    ] {
        rejected(
            &api,
            "missing object",
            method,
            path,
            body,
            404,
            "NotFound",
            None,
        )
        .await;
    }

    // AlreadyExists: a certificate (even with other contents) and a domain.
    rejected(
        &api,
        "upload under a taken name",
        "POST",
        "/certificates",
        Some(upload_body(
            "c1",
            &ca.leaf(&["x.nf.test"]).cert_pem,
            &leaf.key_pem,
        )),
        409,
        "AlreadyExists",
        Some("name"),
    )
    .await;
    let other = ca.leaf(&["other.nf.test"]);
    rejected(
        &api,
        "upload a valid pair under a taken name",
        "POST",
        "/certificates",
        Some(upload_body("c1", &other.cert_pem, &other.key_pem)),
        409,
        "AlreadyExists",
        Some("name"),
    )
    .await;
    let c1 = api.ok("GET", "/certificates/c1", None).await;
    assert_eq!(c1["fingerprint_sha256"], sha256_hex(&leaf.der));
    rejected(
        &api,
        "create a domain twice",
        "POST",
        "/domains",
        Some(json!({"name": "NF.test", "origins": [{"address": "127.0.0.2"}]})),
        409,
        "AlreadyExists",
        Some("name"),
    )
    .await;
}

#[tokio::test]
async fn invalid_requests_and_oversized_bodies() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("req CA");
    let leaf = ca.leaf(&["req.test"]);
    api.upload_cert("c1", &leaf).await;
    api.add_domain("req.test", nowhere()).await;
    let auth = format!("Bearer {}", node.token);

    // Bad JSON, through the raw client (the harness only sends valid JSON).
    for (method, path) in [
        ("POST", "/api/v1/certificates"),
        ("PUT", "/api/v1/certificates/c1"),
        ("POST", "/api/v1/certificates/c1/deploy"),
        ("POST", "/api/v1/domains"),
        ("PUT", "/api/v1/domains/req.test"),
        ("PUT", "/api/v1/domains/req.test/https"),
    ] {
        let before = snapshot(&api).await;
        for body in [&b"{not json"[..], b"", b"[1,2]", b"\"text\""] {
            let (s, text, _) = raw(&node, method, path, Some(&auth), Some(body.to_vec())).await;
            assert_error(
                &format!(
                    "{method} {path} with body {:?}",
                    String::from_utf8_lossy(body)
                ),
                &(s, parse_body(&text)),
                400,
                "InvalidRequest",
                None,
            );
        }
        assert_eq!(before, snapshot(&api).await, "{method} {path}");
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
            None,
        ),
    ];
    for (what, method, path, body, field) in cases {
        rejected(
            &api,
            what,
            method,
            path,
            Some(body),
            400,
            "InvalidRequest",
            field,
        )
        .await;
    }

    // PayloadTooLarge: more than 1 MiB.
    let big = "A".repeat(1024 * 1024 + 1024);
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
        rejected(
            &api,
            "body over 1 MiB",
            method,
            path,
            Some(body),
            413,
            "PayloadTooLarge",
            None,
        )
        .await;
    }
    // A body just under the limit is read (and refused for what it holds, not its size).
    let under = "A".repeat(1000 * 1024);
    rejected(
        &api,
        "body under 1 MiB",
        "POST",
        "/certificates",
        Some(json!({"name": "big", "cert_pem": under, "key_pem": leaf.key_pem})),
        422,
        "InvalidPem",
        Some("cert_pem"),
    )
    .await;
}

#[tokio::test]
async fn unauthorized_without_or_with_a_wrong_token() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("auth CA");
    let leaf = ca.leaf(&["auth.test"]);
    api.upload_cert("secret-cert-name", &leaf).await;
    api.add_domain("auth.test", nowhere()).await;
    let before = snapshot(&api).await;

    let wrong_tokens = [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer wrong".to_owned()),
        Some(format!("Bearer {}", &node.token[..node.token.len() - 1])),
        Some(format!("Bearer {}x", node.token)),
        Some(format!("Basic {}", node.token)),
        Some(node.token.clone()),
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
            let (s, text, _) = raw(&node, method, path, auth.as_deref(), body).await;
            assert_error(&what, &(s, parse_body(&text)), 401, "Unauthorized", None);
            for secret in ["secret-cert-name", "auth.test", "certificates", "revision"] {
                assert!(
                    !text.contains(secret),
                    "{what}: the 401 body gives data away ({secret:?}): {}",
                    show_text(&text)
                );
            }
        }
    }
    assert_eq!(
        before,
        snapshot(&api).await,
        "refused calls changed the store"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. No key material anywhere

#[tokio::test]
async fn no_key_material_in_answers_logs_or_files() {
    use rustls_pki_types::pem::PemObject;
    use std::os::unix::fs::PermissionsExt;

    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("leak CA");
    let inter = ca.intermediate("leak intermediate");
    let ec = inter.leaf(&["a.leak.test"]);
    let rsa = ca.leaf_with(&["b.leak.test"], Alg::Rsa2048, None);
    let private = ca.leaf(&["p.leak.test"]);
    let renewed = inter.leaf(&["a.leak.test"]);
    let keys = [
        &ec.key_pem,
        &rsa.key_pem,
        &private.key_pem,
        &renewed.key_pem,
    ];

    let mut bodies: Vec<(String, String)> = Vec::new();
    macro_rules! record {
        ($method:expr, $path:expr, $body:expr) => {{
            let (s, v) = api.call($method, $path, $body).await;
            bodies.push((format!("{} {} -> {s}", $method, $path), v.to_string()));
            (s, v)
        }};
    }
    let chain = format!("{}{}", ec.cert_pem, inter.cert_pem);
    let (s, _) = record!(
        "POST",
        "/certificates",
        Some(upload_body("ec", &chain, &ec.key_pem))
    );
    assert_eq!(s, 201);
    let (s, _) = record!(
        "POST",
        "/certificates",
        Some(upload_body("rsa", &rsa.cert_pem, &rsa.key_pem))
    );
    assert_eq!(s, 201);
    // Refusals that concern the key.
    let (s, _) = record!(
        "POST",
        "/certificates",
        Some(upload_body("bad", &ec.cert_pem, &rsa.key_pem))
    );
    assert_eq!(s, 422);
    let (s, _) = record!(
        "POST",
        "/certificates",
        Some(upload_body("ec", &ec.cert_pem, &ec.key_pem))
    );
    assert_eq!(s, 409);
    for d in ["a.leak.test", "b.leak.test", "p.leak.test"] {
        let (s, _) = record!(
            "POST",
            "/domains",
            Some(json!({"name": d, "origins": [{"address": "127.0.0.1", "http_port": 9}]}))
        );
        assert_eq!(s, 201);
    }
    record!(
        "PUT",
        "/domains/a.leak.test/https",
        Some(json!({"enabled": true, "certificate": "ec", "hsts": {"enabled": true}}))
    );
    record!(
        "POST",
        "/certificates/rsa/deploy",
        Some(json!({"domains": ["b.leak.test"]}))
    );
    let (s, _) = record!(
        "PUT",
        "/domains/p.leak.test/https",
        Some(
            json!({"enabled": true, "certificate": null, "cert_pem": private.cert_pem, "key_pem": private.key_pem})
        )
    );
    assert_eq!(s, 200);
    let (s, _) = record!(
        "PUT",
        "/certificates/ec",
        Some(
            json!({"cert_pem": format!("{}{}", renewed.cert_pem, inter.cert_pem), "key_pem": renewed.key_pem})
        )
    );
    assert_eq!(s, 200);
    for path in [
        "/certificates",
        "/certificates?expiring_within_days=365",
        "/certificates/ec",
        "/certificates/rsa",
        "/certificates/p.leak.test.private",
        "/certificates/ec/domains",
        "/stats/certificates",
        "/domains",
        "/domains/a.leak.test",
        "/domains/a.leak.test/https",
        "/domains/b.leak.test/https",
        "/domains/p.leak.test/https",
        "/nodes",
        "/openapi.json",
    ] {
        let (s, _) = record!("GET", path, None);
        assert!(s == 200 || s == 404, "GET {path} -> {s}");
    }
    api.wait_applied().await;
    for path in ["/metrics", "/healthz"] {
        let (s, text, _) = raw(&node, "GET", path, None, None).await;
        assert_eq!(s, 200);
        bodies.push((format!("GET {path}"), text));
    }
    served(&node, "p.leak.test", &ca.cert_pem, &private.der).await;
    // Disabling HTTPS deletes the private certificate: a path that handles its key once more.
    let (s, _) = record!(
        "PUT",
        "/domains/p.leak.test/https",
        Some(json!({"enabled": false}))
    );
    assert_eq!(s, 200);
    api.wait_applied().await;

    // A key PEM also encodes the public key, which the certificates carry in the clear: a line
    // that also occurs in a certificate's PEM is public, so it is not searched for.
    let certs_pem: String = [
        &ec.cert_pem,
        &rsa.cert_pem,
        &private.cert_pem,
        &renewed.cert_pem,
    ]
    .iter()
    .map(|c| c.as_str())
    .collect();
    let secrets: Vec<String> = keys
        .iter()
        .flat_map(|k| pem_body_lines(k))
        .filter(|l| l.len() >= 16 && !certs_pem.contains(l.as_str()))
        .collect();
    assert!(secrets.len() >= 4 + 20, "too few key lines to search for");
    let logs = node.logs();
    assert!(
        logs.contains("certificate uploaded"),
        "the node's log was not captured"
    );
    bodies.push(("the node's log".to_owned(), logs));
    for (what, text) in &bodies {
        assert!(
            !text.contains("PRIVATE KEY"),
            "{what} contains \"PRIVATE KEY\""
        );
        for (i, line) in secrets.iter().enumerate() {
            assert!(
                !text.contains(line.as_str()),
                "{what} contains line {i} of an uploaded private key"
            );
        }
    }

    // The secrets files are the owner's only.
    for f in ["master.key", "admin.token"] {
        let mode = std::fs::metadata(node.dir.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f} has mode {:o}", mode & 0o777);
    }

    // The database holds the certificates but no key, in PEM or DER form.
    let mut db = Vec::new();
    for f in ["tlsedge.db", "tlsedge.db-wal", "tlsedge.db-shm"] {
        if let Ok(bytes) = std::fs::read(node.dir.join(f)) {
            db.extend_from_slice(&bytes);
        }
    }
    let contains = |needle: &[u8]| db.windows(needle.len()).any(|w| w == needle);
    let cert_line = pem_body_lines(&rsa.cert_pem)[3].clone();
    assert!(
        contains(cert_line.as_bytes()),
        "the database files do not hold the certificates: wrong files?"
    );
    assert!(!contains(b"PRIVATE KEY"), "the database holds a PEM key");
    for (i, line) in secrets.iter().enumerate() {
        assert!(
            !contains(line.as_bytes()),
            "the database holds line {i} of a private key PEM"
        );
    }
    let cert_ders = [&ec.der, &rsa.der, &private.der, &renewed.der];
    for (i, k) in keys.iter().enumerate() {
        let der = rustls_pki_types::PrivateKeyDer::from_pem_slice(k.as_bytes()).unwrap();
        let der = der.secret_der();
        // Every 32-byte piece of the DER (an EC scalar is 32 bytes) but those of the public key.
        let public = |c: &[u8]| cert_ders.iter().any(|d| d.windows(c.len()).any(|w| w == c));
        for chunk in der.chunks(32).filter(|c| c.len() == 32 && !public(c)) {
            assert!(
                !contains(chunk),
                "the database holds DER bytes of private key {i}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. CertificateInfo

#[tokio::test]
async fn certificate_info_format() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("info root");
    let inter = ca.intermediate("info intermediate");
    let start = OffsetDateTime::now_utc();
    // A serial whose first byte has its high bit set (DER adds a 0x00 that must not show) and
    // hex letters (which must be upper case).
    let ec = inter.leaf_with_serial(
        &["info.test", "*.info.test"],
        Alg::EcdsaP256,
        &[0x8f, 0xab, 0x01, 0xcd, 0xef],
    );
    let rsa = ca.leaf_with_serial(&["rsa.info.test"], Alg::Rsa2048, &[0x7a, 0x00, 0x3c]);
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
        for k in ["not_before", "not_after"] {
            let t = info[k].as_str().unwrap();
            OffsetDateTime::parse(t, &Rfc3339)
                .unwrap_or_else(|e| panic!("{k} {t:?} is not RFC 3339: {e}"));
        }
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
    let nb = OffsetDateTime::parse(up["not_before"].as_str().unwrap(), &Rfc3339).unwrap();
    let na = OffsetDateTime::parse(up["not_after"].as_str().unwrap(), &Rfc3339).unwrap();
    let day = time::Duration::days(1);
    let slack = time::Duration::seconds(5);
    assert!(
        time::Duration::abs(nb - (start - day)) < slack,
        "not_before {nb} is not about a day ago"
    );
    assert!(
        time::Duration::abs(na - (start + day * 90)) < slack,
        "not_after {na} is not about 90 days ahead"
    );

    assert_eq!(rsa_info["serial"], "7A003C");
    assert_eq!(rsa_info["fingerprint_sha256"], sha256_hex(&rsa.der));
    assert_eq!(rsa_info["key_type"], "rsa-2048");
    assert_eq!(rsa_info["chain_length"], 1);
    assert_eq!(rsa_info["sans"], json!(["rsa.info.test"]));

    // GET answers the same, and lists the domains that serve it once there are some.
    let shown = api.ok("GET", "/certificates/ec-chain", None).await;
    assert_eq!(shown, up);
    api.add_domain("info.test", nowhere()).await;
    api.add_domain("www.info.test", nowhere()).await;
    api.enable_https("www.info.test", "ec-chain", json!({}))
        .await;
    api.enable_https("info.test", "ec-chain", json!({})).await;
    let shown = api.ok("GET", "/certificates/ec-chain", None).await;
    let mut domains: Vec<String> = serde_json::from_value(shown["domains"].clone()).unwrap();
    domains.sort();
    assert_eq!(domains, ["info.test", "www.info.test"]);
    let listed = api.ok("GET", "/certificates", None).await;
    let listed = listed["certificates"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    let listed_ec = listed.iter().find(|c| c["name"] == "ec-chain").unwrap();
    assert_eq!(listed_ec, &shown);

    // The whole chain is served: a client trusting only the root completes the handshake.
    served(&node, "www.info.test", &ca.cert_pem, &ec.der).await;
}

// ---------------------------------------------------------------------------------------------
// 4. Expiry filter and statistics

#[tokio::test]
async fn expiring_filter_and_stats() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("expiry CA");
    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let soon = ca.leaf_with(
        &["soon.test"],
        Alg::EcdsaP256,
        Some((now - day, now + 10 * day)),
    );
    let later = ca.leaf_with(
        &["later.test"],
        Alg::EcdsaP256,
        Some((now - day, now + 90 * day)),
    );
    let soon_info = api.upload_cert("soon", &soon).await;
    let later_info = api.upload_cert("later", &later).await;
    assert!(
        soon_info["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("30 days")),
        "a certificate expiring in 10 days carries a warning: {soon_info}"
    );
    assert!(
        !later_info["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("30 days")),
        "{later_info}"
    );

    let names = |v: Value| -> Vec<String> {
        let mut n: Vec<String> = v["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
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
        let got = names(
            api.ok(
                "GET",
                &format!("/certificates?expiring_within_days={days}"),
                None,
            )
            .await,
        );
        assert_eq!(got, expected, "expiring_within_days={days}");
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

    // A certificate that expires while the node runs counts as expired, not expiring, and
    // leaves the expiry filter.
    let brief = ca.leaf_with(
        &["brief.test"],
        Alg::EcdsaP256,
        Some((
            now - day,
            OffsetDateTime::now_utc() + time::Duration::seconds(5),
        )),
    );
    api.upload_cert("brief", &brief).await;
    eventually(Duration::from_secs(15), "brief expires", || async {
        let c = api.ok("GET", "/certificates/brief", None).await;
        (c["status"] == "expired").then_some(())
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
    for path in [
        "/certificates?expiring_within_days=soon",
        "/certificates?expiring_within_days=-1",
        "/stats/certificates?within_days=x",
    ] {
        let got = api.call("GET", path, None).await;
        assert_error(path, &got, 400, "InvalidRequest", None);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Deploy and replace

#[tokio::test]
async fn deploy_to_three_domains_then_replace() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("deploy CA");
    let origin = Origin::http(echo("deployed")).await;
    let names = ["a.multi.test", "b.multi.test", "c.multi.test"];
    let first = ca.leaf(&names);
    api.upload_cert("multi", &first).await;
    for d in names {
        api.add_domain(d, origin.addr).await;
    }
    let rev = revision(&api).await;
    let v = api
        .ok(
            "POST",
            "/certificates/multi/deploy",
            Some(json!({"domains": ["c.multi.test", "a.multi.test", "b.multi.test"]})),
        )
        .await;
    let mut deployed: Vec<String> = serde_json::from_value(v["domains"].clone()).unwrap();
    deployed.sort();
    assert_eq!(deployed, names);
    assert_eq!(
        revision(&api).await,
        rev + 1,
        "a deploy is one atomic change"
    );
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
    let mut serving: Vec<String> = serde_json::from_value(v["domains"].clone()).unwrap();
    serving.sort();
    assert_eq!(serving, names);
    for d in names {
        served(&node, d, &ca.cert_pem, &first.der).await;
    }
    let client = node.client(&ca.cert_pem, &names);
    let resp = client
        .get(node.https_url("b.multi.test", "/p"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "deployed /p");

    // A replacement that no longer covers c.multi.test is refused; nothing changes.
    let narrower = ca.leaf(&["a.multi.test", "b.multi.test"]);
    let err = rejected(
        &api,
        "replace with a certificate that drops a served name",
        "PUT",
        "/certificates/multi",
        Some(json!({"cert_pem": narrower.cert_pem, "key_pem": narrower.key_pem})),
        422,
        "DomainNotCovered",
        None,
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
    served(&node, "c.multi.test", &ca.cert_pem, &first.der).await;

    // A replacement that covers them all is served by every domain bound to it.
    let wider = ca.leaf(&["*.multi.test"]);
    let v = api
        .ok(
            "PUT",
            "/certificates/multi",
            Some(json!({"cert_pem": wider.cert_pem, "key_pem": wider.key_pem})),
        )
        .await;
    assert_eq!(v["fingerprint_sha256"], sha256_hex(&wider.der));
    let mut d: Vec<String> = serde_json::from_value(v["domains"].clone()).unwrap();
    d.sort();
    assert_eq!(d, names);
    for n in names {
        served(&node, n, &ca.cert_pem, &wider.der).await;
    }
}

// ---------------------------------------------------------------------------------------------
// 6. A certificate private to one domain

#[tokio::test]
async fn private_certificate_lives_and_dies_with_https() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("private CA");
    let origin = Origin::http(echo("private")).await;
    let d = "p.private.test";
    api.add_domain(d, origin.addr).await;
    api.add_domain("q.private.test", origin.addr).await;
    let leaf = ca.leaf(&[d, "q.private.test"]);

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
    let listed = api.ok("GET", "/certificates", None).await;
    assert!(
        listed["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == cert_name.as_str()),
        "{listed}"
    );
    served(&node, d, &ca.cert_pem, &leaf.der).await;
    let client = node.client(&ca.cert_pem, &[d]);
    let resp = client.get(node.https_url(d, "/x")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "private /x");

    // It belongs to its domain: no other domain may use it.
    rejected(
        &api,
        "another domain uses the private certificate",
        "PUT",
        "/domains/q.private.test/https",
        Some(json!({"enabled": true, "certificate": cert_name})),
        400,
        "InvalidRequest",
        Some("certificate"),
    )
    .await;
    rejected(
        &api,
        "deploy the private certificate",
        "POST",
        &format!("/certificates/{cert_name}/deploy"),
        Some(json!({"domains": ["q.private.test"]})),
        400,
        "InvalidRequest",
        None,
    )
    .await;

    // A refused private upload changes nothing (the current one stays).
    let stranger = ca.leaf(&[d]);
    rejected(
        &api,
        "private upload with a mismatched key",
        "PUT",
        &format!("/domains/{d}/https"),
        Some(json!({"cert_pem": leaf.cert_pem, "key_pem": stranger.key_pem})),
        422,
        "KeyMismatch",
        Some("key_pem"),
    )
    .await;
    rejected(
        &api,
        "private upload with a key that is not PEM",
        "PUT",
        "/domains/q.private.test/https",
        Some(json!({"enabled": true, "cert_pem": ca.leaf(&["x.private.test"]).cert_pem, "key_pem": "-"})),
        422,
        "InvalidPem",
        Some("key_pem"),
    )
    .await;
    let elsewhere = ca.leaf(&["x.private.test"]);
    rejected(
        &api,
        "private certificate that does not cover the domain",
        "PUT",
        "/domains/q.private.test/https",
        Some(
            json!({"enabled": true, "cert_pem": elsewhere.cert_pem, "key_pem": elsewhere.key_pem}),
        ),
        422,
        "DomainNotCovered",
        None,
    )
    .await;

    // Deleting a domain deletes its private certificate too.
    let q = ca.leaf(&["q.private.test"]);
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
    api.ok("GET", &format!("/certificates/{q_cert}"), None)
        .await;
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
    let listed = api.ok("GET", "/certificates", None).await;
    assert!(
        !listed["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == cert_name.as_str()),
        "the private certificate outlived its domain's HTTPS: {listed}"
    );
    let (s, _) = api
        .call("GET", &format!("/certificates/{cert_name}"), None)
        .await;
    assert_eq!(s, 404);
    let h = api.ok("GET", &format!("/domains/{d}/https"), None).await;
    assert_eq!(h["certificate_info"], Value::Null, "{h}");
    eventually(
        Duration::from_secs(5),
        "the handshake for p fails",
        || async {
            handshake(node.https, Some(d), &ca.cert_pem, BOTH, &[])
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// 7. Health, metrics, OpenAPI, nodes

#[tokio::test]
async fn health_metrics_openapi_and_nodes() {
    let node = Node::start("");
    let api = node.api();

    let (s, _, _) = raw(&node, "GET", "/healthz", None, None).await;
    assert_eq!(s, 200);

    let (s, text, headers) = raw(&node, "GET", "/metrics", None, None).await;
    assert_eq!(s, 200);
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(ct.starts_with("text/plain"), "content-type {ct:?}");
    assert!(text.contains("# TYPE "), "{text}");
    // Every sample line is `name[{labels}] value`.
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad metrics line {line:?}"));
        assert!(
            value.parse::<f64>().is_ok(),
            "bad value in metrics line {line:?}"
        );
        assert!(
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'),
            "bad name in metrics line {line:?}"
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
    let (s, _, _) = raw(&node, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, 401);

    api.add_domain("n.test", nowhere()).await;
    api.wait_applied().await;
    let v = api.ok("GET", "/nodes", None).await;
    let rev = v["revision"].as_u64().unwrap();
    assert!(rev >= 1, "{v}");
    let nodes = v["nodes"].as_array().unwrap();
    let me = nodes
        .iter()
        .find(|n| n["name"] == "edge-1")
        .unwrap_or_else(|| panic!("this node (edge-1) is not listed: {v}"));
    assert!(me["applied_revision"].as_u64().unwrap() >= rev, "{v}");
    let seen = me["last_seen"].as_str().unwrap();
    OffsetDateTime::parse(seen, &Rfc3339).unwrap_or_else(|e| panic!("last_seen {seen:?}: {e}"));
}

// ---------------------------------------------------------------------------------------------
// 8. Concurrent writes

/// How many domains are created at once.
const RACERS: u64 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_domain_creations_all_commit() {
    let node = Node::start("");
    let api = node.api();
    let before = revision(&api).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..RACERS {
        let api = node.api();
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
    assert_eq!(revision(&api).await, before + RACERS);
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

/// A CSR: the key is made and kept on the server, the CSR carries the subject, the certificate
/// is `pending_csr` until the signed certificate comes back, and only a certificate for that key
/// completes it.
#[tokio::test]
async fn csr_is_signed_elsewhere_and_completes_on_the_server() {
    let node = Node::start("");
    let api = node.api();
    let ca = TestCa::new("csr CA");
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
        rejected(
            &api,
            "bad CSR",
            "POST",
            "/csrs",
            Some(bad),
            400,
            "InvalidRequest",
            Some(field),
        )
        .await;
    }
    rejected(
        &api,
        "bad SAN",
        "POST",
        "/csrs",
        Some(json!({"name": "c", "common_name": "x", "sans": ["a..b"]})),
        422,
        "InvalidDomain",
        Some("sans"),
    )
    .await;

    let v = api
        .ok(
            "POST",
            "/csrs",
            Some(json!({"name": "csr-1", "common_name": "csr.test", "sans": ["csr.test", "www.csr.test"],
                        "key_type": "ecdsa-p256", "organization": "Example Org", "country": "DE"})),
        )
        .await;
    assert_eq!(v["name"], "csr-1");
    let csr_pem = v["csr_pem"].as_str().unwrap().to_owned();
    assert!(
        csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"),
        "{csr_pem}"
    );
    assert!(!v.to_string().contains("PRIVATE KEY"));
    let info = api.ok("GET", "/certificates/csr-1", None).await;
    assert_eq!(info["status"], "pending_csr");
    rejected(
        &api,
        "duplicate CSR",
        "POST",
        "/csrs",
        Some(json!({"name": "csr-1", "common_name": "csr.test"})),
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
    let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
    let signed = req.signed_by(&issuer).unwrap();

    // A certificate for another key does not complete it.
    let other = ca.leaf(&["csr.test"]);
    rejected(
        &api,
        "wrong certificate for the CSR",
        "PUT",
        "/certificates/csr-1",
        Some(json!({"cert_pem": other.cert_pem})),
        422,
        "KeyMismatch",
        Some("key_pem"),
    )
    .await;

    let info = api
        .ok(
            "PUT",
            "/certificates/csr-1",
            Some(json!({"cert_pem": signed.pem()})),
        )
        .await;
    assert_eq!(info["status"], "valid");
    assert_eq!(info["sans"], json!(["csr.test", "www.csr.test"]));
    assert!(
        info["subject"].as_str().unwrap().contains("Example Org"),
        "{info}"
    );

    // And it serves.
    let origin = Origin::http(echo("csr")).await;
    api.add_domain("www.csr.test", origin.addr).await;
    api.enable_https("www.csr.test", "csr-1", json!({})).await;
    api.wait_applied().await;
    served(&node, "www.csr.test", &ca.cert_pem, signed.der()).await;
}
