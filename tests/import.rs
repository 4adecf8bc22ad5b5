//! `tlsedge import`: many certificates and their domains straight into a stopped node's store,
//! with the same checks as the API, all or nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn import(config: &Path, dir: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("import")
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("PRIVATE KEY"),
        "import output mentions key material"
    );
    (out.status.success(), text)
}

fn write_pair(dir: &Path, stem: &str, leaf: &Leaf) {
    std::fs::write(dir.join(format!("{stem}.crt")), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join(format!("{stem}.key")), &leaf.key_pem).unwrap();
}

#[tokio::test]
async fn import_loads_certificates_and_domains_all_or_nothing() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("tlsedge.toml");
    std::fs::write(&config, config_text(data.path(), "", "")).unwrap();
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new("import CA");
    let origin = Origin::http(echo("imported")).await;
    let origin_arg = format!("127.0.0.1:{}", origin.addr.port());
    let a = ca.leaf(&["a.imp.test"]);
    let w = ca.leaf(&["*.w.imp.test"]);
    write_pair(certs.path(), "a.imp.test", &a);
    write_pair(certs.path(), "_.w.imp.test", &w);
    // One pair whose certificate does not cover its name: the whole import is refused.
    write_pair(certs.path(), "b.imp.test", &ca.leaf(&["other.imp.test"]));
    let (ok, text) = import(&config, certs.path(), &["--origin", &origin_arg]);
    assert!(!ok, "an import with a bad pair succeeded: {text}");
    assert!(
        text.contains("b.imp.test"),
        "the error does not name the bad pair: {text}"
    );

    {
        let node = Node::start_config(data.path(), &std::fs::read_to_string(&config).unwrap());
        // Every kind of record the import would write: domains, certificates, and the revision.
        let api = node.api();
        let v = api.ok("GET", "/domains", None).await;
        assert_eq!(
            v["domains"],
            serde_json::json!([]),
            "a refused import wrote a domain"
        );
        let v = api.ok("GET", "/certificates", None).await;
        assert_eq!(
            v["certificates"],
            serde_json::json!([]),
            "a refused import wrote a certificate"
        );
        let v = api.ok("GET", "/nodes", None).await;
        assert_eq!(v["revision"], 0, "a refused import committed a revision");
        assert!(node.stop().await.success());
    }

    // Fixed, it goes through; the node serves every domain over HTTPS after a start.
    write_pair(certs.path(), "b.imp.test", &ca.leaf(&["b.imp.test"]));
    let (ok, text) = import(&config, certs.path(), &["--origin", &origin_arg]);
    assert!(ok, "{text}");
    let node = Node::start_config(data.path(), &std::fs::read_to_string(&config).unwrap());
    let api = node.api();
    let certs_list = api.ok("GET", "/certificates", None).await;
    assert_eq!(certs_list["certificates"].as_array().unwrap().len(), 3);
    let client = node.client(&ca.cert_pem, &["a.imp.test", "x.w.imp.test", "b.imp.test"]);
    for host in ["a.imp.test", "x.w.imp.test", "b.imp.test"] {
        let r = client.get(node.https_url(host, "/p")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{host}");
        assert_eq!(r.text().await.unwrap(), "imported /p");
    }
    let d = api.ok("GET", "/domains/*.w.imp.test", None).await;
    assert_eq!(d["https"]["enabled"], true);
    assert!(node.stop().await.success());

    // Again without --replace: refused, since the names exist; with it: accepted.
    let (ok, text) = import(&config, certs.path(), &["--origin", &origin_arg]);
    assert!(!ok, "{text}");
    let (ok, text) = import(
        &config,
        certs.path(),
        &["--origin", &origin_arg, "--replace"],
    );
    assert!(ok, "{text}");
}
