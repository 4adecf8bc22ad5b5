//! Every stage has a timeout and every buffer a bound: a slow or greedy client cannot hold the
//! edge's resources for long.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The timeouts these tests configure (0.5 s), and how much later than that a close may come:
/// a timeout is asserted from both sides, not before the configured value and not long after.
const TIMEOUT: Duration = Duration::from_millis(500);
/// Slack for a loaded 2-core CI machine, still well under the shortest default timeout (5 s),
/// so a timeout that fell back to its default cannot pass.
const SLACK: Duration = Duration::from_millis(3000);

#[track_caller]
fn assert_timed_out(took: Duration, what: &str) {
    assert!(
        took >= TIMEOUT,
        "{what}: closed after {took:?}, before the configured {TIMEOUT:?}"
    );
    assert!(
        took < TIMEOUT + SLACK,
        "{what}: closed after {took:?}, long after the configured {TIMEOUT:?}"
    );
}

/// Reads until EOF or an error, with an outer deadline; returns what was read and how long the
/// peer took to close.
async fn read_until_closed(tcp: &mut TcpStream, deadline: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(deadline.saturating_sub(start.elapsed()), tcp.read(&mut buf))
            .await
        {
            Err(_) => panic!("the edge did not close the connection within {deadline:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (all, start.elapsed()),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_silent_tls_client_is_dropped_after_the_handshake_timeout() {
    let node = Node::start("[timeouts]\nhandshake_secs = 0.5\n");
    let mut tcp = TcpStream::connect(node.https).await.unwrap();
    let (got, took) = read_until_closed(&mut tcp, Duration::from_secs(10)).await;
    assert!(
        got.is_empty(),
        "the edge sent {} bytes to a silent client",
        got.len()
    );
    assert_timed_out(took, "silent TLS client");
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let node = Node::start("[timeouts]\nclient_header_secs = 0.5\n");
    let mut tcp = TcpStream::connect(node.http).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: slow.test\r\n")
        .await
        .unwrap();
    // ... and the rest of the head never comes.
    let (got, took) = read_until_closed(&mut tcp, Duration::from_secs(10)).await;
    // hyper's header timeout closes the connection without an answer (no 408).
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert_timed_out(took, "slow request head");
}

#[tokio::test]
async fn an_oversized_request_head_is_refused() {
    let node = Node::start("[limits]\nmax_header_bytes = 8192\n");
    let origin = Origin::http(echo("big")).await;
    node.api().add_domain("big.test", origin.addr).await;
    node.api().wait_applied().await;
    let client = reqwest::Client::builder()
        .resolve("big.test", node.http)
        .build()
        .unwrap();
    // Within the limit: served.
    let ok = client
        .get(node.http_url("big.test", "/"))
        .header("x-pad", "a".repeat(4000))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // Over it: 431, and the origin never sees it. Sent by hand so the whole head is written
    // before the answer is read.
    let before = origin.seen().len();
    let mut tcp = TcpStream::connect(node.http).await.unwrap();
    let head = format!(
        "GET / HTTP/1.1\r\nHost: big.test\r\nx-pad: {}\r\n\r\n",
        "a".repeat(9000)
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (got, _) = read_until_closed(&mut tcp, Duration::from_secs(10)).await;
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 431 "), "over the limit: {got:?}");
    assert_eq!(origin.seen().len(), before);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let node = Node::start("[limits]\nmax_connections = 2\n");
    let origin = Origin::http(echo("limit")).await;
    node.api().add_domain("limit.test", origin.addr).await;
    node.api().wait_applied().await;
    let request = b"GET /x HTTP/1.1\r\nHost: limit.test\r\n\r\n";
    let mut first = TcpStream::connect(node.http).await.unwrap();
    let mut second = TcpStream::connect(node.http).await.unwrap();
    for c in [&mut first, &mut second] {
        c.write_all(request).await.unwrap();
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    }
    // Both slots are held by idle keep-alive connections: a third is not served...
    let mut third = TcpStream::connect(node.http).await.unwrap();
    third.write_all(request).await.unwrap();
    let mut buf = [0u8; 512];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf))
            .await
            .is_err(),
        "a third connection was served while two held the limit"
    );
    // ... until one of them goes.
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[tokio::test]
async fn the_admin_api_refuses_oversized_bodies_with_the_contract_error() {
    let tmp = tempfile::tempdir().unwrap();
    let text =
        config_text(tmp.path(), "", "").replace("[admin]\n", "[admin]\nmax_body_bytes = 2048\n");
    let node = Node::start_config(tmp.path(), &text);
    let (status, v) = node
        .api()
        .call(
            "POST",
            "/certificates",
            Some(serde_json::json!({"name": "x", "cert_pem": "a".repeat(4096), "key_pem": ""})),
        )
        .await;
    assert_eq!(status, 413);
    assert_eq!(v["error"]["code"], "PayloadTooLarge");
}
