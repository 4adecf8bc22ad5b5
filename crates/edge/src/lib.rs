//! The data plane of tlsedge: the HTTP and HTTPS listeners.
//!
//! Everything a connection or request needs to know about domains lives in one immutable
//! [`Snapshot`], swapped atomically (`arc-swap`) when the configuration changes. A handshake
//! loads the snapshot once, finds the domain's prebuilt `rustls::ServerConfig` with one map
//! lookup (exact name, then one-level wildcard) and hands it to rustls; a request loads the
//! snapshot once and routes by Host. Nothing on those paths takes a lock or parses anything, and
//! a connection or request in flight keeps the snapshot it started with.
//!
//! This crate knows nothing of the store or the admin API: the binary feeds it
//! [`DomainInput`]s (a validated domain plus its parsed certificate) and it does the rest.

mod body;
mod handler;
mod metrics;
mod pool;
mod proxy;
mod server;
mod snapshot;
mod tls;
mod usage;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

pub use metrics::Metrics;
pub use server::{serve_http, serve_https, Shutdown};
pub use snapshot::{DomainInput, DomainRuntime, Snapshot};
pub use tls::TlsSettings;

/// Limits and timeouts of the data plane, fixed at start.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// Port put in redirects to HTTPS (omitted from the URL when 443).
    pub https_public_port: u16,
    /// Port put in redirects to HTTP (omitted from the URL when 80).
    pub http_public_port: u16,
    /// TLS handshake, from accept to finished.
    pub handshake_timeout: Duration,
    /// Reading a request head from a client.
    pub client_header_timeout: Duration,
    /// Connecting to an origin, TCP and TLS together.
    pub origin_connect_timeout: Duration,
    /// From sending a request to the origin's response head.
    pub origin_response_timeout: Duration,
    /// How long an idle pooled origin connection is kept.
    pub origin_idle_timeout: Duration,
    /// Idle keep-alive connections kept per origin and scheme.
    pub origin_idle_per_host: usize,
    /// Open client connections per listener.
    pub max_connections: usize,
    /// Largest request head in bytes.
    pub max_header_bytes: usize,
    /// Concurrent HTTP/2 streams per client connection.
    pub max_concurrent_streams: u32,
    /// How long in-flight requests may run after shutdown starts.
    pub shutdown_grace: Duration,
    /// The `Via` pseudonym of this node.
    pub via_name: String,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        Self {
            https_public_port: 443,
            http_public_port: 80,
            handshake_timeout: Duration::from_secs(10),
            client_header_timeout: Duration::from_secs(30),
            origin_connect_timeout: Duration::from_secs(5),
            origin_response_timeout: Duration::from_secs(60),
            origin_idle_timeout: Duration::from_secs(60),
            origin_idle_per_host: 64,
            max_connections: 50_000,
            max_header_bytes: 64 * 1024,
            max_concurrent_streams: 128,
            shutdown_grace: Duration::from_secs(30),
            via_name: "tlsedge".into(),
        }
    }
}

/// The data plane's shared state: the current snapshot, the settings, the TLS templates and
/// the counters. One per process, shared by every listener.
pub struct Edge {
    snapshot: ArcSwap<Snapshot>,
    settings: EdgeSettings,
    tls: tls::TlsFactory,
    metrics: Metrics,
    usage: usage::UsageRegistry,
    /// Open client connections, per listener, shared by every data-plane thread.
    limits: ConnectionLimits,
    /// `Via` values for HTTP/1.0, 1.1 and 2 clients, built once.
    via: [http::HeaderValue; 3],
}

/// `[limits] max_connections` of each listener, counted across all threads.
struct ConnectionLimits {
    http: Arc<tokio::sync::Semaphore>,
    https: Arc<tokio::sync::Semaphore>,
}

/// Why the data plane could not start or take a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeError {
    /// rustls refused a TLS setting.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The PEM CAs for an origin did not parse.
    #[error("origin_ca_pem of {domain}: {reason}")]
    OriginCa {
        /// The domain.
        domain: String,
        /// What was wrong.
        reason: String,
    },
}

impl Edge {
    /// A data plane with no domains.
    pub fn new(settings: EdgeSettings, tls: TlsSettings) -> Result<Arc<Self>, EdgeError> {
        let tls = tls::TlsFactory::new(tls)?;
        let via_value = |v: &str| {
            http::HeaderValue::from_str(&format!("{v} {}", settings.via_name))
                .unwrap_or(http::HeaderValue::from_static("1.1 tlsedge"))
        };
        let via = [via_value("1.0"), via_value("1.1"), via_value("2")];
        let limits = ConnectionLimits {
            http: Arc::new(tokio::sync::Semaphore::new(settings.max_connections)),
            https: Arc::new(tokio::sync::Semaphore::new(settings.max_connections)),
        };
        Ok(Arc::new(Self {
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            settings,
            tls,
            metrics: Metrics::default(),
            usage: usage::UsageRegistry::default(),
            via,
            limits,
        }))
    }

    /// The snapshot new handshakes and requests use now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Makes `snapshot` the one every new handshake and request uses.
    pub fn publish(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
    }

    /// Builds the runtime form of one domain: its TLS config, HSTS header and origin client.
    /// Called when a domain or its certificate changes, never per connection.
    pub fn build_domain(&self, input: DomainInput) -> Result<Arc<DomainRuntime>, EdgeError> {
        let usage = self.usage.of(input.config.name.as_str());
        DomainRuntime::build(input, &self.tls, &self.settings, usage).map(Arc::new)
    }

    /// The minutes with traffic of `domain` between two Unix times (`[from, to)`, whole
    /// minutes), counted by this node.
    pub fn usage(
        &self,
        domain: &str,
        from_unix: i64,
        to_unix: i64,
    ) -> Vec<tlsedge_model::MinuteUsage> {
        // Every minute that overlaps the window: `to` rounds up, so "now" includes this minute.
        let minute = |t: i64| u64::try_from(t).unwrap_or(0) / 60;
        self.usage.report(
            domain,
            minute(from_unix),
            minute(to_unix.saturating_add(59)),
        )
    }

    /// The counters, for `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The `Via` entry for a client request of HTTP version `v`.
    pub(crate) fn via(&self, v: http::Version) -> &http::HeaderValue {
        match v {
            http::Version::HTTP_10 => &self.via[0],
            http::Version::HTTP_2 => &self.via[2],
            _ => &self.via[1],
        }
    }

    /// The settings this edge runs with.
    pub fn settings(&self) -> &EdgeSettings {
        &self.settings
    }
}
