//! What the data plane serves: a stored chain and an opened key, turned into a rustls
//! `CertifiedKey`.

use std::sync::Arc;

use rustls::sign::CertifiedKey;
use tlsedge_model::{CertChain, UnreadableChain};

use crate::key::{self, KeyMaterial, MatchError};

/// Why a stored certificate cannot be served. Stored pairs were validated on write, so any of
/// these means the store was changed behind the admin API's back (or a bug).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The stored chain is not PEM of certificates.
    #[error("the stored certificate chain cannot be read")]
    Unreadable(#[source] UnreadableChain),
    /// The stored chain holds no CERTIFICATE block.
    #[error("the stored certificate chain holds no certificate")]
    NoCertificate,
    /// aws-lc-rs cannot sign with the key.
    #[error("the private key cannot be loaded")]
    Key(#[source] rustls::Error),
    /// The key is not the leaf certificate's.
    #[error("the private key does not match the certificate")]
    KeyMismatch,
    /// rustls cannot read the leaf certificate.
    #[error("the leaf certificate cannot be served")]
    Certificate(#[source] rustls::Error),
}

/// Builds what the data plane serves from a stored chain (leaf first) and an opened key, using
/// the aws-lc-rs provider.
///
/// Checks only what rustls needs: the chain holds certificates, the key loads, and its public
/// key is the leaf's. No X.509 validation runs again (it ran on write) and no PEM is parsed (the
/// chain is DER since it was read), so this is cheap enough to call for every certificate when a
/// node starts.
pub fn certified_key(chain: &CertChain, key: &KeyMaterial) -> Result<Arc<CertifiedKey>, LoadError> {
    let chain = chain.der().map_err(LoadError::Unreadable)?.to_vec();
    if chain.is_empty() {
        return Err(LoadError::NoCertificate);
    }
    let signer = rustls::crypto::aws_lc_rs::sign::any_supported_type(&key.private_key_der())
        .map_err(LoadError::Key)?;
    let certified = CertifiedKey::new(chain, signer);
    key::check_match(&certified).map_err(|e| match e {
        MatchError::Mismatch => LoadError::KeyMismatch,
        MatchError::Certificate(err) => LoadError::Certificate(err),
    })?;
    Ok(Arc::new(certified))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::key::KeyFormat;
    use crate::testutil::*;
    use crate::validate_upload;
    use rcgen::KeyPair;

    #[test]
    fn loads_every_key_type_and_format() {
        // A key pair, and optionally its key re-encoded under another PEM label.
        type Case = (KeyPair, Option<(&'static str, Vec<u8>)>);
        let mut cases: Vec<Case> = Vec::new();
        for alg in [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &rcgen::PKCS_ECDSA_P521_SHA512,
            &rcgen::PKCS_ED25519,
        ] {
            cases.push((KeyPair::generate_for(alg).unwrap(), None));
        }
        let rsa = rsa2048();
        let pkcs1 = pkcs8_inner_key(rsa.serialized_der());
        cases.push((rsa, None));
        let rsa = rsa2048();
        cases.push((
            KeyPair::try_from(rsa.serialized_der()).unwrap(),
            Some(("RSA PRIVATE KEY", pkcs1)),
        ));
        let ec = KeyPair::generate().unwrap();
        let sec1 = sec1_of(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            ec.serialized_der(),
        );
        cases.push((ec, Some(("EC PRIVATE KEY", sec1))));

        for (kp, alt) in cases {
            let ca = Ca::new("Root");
            let inter = ca.intermediate("Intermediate");
            let leaf = inter.issue(&kp, &["edge.example.com"]);
            let key_pem = match &alt {
                Some((label, der)) => crate::pem::encode(label, der),
                None => kp.serialize_pem(),
            };
            let v = validate_upload(
                &format!("{}{}", leaf.pem(), inter.cert.pem()),
                &key_pem,
                time::OffsetDateTime::now_utc(),
            )
            .unwrap();
            let ck = certified_key(&v.chain, &v.key).unwrap();
            assert_eq!(ck.cert.len(), 2);
            assert_eq!(ck.cert[0], *leaf.der());
            assert!(ck.keys_match().is_ok());
            if let Some((label, _)) = alt {
                let expected = if label.starts_with("RSA") {
                    KeyFormat::Pkcs1
                } else {
                    KeyFormat::Sec1
                };
                assert_eq!(v.key.format(), expected);
            }
        }
    }

    #[test]
    fn refuses_broken_pairs() {
        let kp = KeyPair::generate().unwrap();
        let cert = self_signed(&kp, &["a.example.com"]).pem();
        let key = KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, kp.serialized_der()).unwrap();
        let cert = CertChain::from_pem(&cert);
        assert!(certified_key(&cert, &key).is_ok());

        let other = KeyPair::generate().unwrap();
        let other =
            KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, other.serialized_der()).unwrap();
        assert!(matches!(
            certified_key(&cert, &other),
            Err(LoadError::KeyMismatch)
        ));
        assert!(matches!(
            certified_key(&CertChain::from_pem(""), &key),
            Err(LoadError::NoCertificate)
        ));
        assert!(matches!(
            certified_key(
                &CertChain::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n"),
                &key
            ),
            Err(LoadError::Unreadable(_))
        ));
        let junk = KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, &[1, 2, 3]).unwrap();
        assert!(matches!(
            certified_key(&cert, &junk),
            Err(LoadError::Key(_))
        ));
    }
}
