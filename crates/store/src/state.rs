use std::sync::Arc;

use tlsedge_model::{CertName, DomainConfig, DomainName, StoredCertificate};

use crate::Revision;

/// How many revisions of change keys a [`State`] remembers, so a follower that fell behind by
/// fewer can apply only what changed; one further behind rebuilds from the whole state.
const CHANGE_LOG_LEN: usize = 4096;

/// A record of the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A certificate by name.
    Certificate(CertName),
    /// A domain by name.
    Domain(DomainName),
}

/// One change in a transaction.
#[derive(Debug, Clone)]
pub enum Op {
    /// Create or replace a certificate.
    PutCertificate(StoredCertificate),
    /// Remove a certificate.
    DeleteCertificate(CertName),
    /// Create or replace a domain.
    PutDomain(DomainConfig),
    /// Remove a domain.
    DeleteDomain(DomainName),
}

impl Op {
    /// The record this op writes.
    pub fn key(&self) -> Key {
        match self {
            Op::PutCertificate(c) => Key::Certificate(c.name.clone()),
            Op::DeleteCertificate(n) => Key::Certificate(n.clone()),
            Op::PutDomain(d) => Key::Domain(d.name.clone()),
            Op::DeleteDomain(n) => Key::Domain(n.clone()),
        }
    }
}

/// The whole configuration at one revision. Cheap to clone (persistent maps of `Arc`s).
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The revision of the newest write included.
    pub revision: Revision,
    /// Certificates by name.
    pub certificates: imbl::OrdMap<CertName, Arc<StoredCertificate>>,
    /// Domains by name.
    pub domains: imbl::OrdMap<DomainName, Arc<DomainConfig>>,
    /// Keys written by recent revisions, oldest first.
    changes: imbl::Vector<(Revision, Arc<[Key]>)>,
}

impl State {
    /// A state at `revision` from whole maps (a backend's initial load).
    pub fn from_parts(
        revision: Revision,
        certificates: imbl::OrdMap<CertName, Arc<StoredCertificate>>,
        domains: imbl::OrdMap<DomainName, Arc<DomainConfig>>,
    ) -> Self {
        Self {
            revision,
            certificates,
            domains,
            changes: imbl::Vector::new(),
        }
    }

    /// The state after applying one committed transaction at `revision`.
    pub fn apply(&self, revision: Revision, ops: &[Op]) -> Self {
        let mut next = self.clone();
        next.revision = revision;
        for op in ops {
            match op {
                Op::PutCertificate(c) => {
                    next.certificates
                        .insert(c.name.clone(), Arc::new(c.clone()));
                }
                Op::DeleteCertificate(n) => {
                    next.certificates.remove(n);
                }
                Op::PutDomain(d) => {
                    next.domains.insert(d.name.clone(), Arc::new(d.clone()));
                }
                Op::DeleteDomain(n) => {
                    next.domains.remove(n);
                }
            }
        }
        next.changes
            .push_back((revision, ops.iter().map(Op::key).collect()));
        while next.changes.len() > CHANGE_LOG_LEN {
            next.changes.pop_front();
        }
        next
    }

    /// The keys written after `since`, or `None` when this state no longer remembers all of
    /// them (the caller then rebuilds from the whole state).
    pub fn changed_since(&self, since: Revision) -> Option<Vec<Key>> {
        if since >= self.revision {
            return Some(Vec::new());
        }
        let first = self.changes.front().map(|(r, _)| *r)?;
        if first > since + 1 {
            return None;
        }
        let mut keys: Vec<Key> = self
            .changes
            .iter()
            .filter(|(r, _)| *r > since)
            .flat_map(|(_, k)| k.iter().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        Some(keys)
    }

    /// The domains whose HTTPS serves certificate `name`.
    pub fn domains_serving(&self, name: &CertName) -> Vec<DomainName> {
        self.domains
            .values()
            .filter(|d| d.https.enabled && d.https.certificate.as_ref() == Some(name))
            .map(|d| d.name.clone())
            .collect()
    }

    /// For every certificate, the domains whose HTTPS serves it: one pass over the domains, for
    /// listings that would otherwise scan them once per certificate.
    pub fn serving_index(&self) -> std::collections::HashMap<CertName, Vec<DomainName>> {
        let mut index: std::collections::HashMap<CertName, Vec<DomainName>> =
            std::collections::HashMap::new();
        for d in self.domains.values() {
            if let (true, Some(c)) = (d.https.enabled, &d.https.certificate) {
                index.entry(c.clone()).or_default().push(d.name.clone());
            }
        }
        index
    }

    /// The domains that name certificate `name` at all (enabled or not).
    pub fn domains_referencing(&self, name: &CertName) -> Vec<DomainName> {
        self.domains
            .values()
            .filter(|d| d.https.certificate.as_ref() == Some(name))
            .map(|d| d.name.clone())
            .collect()
    }
}
