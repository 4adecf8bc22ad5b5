//! The certificate center's cryptography: everything tlsedge does with certificates and private
//! keys, kept apart from I/O-heavy crates so every rule can be unit tested.
//!
//! Three jobs, in the order a certificate meets them (the first two joined in [`intake`], the
//! one way a certificate enters the store):
//!
//! 1. [`validate_upload`] (and [`validate_with_key`]) check an uploaded chain and key **once, at
//!    write time**: PEM and X.509 syntax, key type, key/leaf match, validity dates. They return the
//!    facts the admin API lists ([`tlsedge_model::CertificateMeta`]), a normalised PEM chain and
//!    the key as [`KeyMaterial`]. Every refusal is a [`tlsedge_model::ValidationError`] whose
//!    message never quotes key material or PEM text.
//! 2. [`MasterKey`] seals private keys at rest (AES-256-GCM, the certificate name bound as
//!    associated data) so the store never holds a key in the clear.
//! 3. [`certified_key`] turns a stored chain and an opened key into the
//!    [`rustls::sign::CertifiedKey`] the data plane serves. It re-checks nothing beyond what rustls
//!    needs, because the checks ran on write; it is cheap enough to run for every certificate
//!    when a node starts.
//!
//! Key bytes live in [`KeyMaterial`], which zeroes them on drop and never prints them. Keys the
//! server makes itself (for a CSR) come from [`generate_csr`], by [`tlsedge_model::KeyType`].

mod csr;
mod intake;
mod key;
mod load;
mod pem;
mod seal;
mod validate;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod testutil;

pub use csr::{generate_csr, generate_key, CsrError, CsrSubject, GENERATED_KEY_TYPES};
pub use intake::{intake, intake_with_sealed_key, IntakeError};
pub use key::{KeyFormat, KeyMaterial};
pub use load::{certified_key, LoadError};
pub use seal::{MasterKey, SealError};
pub use validate::{validate_upload, validate_with_key, ValidatedCertificate};
