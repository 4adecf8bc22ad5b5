//! Requests and answers of the certificate center (`/certificates`, `/csrs`,
//! `/stats/certificates`).
//!
//! Names arrive as plain strings and are parsed by the handlers, so that a bad name is refused
//! with the field it came in (`"field": "name"`, `"domains"`) rather than as a JSON error.

use std::fmt;

use serde::{Deserialize, Serialize};
use tlsedge_model::{CertName, CertificateInfo, DomainName};

/// `POST /certificates`: a certificate chain (leaf first) and its unencrypted private key.
///
/// Not `Debug`-printable with its key: the `Debug` output redacts `key_pem`.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    /// Name in the certificate center (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// PEM chain, leaf first.
    pub cert_pem: String,
    /// PEM private key, not encrypted.
    pub key_pem: String,
}

impl fmt::Debug for UploadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadRequest")
            .field("name", &self.name)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// `PUT /certificates/{name}`: a new chain, with a new key or (left out) the key the server
/// holds for that name (a CSR's, or a renewal on the same key). It takes the body `POST` takes:
/// a `name` is accepted when it is the path's, and refused (400 `InvalidRequest`, field
/// `name`) when it is another.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceRequest {
    /// The path's name, when given (as in the `POST` body); any other name is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// PEM chain, leaf first.
    pub cert_pem: String,
    /// PEM private key, not encrypted; `None` keeps the server's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pem: Option<String>,
}

impl fmt::Debug for ReplaceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplaceRequest")
            .field("name", &self.name)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `POST /certificates/{name}/deploy`: the domains to bind the certificate to (all or nothing).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// Domain names; at least one.
    pub domains: Vec<String>,
}

/// `{"domains": [name…]}`: the answer of a deploy (the domains now bound, sorted, without
/// duplicates) and of `GET /certificates/{name}/domains` (the domains that serve it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainNames {
    /// Domain names.
    pub domains: Vec<DomainName>,
}

/// `GET /certificates`: `{"certificates": [CertificateInfo…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificateList {
    /// The certificates, by name.
    pub certificates: Vec<CertificateInfo>,
}

/// The widest look-ahead window, in days (about ten years), that `within_days` and
/// `expiring_within_days` accept: every later `not_after` is already "far away", and the bound
/// keeps `now + days` inside the calendar, so a request cannot overflow a date. A larger value
/// is 400 `InvalidRequest` naming the parameter; the OpenAPI document says `maximum: 3650`.
pub const MAX_WINDOW_DAYS: u32 = 3650;

/// `GET /stats/certificates`: counts of certificates by validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificateStats {
    /// Every certificate, pending CSRs included.
    pub total: usize,
    /// Past `not_after`.
    pub expired: usize,
    /// Not expired, but expiring within the window asked (`within_days`, default 30).
    pub expiring: usize,
}

/// `POST /csrs`: the subject of a CSR whose key the server generates and keeps.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsrRequest {
    /// Name in the certificate center for the pending certificate.
    pub name: String,
    /// Subject common name (1 to 64 characters).
    pub common_name: String,
    /// DNS names; when empty the common name is the one SAN.
    #[serde(default)]
    pub sans: Vec<String>,
    /// `ecdsa-p256` (default), `ecdsa-p384`, `rsa-2048`, `rsa-3072` or `rsa-4096`.
    #[serde(default)]
    pub key_type: Option<String>,
    /// Subject organisation (O).
    #[serde(default)]
    pub organization: Option<String>,
    /// Subject organisational unit (OU).
    #[serde(default)]
    pub organizational_unit: Option<String>,
    /// Two-letter country code (C).
    #[serde(default)]
    pub country: Option<String>,
    /// State or province (ST).
    #[serde(default)]
    pub state: Option<String>,
    /// City (L).
    #[serde(default)]
    pub city: Option<String>,
    /// Contact address (emailAddress).
    #[serde(default)]
    pub email: Option<String>,
}

/// The answer of `POST /csrs`: the CSR to take to a CA. The key stays on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CsrResponse {
    /// Name of the pending certificate.
    pub name: CertName,
    /// The CSR, PEM.
    pub csr_pem: String,
}
