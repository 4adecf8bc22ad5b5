//! End-to-end tests of what strangers send the edge (issue 13; the rules are the API contract's
//! "Additions (v1.1)", the cases `shared/cases/`): the TLS alert a handshake the edge cannot
//! serve ends with, a TLS 1.2 fallback where TLS 1.3 is served, a domain with HTTP/2 off
//! reached over another domain's HTTP/2 connection, requests about no path (`OPTIONS *`), and
//! the one authority of a request (absolute-form target, `:authority`, `Host`). Each input is sent by a real client
//! (rustls, hyper, reqwest, `openssl s_client`, curl) and its refusal is checked to the exact
//! alert or status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use common::*;
use serde_json::{json, Value};

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

/// Asserts that `openssl s_client {args}` failed on the server's fatal alert number `code`.
async fn assert_openssl_alert(addr: SocketAddr, args: &[&str], code: u8) {
    let (ran, out) = s_client(addr, args).await;
    assert!(!ran, "openssl s_client {args:?} succeeded:\n{out}");
    assert!(
        out.contains(&format!("SSL alert number {code}")),
        "openssl s_client {args:?} did not fail on alert {code}:\n{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// Item 8: the alert of a handshake the edge cannot serve

#[tokio::test]
async fn a_tls12_fallback_where_tls13_is_served_ends_with_inappropriate_fallback() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("fallback")).await;
    let ca = TestCa::new("fallback CA");
    let both = "both.fallback.test";
    let only12 = "v12.fallback.test";
    https_domain(
        &api,
        both,
        "both",
        &ca.leaf(&[both]),
        origin.addr,
        json!({}),
    )
    .await;
    https_domain(
        &api,
        only12,
        "v12",
        &ca.leaf(&[only12]),
        origin.addr,
        json!({"tls_versions": ["1.2"]}),
    )
    .await;
    api.wait_applied().await;

    require_openssl();
    // RFC 7507: a client that fell back to TLS 1.2 from a version the server serves.
    assert_openssl_alert(
        node.https,
        &["-tls1_2", "-fallback_scsv", "-servername", both],
        86,
    )
    .await;
    // Not a fallback: TLS 1.2 without the SCSV, TLS 1.3 with it, or TLS 1.2 where 1.2 is the
    // domain's highest version.
    for args in [
        &["-tls1_2", "-servername", both, "-brief"][..],
        &["-fallback_scsv", "-servername", both, "-brief"][..],
        &["-tls1_2", "-fallback_scsv", "-servername", only12, "-brief"][..],
    ] {
        let (ok, out) = s_client(node.https, args).await;
        assert!(ok, "openssl s_client {args:?} was refused:\n{out}");
        assert!(out.contains("Protocol version: TLSv1."), "{args:?}:\n{out}");
    }
}

// ---------------------------------------------------------------------------------------------
// Item 7: `http2: false` on a connection coalesced from another domain

/// An HTTP/2 connection to the edge made for `sni` (ALPN `h2`), as a browser that reuses it for
/// every name its certificate covers holds it.
async fn h2_connection(
    node: &Node,
    sni: &str,
    ca_pem: &str,
) -> hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>> {
    let tls = tls_connect(node.https, sni, ca_pem, BOTH, &[b"h2"])
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "{sni}");
    let (tx, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    tx
}

/// The status and body of a GET for `url` (its authority is the request's `:authority`).
async fn h2_get(
    tx: &mut hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    url: &str,
) -> (u16, String) {
    use http_body_util::BodyExt;
    let req = http::Request::get(url)
        .body(http_body_util::Empty::new())
        .unwrap();
    let resp = tx.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_domain_with_http2_off_gets_421_on_a_coalesced_http2_connection() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("w")).await;
    let ca = TestCa::new("coalescing CA");
    // shared/cases: m1 and m2 serve one certificate for *.w.example; m2 has HTTP/2 off.
    api.upload_cert("w", &ca.leaf(&["*.w.example"])).await;
    for (name, http2) in [("m1.w.example", true), ("m2.w.example", false)] {
        api.add_domain(name, origin.addr).await;
        api.enable_https(name, "w", json!({ "http2": http2 })).await;
    }
    api.wait_applied().await;
    let port = node.https.port();
    let url = |host: &str| format!("https://{host}:{port}/x");

    let mut m1 = h2_connection(&node, "m1.w.example", &ca.cert_pem).await;
    assert_eq!(
        h2_get(&mut m1, &url("m1.w.example")).await,
        (200, "w /x".into())
    );
    let (status, body) = h2_get(&mut m1, &url("m2.w.example")).await;
    assert_eq!(
        (status, body.as_str()),
        (421, "HTTP/2 is not enabled for this host\n")
    );
    // The connection is still good for m1 after the refusal.
    assert_eq!(h2_get(&mut m1, &url("m1.w.example")).await.0, 200);
    assert_eq!(
        origin.seen().len(),
        2,
        "the refused request reached the origin"
    );

    // On m1's HTTP/1.1 connection, m2 is served: the same certificate and TLS versions.
    let mut tls = tls_connect(
        node.https,
        "m1.w.example",
        &ca.cert_pem,
        BOTH,
        &[b"http/1.1"],
    )
    .await
    .unwrap();
    let (status, text) = raw_get(&mut tls, "m2.w.example", "/x").await;
    assert_eq!(status, 200, "{text}");
    // m2's own connection is HTTP/1.1 (ALPN) and served.
    let client = node.client(&ca.cert_pem, &["m2.w.example"]);
    let r = client.get(url("m2.w.example")).send().await.unwrap();
    assert_eq!(
        (r.version(), r.status().as_u16()),
        (reqwest::Version::HTTP_11, 200)
    );

    // curl over HTTP/2 sends a Host header as `:authority`: m2 on m1's connection.
    require_tool("curl", &["--version"], "curl");
    let resolve = format!("m1.w.example:{port}:{}", node.https.ip());
    let ca_file = node.dir.join("w-ca.pem");
    std::fs::write(&ca_file, &ca.cert_pem).unwrap();
    let out = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
        ])
        .args(["--resolve", &resolve, "--cacert"])
        .arg(&ca_file)
        .args(["-H", "Host: m2.w.example", &url("m1.w.example")])
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2 421",
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Item 6: requests that are not about a path

/// Sends `request` as it is over `io` and returns the whole answer (the requests carry
/// `Connection: close`, so the edge closes after it).
async fn raw_exchange<S>(io: &mut S, request: &[u8]) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    io.write_all(request).await.unwrap();
    io.flush().await.unwrap();
    let mut buf = Vec::new();
    // A TLS peer may close without close_notify: keep what came.
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(10), io.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// The status line and the lowercase header lines of a raw answer.
fn head_of(answer: &str) -> (String, Vec<String>) {
    let head = answer.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("").to_owned();
    (status, lines.map(str::to_ascii_lowercase).collect())
}

#[tokio::test]
async fn options_asterisk_is_answered_about_the_server_and_never_redirected() {
    let node = Node::start("");
    let api = node.api();
    let origin = Origin::http(echo("r")).await;
    let ca = TestCa::new("asterisk CA");
    // shared/cases: r.example redirects HTTP to HTTPS with 308.
    https_domain(
        &api,
        "r.example",
        "r",
        &ca.leaf(&["r.example"]),
        origin.addr,
        json!({"force_redirect": "http_to_https", "redirect_status": 308}),
    )
    .await;
    api.wait_applied().await;
    // shared/cases/options-asterisk.req, byte for byte.
    let case = b"OPTIONS * HTTP/1.1\r\nHost: r.example\r\nConnection: close\r\n\r\n";

    let mut plain = tokio::net::TcpStream::connect(node.http).await.unwrap();
    let plain_answer = raw_exchange(&mut plain, case).await;
    let mut tls = tls_connect(node.https, "r.example", &ca.cert_pem, BOTH, &[b"http/1.1"])
        .await
        .unwrap();
    let tls_answer = raw_exchange(&mut tls, case).await;
    for (scheme, answer) in [("http", plain_answer), ("https", tls_answer)] {
        let (status, headers) = head_of(&answer);
        assert_eq!(status, "HTTP/1.1 200 OK", "{scheme}: {answer}");
        assert!(
            headers.contains(&"allow: get, head, post, put, delete, options, patch".to_owned()),
            "{scheme}: {answer}"
        );
        assert!(
            !headers.iter().any(|h| h.starts_with("location:")),
            "{scheme}: {answer}"
        );
    }

    // Any other method with `*`, and an authority-form target outside CONNECT: 400.
    for request in [
        "GET * HTTP/1.1\r\nHost: r.example\r\nConnection: close\r\n\r\n",
        "POST * HTTP/1.1\r\nHost: r.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "GET r.example:80 HTTP/1.1\r\nHost: r.example\r\nConnection: close\r\n\r\n",
    ] {
        let mut tcp = tokio::net::TcpStream::connect(node.http).await.unwrap();
        let answer = raw_exchange(&mut tcp, request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{request:?}: {answer}");
        assert!(
            !answer.to_ascii_lowercase().contains("location:"),
            "{answer}"
        );
    }
    // A path on the same domain is redirected as its policy says (the control).
    let mut tcp = tokio::net::TcpStream::connect(node.http).await.unwrap();
    let (status, text) = raw_get(&mut tcp, "r.example", "/p").await;
    assert_eq!(status, 308, "{text}");
    assert_eq!(origin.seen().len(), 0, "a request reached the origin");

    // curl sends the asterisk-form target itself.
    require_tool("curl", &["--version"], "curl");
    let out = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .args(["-X", "OPTIONS", "--request-target", "*"])
        .arg(node.http_url("r.example", "/"))
        .args([
            "--resolve",
            &format!("r.example:{}:{}", node.http.port(), node.http.ip()),
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 ",
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Item 1: one authority per request

/// The value of `name` in a raw answer's head (lowercase name), if present.
fn header_of(answer: &str, name: &str) -> Option<String> {
    let (_, headers) = head_of(answer);
    let prefix = format!("{name}:");
    headers
        .iter()
        .find_map(|h| h.strip_prefix(&prefix).map(|v| v.trim().to_owned()))
}

#[tokio::test]
async fn one_authority_routes_judges_and_reaches_the_origin() {
    let node = Node::start("");
    let api = node.api();
    // shared/cases: a.example allows HTTP, b.example denies it; one shared origin.
    let origin = Origin::http(echo("shared")).await;
    let ca = TestCa::new("authority CA");
    https_domain(
        &api,
        "a.example",
        "a",
        &ca.leaf(&["a.example"]),
        origin.addr,
        json!({}),
    )
    .await;
    https_domain(
        &api,
        "b.example",
        "b",
        &ca.leaf(&["b.example"]),
        origin.addr,
        json!({"force_redirect": "deny_http"}),
    )
    .await;
    api.wait_applied().await;
    let seen_hosts = || -> Vec<String> {
        origin
            .seen()
            .iter()
            .map(|s| s.headers.get("host").cloned().unwrap_or_default())
            .collect()
    };

    // HTTP/1.1 plain, shared/cases/absolute-form-other-host.req byte for byte: the target's
    // authority is the request's, for policy (a.example allows HTTP) and for the origin.
    let case =
        b"GET http://a.example/echo HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n";
    let mut tcp = tokio::net::TcpStream::connect(node.http).await.unwrap();
    let answer = raw_exchange(&mut tcp, case).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(
        header_of(&answer, "x-echo-host").as_deref(),
        Some("a.example"),
        "{answer}"
    );
    assert_eq!(seen_hosts(), ["a.example"]);

    // The other way round, b.example's policy judges it: refused, the origin never sees it.
    let mut tcp = tokio::net::TcpStream::connect(node.http).await.unwrap();
    let answer = raw_exchange(
        &mut tcp,
        b"GET http://b.example/echo HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403 "), "{answer}");
    assert_eq!(seen_hosts().len(), 1);

    // HTTP/1.1 over TLS (SNI a.example), absolute-form https target, Host b.example.
    let mut tls = tls_connect(node.https, "a.example", &ca.cert_pem, BOTH, &[b"http/1.1"])
        .await
        .unwrap();
    let answer = raw_exchange(
        &mut tls,
        b"GET https://a.example/echo HTTP/1.1\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(
        header_of(&answer, "x-echo-host").as_deref(),
        Some("a.example"),
        "{answer}"
    );
    assert_eq!(seen_hosts(), ["a.example", "a.example"]);

    // Two Host fields are ambiguous: 400 on both listeners, whatever the order.
    for (first, second) in [("a.example", "b.example"), ("b.example", "a.example")] {
        let request = format!(
            "GET /echo HTTP/1.1\r\nHost: {first}\r\nHost: {second}\r\nConnection: close\r\n\r\n"
        );
        let mut tcp = tokio::net::TcpStream::connect(node.http).await.unwrap();
        let answer = raw_exchange(&mut tcp, request.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 400 "),
            "plain {first},{second}: {answer}"
        );
        let mut tls = tls_connect(node.https, "a.example", &ca.cert_pem, BOTH, &[b"http/1.1"])
            .await
            .unwrap();
        let answer = raw_exchange(&mut tls, request.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 400 "),
            "TLS {first},{second}: {answer}"
        );
    }
    assert_eq!(
        seen_hosts().len(),
        2,
        "an ambiguous request reached the origin"
    );

    // HTTP/2: :authority is the request's; a Host that names another host is malformed.
    let mut h2 = h2_connection(&node, "a.example", &ca.cert_pem).await;
    let port = node.https.port();
    let (status, body) = h2_get(&mut h2, &format!("https://a.example:{port}/echo")).await;
    assert_eq!((status, body.as_str()), (200, "shared /echo"));
    let req = http::Request::get(format!("https://a.example:{port}/echo"))
        .header("host", "b.example")
        .body(http_body_util::Empty::new())
        .unwrap();
    let resp = h2.send_request(req).await.unwrap();
    assert_eq!(
        resp.status(),
        400,
        "a Host other than :authority over HTTP/2"
    );
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(
        &body[..],
        b"more than one Host, or a Host other than the target's\n"
    );
    // A Host repeating :authority is the same authority.
    let req = http::Request::get(format!("https://a.example:{port}/echo"))
        .header("host", format!("A.example:{port}"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let resp = h2.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let hosts = seen_hosts();
    assert_eq!(hosts.len(), 4, "{hosts:?}");
    assert_eq!(hosts[2], format!("a.example:{port}"));
    assert_eq!(hosts[3], format!("A.example:{port}"));
}
