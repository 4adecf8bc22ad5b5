use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use http::{HeaderValue, StatusCode};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tlsedge_model::{DomainConfig, DomainName, OriginProtocol};

use crate::error::EdgeError;
use crate::pool::{ConfigId, PoolKey, TlsTarget};
use crate::settings::EdgeSettings;
use crate::tls::TlsFactory;
use crate::usage::DomainUsage;

/// What the data plane needs to serve one domain: its validated configuration and, when HTTPS
/// is enabled, its certificate with the key already parsed.
#[derive(Clone)]
pub struct DomainInput {
    /// The domain as stored.
    pub config: Arc<DomainConfig>,
    /// The certificate it serves; `None` when HTTPS is off (or its certificate is missing, in
    /// which case handshakes for it fail as for an unknown name).
    pub cert: Option<Arc<CertifiedKey>>,
}

/// One domain, ready to serve: everything derived from its configuration is built here, once.
pub struct DomainRuntime {
    pub(crate) config: Arc<DomainConfig>,
    /// The handshake config, when HTTPS is enabled and a certificate is loaded. It picks the
    /// cipher suite in the server's order of preference.
    pub(crate) tls: Option<Arc<ServerConfig>>,
    /// The same config in the client's order, for clients that prefer ChaCha20: built on the
    /// first such handshake and kept for this domain's runtime, so domains no such client
    /// visits carry nothing extra.
    pub(crate) tls_client_order: OnceLock<Arc<ServerConfig>>,
    /// The certificate handshakes get (shared by every domain that serves it).
    pub(crate) cert: Option<Arc<CertifiedKey>>,
    /// `Strict-Transport-Security` value, when HSTS is on.
    pub(crate) hsts: Option<HeaderValue>,
    /// The status of its forced redirects.
    pub(crate) redirect_status: StatusCode,
    /// The `Host` header its origins get, when `origin_host` is set (else the client's).
    pub(crate) origin_host: Option<HeaderValue>,
    /// Per origin: the pool key of its plain-HTTP port and, when origins may be reached over
    /// TLS, of its HTTPS port (with the SNI to send), built once.
    pub(crate) origin_keys: Vec<(PoolKey, Option<PoolKey>)>,
    /// Keep-alive limits of origin connections.
    pub(crate) origin_idle_per_host: usize,
    pub(crate) origin_idle_timeout: std::time::Duration,
    /// Requests and bytes of this domain, kept across configuration changes.
    pub(crate) usage: Arc<DomainUsage>,
    /// Per origin: until when (ms since the pool's epoch) it is considered down after a failed
    /// connect, so failover does not wait on a dead primary for every request.
    pub(crate) down_until: Vec<AtomicU64>,
}

impl DomainRuntime {
    /// Derives everything requests and handshakes of the domain need, so that they only read
    /// it: the handshake config, the header values, the redirect status, the origin pool keys.
    ///
    /// Fails with [`EdgeError::OriginCa`] when its `origin_ca_pem` is unusable.
    pub(crate) fn build(
        input: DomainInput,
        tls: &TlsFactory,
        settings: &EdgeSettings,
        usage: Arc<DomainUsage>,
    ) -> Result<Self, EdgeError> {
        let cfg = input.config;
        let server = match (&input.cert, cfg.https.enabled) {
            (Some(cert), true) => {
                Some(tls.server_config(&cfg.https.tls_versions, cfg.https.http2, cert.clone()))
            }
            _ => None,
        };
        let hsts = cfg
            .https
            .hsts
            .header_value()
            .and_then(|v| HeaderValue::from_str(&v).ok());
        // A `RedirectStatus` is 301, 302, 307 or 308.
        let redirect_status = StatusCode::from_u16(cfg.https.redirect_status.as_u16())
            .unwrap_or(StatusCode::MOVED_PERMANENTLY);
        // A value that is no valid header keeps the client's Host, as if unset.
        let origin_host = cfg
            .origin_host
            .as_ref()
            .and_then(|h| HeaderValue::from_str(h.as_str()).ok());
        let origin_tls = match cfg.origin_protocol {
            OriginProtocol::Http => None,
            OriginProtocol::Https | OriginProtocol::Follow => Some(
                tls.origin_client(cfg.origin_verify_tls, cfg.origin_ca_pem.as_deref())
                    .map_err(|source| EdgeError::OriginCa {
                        domain: cfg.name.to_string(),
                        source,
                    })?,
            ),
        };
        let down_until = cfg.origins.iter().map(|_| AtomicU64::new(0)).collect();
        let origin_keys = cfg
            .origins
            .iter()
            .map(|o| {
                let address: Arc<str> = Arc::from(o.address.as_str());
                let plain = PoolKey {
                    address: address.clone(),
                    port: o.http_port,
                    tls: None,
                };
                let tls = origin_tls.as_ref().map(|c| {
                    // SNI: origin_sni, else origin_host without its port, else the address.
                    let sni = cfg
                        .origin_sni
                        .as_ref()
                        .map(tlsedge_model::Host::as_str)
                        .or(cfg.origin_host.as_ref().map(tlsedge_model::Authority::host))
                        .unwrap_or(o.address.as_str());
                    PoolKey {
                        address: address.clone(),
                        port: o.https_port,
                        tls: Some(TlsTarget {
                            sni: Arc::from(sni),
                            config: ConfigId(c.clone()),
                        }),
                    }
                });
                (plain, tls)
            })
            .collect();
        Ok(Self {
            cert: input.cert.filter(|_| server.is_some()),
            tls: server,
            tls_client_order: OnceLock::new(),
            hsts,
            redirect_status,
            origin_host,
            origin_idle_per_host: settings.origin_idle_per_host,
            origin_idle_timeout: settings.origin_idle_timeout,
            down_until,
            origin_keys,
            usage,
            config: cfg,
        })
    }

    /// The domain's configuration.
    pub fn config(&self) -> &Arc<DomainConfig> {
        &self.config
    }

    /// Whether a request for this domain may be served on a TLS connection made for `sni`: the
    /// same domain, or one with the same certificate and TLS versions. Anything else would let
    /// a client reach a domain with a certificate or TLS versions it never agreed to.
    pub(crate) fn accepts_connection_of(&self, sni: &DomainRuntime) -> bool {
        if self.config.name == sni.config.name {
            return true;
        }
        match (&self.cert, &sni.cert) {
            (Some(a), Some(b)) => {
                Arc::ptr_eq(a, b) && self.config.https.tls_versions == sni.config.https.tls_versions
            }
            _ => false,
        }
    }

    /// Whether handshakes for this domain succeed.
    pub fn serves_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// Every domain the node serves, at one store revision. Immutable: a change makes a new
/// snapshot that shares all untouched domains with the old one (persistent maps).
#[derive(Clone, Default)]
pub struct Snapshot {
    revision: u64,
    exact: imbl::HashMap<String, Arc<DomainRuntime>>,
    /// Wildcard domains keyed by what follows `*.` (`*.example.com` → `example.com`), so a
    /// lookup needs no allocation.
    wildcard: imbl::HashMap<String, Arc<DomainRuntime>>,
}

impl Snapshot {
    /// The store revision this snapshot reflects.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// How many domains it holds.
    pub fn len(&self) -> usize {
        self.exact.len() + self.wildcard.len()
    }

    /// Whether it holds no domain.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The domain for a lowercase host: the exact name, else the one-level wildcard above it.
    /// Callers lowercase the host with a [`HostBuf`], so a lookup never allocates.
    /// Domains are keyed by their A-labels; a host in Unicode (browsers send A-labels, other
    /// clients may not) is looked up by the A-label that `DomainName::parse` gives it.
    pub fn lookup(&self, host: &str) -> Option<&Arc<DomainRuntime>> {
        if !host.is_ascii() {
            let name = DomainName::parse(host).ok()?;
            return self.lookup(name.as_str());
        }
        if let Some(d) = self.exact.get(host) {
            return Some(d);
        }
        self.wildcard.get(DomainName::wildcard_parent(host)?)
    }

    /// The domain serving HTTPS for an SNI name, with its handshake config (the one in the
    /// client's cipher-suite order when `chacha`: see `tls::prefers_chacha`). An exact domain
    /// with HTTPS off shadows a wildcard, as it does for routing.
    pub(crate) fn tls_domain(
        &self,
        sni: &str,
        chacha: bool,
    ) -> Option<(Arc<DomainRuntime>, Arc<ServerConfig>)> {
        let d = self.lookup(sni)?;
        let server_order = d.tls.as_ref()?;
        let config = if chacha {
            d.tls_client_order
                .get_or_init(|| crate::tls::in_client_order(server_order))
                .clone()
        } else {
            server_order.clone()
        };
        Some((d.clone(), config))
    }

    /// A new snapshot at `revision` with `changes` applied (`None` removes the domain).
    pub fn with_changes(
        &self,
        revision: u64,
        changes: impl IntoIterator<Item = (DomainName, Option<Arc<DomainRuntime>>)>,
    ) -> Snapshot {
        let mut next = self.clone();
        next.revision = revision;
        for (name, runtime) in changes {
            let (map, key) = match name.as_str().strip_prefix("*.") {
                Some(parent) => (&mut next.wildcard, parent.to_owned()),
                None => (&mut next.exact, name.as_str().to_owned()),
            };
            match runtime {
                Some(r) => {
                    map.insert(key, r);
                }
                None => {
                    map.remove(&key);
                }
            }
        }
        next
    }
}

/// The longest host name (RFC 1035: 253 characters without the trailing dot).
const MAX_HOST_LEN: usize = 253;

/// A buffer on the stack to lowercase a host name in, so the lookups of the handshake and of
/// every request allocate nothing whatever case the client wrote the name in.
pub(crate) struct HostBuf([u8; MAX_HOST_LEN]);

impl Default for HostBuf {
    fn default() -> Self {
        Self([0; MAX_HOST_LEN])
    }
}

impl HostBuf {
    /// `host` in ASCII lowercase, or `None` when it is longer than a host name can be.
    pub(crate) fn lowercase(&mut self, host: &str) -> Option<&str> {
        let out = self.0.get_mut(..host.len())?;
        for (o, b) in out.iter_mut().zip(host.bytes()) {
            *o = b.to_ascii_lowercase();
        }
        // ASCII lowercasing keeps UTF-8 valid, so this never fails.
        std::str::from_utf8(out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_lowercased_without_allocating_up_to_the_longest_name() {
        let mut buf = HostBuf::default();
        assert_eq!(buf.lowercase("WWW.Example.COM"), Some("www.example.com"));
        assert_eq!(
            buf.lowercase("b\u{fc}cher.example"),
            Some("b\u{fc}cher.example")
        );
        let longest = "A".repeat(MAX_HOST_LEN);
        assert_eq!(
            buf.lowercase(&longest),
            Some("a".repeat(MAX_HOST_LEN).as_str())
        );
        assert_eq!(buf.lowercase(&"a".repeat(MAX_HOST_LEN + 1)), None);
    }
}
