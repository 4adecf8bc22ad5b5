//! Certificates and keys for the unit tests, all generated at run time (no committed blobs).

use std::sync::OnceLock;

use rcgen::{Certificate, CertificateParams, KeyPair};
use tlsedge_testkit::TestCa;
use x509_parser::asn1_rs::{Any, FromDer};

/// A 2048-bit RSA key (PKCS#8). Generated once: RSA key generation is slow in debug builds.
pub(crate) fn rsa2048() -> KeyPair {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    let der = DER.get_or_init(|| {
        KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .unwrap()
            .serialized_der()
            .to_vec()
    });
    KeyPair::try_from(der.as_slice()).unwrap()
}

pub(crate) fn self_signed(key: &KeyPair, sans: &[&str]) -> Certificate {
    self_signed_with(key, sans, |_| {})
}

pub(crate) fn self_signed_with(
    key: &KeyPair,
    sans: &[&str],
    edit: impl FnOnce(&mut CertificateParams),
) -> Certificate {
    tlsedge_testkit::self_signed(key, sans, edit).unwrap()
}

/// A certificate authority (root or intermediate) of the workspace's one test CA builder
/// (`tlsedge_testkit`), with its certificate at hand and panics instead of errors.
pub(crate) struct Ca {
    pub(crate) cert: Certificate,
    kit: TestCa,
}

impl Ca {
    fn of(kit: TestCa) -> Ca {
        Ca {
            cert: kit.cert().clone(),
            kit,
        }
    }

    pub(crate) fn new(cn: &str) -> Ca {
        Ca::of(TestCa::new(cn).unwrap())
    }

    pub(crate) fn intermediate(&self, cn: &str) -> Ca {
        self.intermediate_with(cn, |_| {})
    }

    pub(crate) fn intermediate_with(
        &self,
        cn: &str,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Ca {
        Ca::of(self.kit.intermediate_with(cn, edit).unwrap())
    }

    /// A leaf for the public key of `key` (valid from a day ago to 90 days ahead).
    pub(crate) fn issue(&self, key: &KeyPair, sans: &[&str]) -> Certificate {
        self.kit.issue(key, sans, |_| {}).unwrap()
    }
}

/// The `privateKey` OCTET STRING of a PKCS#8 key: for RSA, the PKCS#1 `RSAPrivateKey`.
pub(crate) fn pkcs8_inner_key(pkcs8: &[u8]) -> Vec<u8> {
    let (_, outer) = Any::from_der(pkcs8).unwrap();
    let (rest, _version) = Any::from_der(outer.data).unwrap();
    let (rest, _alg) = Any::from_der(rest).unwrap();
    let (_, key) = Any::from_der(rest).unwrap();
    key.data.to_vec()
}

/// The SEC1 (`EC PRIVATE KEY`, RFC 5915) form of a PKCS#8 EC key, as aws-lc-rs exports it.
pub(crate) fn sec1_of(
    alg: &'static aws_lc_rs::signature::EcdsaSigningAlgorithm,
    pkcs8: &[u8],
) -> Vec<u8> {
    use aws_lc_rs::encoding::AsDer;
    let kp = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8).unwrap();
    kp.private_key().as_der().unwrap().as_ref().to_vec()
}

/// A real secp256k1 key, which aws-lc-rs can make but the TLS stack will not sign with.
pub(crate) fn secp256k1_pkcs8() -> Vec<u8> {
    let kp = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
    )
    .unwrap();
    kp.to_pkcs8v1().unwrap().as_ref().to_vec()
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// A structurally valid PKCS#1 RSA key with a `bits`-bit modulus and nonsense values: enough to
/// test the size rule without generating a weak key (aws-lc-rs will not make one).
pub(crate) fn fake_rsa_pkcs1(bits: usize) -> Vec<u8> {
    let mut modulus = vec![0u8; bits / 8 + 1];
    modulus[1] = 0xC3;
    *modulus.last_mut().unwrap() = 0x01;
    let mut body = tlv(0x02, &[0]);
    body.extend(tlv(0x02, &modulus));
    body.extend(tlv(0x02, &[1, 0, 1]));
    for _ in 0..6 {
        body.extend(tlv(0x02, &[0x05]));
    }
    tlv(0x30, &body)
}

/// DER of the DSA algorithm OID (1.2.840.10040.4.1).
pub(crate) const OID_DER_DSA: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x01];
/// DER of the Ed448 algorithm OID (1.3.101.113).
pub(crate) const OID_DER_ED448: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x71];

/// A structurally valid PKCS#8 key of the given algorithm, with a nonsense private key.
pub(crate) fn fake_pkcs8(oid_der: &[u8]) -> Vec<u8> {
    let mut body = tlv(0x02, &[0]);
    body.extend(tlv(0x30, oid_der));
    body.extend(tlv(0x04, &tlv(0x04, &[7; 32])));
    tlv(0x30, &body)
}
