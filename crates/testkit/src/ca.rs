//! The CA itself: [`TestCa`] (root or intermediate) and the one leaf factory, [`TestCa::issue`].

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// How long a leaf stays valid by default, in days from when it is made (it is valid from one day
/// before, so clocks a little apart agree): long enough that no test or demo meets the 30-day
/// expiry warning, short like a real leaf.
pub const LEAF_DAYS: i64 = 90;

/// A failure of rcgen while making a key or signing a certificate, with the step it was in.
///
/// With the parameters this crate builds it happens only if the crypto library fails (or a
/// caller's edit makes parameters rcgen refuses, such as an empty serial number).
#[derive(Debug, thiserror::Error)]
#[error("test CA: cannot {step}")]
pub struct CaError {
    /// What was being made, e.g. "generate an ECDSA P-256 key".
    step: &'static str,
    #[source]
    source: rcgen::Error,
}

impl CaError {
    fn at(step: &'static str) -> impl FnOnce(rcgen::Error) -> CaError {
        move |source| CaError { step, source }
    }
}

/// The key algorithm of a leaf (CAs always use ECDSA P-256).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// ECDSA on P-256 with SHA-256: what most public leaves carry today.
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// RSA 2048-bit with SHA-256. Slow to generate in debug builds (about a second).
    Rsa2048,
}

impl Alg {
    /// A new key pair of this algorithm.
    ///
    /// # Errors
    /// [`CaError`] if the crypto library cannot make the key.
    pub fn generate(self) -> Result<KeyPair, CaError> {
        let (alg, step) = match self {
            Alg::EcdsaP256 => (
                &rcgen::PKCS_ECDSA_P256_SHA256,
                "generate an ECDSA P-256 key",
            ),
            Alg::EcdsaP384 => (
                &rcgen::PKCS_ECDSA_P384_SHA384,
                "generate an ECDSA P-384 key",
            ),
            Alg::Rsa2048 => (&rcgen::PKCS_RSA_SHA256, "generate an RSA 2048 key"),
        };
        KeyPair::generate_for(alg).map_err(CaError::at(step))
    }
}

/// A leaf certificate with its private key, as an operator would upload them.
pub struct Leaf {
    /// The leaf certificate alone (no chain), PEM.
    pub cert_pem: String,
    /// The leaf's private key, PKCS#8 PEM. A secret in real life: never log it.
    pub key_pem: String,
    /// The leaf certificate, DER (what a TLS peer sees, and what fingerprints hash).
    pub der: Vec<u8>,
}

impl std::fmt::Debug for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leaf")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A certificate authority, root or intermediate, that issues certificates.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// This CA's own certificate, PEM: what a client trusts (root) or a chain appends to its
    /// leaf (intermediate).
    pub cert_pem: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// The parameters every CA of this crate starts from: a CA for certificate and CRL signing
/// (and digital signatures, as many real roots carry), named `common_name`.
fn ca_params(common_name: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
}

/// Parameters of a certificate for `names` (DNS SANs; the first is also the common name,
/// `fallback_cn` if there is none).
fn named_params(names: &[&str], fallback_cn: &str) -> Result<CertificateParams, CaError> {
    let sans: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let mut params =
        CertificateParams::new(sans).map_err(CaError::at("use the names as DNS SANs"))?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or(fallback_cn),
    );
    Ok(params)
}

impl TestCa {
    /// A self-signed root named `common_name`, with a new ECDSA P-256 key and no path length
    /// limit (rcgen's default validity: 1975 to 4096).
    ///
    /// # Errors
    /// [`CaError`] if the key cannot be made or the certificate signed.
    pub fn new(common_name: &str) -> Result<TestCa, CaError> {
        let params = ca_params(common_name, BasicConstraints::Unconstrained);
        let key = Alg::EcdsaP256.generate()?;
        let issuer =
            CertifiedIssuer::self_signed(params, key).map_err(CaError::at("self-sign the root"))?;
        Ok(TestCa::from_issuer(issuer))
    }

    /// An intermediate CA issued by this one, with a new ECDSA P-256 key, allowed to issue
    /// leaves only (path length 0).
    ///
    /// # Errors
    /// [`CaError`] if the key cannot be made or the certificate signed.
    pub fn intermediate(&self, common_name: &str) -> Result<TestCa, CaError> {
        self.intermediate_with(common_name, |_| {})
    }

    /// [`TestCa::intermediate`] with its parameters changed by `edit` before signing (e.g. dates
    /// in the past, to make an expired intermediate).
    ///
    /// # Errors
    /// [`CaError`] if the key cannot be made or the certificate signed.
    pub fn intermediate_with(
        &self,
        common_name: &str,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Result<TestCa, CaError> {
        let mut params = ca_params(common_name, BasicConstraints::Constrained(0));
        edit(&mut params);
        let key = Alg::EcdsaP256.generate()?;
        let issuer = CertifiedIssuer::signed_by(params, key, &self.issuer)
            .map_err(CaError::at("sign the intermediate"))?;
        Ok(TestCa::from_issuer(issuer))
    }

    fn from_issuer(issuer: CertifiedIssuer<'static, KeyPair>) -> TestCa {
        TestCa {
            cert_pem: issuer.pem(),
            issuer,
        }
    }

    /// This CA's own certificate (for its DER, or to put it in a chain).
    pub fn cert(&self) -> &Certificate {
        self.issuer.as_ref()
    }

    /// The issuer rcgen signs with, for what this crate does not wrap (e.g. signing a CSR with
    /// `CertificateSigningRequestParams::signed_by`).
    pub fn issuer(&self) -> &rcgen::Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// The one leaf factory: a certificate for the public key of `key`, with `names` as DNS
    /// SANs (the first also as common name), valid from one day ago to [`LEAF_DAYS`] days ahead, then
    /// changed by `edit` (dates, serial number, extensions…) and signed by this CA.
    ///
    /// # Errors
    /// [`CaError`] if a name is not a valid DNS SAN or the certificate cannot be signed.
    pub fn issue(
        &self,
        key: &KeyPair,
        names: &[&str],
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Result<Certificate, CaError> {
        let mut params = named_params(names, "leaf")?;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(LEAF_DAYS);
        edit(&mut params);
        params
            .signed_by(key, &self.issuer)
            .map_err(CaError::at("sign the leaf"))
    }

    /// A leaf for `names` with a new ECDSA P-256 key (see [`TestCa::issue`] for the rest).
    ///
    /// # Errors
    /// As [`TestCa::issue`], and if the key cannot be made.
    pub fn leaf(&self, names: &[&str]) -> Result<Leaf, CaError> {
        self.leaf_with(names, Alg::EcdsaP256, |_| {})
    }

    /// A leaf for `names` with a new key of `alg`, its parameters changed by `edit`.
    ///
    /// # Errors
    /// As [`TestCa::issue`], and if the key cannot be made.
    pub fn leaf_with(
        &self,
        names: &[&str],
        alg: Alg,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Result<Leaf, CaError> {
        let key = alg.generate()?;
        let cert = self.issue(&key, names, edit)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        })
    }

    /// [`TestCa::leaf_with`] with the serial number `serial` (big-endian bytes).
    ///
    /// # Errors
    /// As [`TestCa::leaf_with`].
    pub fn leaf_with_serial(
        &self,
        names: &[&str],
        alg: Alg,
        serial: &[u8],
    ) -> Result<Leaf, CaError> {
        self.leaf_with(names, alg, |p| {
            p.serial_number = Some(SerialNumber::from_slice(serial));
        })
    }
}

/// A self-signed certificate for the public key of `key` with `names` as DNS SANs (the first
/// also as common name, `test` if there is none), changed by `edit` before signing. rcgen's
/// default validity (1975 to 4096) unless `edit` sets one.
///
/// # Errors
/// [`CaError`] if a name is not a valid DNS SAN or the certificate cannot be signed.
pub fn self_signed(
    key: &KeyPair,
    names: &[&str],
    edit: impl FnOnce(&mut CertificateParams),
) -> Result<Certificate, CaError> {
    let mut params = named_params(names, "test")?;
    edit(&mut params);
    params
        .self_signed(key)
        .map_err(CaError::at("self-sign the certificate"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

    #[test]
    fn a_leaf_names_its_issuer_and_carries_the_default_validity() {
        let root = TestCa::new("Root").unwrap();
        let inter = root.intermediate("Inter").unwrap();
        let leaf = inter.leaf(&["a.example.test", "b.example.test"]).unwrap();
        let (_, cert) = X509Certificate::from_der(&leaf.der).unwrap();
        let v = cert.validity();
        assert_eq!(
            (v.not_after - v.not_before).map(|d| d.whole_days()),
            Some(LEAF_DAYS + 1)
        );
        assert!(v.not_before.timestamp() < OffsetDateTime::now_utc().unix_timestamp());
        let sans: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => (*d).to_owned(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(sans, ["a.example.test", "b.example.test"]);
        assert_eq!(cert.issuer().to_string(), "CN=Inter");
        assert!(leaf.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(!format!("{leaf:?}").contains("PRIVATE KEY"));

        let (_, inter_cert) = X509Certificate::from_der(inter.cert().der()).unwrap();
        let bc = inter_cert.basic_constraints().unwrap().unwrap().value;
        assert!(bc.ca);
        assert_eq!(bc.path_len_constraint, Some(0));
        assert_eq!(inter_cert.issuer().to_string(), "CN=Root");
    }

    #[test]
    fn a_serial_is_kept() {
        let root = TestCa::new("Root").unwrap();
        let leaf = root
            .leaf_with_serial(&["s.example.test"], Alg::EcdsaP384, &[0x12, 0x34])
            .unwrap();
        let (_, cert) = X509Certificate::from_der(&leaf.der).unwrap();
        assert_eq!(cert.raw_serial(), [0x12, 0x34]);
    }
}
