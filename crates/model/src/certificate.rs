use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::names::{CertName, DomainName};

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
    pub key_type: String,
    /// Number of certificates in the uploaded chain, leaf included.
    pub chain_length: usize,
    /// Things worth knowing that do not stop the upload (e.g. chain order, self-signed).
    pub warnings: Vec<String>,
}

/// A certificate as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCertificate {
    /// Certificate-center name.
    pub name: CertName,
    /// The PEM chain, leaf first. Empty while a CSR waits for its signed certificate.
    pub cert_pem: String,
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
