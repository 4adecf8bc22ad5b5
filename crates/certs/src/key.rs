//! Private keys in memory: one tagged serialisation that round-trips every PEM key format we
//! accept, and the checks that decide whether the data plane can sign with a key.

use std::fmt;
use std::sync::Arc;

use rustls::sign::{CertifiedKey, SigningKey};
use rustls::{InconsistentKeys, SignatureAlgorithm};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use tlsedge_model::KeyType;
use x509_parser::asn1_rs::{Any, Class, FromDer, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::SubjectPublicKeyInfo;
use zeroize::Zeroizing;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

/// The smallest and largest RSA moduli aws-lc-rs signs with.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// How the DER inside a [`KeyMaterial`] is encoded: the three unencrypted PEM key formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFormat {
    /// PKCS#8 `PrivateKeyInfo` (PEM `PRIVATE KEY`), any algorithm.
    Pkcs8,
    /// PKCS#1 `RSAPrivateKey` (PEM `RSA PRIVATE KEY`).
    Pkcs1,
    /// SEC1 `ECPrivateKey` (PEM `EC PRIVATE KEY`).
    Sec1,
}

impl KeyFormat {
    const fn tag(self) -> u8 {
        match self {
            Self::Pkcs8 => 1,
            Self::Pkcs1 => 2,
            Self::Sec1 => 3,
        }
    }

    const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Self::Pkcs8),
            2 => Some(Self::Pkcs1),
            3 => Some(Self::Sec1),
            _ => None,
        }
    }

    /// `"pkcs8"`, `"pkcs1"` or `"sec1"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pkcs8 => "pkcs8",
            Self::Pkcs1 => "pkcs1",
            Self::Sec1 => "sec1",
        }
    }
}

/// An unencrypted private key, as it is sealed at rest and handed to rustls.
///
/// The serialisation ([`as_bytes`](Self::as_bytes) / [`from_bytes`](Self::from_bytes)) is one
/// format tag byte (1 = PKCS#8, 2 = PKCS#1, 3 = SEC1) followed by the key's DER, so every accepted
/// PEM format round-trips to the same [`PrivateKeyDer`] without conversion. The bytes are zeroed
/// when the value is dropped, and `Debug` prints only the format.
#[derive(Clone)]
pub struct KeyMaterial {
    /// Invariant: a valid format tag followed by at least one byte of DER.
    bytes: Zeroizing<Vec<u8>>,
}

impl KeyMaterial {
    /// Reads the serialisation made by [`as_bytes`](Self::as_bytes). `None` if the format tag is
    /// unknown or there is no DER after it. Does not check the DER: that happens when the key is
    /// used.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        let bytes = Zeroizing::new(bytes);
        match bytes.split_first() {
            Some((&tag, der)) if KeyFormat::from_tag(tag).is_some() && !der.is_empty() => {
                Some(Self { bytes })
            }
            _ => None,
        }
    }

    /// Copies a key rustls understands. `None` for an empty key or a format this crate does not
    /// know (`PrivateKeyDer` is non-exhaustive).
    pub fn from_private_key_der(key: &PrivateKeyDer<'_>) -> Option<Self> {
        let (format, der) = match key {
            PrivateKeyDer::Pkcs8(k) => (KeyFormat::Pkcs8, k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => (KeyFormat::Pkcs1, k.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(k) => (KeyFormat::Sec1, k.secret_sec1_der()),
            _ => return None,
        };
        Self::from_format_and_der(format, der)
    }

    /// Copies DER of a known format. `None` if `der` is empty.
    pub fn from_format_and_der(format: KeyFormat, der: &[u8]) -> Option<Self> {
        if der.is_empty() {
            return None;
        }
        // Sized up front: growing the vector would leave an unzeroed copy behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(der.len() + 1));
        bytes.push(format.tag());
        bytes.extend_from_slice(der);
        Some(Self { bytes })
    }

    /// The serialisation to seal: format tag, then DER.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoding of the DER.
    pub fn format(&self) -> KeyFormat {
        self.bytes
            .first()
            .copied()
            .and_then(KeyFormat::from_tag)
            .unwrap_or(KeyFormat::Pkcs8)
    }

    /// The key's DER, without the format tag.
    pub fn secret_der(&self) -> &[u8] {
        self.bytes.get(1..).unwrap_or_default()
    }

    /// The key as rustls takes it, borrowing these bytes (no unzeroed copy is made).
    pub fn private_key_der(&self) -> PrivateKeyDer<'_> {
        let der = self.secret_der();
        match self.format() {
            KeyFormat::Pkcs8 => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
            KeyFormat::Pkcs1 => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
            KeyFormat::Sec1 => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
        }
    }

    /// An owned copy of the key as rustls takes it. Note that `PrivateKeyDer` does not zero its
    /// bytes on drop; prefer [`private_key_der`](Self::private_key_der) where a borrow will do.
    pub fn to_private_key_der(&self) -> PrivateKeyDer<'static> {
        self.private_key_der().clone_key()
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyMaterial({}, ..)", self.format().as_str())
    }
}

/// Why a key cannot be used.
#[derive(Debug)]
pub(crate) enum KeyProblem {
    /// The DER does not decode as the structure its PEM label announces, or the crypto library
    /// finds its values inconsistent.
    Malformed(&'static str),
    /// A well-formed key of a type or size the data plane cannot sign with.
    Unsupported(String),
}

/// Loads a key into the signer the data plane uses, refusing types a browser-facing TLS server
/// should not (or cannot) sign with: only RSA of 2048 to 8192 bits, ECDSA on P-256, P-384 and
/// P-521, and Ed25519 pass.
pub(crate) fn signing_key(key: &KeyMaterial) -> Result<Arc<dyn SigningKey>, KeyProblem> {
    let der = key.private_key_der();
    classify(&der)?;
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&der).map_err(|_| {
        KeyProblem::Malformed("the private key is malformed or its values are inconsistent")
    })?;
    match signer.algorithm() {
        SignatureAlgorithm::RSA | SignatureAlgorithm::ECDSA | SignatureAlgorithm::ED25519 => {
            Ok(signer)
        }
        _ => Err(KeyProblem::Unsupported(unsupported("this key type"))),
    }
}

fn unsupported(what: &str) -> String {
    format!("{what} is not supported; use an ECDSA P-256 or P-384 key, or RSA of 2048 bits or more")
}

/// Decides from the ASN.1 structure alone whether a key is one we accept, so that a well-formed
/// key of the wrong kind (`UnsupportedFormat`) is told apart from bytes that are not a key at
/// all (`InvalidPem`).
fn classify(der: &PrivateKeyDer<'_>) -> Result<(), KeyProblem> {
    const NOT_PKCS8: &str = "the PRIVATE KEY block does not hold a PKCS#8 key";
    const NOT_PKCS1: &str = "the RSA PRIVATE KEY block does not hold a PKCS#1 RSA key";
    const NOT_SEC1: &str = "the EC PRIVATE KEY block does not hold a SEC1 EC key";
    match der {
        PrivateKeyDer::Pkcs1(k) => {
            let bits = rsa_private_key_bits(k.secret_pkcs1_der())
                .ok_or(KeyProblem::Malformed(NOT_PKCS1))?;
            check_rsa_bits(bits)
        }
        PrivateKeyDer::Sec1(k) => {
            let fields = sequence(k.secret_sec1_der()).ok_or(KeyProblem::Malformed(NOT_SEC1))?;
            let well_formed = fields.len() >= 2
                && is_universal(&fields[0], Tag::Integer)
                && is_universal(&fields[1], Tag::OctetString);
            if !well_formed {
                return Err(KeyProblem::Malformed(NOT_SEC1));
            }
            // The curve is in the optional `[0] parameters`; without it, let aws-lc-rs decide.
            let curve = fields
                .iter()
                .find(|f| f.class() == Class::ContextSpecific && f.tag() == Tag(0))
                .and_then(|f| Any::from_der(f.data).ok())
                .and_then(|(_, p)| p.as_oid().ok().map(|o| o.to_id_string()));
            match curve {
                Some(curve) => check_curve(&curve),
                None => Ok(()),
            }
        }
        PrivateKeyDer::Pkcs8(k) => {
            let fields = sequence(k.secret_pkcs8_der()).ok_or(KeyProblem::Malformed(NOT_PKCS8))?;
            let well_formed = fields.len() >= 3
                && is_universal(&fields[0], Tag::Integer)
                && is_universal(&fields[1], Tag::Sequence)
                && is_universal(&fields[2], Tag::OctetString);
            if !well_formed {
                return Err(KeyProblem::Malformed(NOT_PKCS8));
            }
            let alg = children(fields[1].data).ok_or(KeyProblem::Malformed(NOT_PKCS8))?;
            let oid = alg
                .first()
                .and_then(|a| a.as_oid().ok())
                .map(|o| o.to_id_string())
                .ok_or(KeyProblem::Malformed(NOT_PKCS8))?;
            match oid.as_str() {
                OID_RSA => {
                    let bits = rsa_private_key_bits(fields[2].data)
                        .ok_or(KeyProblem::Malformed(NOT_PKCS1))?;
                    check_rsa_bits(bits)
                }
                OID_EC => match alg.get(1).and_then(|p| p.as_oid().ok()) {
                    Some(curve) => check_curve(&curve.to_id_string()),
                    None => Err(KeyProblem::Unsupported(unsupported(
                        "an EC key without a named curve",
                    ))),
                },
                OID_ED25519 => Ok(()),
                other => Err(KeyProblem::Unsupported(unsupported(&format!(
                    "a {} key",
                    algorithm_name(other)
                )))),
            }
        }
        _ => Err(KeyProblem::Unsupported(unsupported("this key encoding"))),
    }
}

fn check_rsa_bits(bits: usize) -> Result<(), KeyProblem> {
    if RSA_BITS.contains(&bits) {
        Ok(())
    } else {
        Err(KeyProblem::Unsupported(format!(
            "an RSA key of {bits} bits is not supported; RSA keys must have 2048 to 8192 bits"
        )))
    }
}

fn check_curve(oid: &str) -> Result<(), KeyProblem> {
    match oid {
        OID_P256 | OID_P384 | OID_P521 => Ok(()),
        other => Err(KeyProblem::Unsupported(unsupported(&format!(
            "an EC key on the {} curve",
            curve_name(other)
        )))),
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.3.132.0.10" => "secp256k1".to_owned(),
        "1.2.840.10045.3.1.1" => "P-192".to_owned(),
        "1.3.132.0.33" => "P-224".to_owned(),
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1".to_owned(),
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1".to_owned(),
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1".to_owned(),
        "1.2.156.10197.1.301" => "SM2".to_owned(),
        other => other.to_owned(),
    }
}

fn algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.10040.4.1" => "DSA".to_owned(),
        "1.3.101.113" => "Ed448".to_owned(),
        "1.3.101.110" => "X25519".to_owned(),
        "1.3.101.111" => "X448".to_owned(),
        "1.2.840.113549.1.3.1" | "1.2.840.10046.2.1" => "Diffie-Hellman".to_owned(),
        OID_RSA_PSS => "RSA-PSS (restricted)".to_owned(),
        "2.16.840.1.101.3.4.3.17" | "2.16.840.1.101.3.4.3.18" | "2.16.840.1.101.3.4.3.19" => {
            "ML-DSA".to_owned()
        }
        other => format!("algorithm {other}"),
    }
}

/// The modulus size of a PKCS#1 `RSAPrivateKey`: `SEQUENCE { version, modulus, … }`.
fn rsa_private_key_bits(der: &[u8]) -> Option<usize> {
    let fields = sequence(der)?;
    if fields.len() < 9 || !fields.iter().take(9).all(|f| is_universal(f, Tag::Integer)) {
        return None;
    }
    Some(unsigned_bits(fields[1].data))
}

/// The bit length of a big-endian unsigned integer (leading zero bytes ignored).
pub(crate) fn unsigned_bits(bytes: &[u8]) -> usize {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    match bytes.get(start..) {
        Some([first, rest @ ..]) => rest.len() * 8 + (8 - first.leading_zeros() as usize),
        _ => 0,
    }
}

fn is_universal(any: &Any<'_>, tag: Tag) -> bool {
    any.class() == Class::Universal && any.tag() == tag
}

/// The elements of a DER `SEQUENCE` that spans exactly `der`.
fn sequence(der: &[u8]) -> Option<Vec<Any<'_>>> {
    let (rest, outer) = Any::from_der(der).ok()?;
    if !rest.is_empty() || !is_universal(&outer, Tag::Sequence) {
        return None;
    }
    children(outer.data)
}

/// Splits concatenated DER elements.
fn children(mut data: &[u8]) -> Option<Vec<Any<'_>>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (rest, any) = Any::from_der(data).ok()?;
        out.push(any);
        data = rest;
    }
    Some(out)
}

/// The contract's `key_type` of a SubjectPublicKeyInfo: `ecdsa-p256`, `ecdsa-p384`,
/// `ecdsa-p521`, `rsa-<bits>`, `ed25519`, or `unknown`.
pub(crate) fn key_type(spki_der: &[u8]) -> KeyType {
    let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(spki_der) else {
        return KeyType::Unknown;
    };
    match spki.algorithm.algorithm.to_id_string().as_str() {
        OID_RSA => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                u32::try_from(unsigned_bits(rsa.modulus)).map_or(KeyType::Unknown, KeyType::Rsa)
            }
            _ => KeyType::Unknown,
        },
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some(OID_P256) => KeyType::EcdsaP256,
                Some(OID_P384) => KeyType::EcdsaP384,
                Some(OID_P521) => KeyType::EcdsaP521,
                _ => KeyType::Unknown,
            }
        }
        OID_ED25519 => KeyType::Ed25519,
        _ => KeyType::Unknown,
    }
}

/// Why a key and a leaf do not go together.
#[derive(Debug)]
pub(crate) enum MatchError {
    /// They are different keys.
    Mismatch,
    /// rustls cannot read the leaf certificate.
    Certificate(rustls::Error),
}

/// Whether the key signs for the leaf: rustls's `keys_match` (SubjectPublicKeyInfo bytes equal),
/// and when that says no, a second look at the public key bits alone, since a certificate may
/// encode the same key's algorithm parameters differently from aws-lc-rs.
pub(crate) fn check_match(ck: &CertifiedKey) -> Result<(), MatchError> {
    match ck.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            if same_public_key(ck) {
                Ok(())
            } else {
                Err(MatchError::Mismatch)
            }
        }
        Err(e) => Err(MatchError::Certificate(e)),
    }
}

fn same_public_key(ck: &CertifiedKey) -> bool {
    let (Some(key_spki), Some(leaf)) = (ck.key.public_key(), ck.cert.first()) else {
        return false;
    };
    let Ok((_, key_spki)) = SubjectPublicKeyInfo::from_der(&key_spki) else {
        return false;
    };
    let Ok((_, leaf)) = X509Certificate::from_der(leaf) else {
        return false;
    };
    leaf.public_key().subject_public_key.data == key_spki.subject_public_key.data
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn serialisation_round_trips_every_format() {
        for (format, der) in [
            (KeyFormat::Pkcs8, vec![0x30, 1]),
            (KeyFormat::Pkcs1, vec![2]),
            (KeyFormat::Sec1, vec![3, 4]),
        ] {
            let k = KeyMaterial::from_format_and_der(format, &der).unwrap();
            let back = KeyMaterial::from_bytes(k.as_bytes().to_vec()).unwrap();
            assert_eq!(back.format(), format);
            assert_eq!(back.secret_der(), der.as_slice());
            let owned = back.to_private_key_der();
            assert_eq!(owned.secret_der(), der.as_slice());
            assert_eq!(
                KeyMaterial::from_private_key_der(&owned)
                    .unwrap()
                    .as_bytes(),
                k.as_bytes()
            );
        }
        assert!(matches!(
            KeyMaterial::private_key_der(&KeyMaterial::from_bytes(vec![2, 9]).unwrap()),
            PrivateKeyDer::Pkcs1(_)
        ));
        assert!(KeyMaterial::from_bytes(vec![]).is_none());
        assert!(KeyMaterial::from_bytes(vec![1]).is_none());
        assert!(KeyMaterial::from_bytes(vec![9, 1, 2]).is_none());
        assert!(KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, &[]).is_none());
    }

    #[test]
    fn debug_hides_the_bytes() {
        let k = KeyMaterial::from_format_and_der(KeyFormat::Sec1, &[0xAB; 40]).unwrap();
        let s = format!("{k:?}");
        assert_eq!(s, "KeyMaterial(sec1, ..)");
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(unsigned_bits(&[]), 0);
        assert_eq!(unsigned_bits(&[0, 0]), 0);
        assert_eq!(unsigned_bits(&[1]), 1);
        assert_eq!(unsigned_bits(&[0x00, 0x80, 0]), 16);
        assert_eq!(unsigned_bits(&[0x7f, 0, 0]), 23);
    }

    #[test]
    fn classifies_crafted_keys() {
        let rsa1024 =
            KeyMaterial::from_format_and_der(KeyFormat::Pkcs1, &fake_rsa_pkcs1(1024)).unwrap();
        assert!(
            matches!(signing_key(&rsa1024), Err(KeyProblem::Unsupported(m)) if m.contains("1024 bits"))
        );
        let dsa =
            KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, &fake_pkcs8(OID_DER_DSA)).unwrap();
        assert!(matches!(signing_key(&dsa), Err(KeyProblem::Unsupported(m)) if m.contains("DSA")));
        let ed448 =
            KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, &fake_pkcs8(OID_DER_ED448)).unwrap();
        assert!(
            matches!(signing_key(&ed448), Err(KeyProblem::Unsupported(m)) if m.contains("Ed448"))
        );
        let junk = KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, &[0, 0, 0]).unwrap();
        assert!(matches!(signing_key(&junk), Err(KeyProblem::Malformed(_))));
        // Well-formed structure, right size, nonsense values: the crypto library refuses it.
        let bogus =
            KeyMaterial::from_format_and_der(KeyFormat::Pkcs1, &fake_rsa_pkcs1(2048)).unwrap();
        assert!(matches!(signing_key(&bogus), Err(KeyProblem::Malformed(_))));
    }

    #[test]
    fn key_types_of_generated_keys() {
        for (alg, expected) in [
            (&rcgen::PKCS_ECDSA_P256_SHA256, "ecdsa-p256"),
            (&rcgen::PKCS_ECDSA_P384_SHA384, "ecdsa-p384"),
            (&rcgen::PKCS_ECDSA_P521_SHA512, "ecdsa-p521"),
            (&rcgen::PKCS_ED25519, "ed25519"),
        ] {
            let kp = rcgen::KeyPair::generate_for(alg).unwrap();
            let km =
                KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, kp.serialized_der()).unwrap();
            let signer = signing_key(&km).unwrap();
            assert_eq!(
                key_type(&signer.public_key().unwrap()).to_string(),
                expected
            );
        }
        let km =
            KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, rsa2048().serialized_der()).unwrap();
        assert_eq!(
            key_type(&signing_key(&km).unwrap().public_key().unwrap()),
            KeyType::Rsa(2048)
        );
        assert_eq!(key_type(b"junk"), KeyType::Unknown);
    }
}
