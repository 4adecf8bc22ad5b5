//! Test certificates, made at run time by the workspace's one test CA (`tlsedge-testkit`, rcgen),
//! and the digests tests compare them by.

pub(crate) use tlsedge_testkit::{Alg, Leaf, TestCa};

/// SHA-256 of `data` as 64 lowercase hex digits (aws-lc-rs, not the code under test).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The base64 body lines of a PEM text (every line but BEGIN/END and headers).
pub(crate) fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----") && !l.contains(':'))
        .map(str::to_owned)
        .collect()
}

/// Runs `openssl ARGS` with `input` on stdin and returns its stdout. A missing openssl fails the
/// test: it is a declared tool of the suite (Debian package `openssl`, installed by `.ci/run`).
pub(crate) fn openssl(args: &[&str], input: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = match Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("openssl is not installed: install the Debian package `openssl` (.ci/run does)")
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
    String::from_utf8(out.stdout).unwrap()
}
