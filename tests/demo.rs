//! `tlsedge demo` needs nothing installed and prints curl commands that work as printed from
//! the folder it was started in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{require_tool, unsafe_free_kill, wait_exit, BIN};

#[test]
fn demo_prints_curl_commands_that_work() {
    require_tool("curl", &["--version"], "curl");
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("demo")
        .current_dir(tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut curls = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the demo printed its commands");
        if line.starts_with("curl ") {
            curls.push(line);
        } else if line.starts_with("The CLI") {
            break;
        }
    }
    assert!(curls.len() >= 3, "{curls:?}");
    assert!(curls.iter().any(|c| c.contains("https://")), "{curls:?}");
    assert!(curls.iter().all(|c| c.contains("--resolve")), "{curls:?}");
    for c in &curls {
        // As printed, from the folder the demo started in; -f fails on an HTTP error status.
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{c} -f -sS -o /dev/null -w '%{{http_code}}'"))
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let code = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{c}: {code} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The secure name forces HTTPS (301 from plain HTTP); everything else is served.
        let want = if c.contains("http://www.tlsedge.test") {
            "301"
        } else {
            "200"
        };
        assert_eq!(code, want, "{c}");
    }
    // The HTTPS commands reach the demo origin through the edge.
    let https = curls
        .iter()
        .find(|c| c.contains("https://") && !c.contains(" -I"))
        .unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{https} -sS"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.contains("Hello from the tlsedge demo origin"),
        "{body}"
    );
    assert!(body.contains("x-forwarded-proto: https"), "{body}");

    // The CLI finds the demo node through the config the demo wrote.
    let out = Command::new(BIN)
        .args(["--config", "tlsedge-demo/tlsedge.toml", "domain", "list"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.contains("www.tlsedge.test"), "{table}");

    unsafe_free_kill(child.id(), "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(40));
    assert!(status.success(), "{status:?}");
}
