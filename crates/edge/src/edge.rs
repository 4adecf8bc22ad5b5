use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::Semaphore;

use crate::error::EdgeError;
use crate::metrics::Metrics;
use crate::settings::EdgeSettings;
use crate::snapshot::{DomainInput, DomainRuntime, Snapshot};
use crate::tls::{TlsFactory, TlsSettings};
use crate::usage::UsageRegistry;

/// The data plane's shared state: the current snapshot, the settings, the TLS templates and
/// the counters. One per process, shared by every listener.
pub struct Edge {
    snapshot: ArcSwap<Snapshot>,
    settings: EdgeSettings,
    tls: TlsFactory,
    metrics: Metrics,
    usage: UsageRegistry,
    /// Open client connections, per listener, shared by every data-plane thread.
    limits: ConnectionLimits,
    /// `Via` values for HTTP/1.0, 1.1 and 2 clients, built once.
    via: [http::HeaderValue; 3],
}

/// `[limits] max_connections` of each listener, counted across all threads.
pub(crate) struct ConnectionLimits {
    /// Permits of the plain-HTTP listener.
    pub(crate) http: Arc<Semaphore>,
    /// Permits of the TLS listener.
    pub(crate) https: Arc<Semaphore>,
}

impl Edge {
    /// A data plane with no domains.
    ///
    /// Fails with [`EdgeError::Tls`] when rustls refuses the TLS settings.
    pub fn new(settings: EdgeSettings, tls: TlsSettings) -> Result<Arc<Self>, EdgeError> {
        let tls = TlsFactory::new(tls)?;
        let via_value = |v: &str| {
            http::HeaderValue::from_str(&format!("{v} {}", settings.via_name))
                .unwrap_or(http::HeaderValue::from_static("1.1 tlsedge"))
        };
        let via = [via_value("1.0"), via_value("1.1"), via_value("2")];
        let limits = ConnectionLimits {
            http: Arc::new(Semaphore::new(settings.max_connections)),
            https: Arc::new(Semaphore::new(settings.max_connections)),
        };
        Ok(Arc::new(Self {
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            settings,
            tls,
            metrics: Metrics::default(),
            usage: UsageRegistry::default(),
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

    /// Builds the runtime form of one domain: its TLS config, the header values and redirect
    /// status its requests use, and its origin client. Called when a domain or its certificate
    /// changes, never per connection.
    ///
    /// Fails with [`EdgeError::OriginCa`] when its `origin_ca_pem` is unusable.
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

    /// The settings this edge runs with.
    pub fn settings(&self) -> &EdgeSettings {
        &self.settings
    }

    /// The `Via` entry for a client request of HTTP version `v`.
    pub(crate) fn via(&self, v: http::Version) -> &http::HeaderValue {
        match v {
            http::Version::HTTP_10 => &self.via[0],
            http::Version::HTTP_2 => &self.via[2],
            _ => &self.via[1],
        }
    }

    /// The connection limits of the listeners.
    pub(crate) fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }
}
