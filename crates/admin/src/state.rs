//! What every handler shares: the store, the master key, the token, the limits and the data
//! plane's counters.

use std::sync::Arc;

use tlsedge_certs::MasterKey;
use tlsedge_store::Store;

/// Renders extra Prometheus text (the data plane's counters) for `/metrics`.
pub type MetricsFn = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Reads the data plane's per-minute counters of a domain between two Unix times (seconds).
pub type UsageFn = Arc<dyn Fn(&str, i64, i64) -> Vec<tlsedge_model::MinuteUsage> + Send + Sync>;

/// What the handlers share.
pub struct AdminState {
    /// The configuration store.
    pub store: Arc<dyn Store>,
    /// Encrypts private keys before they reach the store.
    pub master_key: Arc<MasterKey>,
    /// The bearer token.
    pub token: String,
    /// Largest accepted request body, in bytes; a larger one gets 413 `PayloadTooLarge`.
    pub max_body_bytes: usize,
    /// The data plane's counters.
    pub metrics: MetricsFn,
    /// The data plane's per-domain usage counters.
    pub usage: UsageFn,
    /// Serialises this node's writes, so concurrent requests queue instead of racing each other
    /// into commit conflicts; conflicts then only come from other nodes sharing the store.
    pub(crate) writes: tokio::sync::Mutex<()>,
}

impl AdminState {
    /// The shared state of the admin API.
    pub fn new(
        store: Arc<dyn Store>,
        master_key: Arc<MasterKey>,
        token: String,
        max_body_bytes: usize,
        metrics: MetricsFn,
        usage: UsageFn,
    ) -> Self {
        Self {
            store,
            master_key,
            token,
            max_body_bytes,
            metrics,
            usage,
            writes: tokio::sync::Mutex::new(()),
        }
    }
}
