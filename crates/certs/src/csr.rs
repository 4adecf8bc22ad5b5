//! Keys generated on the server, and the certificate signing requests (PKCS#10) made with them
//! for `POST /api/v1/csrs`. The key never leaves the server: it is sealed like an uploaded one.

use tlsedge_model::{DomainName, KeyType};

use crate::key::{KeyFormat, KeyMaterial};

/// The key types the server generates: ECDSA P-256 (the default) and P-384, RSA of 2048, 3072
/// and 4096 bits.
pub const GENERATED_KEY_TYPES: [KeyType; 5] = [
    KeyType::EcdsaP256,
    KeyType::EcdsaP384,
    KeyType::Rsa(2048),
    KeyType::Rsa(3072),
    KeyType::Rsa(4096),
];

/// The subject of a CSR, as the caller checked it. Empty optional fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrSubject {
    /// Subject CN (1 to 64 characters).
    pub common_name: String,
    /// The DNS names the certificate is for; at least one.
    pub sans: Vec<DomainName>,
    /// Two-letter country code (C).
    pub country: Option<String>,
    /// Organisation (O).
    pub organization: Option<String>,
    /// Organisational unit (OU).
    pub organizational_unit: Option<String>,
    /// State or province (ST).
    pub state: Option<String>,
    /// Locality (L).
    pub city: Option<String>,
    /// E-mail address (PKCS#9 emailAddress).
    pub email: Option<String>,
}

/// Why no key or CSR was made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    /// The server does not generate keys of this type (see [`GENERATED_KEY_TYPES`]).
    #[error("key type {0} cannot be generated; use one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096")]
    UnsupportedKeyType(KeyType),
    /// A SAN that the CSR encoder refuses.
    #[error("invalid SAN: {0}")]
    InvalidSan(#[source] rcgen::Error),
    /// Generating the key, or signing and encoding the CSR, failed.
    #[error("generating the key or the CSR failed")]
    Generate(#[source] rcgen::Error),
}

/// Generates a fresh private key of `key_type` (PKCS#8). RSA 4096 takes a while: call it off
/// the async workers.
pub fn generate_key(key_type: KeyType) -> Result<KeyMaterial, CsrError> {
    let kp = key_pair(key_type)?;
    let der = zeroize::Zeroizing::new(kp.serialize_der());
    KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, &der)
        .ok_or(CsrError::UnsupportedKeyType(key_type))
}

/// Generates a key of `key_type` and a PEM CSR for `subject` signed with it.
pub fn generate_csr(
    subject: &CsrSubject,
    key_type: KeyType,
) -> Result<(KeyMaterial, String), CsrError> {
    use rcgen::DnType;
    let sans: Vec<String> = subject.sans.iter().map(DomainName::to_string).collect();
    let mut params = rcgen::CertificateParams::new(sans).map_err(CsrError::InvalidSan)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(DnType::CommonName, subject.common_name.as_str());
    if let Some(c) = &subject.country {
        dn.push(DnType::CountryName, c.as_str());
    }
    for (v, ty) in [
        (&subject.organization, DnType::OrganizationName),
        (&subject.organizational_unit, DnType::OrganizationalUnitName),
        (&subject.state, DnType::StateOrProvinceName),
        (&subject.city, DnType::LocalityName),
    ] {
        if let Some(s) = v {
            dn.push(ty, s.as_str());
        }
    }
    if let Some(e) = &subject.email {
        dn.push(
            DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            e.as_str(),
        );
    }
    params.distinguished_name = dn;
    let kp = key_pair(key_type)?;
    let csr = params.serialize_request(&kp).map_err(CsrError::Generate)?;
    let pem = csr.pem().map_err(CsrError::Generate)?;
    let der = zeroize::Zeroizing::new(kp.serialize_der());
    let key = KeyMaterial::from_format_and_der(KeyFormat::Pkcs8, &der)
        .ok_or(CsrError::UnsupportedKeyType(key_type))?;
    Ok((key, pem))
}

fn key_pair(key_type: KeyType) -> Result<rcgen::KeyPair, CsrError> {
    use rcgen::{KeyPair, RsaKeySize};
    match key_type {
        KeyType::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::Rsa(2048) => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyType::Rsa(3072) => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
        KeyType::Rsa(4096) => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096),
        other => return Err(CsrError::UnsupportedKeyType(other)),
    }
    .map_err(CsrError::Generate)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use x509_parser::prelude::FromDer;

    #[test]
    fn generates_each_key_type_it_lists() {
        // RSA 3072/4096 are slow in debug builds; one RSA size shows the path.
        for kt in [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::Rsa(2048)] {
            let key = generate_key(kt).unwrap();
            let signer = crate::key::signing_key(&key).unwrap();
            assert_eq!(crate::key::key_type(&signer.public_key().unwrap()), kt);
        }
        for kt in [
            KeyType::EcdsaP521,
            KeyType::Ed25519,
            KeyType::Rsa(1024),
            KeyType::Unknown,
        ] {
            assert!(!GENERATED_KEY_TYPES.contains(&kt));
            assert!(matches!(
                generate_key(kt),
                Err(CsrError::UnsupportedKeyType(k)) if k == kt
            ));
        }
    }

    #[test]
    fn csr_names_the_subject_and_is_signed_by_the_key() {
        let subject = CsrSubject {
            common_name: "shop.example.com".into(),
            sans: vec![
                DomainName::parse("shop.example.com").unwrap(),
                DomainName::parse("*.shop.example.com").unwrap(),
            ],
            country: Some("DE".into()),
            organization: Some("Example Org".into()),
            ..Default::default()
        };
        let (key, pem) = generate_csr(&subject, KeyType::EcdsaP256).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        let der =
            rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(pem.as_bytes()).unwrap();
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(der.as_ref())
                .unwrap();
        csr.verify_signature().unwrap();
        let subject_text = csr.certification_request_info.subject.to_string();
        for part in ["CN=shop.example.com", "C=DE", "O=Example Org"] {
            assert!(subject_text.contains(part), "{subject_text}");
        }
        // The CSR's public key is the generated key's.
        let signer = crate::key::signing_key(&key).unwrap();
        assert_eq!(
            csr.certification_request_info.subject_pki.raw,
            &*signer.public_key().unwrap()
        );
        let names: Vec<String> = csr
            .requested_extensions()
            .into_iter()
            .flatten()
            .filter_map(|e| match e {
                x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) => Some(
                    san.general_names
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(
            names,
            ["DNSName(shop.example.com)", "DNSName(*.shop.example.com)"]
        );
    }
}
