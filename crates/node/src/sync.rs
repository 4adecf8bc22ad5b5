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
pub(crate) struct Follower {
    edge: Arc<Edge>,
    master: Arc<MasterKey>,
    /// Parsed certificates, with the stored record they came from (by pointer: a record is a
    /// new `Arc` whenever it is written).
    certs: Mutex<HashMap<CertName, ParsedCert>>,
}

impl Follower {
    /// A follower that publishes into `edge`, opening private keys with `master`.
    pub(crate) fn new(edge: Arc<Edge>, master: Arc<MasterKey>) -> Self {
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
        match tlsedge_certs::certified_key(&stored.chain, &key) {
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
    pub(crate) fn load_all(&self, state: &State) {
        let domains: Vec<&Arc<DomainConfig>> = state.domains.values().collect();
        let changes = self.build_many(state, &domains);
        let snap = tlsedge_edge::Snapshot::default().with_changes(state.revision, changes);
        self.edge.publish(snap);
    }

    /// Builds the runtimes of `domains` on every core: opening and parsing keys is the cost
    /// of a start with many certificates, and each domain is independent.
    fn build_many(
        &self,
        state: &State,
        domains: &[&Arc<DomainConfig>],
    ) -> Vec<(DomainName, Option<Arc<DomainRuntime>>)> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads == 1 || domains.len() < 256 {
            return domains
                .iter()
                .map(|cfg| (cfg.name.clone(), self.runtime(state, cfg)))
                .collect();
        }
        let chunk = domains.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = domains
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|cfg| (cfg.name.clone(), self.runtime(state, cfg)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        })
    }

    /// Applies what changed between the published snapshot and `state`.
    pub(crate) fn apply(&self, state: &State) {
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
        // Domains still in the state are (re)built, on every core when there are many; the
        // others were deleted.
        let present: Vec<&Arc<DomainConfig>> = domains
            .iter()
            .filter_map(|n| state.domains.get(n))
            .collect();
        let mut changes = self.build_many(state, &present);
        changes.extend(
            domains
                .into_iter()
                .filter(|n| !state.domains.contains_key(n))
                .map(|n| (n, None)),
        );
        self.edge
            .publish(current.with_changes(state.revision, changes));
    }
}

/// Follows the store until its change stream ends: applies each new state off the async
/// workers, and reports the applied revision as node `node` at each change and at least every
/// [`HEARTBEAT`].
pub(crate) async fn follow(store: Arc<dyn Store>, follower: Follower, node: String) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tlsedge_edge::{EdgeSettings, TlsSettings};
    use tlsedge_store::Op;

    /// A state with `n` HTTPS domains sharing one wildcard certificate.
    fn state(master: &MasterKey, n: usize) -> State {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["*.many.test".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let name = CertName::parse("many").unwrap();
        let stored = tlsedge_certs::intake(
            &name,
            &cert.pem(),
            &key.serialize_pem(),
            master,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        let mut ops = vec![Op::PutCertificate(stored)];
        for i in 0..n {
            let d: DomainConfig = serde_json::from_value(serde_json::json!({
                "name": format!("d{i}.many.test"), "origins": [{"address": "127.0.0.1"}],
                "https": {"enabled": true, "certificate": "many"}
            }))
            .unwrap();
            ops.push(Op::PutDomain(d));
        }
        State::default().apply(1, &ops)
    }

    #[test]
    fn many_domains_load_in_parallel_and_changes_apply_incrementally() {
        let master = Arc::new(MasterKey::generate().unwrap());
        let edge = Edge::new(EdgeSettings::default(), TlsSettings::default()).unwrap();
        let follower = Follower::new(edge.clone(), master.clone());
        let st = state(&master, 600);
        follower.load_all(&st);
        let snap = edge.snapshot();
        assert_eq!(snap.len(), 600);
        assert_eq!(snap.revision(), 1);
        assert!((0..600).all(|i| snap
            .lookup(&format!("d{i}.many.test"))
            .is_some_and(|d| d.serves_tls())));

        // Deleting one domain and disabling another touches only those two.
        let gone = DomainName::parse("d0.many.test").unwrap();
        let mut off = (**st
            .domains
            .get(&DomainName::parse("d1.many.test").unwrap())
            .unwrap())
        .clone();
        off.https.enabled = false;
        let before = snap.lookup("d2.many.test").unwrap().clone();
        let st2 = st.apply(2, &[Op::DeleteDomain(gone), Op::PutDomain(off)]);
        follower.apply(&st2);
        let snap = edge.snapshot();
        assert_eq!(snap.len(), 599);
        assert!(snap.lookup("d0.many.test").is_none());
        assert!(!snap.lookup("d1.many.test").unwrap().serves_tls());
        assert!(
            Arc::ptr_eq(&before, snap.lookup("d2.many.test").unwrap()),
            "an untouched domain was rebuilt"
        );
    }
}
