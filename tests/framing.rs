//! End-to-end tests of message framing and blame at the edge (issue 13, kinds 2, 3, 4 and 5;
//! the rules are the API contract's "Additions (v1.1)", the cases `shared/cases/`): whatever
//! framing an origin answers with, the client gets the whole body or an error, never a success
//! cut short; a malformed or cut-short request body is the client's fault (400 or a closed
//! connection, counted as a client error), never an origin's; header limits are by size only;
//! `Expect: 100-continue` gets its 100 at once. Each input goes over every protocol it touches:
//! HTTP/1.1 plain and over TLS, and HTTP/2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The client protocols a proxied response travels over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Plain,
    Tls1,
    Tls2,
}

const PROTOS: [Proto; 3] = [Proto::Plain, Proto::Tls1, Proto::Tls2];

/// A node with one domain, `name`, served over HTTP and HTTPS (HTTP/2 on) from `origin`.
struct Edge {
    node: Node,
    ca: TestCa,
    name: &'static str,
}

impl Edge {
    async fn start(extra: &str, name: &'static str, origin: SocketAddr) -> Edge {
        let node = Node::start(extra);
        let api = node.api();
        let ca = TestCa::new("framing CA");
        api.upload_cert("c", &ca.leaf(&[name])).await;
        api.add_domain(name, origin).await;
        api.enable_https(name, "c", json!({"http2": true})).await;
        api.wait_applied().await;
        Edge { node, ca, name }
    }

    fn client(&self, proto: Proto) -> reqwest::Client {
        let b = client_builder(&self.ca.cert_pem, &[self.name], &self.node);
        match proto {
            Proto::Tls1 => b.http1_only(),
            Proto::Plain | Proto::Tls2 => b,
        }
        .build()
        .unwrap()
    }

    fn url(&self, proto: Proto, path: &str) -> String {
        match proto {
            Proto::Plain => self.node.http_url(self.name, path),
            Proto::Tls1 | Proto::Tls2 => self.node.https_url(self.name, path),
        }
    }

    /// GET `path` over `proto`: the status, headers and whole body, or the error that ended it.
    async fn get(
        &self,
        proto: Proto,
        path: &str,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>), reqwest::Error> {
        let resp = self.client(proto).get(self.url(proto, path)).send().await?;
        let want = if proto == Proto::Tls2 {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        };
        assert_eq!(resp.version(), want, "{proto:?}");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?;
        Ok((status, headers, body.to_vec()))
    }

    async fn metric(&self, name: &str) -> u64 {
        self.node.metric_sum(name, "").await
    }

    /// Asserts the origin and client error counters, exactly.
    async fn assert_errors(&self, origin: u64, client: u64, what: &str) {
        assert_eq!(
            self.metric("tlsedge_origin_errors_total").await,
            origin,
            "origin errors: {what}"
        );
        assert_eq!(
            self.metric("tlsedge_origin_timeouts_total").await,
            0,
            "origin timeouts: {what}"
        );
        assert_eq!(
            self.metric("tlsedge_client_errors_total").await,
            client,
            "client errors: {what}"
        );
    }

    /// Sends `bytes` as they are over HTTP/1.1, plain or TLS (SNI the domain, ALPN
    /// `http/1.1`), optionally ends the sending side, and returns the one response that came
    /// back (empty when the edge closed without one).
    async fn raw(&self, proto: Proto, bytes: &[u8], end_sending: bool) -> String {
        match proto {
            Proto::Plain => {
                let tcp = tokio::net::TcpStream::connect(self.node.http)
                    .await
                    .unwrap();
                exchange(tcp, bytes, end_sending).await
            }
            Proto::Tls1 => {
                let tls = tls_connect(
                    self.node.https,
                    self.name,
                    &self.ca.cert_pem,
                    BOTH,
                    &[b"http/1.1"],
                )
                .await
                .unwrap();
                exchange(tls, bytes, end_sending).await
            }
            Proto::Tls2 => unreachable!("raw HTTP/1.1 only"),
        }
    }

    /// An HTTP/2 connection to the domain (ALPN `h2`).
    async fn h2(&self) -> hyper::client::conn::http2::SendRequest<H2Body> {
        let tls = tls_connect(
            self.node.https,
            self.name,
            &self.ca.cert_pem,
            BOTH,
            &[b"h2"],
        )
        .await
        .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (tx, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tls),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        tx
    }
}

/// A request body the test feeds frame by frame; an `Err` resets the HTTP/2 stream.
struct H2Body(tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>);

impl hyper::body::Body for H2Body {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|c| c.map(|r| r.map(hyper::body::Frame::data)))
    }
}

/// Writes `bytes`, optionally shuts the sending side, and reads one response: until the
/// connection closes or the head and its `Content-Length` bytes of body have come (10 s at
/// most).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    bytes: &[u8],
    end_sending: bool,
) -> String {
    io.write_all(bytes).await.unwrap();
    io.flush().await.unwrap();
    if end_sending {
        io.shutdown().await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .to_ascii_lowercase()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if len.is_some_and(|l| body.len() >= l) {
                return text;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, io.read(&mut buf)).await {
            Err(_) => panic!("no whole response within 10 s: {text:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return text,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn case(file: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Kind 2: honest response framing

#[tokio::test]
async fn content_length_beside_chunked_is_read_by_chunked_and_dropped() {
    // shared/cases/origin-cl-and-chunked.resp
    let origin = RawOrigin::start(case("origin-cl-and-chunked.resp")).await;
    let edge = Edge::start("", "a.example", origin.addr).await;
    for proto in PROTOS {
        let (status, headers, body) = edge.get(proto, "/").await.unwrap();
        assert_eq!(status, 200, "{proto:?}");
        assert_eq!(body, b"abcdefghijklmnopqrstuvwxyz", "{proto:?}");
        assert_ne!(
            headers.get("content-length").map(|v| v.as_bytes()),
            Some(&b"5"[..]),
            "{proto:?}"
        );
    }
    assert_eq!(edge.metric("tlsedge_origin_errors_total").await, 0);
}

/// An origin response that no client may receive as a success: each is a 502 before any byte
/// of it is forwarded, counted as an origin error.
#[tokio::test]
async fn unreadable_origin_framing_is_a_502() {
    let cases: [(&str, &[u8]); 4] = [
        (
            "conflicting Content-Length values",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcdefg",
        ),
        (
            "a transfer coding that does not end in chunked",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot really gzip",
        ),
        (
            "Transfer-Encoding on HTTP/1.0",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        ),
        (
            "an invalid Content-Length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nabcde",
        ),
    ];
    for (what, resp) in cases {
        let origin = RawOrigin::start(resp.to_vec()).await;
        let edge = Edge::start("", "a.example", origin.addr).await;
        for (i, proto) in PROTOS.into_iter().enumerate() {
            let (status, _, _) = edge.get(proto, "/").await.unwrap();
            assert_eq!(status, 502, "{what} over {proto:?}");
            assert_eq!(
                edge.metric("tlsedge_origin_errors_total").await,
                i as u64 + 1,
                "{what} over {proto:?}"
            );
        }
    }
}

/// An origin body that ends before its framing says it is complete (fewer bytes than its
/// `Content-Length`, or a chunked body without its last chunk) reaches the client as an error:
/// never a success with the body cut short.
#[tokio::test]
async fn an_origin_body_cut_short_is_an_error_at_the_client() {
    let cases: [(&str, &[u8]); 2] = [
        (
            "fewer bytes than Content-Length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\nabcdefghij",
        ),
        (
            "chunked without the last chunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabcdefghij\r\n",
        ),
    ];
    for (what, resp) in cases {
        let origin = RawOrigin::start(resp.to_vec()).await;
        let edge = Edge::start("", "a.example", origin.addr).await;
        for proto in PROTOS {
            let got = edge.get(proto, "/").await;
            assert!(got.is_err(), "{what} over {proto:?}: {got:?}");
        }
    }
}

/// Bodies an origin frames correctly but differently all arrive whole: by length, chunked
/// with extensions and trailers, and delimited by the connection's close (HTTP/1.0 and 1.1).
#[tokio::test]
async fn every_valid_origin_framing_arrives_whole() {
    let body = "abcdefghijklmnopqrstuvwxyz";
    let cases: [(&str, String); 4] = [
        (
            "Content-Length",
            format!("HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n{body}"),
        ),
        (
            "chunked with an extension and a trailer",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
             10;ext=1\r\nabcdefghijklmnop\r\na\r\nqrstuvwxyz\r\n0\r\nx-t: 1\r\n\r\n"
                .to_owned(),
        ),
        (
            "close-delimited HTTP/1.1",
            format!("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{body}"),
        ),
        (
            "close-delimited HTTP/1.0",
            format!("HTTP/1.0 200 OK\r\n\r\n{body}"),
        ),
    ];
    for (what, resp) in cases {
        let origin = RawOrigin::start(resp).await;
        let edge = Edge::start("", "a.example", origin.addr).await;
        for proto in PROTOS {
            let (status, _, got) = edge
                .get(proto, "/")
                .await
                .unwrap_or_else(|e| panic!("{what} over {proto:?}: {e}"));
            assert_eq!(status, 200, "{what} over {proto:?}");
            assert_eq!(got, body.as_bytes(), "{what} over {proto:?}");
        }
        assert_eq!(
            edge.metric("tlsedge_origin_errors_total").await,
            0,
            "{what}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Kind 3: blame the right party

/// A request body the client malformed or cut short is a 400 (or a closed connection), counted
/// as a client error; the origin error counter does not move.
#[tokio::test]
async fn a_broken_request_body_is_the_clients_fault() {
    // The origin reads the whole body before it answers, as most do.
    let origin = test_origin(|req: hyper::Request<hyper::body::Incoming>| async move {
        use http_body_util::BodyExt;
        match req.into_body().collect().await {
            Ok(b) => hyper::Response::new(full(b.to_bytes())),
            Err(_) => hyper::Response::new(full("broken")),
        }
    })
    .await;
    let edge = Edge::start("", "a.example", origin.addr).await;
    let mut client_errors = 0;
    for proto in [Proto::Plain, Proto::Tls1] {
        // shared/cases/bad-chunk-size.req, byte for byte.
        let got = edge.raw(proto, &case("bad-chunk-size.req"), false).await;
        assert!(
            got.starts_with("HTTP/1.1 400 "),
            "bad chunk over {proto:?}: {got:?}"
        );
        client_errors += 1;
        edge.assert_errors(0, client_errors, "bad chunk size").await;

        // Fewer bytes than Content-Length, then the client stops sending.
        let short = b"POST /echo HTTP/1.1\r\nHost: a.example\r\nContent-Length: 10\r\n\r\nhello";
        let got = edge.raw(proto, short, true).await;
        assert!(
            got.is_empty() || got.starts_with("HTTP/1.1 400 "),
            "short body over {proto:?}: {got:?}"
        );
        client_errors += 1;
        edge.assert_errors(0, client_errors, "short body").await;
    }

    // HTTP/2: the client resets the stream in the middle of its body.
    let mut h2 = edge.h2().await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let req = http::Request::post(edge.url(Proto::Tls2, "/echo"))
        .header("content-length", "10")
        .body(H2Body(rx))
        .unwrap();
    let sent = tokio::spawn(async move { h2.send_request(req).await.map(|r| r.status()) });
    tx.send(Ok(bytes::Bytes::from_static(b"hello")))
        .await
        .unwrap();
    // Reset once the request is on its way to the origin (a stream reset before the edge
    // took it is no request at all).
    let seen = origin.requests.load(std::sync::atomic::Ordering::SeqCst);
    eventually(
        Duration::from_secs(10),
        "the request at the origin",
        || async {
            (origin.requests.load(std::sync::atomic::Ordering::SeqCst) > seen).then_some(())
        },
    )
    .await;
    tx.send(Err(std::io::Error::other("client gives up")))
        .await
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), sent)
        .await
        .unwrap()
        .unwrap();
    assert!(
        answer.is_err(),
        "the reset stream got an answer: {answer:?}"
    );
    client_errors += 1;
    eventually(Duration::from_secs(10), "the reset counted", || async {
        (edge.metric("tlsedge_client_errors_total").await == client_errors).then_some(())
    })
    .await;
    edge.assert_errors(0, client_errors, "HTTP/2 reset").await;
}

/// A client that stops in the middle of its body, connection open, gets 408 when the origin's
/// answer is due (the origin waits for the whole body), counted as a client error, not as an
/// origin timeout.
#[tokio::test]
async fn a_stalled_request_body_is_a_408_not_an_origin_timeout() {
    let origin = RawOrigin::start(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..]).await;
    let edge = Edge::start(
        "[timeouts]\norigin_response_secs = 0.5\n",
        "a.example",
        origin.addr,
    )
    .await;
    let stalled = b"POST /up HTTP/1.1\r\nHost: a.example\r\nContent-Length: 10\r\n\r\nhello";
    let mut client_errors = 0;
    for proto in [Proto::Plain, Proto::Tls1] {
        let got = edge.raw(proto, stalled, false).await;
        assert!(got.starts_with("HTTP/1.1 408 "), "{proto:?}: {got:?}");
        client_errors += 1;
        edge.assert_errors(0, client_errors, "stalled body").await;
    }
    let mut h2 = edge.h2().await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let req = http::Request::post(edge.url(Proto::Tls2, "/up"))
        .header("content-length", "10")
        .body(H2Body(rx))
        .unwrap();
    tx.send(Ok(bytes::Bytes::from_static(b"hello")))
        .await
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), h2.send_request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 408);
    drop(tx);
    edge.assert_errors(0, client_errors + 1, "stalled HTTP/2 body")
        .await;
    assert_eq!(origin.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// The control: a whole body that the origin is slow to answer is still the origin's timeout.
#[tokio::test]
async fn a_whole_body_with_a_silent_origin_is_still_a_504() {
    let held = HeldOrigin::start(bytes::Bytes::from_static(b"late")).await;
    let edge = Edge::start(
        "[timeouts]\norigin_response_secs = 0.5\n",
        "a.example",
        held.addr,
    )
    .await;
    let whole = b"POST /up HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello";
    let got = edge.raw(Proto::Plain, whole, false).await;
    assert!(got.starts_with("HTTP/1.1 504 "), "{got:?}");
    assert_eq!(edge.metric("tlsedge_origin_timeouts_total").await, 1);
    assert_eq!(edge.metric("tlsedge_client_errors_total").await, 0);
    held.release();
}

// ---------------------------------------------------------------------------------------------
// Kind 5: limits by size only

/// An origin's 150 `Set-Cookie` lines (2.6 KiB) all reach the client, over every protocol.
#[tokio::test]
async fn an_origin_head_with_many_fields_is_forwarded_whole() {
    // shared/cases/origin-150-set-cookie.resp
    let origin = RawOrigin::start(case("origin-150-set-cookie.resp")).await;
    let edge = Edge::start("", "a.example", origin.addr).await;
    // Read by hand over HTTP/1.1: hyper's client (reqwest) has a 100-field cap of its own.
    let get = b"GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n";
    for proto in [Proto::Plain, Proto::Tls1] {
        let got = edge.raw(proto, get, false).await;
        assert!(got.starts_with("HTTP/1.1 200 "), "{proto:?}: {got:?}");
        let cookies: Vec<&str> = got
            .lines()
            .filter_map(|l| l.strip_prefix("set-cookie: "))
            .collect();
        assert_eq!(cookies.len(), 150, "{proto:?}");
        assert_eq!(cookies[149], "c149=v149; Path=/", "{proto:?}");
    }
    let (status, headers, _) = edge.get(Proto::Tls2, "/").await.unwrap();
    assert_eq!(status, 200);
    let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies.len(), 150);
    assert_eq!(cookies[149], "c149=v149; Path=/");
    edge.assert_errors(0, 0, "150 Set-Cookie").await;
}

/// A request with 150 short header fields is served, over every protocol, and reaches the
/// origin with all of them.
#[tokio::test]
async fn a_request_with_many_fields_is_served() {
    let origin = RawOrigin::start(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..]).await;
    let edge = Edge::start("", "a.example", origin.addr).await;
    for proto in PROTOS {
        let mut req = edge.client(proto).get(edge.url(proto, "/many"));
        for i in 0..150 {
            req = req.header(format!("x-f{i}"), "v");
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "{proto:?}");
        let head = origin.heads.lock().unwrap().pop().unwrap();
        assert_eq!(
            (0..150)
                .filter(|i| head.contains(&format!("\r\nx-f{i}: v\r\n")))
                .count(),
            150,
            "{proto:?}"
        );
    }
}

/// The response head limit is by size and configurable: a head under
/// `max_response_header_bytes` passes, one over it is a 502 counted as an origin error.
#[tokio::test]
async fn the_response_head_limit_is_by_size_and_configurable() {
    let head = |pad: usize| {
        format!(
            "HTTP/1.1 200 OK\r\nx-pad: {}\r\nContent-Length: 2\r\n\r\nok",
            "a".repeat(pad)
        )
    };
    let under = RawOrigin::start(head(12 * 1024)).await;
    let over = RawOrigin::start(head(20 * 1024)).await;
    let extra = "[limits]\nmax_response_header_bytes = 16384\n";
    let edge = Edge::start(extra, "a.example", under.addr).await;
    for proto in PROTOS {
        let (status, headers, _) = edge.get(proto, "/").await.unwrap();
        assert_eq!(status, 200, "{proto:?}");
        assert_eq!(headers["x-pad"].len(), 12 * 1024, "{proto:?}");
    }
    let edge = Edge::start(extra, "a.example", over.addr).await;
    for (i, proto) in PROTOS.into_iter().enumerate() {
        let (status, _, _) = edge.get(proto, "/").await.unwrap();
        assert_eq!(status, 502, "{proto:?}");
        assert_eq!(
            edge.metric("tlsedge_origin_errors_total").await,
            i as u64 + 1,
            "{proto:?}"
        );
    }
    // By default a single 100 KiB field passes (over HTTP/1.1: the HTTP/2 client's own header
    // list limit is 16 KiB).
    let big = RawOrigin::start(head(100 * 1024)).await;
    let edge = Edge::start("", "a.example", big.addr).await;
    for proto in [Proto::Plain, Proto::Tls1] {
        let (status, _, _) = edge.get(proto, "/").await.unwrap();
        assert_eq!(status, 200, "{proto:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Kind 4: Expect: 100-continue

/// A client that sends its body only after a 100 (curl with `Expect: 100-continue` and a 30 s
/// wait for it) gets the 100 at once and its answer in well under the wait, over HTTP/1.1
/// plain and TLS and over HTTP/2 (no 100 over HTTP/2 made it wait for the origin timeout).
#[tokio::test]
async fn expect_100_continue_gets_its_100_at_once() {
    require_tool("curl", &["--version"], "curl");
    let origin = test_origin(|req: hyper::Request<hyper::body::Incoming>| async move {
        use http_body_util::BodyExt;
        let body = req.into_body().collect().await.unwrap().to_bytes();
        hyper::Response::new(full(body))
    })
    .await;
    let edge = Edge::start("", "a.example", origin.addr).await;
    let ca_file = edge.node.dir.join("framing-ca.pem");
    std::fs::write(&ca_file, &edge.ca.cert_pem).unwrap();
    for (proto, flag, version) in [
        (Proto::Plain, "--http1.1", "1.1"),
        (Proto::Tls1, "--http1.1", "1.1"),
        (Proto::Tls2, "--http2", "2"),
    ] {
        let port = match proto {
            Proto::Plain => edge.node.http.port(),
            Proto::Tls1 | Proto::Tls2 => edge.node.https.port(),
        };
        let resolve = format!("a.example:{port}:127.0.0.1");
        let start = Instant::now();
        let out = tokio::process::Command::new("curl")
            .args(["-sS", "-v", flag, "--expect100-timeout", "30"])
            .args(["-H", "Expect: 100-continue", "--data-binary", "hello"])
            .args(["-w", "\n%{http_version} %{http_code}"])
            .args(["--resolve", &resolve, "--cacert"])
            .arg(&ca_file)
            .arg(edge.url(proto, "/up"))
            .output()
            .await
            .unwrap();
        let took = start.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{proto:?}: {stderr}");
        assert_eq!(
            stdout,
            format!("hello\n{version} 200"),
            "{proto:?}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("< HTTP/{version} 100")),
            "{proto:?}: no 100 seen:\n{stderr}"
        );
        assert!(took < Duration::from_secs(10), "{proto:?} took {took:?}");
    }
}
