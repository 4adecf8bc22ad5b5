//! The shortest path through the product: upload, add a domain, enable HTTPS, fetch over TLS.
mod common;

use common::*;

#[tokio::test]
async fn upload_domain_https_fetch() {
    let node = Node::start("");
    let ca = TestCa::new("smoke CA");
    let origin = Origin::http(echo("origin")).await;
    let api = node.api();
    let info = api.upload_cert("c1", &ca.leaf(&["a.example.test"])).await;
    assert_eq!(info["status"], "valid");
    api.add_domain("a.example.test", origin.addr).await;
    api.enable_https("a.example.test", "c1", serde_json::json!({}))
        .await;
    api.wait_applied().await;
    let client = node.client(&ca.cert_pem, &["a.example.test"]);
    let resp = client
        .get(node.https_url("a.example.test", "/x?y=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "origin /x?y=1");
}
