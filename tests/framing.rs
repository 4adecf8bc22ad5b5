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

use common::*;
use serde_json::json;

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
