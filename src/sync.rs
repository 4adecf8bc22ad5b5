//! Follows the store into the data plane: every committed change becomes a new edge snapshot
//! within moments, built off the request path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::sign::CertifiedKey;
use tlsedge_certs::MasterKey;
use tlsedge_edge::{DomainInput, DomainRuntime, Edge};
use tlsedge_model::{CertName, DomainConfig, DomainName, StoredCertificate};
use tlsedge_store::{Key, NodeStatus, State, Store};

/// How often a node reports itself even when nothing changes.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// A parsed certificate and the stored record it came from.
type ParsedCert = (Arc<StoredCertificate>, Arc<CertifiedKey>);

/// Turns store states into edge snapshots, parsing each certificate once per change.
pub struct Follower {
    edge: Arc<Edge>,
    master: Arc<MasterKey>,
    /// Parsed certificates, with the stored record they came from (by pointer: a record is a
    /// new `Arc` whenever it is written).
    certs: Mutex<HashMap<CertName, ParsedCert>>,
}

impl Follower {
    pub fn new(edge: Arc<Edge>, master: Arc<MasterKey>) -> Self {
        Self {
            edge,
            master,
            certs: Mutex::new(HashMap::new()),
        }
    }

    /// The parsed certificate `name` of `state`, from the cache when unchanged.
    fn cert(&self, state: &State, name: &CertName) -> Option<Arc<CertifiedKey>> {
        let stored = state.certificates.get(name)?;
        if let Ok(cache) = self.certs.lock() {
            if let Some((rec, ck)) = cache.get(name) {
                if Arc::ptr_eq(rec, stored) {
                    return Some(ck.clone());
                }
            }
        }
        // A certificate waiting for its CSR to be signed has nothing to serve yet.
        stored.meta.as_ref()?;
        let key = match self.master.open(name, &stored.key) {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(certificate = %name, error = %e, "cannot decrypt the private key (wrong master key?)");
                return None;
            }
        };
        match tlsedge_certs::certified_key(&stored.cert_pem, &key) {
            Ok(ck) => {
                if let Ok(mut cache) = self.certs.lock() {
                    cache.insert(name.clone(), (stored.clone(), ck.clone()));
                }
                Some(ck)
            }
            Err(e) => {
                tracing::error!(certificate = %name, error = %e, "cannot load certificate");
                None
            }
        }
    }

    fn runtime(&self, state: &State, cfg: &Arc<DomainConfig>) -> Option<Arc<DomainRuntime>> {
        let cert = match (&cfg.https.certificate, cfg.https.enabled) {
            (Some(c), true) => self.cert(state, c),
            _ => None,
        };
        match self.edge.build_domain(DomainInput {
            config: cfg.clone(),
            cert,
        }) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::error!(domain = %cfg.name, error = %e, "cannot serve domain");
                None
            }
        }
    }

    /// Builds a whole snapshot from `state`.
    pub fn load_all(&self, state: &State) {
        let changes: Vec<_> = state
            .domains
            .iter()
            .map(|(n, cfg)| (n.clone(), self.runtime(state, cfg)))
            .collect();
        let snap = tlsedge_edge::Snapshot::default().with_changes(state.revision, changes);
        self.edge.publish(snap);
    }

    /// Applies what changed between the published snapshot and `state`.
    pub fn apply(&self, state: &State) {
        let current = self.edge.snapshot();
        let Some(keys) = state.changed_since(current.revision()) else {
            self.load_all(state);
            return;
        };
        let mut domains: Vec<DomainName> = Vec::new();
        let mut certs: Vec<CertName> = Vec::new();
        for k in keys {
            match k {
                Key::Domain(d) => domains.push(d),
                Key::Certificate(c) => certs.push(c),
            }
        }
        if let Ok(mut cache) = self.certs.lock() {
            for c in &certs {
                cache.remove(c);
            }
        }
        if !certs.is_empty() {
            for d in state.domains.values() {
                if d.https
                    .certificate
                    .as_ref()
                    .is_some_and(|c| certs.contains(c))
                {
                    domains.push(d.name.clone());
                }
            }
        }
        domains.sort();
        domains.dedup();
        let changes: Vec<_> = domains
            .into_iter()
            .map(|n| {
                let rt = state
                    .domains
                    .get(&n)
                    .and_then(|cfg| self.runtime(state, cfg));
                (n, rt)
            })
            .collect();
        self.edge
            .publish(current.with_changes(state.revision, changes));
    }
}

/// Follows the store forever: applies each new state, reports the applied revision.
pub async fn follow(store: Arc<dyn Store>, follower: Follower, node: String) {
    let mut rx = store.subscribe();
    let follower = Arc::new(follower);
    report(&*store, &node, follower.edge.snapshot().revision()).await;
    loop {
        let changed = tokio::time::timeout(HEARTBEAT, rx.changed()).await;
        if matches!(changed, Ok(Err(_))) {
            return;
        }
        let state = rx.borrow_and_update().clone();
        if state.revision != follower.edge.snapshot().revision() {
            let f = follower.clone();
            let st = state.clone();
            // Parsing keys is CPU work: keep it off the async workers that serve traffic.
            let _ = tokio::task::spawn_blocking(move || f.apply(&st)).await;
            tracing::debug!(revision = state.revision, "configuration applied");
        }
        report(&*store, &node, follower.edge.snapshot().revision()).await;
    }
}

async fn report(store: &dyn Store, node: &str, revision: u64) {
    let status = NodeStatus {
        name: node.to_owned(),
        applied_revision: revision,
        last_seen: time::OffsetDateTime::now_utc(),
    };
    if let Err(e) = store.report_node(status).await {
        tracing::warn!(error = %e, "cannot report node status");
    }
}
