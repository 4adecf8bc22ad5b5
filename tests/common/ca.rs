//! The test CA of the end-to-end tests: `tlsedge_testkit`'s one builder (shared with the unit
//! tests, `tlsedge demo` and the bench tool), with helpers that panic instead of returning
//! errors, and the digests tests compare certificates and keys by.

use std::ops::Deref;

pub use tlsedge_testkit::{Alg, Leaf};

/// A root or intermediate CA; derefs to [`tlsedge_testkit::TestCa`] for `cert_pem`, `cert()`
/// and `issuer()`.
pub struct TestCa(tlsedge_testkit::TestCa);

impl Deref for TestCa {
    type Target = tlsedge_testkit::TestCa;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl TestCa {
    /// A self-signed root named `name` (ECDSA P-256).
    pub fn new(name: &str) -> TestCa {
        TestCa(tlsedge_testkit::TestCa::new(name).unwrap())
    }

    /// An intermediate CA issued by this CA; its `cert_pem` is what a chain appends to a leaf.
    pub fn intermediate(&self, name: &str) -> TestCa {
        TestCa(self.0.intermediate(name).unwrap())
    }

    /// An ECDSA P-256 leaf for `names`, valid from a day ago to 90 days ahead.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.0.leaf(names).unwrap()
    }

    /// A leaf for `names` with key algorithm `alg`, valid `from`..`to` (default: the kit's,
    /// a day ago to 90 days ahead).
    pub fn leaf_with(
        &self,
        names: &[&str],
        alg: Alg,
        validity: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
    ) -> Leaf {
        self.0
            .leaf_with(names, alg, |p| {
                if let Some((from, to)) = validity {
                    p.not_before = from;
                    p.not_after = to;
                }
            })
            .unwrap()
    }

    /// A leaf like [`TestCa::leaf_with`] (default validity) with the serial number `serial`
    /// (big-endian bytes).
    pub fn leaf_with_serial(&self, names: &[&str], alg: Alg, serial: &[u8]) -> Leaf {
        self.0.leaf_with_serial(names, alg, serial).unwrap()
    }
}

/// SHA-256 of `data` as 64 lowercase hex digits (aws-lc-rs, through rustls's hash provider).
pub fn sha256_hex(data: &[u8]) -> String {
    let suite = rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .unwrap();
    suite
        .common
        .hash_provider
        .hash(data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The base64 body lines of a PEM text (every line but BEGIN/END and headers): what must never
/// show up anywhere when the PEM is a private key.
pub fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----") && !l.contains(':'))
        .map(str::to_owned)
        .collect()
}
