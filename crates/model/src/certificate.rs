use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::chain::CertChain;
use crate::error::ValidationError;
use crate::names::{san_covers, CertName, DomainName};

/// The type of a certificate's key: what `key_type` says in the certificate center
/// (`ecdsa-p256`, `rsa-2048`…), and what `POST /api/v1/csrs` generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// ECDSA on NIST P-256 (`ecdsa-p256`).
    EcdsaP256,
    /// ECDSA on NIST P-384 (`ecdsa-p384`).
    EcdsaP384,
    /// ECDSA on NIST P-521 (`ecdsa-p521`).
    EcdsaP521,
    /// Ed25519 (`ed25519`).
    Ed25519,
    /// RSA with a modulus of this many bits (`rsa-2048`).
    Rsa(u32),
    /// A key whose type could not be read (`unknown`).
    Unknown,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EcdsaP256 => f.write_str("ecdsa-p256"),
            Self::EcdsaP384 => f.write_str("ecdsa-p384"),
            Self::EcdsaP521 => f.write_str("ecdsa-p521"),
            Self::Ed25519 => f.write_str("ed25519"),
            Self::Rsa(bits) => write!(f, "rsa-{bits}"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

/// The text is not one of the forms [`KeyType`] prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a key type (ecdsa-p256, ecdsa-p384, ecdsa-p521, ed25519, rsa-BITS)")]
pub struct UnknownKeyType(pub String);

impl FromStr for KeyType {
    type Err = UnknownKeyType;

    /// Reads what [`Display`](fmt::Display) writes.
    fn from_str(s: &str) -> Result<Self, UnknownKeyType> {
        match s {
            "ecdsa-p256" => Ok(Self::EcdsaP256),
            "ecdsa-p384" => Ok(Self::EcdsaP384),
            "ecdsa-p521" => Ok(Self::EcdsaP521),
            "ed25519" => Ok(Self::Ed25519),
            "unknown" => Ok(Self::Unknown),
            other => other
                .strip_prefix("rsa-")
                .filter(|b| !b.starts_with('0') && b.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|b| b.parse().ok())
                .map(Self::Rsa)
                .ok_or_else(|| UnknownKeyType(other.to_owned())),
        }
    }
}

impl Serialize for KeyType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A private key encrypted at rest (AEAD under the node's master key), as stored.
/// Only the certificate crate can open it; it is never serialised into an API response.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedKey(pub String);

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedKey(..)")
    }
}

/// What tlsedge learned from a certificate when it was uploaded, kept so that listing
/// certificates never parses X.509 again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificateMeta {
    /// Subject distinguished name of the leaf.
    pub subject: String,
    /// Issuer distinguished name of the leaf.
    pub issuer: String,
    /// DNS subject alternative names of the leaf, lowercase.
    pub sans: Vec<String>,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub not_after: OffsetDateTime,
    /// Serial number, uppercase hex without separators.
    pub serial: String,
    /// SHA-256 of the leaf's DER, 64 lowercase hex digits.
    pub fingerprint_sha256: String,
    /// `ecdsa-p256`, `ecdsa-p384`, `rsa-2048`, `ed25519`…
    #[schema(value_type = String, example = "ecdsa-p256")]
    pub key_type: KeyType,
    /// Number of certificates in the uploaded chain, leaf included.
    pub chain_length: usize,
    /// Things worth knowing that do not stop the upload (e.g. chain order, self-signed).
    pub warnings: Vec<String>,
}

impl CertificateMeta {
    /// Whether the certificate may serve `domain`: one of its SANs covers it (see
    /// [`san_covers`]: an exact SAN covers the same name, `*.example.com` covers one label
    /// under it and the wildcard domain itself).
    pub fn covers(&self, domain: &DomainName) -> bool {
        self.sans.iter().any(|san| san_covers(san, domain))
    }

    /// [`covers`](Self::covers), or the `DomainNotCovered` refusal naming the certificate, the
    /// domain and the certificate's names (on the field `field`).
    pub fn check_covers(
        &self,
        cert: &CertName,
        domain: &DomainName,
        field: &'static str,
    ) -> Result<(), ValidationError> {
        if self.covers(domain) {
            return Ok(());
        }
        Err(ValidationError::new(
            crate::ErrorCode::DomainNotCovered,
            field,
            format!(
                "certificate {:?} does not cover {domain} (its names: {})",
                cert.as_str(),
                self.sans.join(", ")
            ),
        ))
    }
}

/// A certificate as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCertificate {
    /// Certificate-center name.
    pub name: CertName,
    /// The chain, leaf first, as DER (stored as the PEM text of `cert_pem`). Empty while a CSR
    /// waits for its signed certificate.
    #[serde(rename = "cert_pem")]
    pub chain: CertChain,
    /// The encrypted private key (a format tag byte and the DER inside).
    pub key: SealedKey,
    /// Parsed facts about the leaf; `None` while a CSR is pending.
    pub meta: Option<CertificateMeta>,
    /// Set when the certificate was uploaded through one domain's HTTPS settings: it belongs to
    /// that domain and is deleted with its HTTPS.
    #[serde(default)]
    pub private_to: Option<DomainName>,
    /// The CSR, while one is pending.
    #[serde(default)]
    pub csr_pem: Option<String>,
}

/// The validity state of a certificate at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertStatus {
    /// Within its validity period.
    Valid,
    /// Past `not_after`.
    Expired,
    /// Before `not_before`.
    NotYetValid,
    /// A CSR waits for its signed certificate.
    PendingCsr,
}

impl StoredCertificate {
    /// The status at `now`.
    pub fn status(&self, now: OffsetDateTime) -> CertStatus {
        match &self.meta {
            None => CertStatus::PendingCsr,
            Some(m) if now > m.not_after => CertStatus::Expired,
            Some(m) if now < m.not_before => CertStatus::NotYetValid,
            Some(_) => CertStatus::Valid,
        }
    }
}

/// The public view of a certificate (the contract's CertificateInfo). Holds no key material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificateInfo {
    /// Certificate-center name.
    pub name: CertName,
    /// Parsed facts (flattened into this object).
    #[serde(flatten)]
    pub meta: Option<CertificateMeta>,
    /// Validity state now.
    pub status: CertStatus,
    /// The domains that serve it.
    pub domains: Vec<DomainName>,
    /// Set when the certificate belongs to one domain's HTTPS settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_to: Option<DomainName>,
}

impl CertificateInfo {
    /// Builds the public view of a stored certificate.
    pub fn new(cert: &StoredCertificate, domains: Vec<DomainName>, now: OffsetDateTime) -> Self {
        Self {
            name: cert.name.clone(),
            meta: cert.meta.clone(),
            status: cert.status(now),
            domains,
            private_to: cert.private_to.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_types_read_what_they_write() {
        for (text, kt) in [
            ("ecdsa-p256", KeyType::EcdsaP256),
            ("ecdsa-p384", KeyType::EcdsaP384),
            ("ecdsa-p521", KeyType::EcdsaP521),
            ("ed25519", KeyType::Ed25519),
            ("rsa-2048", KeyType::Rsa(2048)),
            ("rsa-4096", KeyType::Rsa(4096)),
            ("unknown", KeyType::Unknown),
        ] {
            assert_eq!(kt.to_string(), text);
            assert_eq!(text.parse::<KeyType>().unwrap(), kt);
            assert_eq!(serde_json::to_value(kt).unwrap(), text);
            assert_eq!(serde_json::from_value::<KeyType>(text.into()).unwrap(), kt);
        }
        for bad in [
            "",
            "dsa-1024",
            "rsa-",
            "rsa-0x10",
            "rsa-02048",
            "ECDSA-P256",
        ] {
            assert_eq!(
                bad.parse::<KeyType>(),
                Err(UnknownKeyType(bad.to_owned())),
                "{bad}"
            );
        }
    }

    fn meta(sans: &[&str]) -> CertificateMeta {
        CertificateMeta {
            subject: "CN=x".into(),
            issuer: "CN=x".into(),
            sans: sans.iter().map(|s| (*s).to_owned()).collect(),
            not_before: OffsetDateTime::UNIX_EPOCH,
            not_after: OffsetDateTime::UNIX_EPOCH,
            serial: "01".into(),
            fingerprint_sha256: "00".repeat(32),
            key_type: KeyType::EcdsaP256,
            chain_length: 1,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn coverage_is_any_san() {
        let d = |s: &str| DomainName::parse(s).unwrap();
        let m = meta(&["example.com", "*.example.com"]);
        assert!(m.covers(&d("example.com")));
        assert!(m.covers(&d("www.example.com")));
        assert!(m.covers(&d("*.example.com")));
        assert!(!m.covers(&d("a.b.example.com")));
        assert!(!meta(&[]).covers(&d("example.com")));
        let e = m
            .check_covers(&CertName::parse("c1").unwrap(), &d("other.test"), "domains")
            .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::DomainNotCovered);
        assert_eq!(e.field.as_deref(), Some("domains"));
        assert_eq!(
            e.message,
            "certificate \"c1\" does not cover other.test (its names: example.com, *.example.com)"
        );
    }

    #[test]
    fn a_stored_record_reads_and_writes_the_same_json() {
        let pem = crate::CertChain::from_der(vec![vec![0x30u8; 70].into()]).to_pem();
        let stored = serde_json::json!({
            "name": "c1",
            "cert_pem": pem,
            "key": "c2VhbGVk",
            "meta": null,
            "private_to": "www.example.com",
            "csr_pem": null
        });
        let rec: StoredCertificate = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(rec.chain.der().unwrap().len(), 1);
        assert_eq!(serde_json::to_value(&rec).unwrap(), stored);
        // A record written before `private_to` and `csr_pem` existed still reads.
        let old: StoredCertificate = serde_json::from_value(serde_json::json!({
            "name": "c1", "cert_pem": "", "key": "c2VhbGVk", "meta": null
        }))
        .unwrap();
        assert!(old.chain.is_empty());
        assert_eq!(
            old.status(OffsetDateTime::UNIX_EPOCH),
            CertStatus::PendingCsr
        );
    }
}
