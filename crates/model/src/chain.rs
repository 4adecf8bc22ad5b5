//! A certificate chain as the data plane serves it (DER, leaf first), kept in the store and on
//! the wire as the PEM text it always was.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A certificate chain, leaf first, held as the DER it was parsed into once: when it was
/// validated on upload, or when the stored record was read. Whoever serves it (the store →
/// edge follower) takes the DER as it is and parses no PEM.
///
/// It serialises as PEM text (`CERTIFICATE` blocks, 64-column lines): the format of the
/// `cert_pem` field the store has always held. Stored text that does not decode is kept as it
/// is ([`der`](Self::der) then says so), so that one damaged record neither stops a store from
/// loading nor changes on its way through.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct CertChain(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Der(Arc<[CertificateDer<'static>]>),
    Unreadable(Arc<str>),
}

impl Default for Repr {
    fn default() -> Self {
        Self::Der(Arc::from(Vec::new()))
    }
}

/// The stored chain is not PEM of certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the stored certificate chain is not valid PEM")]
pub struct UnreadableChain;

impl CertChain {
    /// A chain of these DER certificates, leaf first.
    pub fn from_der(chain: Vec<CertificateDer<'static>>) -> Self {
        Self(Repr::Der(Arc::from(chain)))
    }

    /// Reads PEM text: its `CERTIFICATE` blocks, in order (other blocks are skipped). Text that
    /// does not decode is kept as it is.
    pub fn from_pem(text: &str) -> Self {
        let ders: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(text.as_bytes()).collect();
        match ders {
            Ok(d) if !d.is_empty() || text.trim().is_empty() => Self::from_der(d),
            _ => Self(Repr::Unreadable(Arc::from(text))),
        }
    }

    /// The certificates, leaf first (empty while a CSR waits for its certificate).
    pub fn der(&self) -> Result<&[CertificateDer<'static>], UnreadableChain> {
        match &self.0 {
            Repr::Der(d) => Ok(d),
            Repr::Unreadable(_) => Err(UnreadableChain),
        }
    }

    /// Whether the chain holds no certificate (a pending CSR).
    pub fn is_empty(&self) -> bool {
        matches!(&self.0, Repr::Der(d) if d.is_empty())
    }

    /// The chain as PEM text: one `CERTIFICATE` block per certificate, 64-column lines.
    pub fn to_pem(&self) -> String {
        match &self.0 {
            Repr::Der(d) => d.iter().map(|der| pem_encode("CERTIFICATE", der)).collect(),
            Repr::Unreadable(text) => text.to_string(),
        }
    }
}

/// Encodes DER as one PEM block (RFC 7468) labelled `label` (e.g. `CERTIFICATE`), with
/// 64-character lines. The one PEM encoder of the workspace: certificate chains are stored and
/// sent as this text.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(64));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

impl fmt::Debug for CertChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Der(d) => write!(f, "CertChain({} certificates)", d.len()),
            Repr::Unreadable(_) => f.write_str("CertChain(unreadable)"),
        }
    }
}

impl Serialize for CertChain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_pem())
    }
}

impl<'de> Deserialize<'de> for CertChain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(Self::from_pem(&text))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_through_der() {
        let a = CertificateDer::from(vec![0x30u8; 100]);
        let b = CertificateDer::from(vec![0x31u8; 3]);
        let chain = CertChain::from_der(vec![a.clone(), b.clone()]);
        let pem = chain.to_pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert_eq!(pem.lines().nth(1).unwrap().len(), 64);
        assert_eq!(pem.matches("-----END CERTIFICATE-----\n").count(), 2);
        let back = CertChain::from_pem(&pem);
        assert_eq!(back.der().unwrap(), &[a, b]);
        assert_eq!(back.to_pem(), pem);
        let json = serde_json::to_string(&chain).unwrap();
        let again: CertChain = serde_json::from_str(&json).unwrap();
        assert_eq!(again, chain);
    }

    #[test]
    fn empty_and_unreadable_chains() {
        let empty: CertChain = serde_json::from_str("\"\"").unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty.der().unwrap().len(), 0);
        assert_eq!(serde_json::to_string(&empty).unwrap(), "\"\"");
        for bad in ["junk", "-----BEGIN CERTIFICATE-----\nAAAA\n"] {
            let c = CertChain::from_pem(bad);
            assert_eq!(c.der(), Err(UnreadableChain));
            assert!(!c.is_empty());
            assert_eq!(c.to_pem(), bad, "kept as it was");
        }
    }
}
