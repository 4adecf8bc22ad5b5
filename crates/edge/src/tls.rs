use std::sync::Arc;

use rustls::server::{
    ClientHello, NoServerSessionStorage, ResolvesServerCert, ServerSessionMemoryCache,
};
use rustls::sign::CertifiedKey;
use rustls::{AlertDescription, CipherSuite, ClientConfig, RootCertStore, ServerConfig};
use tlsedge_model::TlsVersion;

use crate::error::{EdgeError, OriginCaError};

/// TLS settings shared by every domain.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// Session tickets (TLS 1.3 and 1.2) and a server-side session cache. Off makes every
    /// handshake a full one (benchmarks of full handshakes need that).
    pub session_resumption: bool,
    /// Entries of the server-side session cache.
    pub session_cache_size: usize,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            session_resumption: true,
            session_cache_size: 16 * 1024,
        }
    }
}

/// Serves one certificate whatever the ClientHello says: the snapshot already chose it by SNI.
#[derive(Debug)]
struct SingleCert(Arc<CertifiedKey>);

impl ResolvesServerCert for SingleCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Resolves nothing: the resolver of the templates, replaced by each domain's [`SingleCert`].
#[derive(Debug)]
struct NoCert;

impl ResolvesServerCert for NoCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        None
    }
}

/// Prebuilt `ServerConfig` templates, one per (TLS versions, HTTP/2) combination, sharing one
/// ticketer and one session cache. A domain's config is a clone of its template with its own
/// certificate resolver: a few `Arc` clones, done when the domain changes.
pub(crate) struct TlsFactory {
    templates: [ServerConfig; 6],
    /// The client config for origins verified against the system's roots.
    origin_default: Arc<ClientConfig>,
    /// The client config for origins whose certificate is not verified.
    origin_insecure: Arc<ClientConfig>,
}

/// The bulk cipher of a suite, for the server's preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20,
}

fn bulk(suite: CipherSuite) -> Option<Bulk> {
    use CipherSuite as S;
    match suite {
        S::TLS13_AES_128_GCM_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => Some(Bulk::Aes128Gcm),
        S::TLS13_AES_256_GCM_SHA384
        | S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        | S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => Some(Bulk::Aes256Gcm),
        S::TLS13_CHACHA20_POLY1305_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        | S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => Some(Bulk::ChaCha20),
        _ => None,
    }
}

/// The server's cipher-suite preference, applied whatever order the client lists them in
/// (`ignore_client_order`): AES-128-GCM, then AES-256-GCM, then ChaCha20-Poly1305.
///
/// Why AES-128-GCM first: every TLS 1.3 client implements it (RFC 8446 §9.1), it is as strong
/// as the key exchange it follows (X25519 and P-256 give 128-bit security), and its SHA-256
/// transcript hash and key schedule run on the CPU's SHA extensions, which SHA-384 has none of.
/// A full TLS 1.3 ECDSA handshake costs the server about 65 µs with it and 90 µs with
/// AES-256-GCM-SHA384 on the benchmark machine (`benchtool inmem`, BENCHMARKS.md). Browsers
/// list AES-128 first already; OpenSSL-based clients (curl, h2load, most libraries) list
/// AES-256 first and would otherwise get the slower suite.
///
/// ChaCha20 goes to a client that lists it before any AES suite (one without AES hardware,
/// where ChaCha20 is the faster cipher): see [`prefers_chacha`].
fn server_preference(
    mut provider: rustls::crypto::CryptoProvider,
) -> rustls::crypto::CryptoProvider {
    provider
        .cipher_suites
        .sort_by_key(|s| bulk(s.suite()).unwrap_or(Bulk::ChaCha20));
    provider
}

/// Whether the first suite the client offers among the AEAD suites the edge knows is
/// ChaCha20-Poly1305: such a client gets its own order (BoringSSL's "equal preference" rule
/// for AES and ChaCha20), every other client the server's.
pub(crate) fn prefers_chacha(offered: &[CipherSuite]) -> bool {
    offered.iter().find_map(|s| bulk(*s)) == Some(Bulk::ChaCha20)
}

/// The same config, choosing the cipher suite in the client's order of preference.
pub(crate) fn in_client_order(server_order: &ServerConfig) -> Arc<ServerConfig> {
    let mut c = server_order.clone();
    c.ignore_client_order = false;
    Arc::new(c)
}

/// A handshake the edge ends itself with a fatal alert, before it sends anything else: the
/// ClientHello alone decides it (see [`judge_hello`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HelloRefusal {
    /// No SNI, or a name that no HTTPS-enabled domain answers: `unrecognized_name` (112), the
    /// alert RFC 6066 §3 names for it. Scanners (sslyze) read it as "no certificate for this
    /// name" and go on; `access_denied` (49), what rustls sends when no certificate resolves,
    /// reads as a refusal of the client.
    UnrecognizedName,
    /// A TLS 1.2 ClientHello carrying `TLS_FALLBACK_SCSV` to a domain that serves TLS 1.3:
    /// `inappropriate_fallback` (86, RFC 7507 §3). The client retried with a lower version
    /// than both sides support, which only a downgrade attack or a broken middlebox causes.
    InappropriateFallback,
}

impl HelloRefusal {
    /// The alert it ends the handshake with.
    pub(crate) fn alert(self) -> AlertDescription {
        match self {
            Self::UnrecognizedName => AlertDescription::UnrecognisedName,
            Self::InappropriateFallback => AlertDescription::InappropriateFallback,
        }
    }

    /// The alert as the one plaintext TLS record sent in place of a ServerHello (RFC 8446
    /// §5.1 and §6, RFC 5246 §6.2.1 and §7.2): content type alert (21), record version
    /// TLS 1.2 (`03 03`, what TLS 1.3 also writes), length 2, level fatal (2), description.
    ///
    /// Written by hand because rustls's `Acceptor` has no way to end a handshake with an
    /// alert of the caller's choice: a config that resolves no certificate makes rustls send
    /// `access_denied`.
    pub(crate) fn record(self) -> [u8; 7] {
        [21, 3, 3, 0, 2, 2, u8::from(self.alert())]
    }
}

/// `TLS_FALLBACK_SCSV` (RFC 7507 §6): a client that retries a handshake with a lower version
/// than it supports lists it among its cipher suites.
const FALLBACK_SCSV: u16 = 0x5600;

/// Whether a ClientHello offering `offered` may go on to the domain it named (`domain`, with
/// the TLS versions it serves), or which alert ends it:
/// - no domain (no SNI, an unknown name, a domain with HTTPS off or no certificate loaded):
///   [`HelloRefusal::UnrecognizedName`];
/// - `TLS_FALLBACK_SCSV` from a client that offers no TLS 1.3 cipher suite, to a domain that
///   serves TLS 1.3: [`HelloRefusal::InappropriateFallback`].
///
/// rustls's `ClientHello` shows the cipher suites but not the `supported_versions` extension,
/// so "the client offers TLS 1.3" is read from the suites: a TLS 1.3 handshake needs a TLS 1.3
/// suite (`0x13xx`, RFC 8446 §B.4), and a client whose highest version is 1.2 lists none
/// (OpenSSL, BoringSSL, NSS and rustls leave them out). A TLS 1.3 ClientHello with the SCSV is
/// no fallback from the server's highest version, so it is served.
pub(crate) fn judge_hello(
    offered: &[CipherSuite],
    domain: Option<&[TlsVersion]>,
) -> Result<(), HelloRefusal> {
    let Some(versions) = domain else {
        return Err(HelloRefusal::UnrecognizedName);
    };
    let fallback = offered.iter().any(|s| u16::from(*s) == FALLBACK_SCSV);
    if fallback
        && versions.contains(&TlsVersion::Tls13)
        && !offered.iter().any(|s| u16::from(*s) >> 8 == 0x13)
    {
        return Err(HelloRefusal::InappropriateFallback);
    }
    Ok(())
}

fn template_index(versions: &[TlsVersion], h2: bool) -> usize {
    let v = match (
        versions.contains(&TlsVersion::Tls12),
        versions.contains(&TlsVersion::Tls13),
    ) {
        (true, true) | (false, false) => 0,
        (true, false) => 1,
        (false, true) => 2,
    };
    v * 2 + usize::from(h2)
}

impl TlsFactory {
    pub(crate) fn new(settings: TlsSettings) -> Result<Self, EdgeError> {
        let provider = Arc::new(server_preference(
            rustls::crypto::aws_lc_rs::default_provider(),
        ));
        let ticketer = if settings.session_resumption {
            Some(rustls::crypto::aws_lc_rs::Ticketer::new()?)
        } else {
            None
        };
        let cache: Arc<dyn rustls::server::StoresServerSessions> = if settings.session_resumption {
            ServerSessionMemoryCache::new(settings.session_cache_size)
        } else {
            Arc::new(NoServerSessionStorage {})
        };
        let make = |versions: &[&'static rustls::SupportedProtocolVersion],
                    h2: bool|
         -> Result<ServerConfig, EdgeError> {
            let mut c = ServerConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(versions)?
                .with_no_client_auth()
                .with_cert_resolver(Arc::new(NoCert));
            c.ignore_client_order = true;
            c.alpn_protocols = if h2 {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            };
            c.session_storage = cache.clone();
            match &ticketer {
                Some(t) => {
                    c.ticketer = t.clone();
                    // One ticket per handshake is enough for a client to resume (browsers use
                    // one per connection); rustls's default of two doubles the ticket work.
                    c.send_tls13_tickets = 1;
                }
                None => c.send_tls13_tickets = 0,
            }
            Ok(c)
        };
        let both = &[&rustls::version::TLS13, &rustls::version::TLS12][..];
        let v12 = &[&rustls::version::TLS12][..];
        let v13 = &[&rustls::version::TLS13][..];
        let templates = [
            make(both, false)?,
            make(both, true)?,
            make(v12, false)?,
            make(v12, true)?,
            make(v13, false)?,
            make(v13, true)?,
        ];

        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            tracing::warn!("no system CA certificates found: origins over HTTPS need origin_ca_pem or origin_verify_tls = false");
        }
        let origin_default = Arc::new(client_config(provider.clone(), roots)?);
        let mut insecure = client_config(provider.clone(), RootCertStore::empty())?;
        insecure
            .dangerous()
            .set_certificate_verifier(Arc::new(NoVerify(provider)));
        Ok(Self {
            templates,
            origin_default,
            origin_insecure: Arc::new(insecure),
        })
    }

    /// The config a domain serves with.
    pub(crate) fn server_config(
        &self,
        versions: &[TlsVersion],
        h2: bool,
        cert: Arc<CertifiedKey>,
    ) -> Arc<ServerConfig> {
        let mut c = self.templates[template_index(versions, h2)].clone();
        c.cert_resolver = Arc::new(SingleCert(cert));
        Arc::new(c)
    }

    /// The client config for a domain's origin: the system's roots, the CAs of `ca_pem`, or
    /// no verification at all. Fails when `ca_pem` holds no usable CA certificate.
    pub(crate) fn origin_client(
        &self,
        verify: bool,
        ca_pem: Option<&str>,
    ) -> Result<Arc<ClientConfig>, OriginCaError> {
        if !verify {
            return Ok(self.origin_insecure.clone());
        }
        let Some(pem) = ca_pem else {
            return Ok(self.origin_default.clone());
        };
        use rustls_pki_types::pem::PemObject;
        let mut roots = RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(OriginCaError::NotPem)?;
            roots.add(cert).map_err(OriginCaError::UnusableCa)?;
        }
        if roots.is_empty() {
            return Err(OriginCaError::Empty);
        }
        let provider = self.origin_default.crypto_provider().clone();
        client_config(provider, roots)
            .map(Arc::new)
            .map_err(OriginCaError::ClientConfig)
    }
}

fn client_config(
    provider: Arc<rustls::crypto::CryptoProvider>,
    roots: RootCertStore,
) -> Result<ClientConfig, rustls::Error> {
    let mut c = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(c)
}

/// Accepts any origin certificate, for domains with `origin_verify_tls: false`. Signatures are
/// still checked so the handshake is well-formed.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factory() -> TlsFactory {
        TlsFactory::new(TlsSettings::default()).unwrap()
    }

    #[test]
    fn origin_ca_pem_without_a_certificate_is_refused() {
        let f = factory();
        for pem in ["", "no PEM here\n"] {
            assert!(
                matches!(f.origin_client(true, Some(pem)), Err(OriginCaError::Empty)),
                "{pem:?}"
            );
        }
    }

    #[test]
    fn origin_ca_pem_that_does_not_decode_is_not_pem() {
        let pem = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let e = factory().origin_client(true, Some(pem)).unwrap_err();
        assert!(matches!(e, OriginCaError::NotPem(_)), "{e:?}");
        // The cause stays reachable for whoever reports the chain.
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn origin_ca_pem_holding_no_certificate_is_no_usable_ca() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = factory().origin_client(true, Some(pem)).unwrap_err();
        assert!(matches!(e, OriginCaError::UnusableCa(_)), "{e:?}");
    }

    #[test]
    fn origins_without_ca_pem_or_verification_need_no_parsing() {
        let f = factory();
        let garbage = Some("not PEM");
        assert!(Arc::ptr_eq(
            &f.origin_client(false, garbage).unwrap(),
            &f.origin_insecure
        ));
        assert!(Arc::ptr_eq(
            &f.origin_client(true, None).unwrap(),
            &f.origin_default
        ));
    }

    /// What OpenSSL offers with `-tls1_2`: TLS 1.2 suites only, and the renegotiation SCSV.
    const TLS12_HELLO: [CipherSuite; 3] = [
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
    ];

    fn with_fallback_scsv(suites: &[CipherSuite]) -> Vec<CipherSuite> {
        let mut v = suites.to_vec();
        v.push(CipherSuite::from(0x5600));
        v
    }

    #[test]
    fn a_hello_for_no_domain_is_an_unrecognized_name() {
        for offered in [&TLS12_HELLO[..], &[]] {
            assert_eq!(
                judge_hello(offered, None),
                Err(HelloRefusal::UnrecognizedName)
            );
        }
    }

    #[test]
    fn a_tls12_fallback_to_a_domain_serving_tls13_is_inappropriate() {
        let fallback = with_fallback_scsv(&TLS12_HELLO);
        let both = [TlsVersion::Tls12, TlsVersion::Tls13];
        assert_eq!(
            judge_hello(&fallback, Some(&both)),
            Err(HelloRefusal::InappropriateFallback)
        );
        assert_eq!(
            judge_hello(&fallback, Some(&[TlsVersion::Tls13])),
            Err(HelloRefusal::InappropriateFallback)
        );
        // Without the SCSV a TLS 1.2 client is simply served (or refused by rustls).
        assert_eq!(judge_hello(&TLS12_HELLO, Some(&both)), Ok(()));
    }

    #[test]
    fn a_fallback_scsv_is_no_refusal_where_tls12_is_the_highest_version() {
        let fallback = with_fallback_scsv(&TLS12_HELLO);
        // The domain's highest version is the client's: no downgrade happened.
        assert_eq!(judge_hello(&fallback, Some(&[TlsVersion::Tls12])), Ok(()));
        // A client offering TLS 1.3 suites offers TLS 1.3: it fell back from nothing.
        let tls13 = with_fallback_scsv(&[
            CipherSuite::TLS13_AES_128_GCM_SHA256,
            CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ]);
        let both = [TlsVersion::Tls12, TlsVersion::Tls13];
        assert_eq!(judge_hello(&tls13, Some(&both)), Ok(()));
    }

    #[test]
    fn the_alert_record_is_a_fatal_plaintext_alert_with_the_rfc_code() {
        // RFC 6066 §3: unrecognized_name(112); RFC 7507 §2: inappropriate_fallback(86).
        assert_eq!(
            HelloRefusal::UnrecognizedName.record(),
            [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112]
        );
        assert_eq!(
            HelloRefusal::InappropriateFallback.record(),
            [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 86]
        );
    }

    #[test]
    fn the_edge_error_names_the_domain_and_the_cause() {
        let e = crate::error::EdgeError::OriginCa {
            domain: "a.example.com".into(),
            source: OriginCaError::Empty,
        };
        assert_eq!(
            e.to_string(),
            "origin_ca_pem of a.example.com: no CA certificate in it"
        );
    }
}
