//! The tlsedge domain model: the names, domain configurations, HTTPS policies and certificate
//! records that the admin API accepts, the store keeps and the data plane serves.
//!
//! Everything here is plain data plus the validation that runs once, when a value enters the
//! system (parse, don't validate twice). No I/O happens in this crate, so every rule can be unit
//! tested and every other crate can depend on it.

mod certificate;
mod chain;
mod domain;
mod error;
mod host;
mod https;
mod names;
mod usage;

pub use certificate::{
    CertStatus, CertificateInfo, CertificateMeta, KeyType, SealedKey, StoredCertificate,
    UnknownKeyType,
};
pub use chain::{pem_encode, CertChain, UnreadableChain};
pub use domain::{DomainConfig, Origin, OriginProtocol, Priority, RawDomainConfig, RawOrigin};
pub use error::{ErrorCode, ValidationError};
pub use host::{Authority, Host, HostPort};
pub use https::{ForceRedirect, Hsts, HttpsConfig, RedirectStatus, TlsVersion};
pub use names::{host_of, san_covers, CertName, DomainName};
pub use usage::MinuteUsage;
