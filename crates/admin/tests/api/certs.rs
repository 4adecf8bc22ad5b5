//! Test certificates, made at run time with rcgen. A stand-in with the shape of the shared test
//! CA (`tlsedge-testkit`) until that crate lands.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// How long a leaf is valid by default, from one day ago.
pub(crate) const LEAF_DAYS: i64 = 90;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Alg {
    EcdsaP256,
    Rsa2048,
}

pub(crate) struct Leaf {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) der: Vec<u8>,
}

pub(crate) struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub(crate) cert_pem: String,
}

fn ca_params(name: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

impl TestCa {
    pub(crate) fn new(name: &str) -> Result<TestCa, rcgen::Error> {
        let key = KeyPair::generate()?;
        let params = ca_params(name, BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key)?;
        Ok(TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    pub(crate) fn intermediate(&self, name: &str) -> Result<TestCa, rcgen::Error> {
        let key = KeyPair::generate()?;
        let params = ca_params(name, BasicConstraints::Constrained(0));
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(TestCa {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    pub(crate) fn leaf(&self, names: &[&str]) -> Result<Leaf, rcgen::Error> {
        self.leaf_with(names, Alg::EcdsaP256, |_| {})
    }

    /// A leaf for `names` (DNS SANs, the first also the common name) with a new `alg` key,
    /// valid from a day ago for [`LEAF_DAYS`] days unless `edit` changes it.
    pub(crate) fn leaf_with(
        &self,
        names: &[&str],
        alg: Alg,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Result<Leaf, rcgen::Error> {
        let key = match alg {
            Alg::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            Alg::Rsa2048 => KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256),
        }?;
        let mut params =
            CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())?;
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(LEAF_DAYS);
        edit(&mut params);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        })
    }

    pub(crate) fn leaf_with_serial(
        &self,
        names: &[&str],
        alg: Alg,
        serial: &[u8],
    ) -> Result<Leaf, rcgen::Error> {
        self.leaf_with(names, alg, |p| {
            p.serial_number = Some(SerialNumber::from_slice(serial));
        })
    }
}

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
