//! Write-time validation of an uploaded certificate chain and private key.
//!
//! Everything that can be wrong with an upload is found here, once, so that the data plane only
//! ever loads pairs that work. Refusals are [`ValidationError`]s naming the contract's error code
//! and the JSON field (`cert_pem` or `key_pem`); their messages describe the problem and never
//! quote the input.

use std::sync::Arc;

use rustls::sign::{CertifiedKey, SigningKey};
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::CertificateDer;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use tlsedge_model::{CertChain, CertificateMeta, ErrorCode, ValidationError};
use x509_parser::certificate::X509Certificate;
use x509_parser::error::X509Error;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Version;
use zeroize::Zeroizing;

use crate::key::{self, KeyFormat, KeyMaterial, KeyProblem, MatchError};
use crate::pem;

/// The most certificates a chain may hold, leaf included. A leaf and two or three intermediates
/// is the most any public CA hands out; more is a mistake (or a whole CA bundle).
const MAX_CHAIN: usize = 10;

/// A leaf this close to `notAfter` gets a warning.
const EXPIRY_WARNING: Duration = Duration::days(30);

const CERT: &str = "cert_pem";
const KEY: &str = "key_pem";

/// Result of checking an uploaded certificate chain + key once, at write time.
#[derive(Debug, Clone)]
pub struct ValidatedCertificate {
    /// The facts the certificate center lists, read from the leaf.
    pub meta: CertificateMeta,
    /// The chain, re-encoded as normalised PEM (leaf first), what the store keeps.
    pub cert_pem: String,
    /// The same chain as the DER it was parsed into (leaf first): what the store record keeps
    /// and the data plane serves, without parsing PEM again.
    pub chain: CertChain,
    /// The private key, ready to be sealed. Its `Debug` prints no key bytes.
    pub key: KeyMaterial,
}

/// Checks an uploaded chain (leaf first, then intermediates) and its unencrypted private key.
///
/// Refuses, with the contract's codes: input that is not PEM or does not parse (`InvalidPem`),
/// PKCS#7 bundles, DSA keys and keys aws-lc-rs cannot sign with (`UnsupportedFormat`), encrypted
/// keys (`EncryptedKey`), more than 10 certificates or more than one key (`InvalidRequest`), a key
/// that is not the leaf's (`KeyMismatch`), and a leaf outside its validity period at `now`
/// (`CertificateExpired`, `CertificateNotYetValid`). Things worth knowing that do not stop the
/// upload (chain order, self-signed leaf, expiry within 30 days…) become `meta.warnings`.
///
/// The leaf is the first certificate, except when the key belongs to a later one (a chain pasted
/// intermediate first): that certificate is then moved to the front of the stored chain, with a
/// warning, because serving any other certificate as the leaf would fail every handshake. A key
/// that belongs to no certificate of the chain is a `KeyMismatch`.
pub fn validate_upload(
    cert_pem: &str,
    key_pem: &str,
    now: OffsetDateTime,
) -> Result<ValidatedCertificate, ValidationError> {
    let chain = read_chain(cert_pem)?;
    let certs = parse_chain(&chain.ders)?;
    let key = read_key(key_pem)?;
    finish(&chain, &certs, key, now)
}

/// The same checks as [`validate_upload`] for a chain whose key the server already holds (a CSR
/// completed by `PUT /api/v1/certificates/{name}`). Key problems are reported on `key_pem`.
pub fn validate_with_key(
    cert_pem: &str,
    key: &KeyMaterial,
    now: OffsetDateTime,
) -> Result<ValidatedCertificate, ValidationError> {
    let chain = read_chain(cert_pem)?;
    let certs = parse_chain(&chain.ders)?;
    finish(&chain, &certs, key.clone(), now)
}

/// The certificates found in `cert_pem`, and the labels of any other blocks beside them.
struct Chain {
    ders: Vec<CertificateDer<'static>>,
    ignored: Vec<String>,
}

fn invalid_pem(field: &'static str, message: impl Into<String>) -> ValidationError {
    ValidationError::new(ErrorCode::InvalidPem, field, message)
}

fn unsupported(field: &'static str, message: impl Into<String>) -> ValidationError {
    ValidationError::new(ErrorCode::UnsupportedFormat, field, message)
}

fn read_chain(cert_pem: &str) -> Result<Chain, ValidationError> {
    let text = pem::normalise(cert_pem);
    let scan = pem::scan(&text);
    if scan.labels.is_empty() {
        return Err(invalid_pem(
            CERT,
            format!(
                "cert_pem is not PEM: it holds no -----BEGIN CERTIFICATE----- block{}",
                pem::escaped_newline_hint(cert_pem)
            ),
        ));
    }
    let mut ders = Vec::new();
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(text.as_bytes()) {
        let (kind, der) = item.map_err(|e| {
            invalid_pem(
                CERT,
                format!(
                    "cert_pem is not valid PEM: {}{}",
                    pem::describe(&e),
                    pem::escaped_newline_hint(cert_pem)
                ),
            )
        })?;
        if kind != SectionKind::Certificate {
            // Possibly a private key pasted along; it is not kept, and not left in memory.
            drop(Zeroizing::new(der));
            continue;
        }
        if ders.len() == MAX_CHAIN {
            return Err(ValidationError::invalid(
                CERT,
                format!("cert_pem holds more than {MAX_CHAIN} certificates; upload the leaf and its intermediates only"),
            ));
        }
        ders.push(CertificateDer::from(der));
    }
    let ignored: Vec<String> = scan
        .labels
        .into_iter()
        .filter(|l| l != "CERTIFICATE")
        .collect();
    if ders.is_empty() {
        if ignored
            .iter()
            .any(|l| l == "PKCS7" || l == "PKCS #7 SIGNED DATA" || l == "CMS")
        {
            return Err(unsupported(
                CERT,
                "cert_pem holds a PKCS#7 bundle, which is not supported; convert it to PEM certificates, \
                 leaf first (openssl pkcs7 -print_certs)",
            ));
        }
        return Err(unsupported(
            CERT,
            format!(
                "cert_pem holds no CERTIFICATE block, only {}",
                ignored.join(", ")
            ),
        ));
    }
    Ok(Chain { ders, ignored })
}

fn parse_chain<'a>(
    ders: &'a [CertificateDer<'static>],
) -> Result<Vec<X509Certificate<'a>>, ValidationError> {
    ders.iter()
        .enumerate()
        .map(|(i, der)| match X509Certificate::from_der(der) {
            Ok(([], cert)) => Ok(cert),
            Ok(_) => Err(invalid_pem(
                CERT,
                format!(
                    "certificate {} in cert_pem has trailing data after it",
                    i + 1
                ),
            )),
            Err(_) => Err(invalid_pem(
                CERT,
                format!(
                    "certificate {} in cert_pem is not a valid X.509 certificate",
                    i + 1
                ),
            )),
        })
        .collect()
}

fn read_key(key_pem: &str) -> Result<KeyMaterial, ValidationError> {
    let text = pem::normalise(key_pem);
    let scan = pem::scan(&text);
    if scan.encrypted_header || scan.labels.iter().any(|l| l == "ENCRYPTED PRIVATE KEY") {
        return Err(ValidationError::new(
            ErrorCode::EncryptedKey,
            KEY,
            "the private key is encrypted with a passphrase; upload it unencrypted \
             (for example: openssl pkey -in encrypted.pem -out key.pem)",
        ));
    }
    if scan.labels.is_empty() {
        return Err(invalid_pem(
            KEY,
            format!(
                "key_pem is not PEM: it holds no -----BEGIN PRIVATE KEY----- block{}",
                pem::escaped_newline_hint(key_pem)
            ),
        ));
    }
    for label in &scan.labels {
        match label.as_str() {
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {}
            "DSA PRIVATE KEY" => {
                return Err(unsupported(KEY, "DSA keys are not supported; use an ECDSA P-256 or P-384 key, or RSA of 2048 bits or more"));
            }
            "OPENSSH PRIVATE KEY" => {
                return Err(unsupported(
                    KEY,
                    "OpenSSH private keys are not supported; convert the key to PKCS#8 PEM (ssh-keygen -p -m PKCS8 -f FILE)",
                ));
            }
            other if other.ends_with("PRIVATE KEY") => {
                return Err(unsupported(
                    KEY,
                    format!("{other} blocks are not supported; upload a PKCS#8 PRIVATE KEY"),
                ));
            }
            _ => {}
        }
    }
    let mut found: Option<KeyMaterial> = None;
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(text.as_bytes()) {
        let (kind, der) = item.map_err(|e| {
            invalid_pem(
                KEY,
                format!(
                    "key_pem is not valid PEM: {}{}",
                    pem::describe(&e),
                    pem::escaped_newline_hint(key_pem)
                ),
            )
        })?;
        let der = Zeroizing::new(der);
        let format = match kind {
            SectionKind::PrivateKey => KeyFormat::Pkcs8,
            SectionKind::RsaPrivateKey => KeyFormat::Pkcs1,
            SectionKind::EcPrivateKey => KeyFormat::Sec1,
            _ => continue,
        };
        if found.is_some() {
            return Err(ValidationError::invalid(
                KEY,
                "key_pem holds more than one private key; upload only the certificate's key",
            ));
        }
        found = Some(
            KeyMaterial::from_format_and_der(format, &der)
                .ok_or_else(|| invalid_pem(KEY, "the private key block is empty"))?,
        );
    }
    found.ok_or_else(|| {
        invalid_pem(
            KEY,
            "key_pem holds no private key (expected a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)",
        )
    })
}

/// The checks and facts that follow parsing, in order: the key's signer, the leaf, its dates,
/// the warnings, the meta the certificate center lists.
fn finish(
    chain: &Chain,
    certs: &[X509Certificate<'_>],
    key: KeyMaterial,
    now: OffsetDateTime,
) -> Result<ValidatedCertificate, ValidationError> {
    let signer = signer(&key)?;
    let key_type = signer
        .public_key()
        .map_or(tlsedge_model::KeyType::Unknown, |spki| key::key_type(&spki));
    let mut warnings = Vec::new();
    let leaf_index = pick_leaf(&chain.ders, &signer, &mut warnings)?;
    // The leaf first, the others in the order given.
    let order: Vec<usize> = std::iter::once(leaf_index)
        .chain((0..certs.len()).filter(|&i| i != leaf_index))
        .collect();
    let certs: Vec<&X509Certificate<'_>> = order.iter().filter_map(|&i| certs.get(i)).collect();
    let ders: Vec<CertificateDer<'static>> = order
        .iter()
        .filter_map(|&i| chain.ders.get(i).cloned())
        .collect();
    let (Some(&leaf), Some(leaf_der)) = (certs.first(), ders.first()) else {
        return Err(invalid_pem(CERT, "cert_pem holds no certificate"));
    };
    let (not_before, not_after) = check_dates(leaf, now)?;
    warnings.extend(ignored_blocks_warning(&chain.ignored));
    let sans = names(leaf, &mut warnings)?;
    warnings.extend(leaf_warnings(leaf));
    warnings.extend(chain_warnings(&certs, not_after, now));
    let meta = CertificateMeta {
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        sans,
        not_before,
        not_after,
        serial: serial_hex(leaf.raw_serial()),
        fingerprint_sha256: hex::encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf_der).as_ref(),
        ),
        key_type,
        chain_length: certs.len(),
        warnings,
    };
    let cert_pem = ders
        .iter()
        .map(|der| pem::encode("CERTIFICATE", der))
        .collect();
    Ok(ValidatedCertificate {
        meta,
        cert_pem,
        chain: CertChain::from_der(ders),
        key,
    })
}

/// The signer the data plane would use for `key`: refuses keys that do not parse
/// (`InvalidPem`) and types it cannot serve (`UnsupportedFormat`).
fn signer(key: &KeyMaterial) -> Result<Arc<dyn SigningKey>, ValidationError> {
    key::signing_key(key).map_err(|p| match p {
        KeyProblem::Malformed(why) => invalid_pem(KEY, why),
        KeyProblem::Unsupported(why) => unsupported(KEY, why),
    })
}

/// The index of the leaf: the first certificate, except when the key belongs to a later one (a
/// chain pasted root or intermediate first). That one is then the leaf, with a warning, since
/// serving anything else as the end-entity certificate fails every handshake. A key that belongs
/// to no certificate of the chain is a `KeyMismatch`.
fn pick_leaf(
    ders: &[CertificateDer<'static>],
    signer: &Arc<dyn SigningKey>,
    warnings: &mut Vec<String>,
) -> Result<usize, ValidationError> {
    let matches = |der: &CertificateDer<'static>| {
        key::check_match(&CertifiedKey::new(vec![der.clone()], signer.clone()))
    };
    match ders.first().map(matches) {
        None => Err(invalid_pem(CERT, "cert_pem holds no certificate")),
        Some(Ok(())) => Ok(0),
        Some(Err(MatchError::Certificate(err))) => Err(unsupported(
            CERT,
            format!("the leaf certificate cannot be served over TLS: {err}"),
        )),
        Some(Err(MatchError::Mismatch)) => {
            let found = ders
                .iter()
                .enumerate()
                .skip(1)
                .find(|(_, der)| matches(der).is_ok());
            let Some((i, _)) = found else {
                return Err(ValidationError::new(
                    ErrorCode::KeyMismatch,
                    KEY,
                    "the private key does not match the certificate",
                ));
            };
            warnings.push(format!(
                "the chain is not in order: the private key belongs to certificate {}, which is now stored first as the leaf",
                i + 1
            ));
            Ok(i)
        }
    }
}

/// The leaf's validity period; refuses a leaf that expired (`CertificateExpired`) or is not
/// yet valid (`CertificateNotYetValid`) at `now`.
fn check_dates(
    leaf: &X509Certificate<'_>,
    now: OffsetDateTime,
) -> Result<(OffsetDateTime, OffsetDateTime), ValidationError> {
    let not_before = leaf.validity().not_before.to_datetime();
    let not_after = leaf.validity().not_after.to_datetime();
    if not_after < now {
        return Err(ValidationError::new(
            ErrorCode::CertificateExpired,
            CERT,
            format!("the certificate expired on {}", date(not_after)),
        ));
    }
    if not_before > now {
        return Err(ValidationError::new(
            ErrorCode::CertificateNotYetValid,
            CERT,
            format!("the certificate is not valid before {}", date(not_before)),
        ));
    }
    Ok((not_before, not_after))
}

/// The warning that `cert_pem` held blocks besides certificates, which were dropped.
fn ignored_blocks_warning(ignored: &[String]) -> Option<String> {
    if ignored.is_empty() {
        return None;
    }
    Some(format!(
        "cert_pem also held blocks that are not certificates ({}); they were not kept",
        ignored
            .iter()
            // A stored warning names a key block without the words a leak scanner looks for.
            .map(|l| if l.ends_with("PRIVATE KEY") {
                "a private key"
            } else {
                l.as_str()
            })
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// What is odd about the leaf itself: not X.509 v3, an EKU without server authentication,
/// self-signed.
fn leaf_warnings(leaf: &X509Certificate<'_>) -> Vec<String> {
    let mut warnings = Vec::new();
    if leaf.version() != X509Version::V3 {
        warnings.push(
            "the leaf certificate is not an X.509 v3 certificate; many clients reject it"
                .to_owned(),
        );
    }
    if let Ok(Some(eku)) = leaf.extended_key_usage() {
        if !eku.value.server_auth && !eku.value.any {
            warnings.push("the leaf certificate's extended key usage does not allow TLS server authentication".to_owned());
        }
    }
    if issued_by(leaf, leaf) {
        warnings.push("the leaf certificate is self-signed".to_owned());
    }
    warnings
}

/// What is odd about the chain (leaf first) at `now`: a certificate not issued by the next, a
/// leaf within 30 days of `not_after`, intermediates outside their validity period.
fn chain_warnings(
    certs: &[&X509Certificate<'_>],
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (i, pair) in certs.windows(2).enumerate() {
        if !issued_by(pair[0], pair[1]) {
            warnings.push(format!(
                "the chain is not in order: certificate {} is not issued by certificate {}",
                i + 1,
                i + 2
            ));
        }
    }
    if not_after - now <= EXPIRY_WARNING {
        warnings.push(format!(
            "the certificate expires within 30 days, on {}",
            date(not_after)
        ));
    }
    for (i, cert) in certs.iter().enumerate().skip(1) {
        let validity = cert.validity();
        if validity.not_after.to_datetime() < now {
            warnings.push(format!(
                "an intermediate certificate has expired: certificate {} expired on {}",
                i + 1,
                date(validity.not_after.to_datetime())
            ));
        } else if validity.not_before.to_datetime() > now {
            warnings.push(format!(
                "an intermediate certificate is not yet valid: certificate {} is valid from {}",
                i + 1,
                date(validity.not_before.to_datetime())
            ));
        }
    }
    warnings
}

/// The leaf's DNS names, lowercase and without duplicates; the subject CN when it has none.
fn names(
    leaf: &X509Certificate<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, ValidationError> {
    let san = leaf.subject_alternative_name().map_err(|_| {
        invalid_pem(
            CERT,
            "the leaf certificate's subjectAltName extension cannot be read",
        )
    })?;
    let mut sans: Vec<String> = Vec::new();
    for name in san.iter().flat_map(|ext| &ext.value.general_names) {
        if let GeneralName::DNSName(dns) = name {
            let dns = dns.to_ascii_lowercase();
            if !sans.contains(&dns) {
                sans.push(dns);
            }
        }
    }
    if sans.is_empty() {
        match leaf.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()) {
            Some(cn) => {
                sans.push(cn.to_ascii_lowercase());
                warnings.push(
                    "the certificate has no DNS subject alternative names; its common name is used, which browsers ignore"
                        .to_owned(),
                );
            }
            None => warnings.push("the certificate names no host: it has neither DNS subject alternative names nor a common name".to_owned()),
        }
    }
    Ok(sans)
}

/// Whether `parent` issued `child`: its signature verifies under the parent's key. When the
/// signature algorithm is one we cannot verify (P-521, unusual RSA-PSS parameters), the names
/// decide.
fn issued_by(child: &X509Certificate<'_>, parent: &X509Certificate<'_>) -> bool {
    match child.verify_signature(Some(parent.public_key())) {
        Ok(()) => true,
        Err(X509Error::SignatureVerificationError) => false,
        Err(_) => child.issuer().as_raw() == parent.subject().as_raw(),
    }
}

/// Uppercase hex of the serial's DER content, without the leading zero byte DER adds to keep a
/// number with its high bit set positive.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    hex::encode_upper(raw.get(start..).unwrap_or_default())
}

fn date(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384};

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn code(
        r: Result<ValidatedCertificate, ValidationError>,
    ) -> (ErrorCode, Option<String>, String) {
        let e = r.unwrap_err();
        (e.code, e.field, e.message)
    }

    #[test]
    fn accepts_ecdsa_p256() {
        let kp = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = self_signed(&kp, &["WWW.Example.com", "example.com"]);
        let v = validate_upload(&cert.pem(), &kp.serialize_pem(), now()).unwrap();
        assert_eq!(v.meta.key_type.to_string(), "ecdsa-p256");
        assert_eq!(v.meta.sans, ["www.example.com", "example.com"]);
        assert_eq!(v.meta.chain_length, 1);
        assert_eq!(v.meta.warnings, ["the leaf certificate is self-signed"]);
        assert!(v.meta.subject.contains("CN="), "{}", v.meta.subject);
        assert_eq!(v.meta.subject, v.meta.issuer);
        assert_eq!(v.meta.fingerprint_sha256.len(), 64);
        assert!(v
            .meta
            .fingerprint_sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        let expected =
            hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der()).as_ref());
        assert_eq!(v.meta.fingerprint_sha256, expected);
        assert_eq!(v.key.format(), KeyFormat::Pkcs8);
        assert_eq!(v.key.secret_der(), kp.serialized_der());
        // The stored chain is the same certificate, re-encoded.
        assert_eq!(
            CertificateDer::from_pem_slice(v.cert_pem.as_bytes()).unwrap(),
            *cert.der()
        );
    }

    #[test]
    fn accepts_p384_p521_ed25519_and_rsa() {
        for (kp, expected) in [
            (
                KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).unwrap(),
                "ecdsa-p384",
            ),
            (
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap(),
                "ecdsa-p521",
            ),
            (
                KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
                "ed25519",
            ),
            (rsa2048(), "rsa-2048"),
        ] {
            let cert = self_signed(&kp, &["a.example.com"]);
            let v = validate_upload(&cert.pem(), &kp.serialize_pem(), now()).unwrap();
            assert_eq!(v.meta.key_type.to_string(), expected);
        }
    }

    #[test]
    fn accepts_pkcs1_and_sec1_keys() {
        let rsa = rsa2048();
        let cert = self_signed(&rsa, &["rsa.example.com"]);
        let pkcs1 = pem::encode("RSA PRIVATE KEY", &pkcs8_inner_key(rsa.serialized_der()));
        let v = validate_upload(&cert.pem(), &pkcs1, now()).unwrap();
        assert_eq!(v.key.format(), KeyFormat::Pkcs1);
        assert_eq!(v.meta.key_type.to_string(), "rsa-2048");

        for (alg, aws) in [
            (
                &PKCS_ECDSA_P256_SHA256,
                &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            ),
            (
                &PKCS_ECDSA_P384_SHA384,
                &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            ),
        ] {
            let kp = KeyPair::generate_for(alg).unwrap();
            let cert = self_signed(&kp, &["ec.example.com"]);
            // openssl ecparam -genkey writes an EC PARAMETERS block first; it must be skipped.
            let sec1 = format!(
                "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
                pem::encode("EC PRIVATE KEY", &sec1_of(aws, kp.serialized_der()))
            );
            let v = validate_upload(&cert.pem(), &sec1, now()).unwrap();
            assert_eq!(v.key.format(), KeyFormat::Sec1);
        }
    }

    #[test]
    fn tolerates_indentation_and_crlf() {
        let kp = KeyPair::generate().unwrap();
        let cert = self_signed(&kp, &["a.example.com"]);
        let messy = |s: String| {
            s.lines()
                .map(|l| format!("   {l}  \r\n"))
                .collect::<String>()
        };
        validate_upload(&messy(cert.pem()), &messy(kp.serialize_pem()), now()).unwrap();
    }

    #[test]
    fn chain_in_order_and_reversed() {
        let ca = Ca::new("Test Root");
        let inter = ca.intermediate("Test Intermediate");
        let kp = KeyPair::generate().unwrap();
        let leaf = inter.issue(&kp, &["shop.example.com"]);
        let ordered = format!("{}{}", leaf.pem(), inter.cert.pem());
        let v = validate_upload(&ordered, &kp.serialize_pem(), now()).unwrap();
        assert_eq!(v.meta.chain_length, 2);
        assert!(v.meta.warnings.is_empty(), "{:?}", v.meta.warnings);
        assert!(
            v.meta.issuer.contains("Test Intermediate"),
            "{}",
            v.meta.issuer
        );
        assert_eq!(v.cert_pem.matches("BEGIN CERTIFICATE").count(), 2);

        // Leaf first, then root, then intermediate: out of order.
        let wrong = format!("{}{}{}", leaf.pem(), ca.cert.pem(), inter.cert.pem());
        let v = validate_upload(&wrong, &kp.serialize_pem(), now()).unwrap();
        assert_eq!(v.meta.chain_length, 3);
        assert!(
            v.meta
                .warnings
                .iter()
                .any(|w| w
                    == "the chain is not in order: certificate 1 is not issued by certificate 2"),
            "{:?}",
            v.meta.warnings
        );
        assert!(
            v.meta
                .warnings
                .iter()
                .any(|w| w
                    == "the chain is not in order: certificate 2 is not issued by certificate 3"),
            "{:?}",
            v.meta.warnings
        );
    }

    #[test]
    fn reversed_chain_is_stored_leaf_first_with_a_warning() {
        let ca = Ca::new("Root");
        let inter = ca.intermediate("Intermediate");
        let kp = KeyPair::generate().unwrap();
        let leaf = inter.issue(&kp, &["a.example.com"]);
        let reversed = format!("{}{}", inter.cert.pem(), leaf.pem());
        let v = validate_upload(&reversed, &kp.serialize_pem(), now()).unwrap();
        assert_eq!(v.meta.chain_length, 2);
        assert_eq!(v.meta.sans, ["a.example.com"]);
        assert_eq!(
            v.meta.warnings,
            ["the chain is not in order: the private key belongs to certificate 2, which is now stored first as the leaf"]
        );
        assert_eq!(
            v.cert_pem,
            format!(
                "{}{}",
                pem::encode("CERTIFICATE", leaf.der()),
                pem::encode("CERTIFICATE", inter.cert.der())
            )
        );
        // A key that belongs to no certificate of the chain is still a mismatch.
        let other = KeyPair::generate().unwrap();
        let (c, f, m) = code(validate_upload(&reversed, &other.serialize_pem(), now()));
        assert_eq!(
            (c, f.as_deref(), m.as_str()),
            (
                ErrorCode::KeyMismatch,
                Some(KEY),
                "the private key does not match the certificate"
            )
        );
    }

    #[test]
    fn intermediate_expired_warning() {
        let ca = Ca::new("Root");
        let inter = ca.intermediate_with("Old Intermediate", |p| {
            p.not_before = now() - Duration::days(400);
            p.not_after = now() - Duration::days(1);
        });
        let kp = KeyPair::generate().unwrap();
        let leaf = inter.issue(&kp, &["a.example.com"]);
        let v = validate_upload(
            &format!("{}{}", leaf.pem(), inter.cert.pem()),
            &kp.serialize_pem(),
            now(),
        )
        .unwrap();
        assert!(
            v.meta
                .warnings
                .iter()
                .any(|w| w.starts_with("an intermediate certificate has expired")),
            "{:?}",
            v.meta.warnings
        );
    }

    #[test]
    fn dates() {
        let kp = KeyPair::generate().unwrap();
        let expired = self_signed_with(&kp, &["a.example.com"], |p| {
            p.not_before = now() - Duration::days(90);
            p.not_after = now() - Duration::days(1);
        });
        let (c, f, m) = code(validate_upload(&expired.pem(), &kp.serialize_pem(), now()));
        assert_eq!(
            (c, f.as_deref()),
            (ErrorCode::CertificateExpired, Some(CERT))
        );
        assert!(m.starts_with("the certificate expired on 20"), "{m}");

        let future = self_signed_with(&kp, &["a.example.com"], |p| {
            p.not_before = now() + Duration::days(2);
            p.not_after = now() + Duration::days(90);
        });
        let (c, f, m) = code(validate_upload(&future.pem(), &kp.serialize_pem(), now()));
        assert_eq!(
            (c, f.as_deref()),
            (ErrorCode::CertificateNotYetValid, Some(CERT))
        );
        assert!(
            m.starts_with("the certificate is not valid before 20"),
            "{m}"
        );

        let soon = self_signed_with(&kp, &["a.example.com"], |p| {
            p.not_before = now() - Duration::days(60);
            p.not_after = now() + Duration::days(10);
        });
        let v = validate_upload(&soon.pem(), &kp.serialize_pem(), now()).unwrap();
        assert!(
            v.meta
                .warnings
                .iter()
                .any(|w| w.starts_with("the certificate expires within 30 days")),
            "{:?}",
            v.meta.warnings
        );
    }

    #[test]
    fn common_name_fallback_and_serial() {
        let kp = KeyPair::generate().unwrap();
        let cert = self_signed_with(&kp, &[], |p| {
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.distinguished_name
                .push(rcgen::DnType::CommonName, "Legacy.Example.COM");
            p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x8F, 0x01, 0xAB]));
        });
        let v = validate_upload(&cert.pem(), &kp.serialize_pem(), now()).unwrap();
        assert_eq!(v.meta.sans, ["legacy.example.com"]);
        assert!(
            v.meta
                .warnings
                .iter()
                .any(|w| w.contains("no DNS subject alternative names")),
            "{:?}",
            v.meta.warnings
        );
        assert_eq!(v.meta.serial, "8F01AB");
        assert_eq!(serial_hex(&[0x00, 0x80]), "80");
        assert_eq!(serial_hex(&[0x01, 0x02]), "0102");
        assert_eq!(serial_hex(&[0x00]), "00");
    }

    #[test]
    fn eku_without_server_auth_warns() {
        let kp = KeyPair::generate().unwrap();
        let cert = self_signed_with(&kp, &["a.example.com"], |p| {
            p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        });
        let v = validate_upload(&cert.pem(), &kp.serialize_pem(), now()).unwrap();
        assert!(
            v.meta
                .warnings
                .iter()
                .any(|w| w.contains("extended key usage")),
            "{:?}",
            v.meta.warnings
        );
    }

    #[test]
    fn rejects_bad_cert_pem() {
        let kp = KeyPair::generate().unwrap();
        let key = kp.serialize_pem();
        let good = self_signed(&kp, &["a.example.com"]).pem();

        let (c, f, m) = code(validate_upload("hello", &key, now()));
        assert_eq!((c, f.as_deref()), (ErrorCode::InvalidPem, Some(CERT)));
        assert!(!m.contains("hello"));
        let escaped = good.replace('\n', "\\n");
        let (c, _, m) = code(validate_upload(&escaped, &key, now()));
        assert_eq!(c, ErrorCode::InvalidPem);
        assert!(m.contains("literal \\n"), "{m}");

        let garbage = "-----BEGIN CERTIFICATE-----\nTUlJQmdhcmJhZ2U=\n-----END CERTIFICATE-----\n";
        let (c, f, m) = code(validate_upload(garbage, &key, now()));
        assert_eq!((c, f.as_deref()), (ErrorCode::InvalidPem, Some(CERT)));
        assert!(!m.contains("TUlJ"), "{m}");
        let bad_b64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(
            code(validate_upload(bad_b64, &key, now())).0,
            ErrorCode::InvalidPem
        );
        let unterminated = "-----BEGIN CERTIFICATE-----\nAAAA\n";
        assert_eq!(
            code(validate_upload(unterminated, &key, now())).0,
            ErrorCode::InvalidPem
        );
        // A key pasted into the certificate field.
        let (c, f, _) = code(validate_upload(&key, &key, now()));
        assert_eq!(
            (c, f.as_deref()),
            (ErrorCode::UnsupportedFormat, Some(CERT))
        );

        let pkcs7 = "-----BEGIN PKCS7-----\nMIIBAA==\n-----END PKCS7-----\n";
        let (c, f, m) = code(validate_upload(pkcs7, &key, now()));
        assert_eq!(
            (c, f.as_deref()),
            (ErrorCode::UnsupportedFormat, Some(CERT))
        );
        assert!(m.contains("PKCS#7"), "{m}");
        let (c, _, m) = code(validate_upload(
            "-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n",
            &key,
            now(),
        ));
        assert_eq!(c, ErrorCode::UnsupportedFormat);
        assert!(m.contains("X509 CRL"), "{m}");

        let eleven = good.repeat(11);
        let (c, f, _) = code(validate_upload(&eleven, &key, now()));
        assert_eq!((c, f.as_deref()), (ErrorCode::InvalidRequest, Some(CERT)));
        // Ten is fine (a silly chain, with warnings, but accepted).
        let v = validate_upload(&good.repeat(10), &key, now()).unwrap();
        assert_eq!(v.meta.chain_length, 10);
    }

    #[test]
    fn rejects_bad_key_pem() {
        let kp = KeyPair::generate().unwrap();
        let cert = self_signed(&kp, &["a.example.com"]).pem();
        let check = |key_pem: &str, expected: ErrorCode| {
            let (c, f, m) = code(validate_upload(&cert, key_pem, now()));
            assert_eq!((c, f.as_deref()), (expected, Some(KEY)), "{m}");
            m
        };

        check("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBAA==\n-----END ENCRYPTED PRIVATE KEY-----\n", ErrorCode::EncryptedKey);
        check(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nMIIBAA==\n-----END RSA PRIVATE KEY-----\n",
            ErrorCode::EncryptedKey,
        );
        check(
            "-----BEGIN DSA PRIVATE KEY-----\nMIIBAA==\n-----END DSA PRIVATE KEY-----\n",
            ErrorCode::UnsupportedFormat,
        );
        check("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----\n", ErrorCode::UnsupportedFormat);
        let m = check(
            &pem::encode("PRIVATE KEY", &secp256k1_pkcs8()),
            ErrorCode::UnsupportedFormat,
        );
        assert!(m.contains("secp256k1"), "{m}");
        let m = check(
            &pem::encode("RSA PRIVATE KEY", &fake_rsa_pkcs1(1024)),
            ErrorCode::UnsupportedFormat,
        );
        assert!(m.contains("1024"), "{m}");
        check(
            &pem::encode("PRIVATE KEY", &fake_pkcs8(OID_DER_DSA)),
            ErrorCode::UnsupportedFormat,
        );

        let m = check("not a key at all", ErrorCode::InvalidPem);
        assert!(!m.contains("at all"));
        check(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            ErrorCode::InvalidPem,
        );
        check(
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
            ErrorCode::InvalidPem,
        );
        check(
            "-----BEGIN PRIVATE KEY-----\n%%%%\n-----END PRIVATE KEY-----\n",
            ErrorCode::InvalidPem,
        );
        check(
            "-----BEGIN EC PRIVATE KEY-----\nMAMCAQE=\n-----END EC PRIVATE KEY-----\n",
            ErrorCode::InvalidPem,
        );
        check(&cert, ErrorCode::InvalidPem);

        let other = KeyPair::generate().unwrap();
        check(
            &format!("{}{}", kp.serialize_pem(), other.serialize_pem()),
            ErrorCode::InvalidRequest,
        );
    }

    #[test]
    fn key_mismatch() {
        let kp = KeyPair::generate().unwrap();
        let cert = self_signed(&kp, &["a.example.com"]).pem();
        for other in [KeyPair::generate().unwrap(), rsa2048()] {
            let (c, f, m) = code(validate_upload(&cert, &other.serialize_pem(), now()));
            assert_eq!(
                (c, f.as_deref(), m.as_str()),
                (
                    ErrorCode::KeyMismatch,
                    Some(KEY),
                    "the private key does not match the certificate"
                )
            );
        }
    }

    #[test]
    fn messages_never_quote_the_key() {
        let kp = KeyPair::generate().unwrap();
        let key_pem = kp.serialize_pem();
        let body: Vec<&str> = key_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let cert = self_signed(&kp, &["a.example.com"]).pem();
        let inputs = [
            (
                cert.clone(),
                key_pem.replace("PRIVATE KEY", "DSA PRIVATE KEY"),
            ),
            (
                cert.clone(),
                key_pem.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),
            ),
            (cert.clone(), key_pem.replace('M', "!")),
            (key_pem.clone(), key_pem.clone()),
            (cert.clone(), format!("{key_pem}{key_pem}")),
        ];
        for (c, k) in inputs {
            let e = validate_upload(&c, &k, now()).unwrap_err();
            for line in &body {
                assert!(!e.message.contains(line), "{}", e.message);
            }
        }
        let v = validate_upload(&cert, &key_pem, now()).unwrap();
        let debug = format!("{v:?}");
        for line in &body {
            assert!(!debug.contains(line));
        }
        assert!(!debug.contains(&hex::encode(kp.serialized_der())));
    }

    #[test]
    fn with_key_runs_the_same_checks() {
        let kp = KeyPair::generate().unwrap();
        let key = KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, kp.serialized_der()).unwrap();
        let cert = self_signed(&kp, &["csr.example.com"]).pem();
        let v = validate_with_key(&cert, &key, now()).unwrap();
        assert_eq!(v.key.as_bytes(), key.as_bytes());
        assert_eq!(v.meta.sans, ["csr.example.com"]);
        let other = self_signed(&KeyPair::generate().unwrap(), &["csr.example.com"]).pem();
        assert_eq!(
            code(validate_with_key(&other, &key, now())).0,
            ErrorCode::KeyMismatch
        );
        assert_eq!(
            code(validate_with_key("nope", &key, now())).0,
            ErrorCode::InvalidPem
        );
    }
}
