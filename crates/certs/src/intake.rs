//! Certificate intake: an uploaded chain and key become the record the store keeps, in one
//! place for every way in (the admin API's upload and replace, a domain's private certificate,
//! `tlsedge import`).
//!
//! Validate, then seal, then build the record: nothing is stored that was not validated, and no
//! key is stored in the clear.

use time::OffsetDateTime;
use tlsedge_model::{CertName, SealedKey, StoredCertificate, ValidationError};

use crate::seal::{MasterKey, SealError};
use crate::validate::{validate_upload, validate_with_key, ValidatedCertificate};

/// Why an intake stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    /// The chain or the key was refused; the contract's code and field are inside.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The key could not be sealed (the system's random generator or AES-GCM failed).
    #[error("cannot seal the private key")]
    Seal(#[source] SealError),
    /// The key the server holds for the name could not be opened (another master key, or a
    /// store changed behind the API's back).
    #[error("cannot open the stored private key")]
    Open(#[source] SealError),
}

/// Validates `cert_pem` and `key_pem` at `now` (see [`validate_upload`]), seals the key under
/// `master` for `name`, and returns the record to store: normalised PEM chain, sealed key,
/// meta, no owner domain and no CSR. A caller that uploads a domain's private certificate sets
/// [`StoredCertificate::private_to`] on the result.
pub fn intake(
    name: &CertName,
    cert_pem: &str,
    key_pem: &str,
    master: &MasterKey,
    now: OffsetDateTime,
) -> Result<StoredCertificate, IntakeError> {
    let v = validate_upload(cert_pem, key_pem, now)?;
    let key = master.seal(name, &v.key).map_err(IntakeError::Seal)?;
    Ok(record(name, v, key))
}

/// The intake of a chain for a key the server already holds sealed (a CSR completed, or a
/// renewal on the same key): opens `sealed`, validates the chain against it (see
/// [`validate_with_key`]) and keeps `sealed` as it is.
pub fn intake_with_sealed_key(
    name: &CertName,
    cert_pem: &str,
    sealed: &SealedKey,
    master: &MasterKey,
    now: OffsetDateTime,
) -> Result<StoredCertificate, IntakeError> {
    let key = master.open(name, sealed).map_err(IntakeError::Open)?;
    let v = validate_with_key(cert_pem, &key, now)?;
    Ok(record(name, v, sealed.clone()))
}

fn record(name: &CertName, v: ValidatedCertificate, key: SealedKey) -> StoredCertificate {
    StoredCertificate {
        name: name.clone(),
        chain: v.chain,
        key,
        meta: Some(v.meta),
        private_to: None,
        csr_pem: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use rcgen::KeyPair;
    use tlsedge_model::ErrorCode;

    fn name() -> CertName {
        CertName::parse("example-com").unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn accepts_and_seals() {
        let master = MasterKey::generate().unwrap();
        let kp = KeyPair::generate().unwrap();
        let cert = self_signed(&kp, &["www.example.com"]);
        let rec = intake(&name(), &cert.pem(), &kp.serialize_pem(), &master, now()).unwrap();
        assert_eq!(rec.name, name());
        let meta = rec.meta.as_ref().unwrap();
        assert_eq!(meta.sans, ["www.example.com"]);
        assert_eq!(meta.chain_length, 1);
        assert_eq!(rec.private_to, None);
        assert_eq!(rec.csr_pem, None);
        assert_eq!(rec.chain.der().unwrap(), [cert.der().clone()]);
        assert_eq!(rec.chain.to_pem(), cert.pem().replace("\r\n", "\n"));
        // The key is sealed for this name, and opens to the uploaded key.
        assert!(!rec.key.0.contains("PRIVATE KEY"));
        let opened = master.open(&name(), &rec.key).unwrap();
        assert_eq!(opened.secret_der(), kp.serialized_der());
        assert!(master
            .open(&CertName::parse("other").unwrap(), &rec.key)
            .is_err());
    }

    #[test]
    fn every_refusal_keeps_its_code_and_field() {
        let master = MasterKey::generate().unwrap();
        let kp = KeyPair::generate().unwrap();
        let cert = self_signed(&kp, &["a.example.com"]).pem();
        let key = kp.serialize_pem();
        let expired = self_signed_with(&kp, &["a.example.com"], |p| {
            p.not_before = now() - time::Duration::days(90);
            p.not_after = now() - time::Duration::days(1);
        })
        .pem();
        let future = self_signed_with(&kp, &["a.example.com"], |p| {
            p.not_before = now() + time::Duration::days(2);
            p.not_after = now() + time::Duration::days(90);
        })
        .pem();
        let other_key = KeyPair::generate().unwrap().serialize_pem();
        let cases: [(&str, &str, ErrorCode, &str); 7] = [
            ("hello", &key, ErrorCode::InvalidPem, "cert_pem"),
            (&cert, "hello", ErrorCode::InvalidPem, "key_pem"),
            (
                "-----BEGIN PKCS7-----\nMIIBAA==\n-----END PKCS7-----\n",
                &key,
                ErrorCode::UnsupportedFormat,
                "cert_pem",
            ),
            (
                &cert,
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBAA==\n-----END ENCRYPTED PRIVATE KEY-----\n",
                ErrorCode::EncryptedKey,
                "key_pem",
            ),
            (&cert, &other_key, ErrorCode::KeyMismatch, "key_pem"),
            (&expired, &key, ErrorCode::CertificateExpired, "cert_pem"),
            (&future, &key, ErrorCode::CertificateNotYetValid, "cert_pem"),
        ];
        for (c, k, code, field) in cases {
            match intake(&name(), c, k, &master, now()) {
                Err(IntakeError::Invalid(e)) => {
                    assert_eq!((e.code, e.field.as_deref()), (code, Some(field)), "{e}")
                }
                other => panic!("{code:?}: {other:?}"),
            }
        }
        let eleven = cert.repeat(11);
        match intake(&name(), &eleven, &key, &master, now()) {
            Err(IntakeError::Invalid(e)) => assert_eq!(e.code, ErrorCode::InvalidRequest),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn with_a_sealed_key_keeps_it() {
        let master = MasterKey::generate().unwrap();
        let kp = KeyPair::generate().unwrap();
        let km =
            crate::KeyMaterial::from_format_and_der(crate::KeyFormat::Pkcs8, kp.serialized_der())
                .unwrap();
        let sealed = master.seal(&name(), &km).unwrap();
        let cert = self_signed(&kp, &["csr.example.com"]).pem();
        let rec = intake_with_sealed_key(&name(), &cert, &sealed, &master, now()).unwrap();
        assert_eq!(rec.key, sealed);
        assert_eq!(rec.meta.unwrap().sans, ["csr.example.com"]);

        let other = self_signed(&KeyPair::generate().unwrap(), &["csr.example.com"]).pem();
        match intake_with_sealed_key(&name(), &other, &sealed, &master, now()) {
            Err(IntakeError::Invalid(e)) => assert_eq!(e.code, ErrorCode::KeyMismatch),
            r => panic!("{r:?}"),
        }
        let stranger = MasterKey::generate().unwrap();
        assert!(matches!(
            intake_with_sealed_key(&name(), &cert, &sealed, &stranger, now()),
            Err(IntakeError::Open(SealError::Unauthentic))
        ));
    }
}
