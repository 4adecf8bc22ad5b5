use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection};
use tokio::sync::watch;

use crate::state::{Op, State};
use crate::{NodeStatus, Revision, Store, StoreError};

/// The embedded store: one SQLite file in WAL mode with synchronous commits, so a committed
/// write survives `kill -9` and power loss, plus the in-memory [`State`] it feeds.
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The connection; also serialises writers, so "check the revision, then write" is atomic.
    conn: Mutex<Connection>,
    tx: watch::Sender<Arc<State>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS certificates (name TEXT PRIMARY KEY, body TEXT NOT NULL, mod_revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS domains (name TEXT PRIMARY KEY, body TEXT NOT NULL, mod_revision INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, applied_revision INTEGER NOT NULL, last_seen INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (k, v) VALUES ('revision', 0);
";

impl SqliteStore {
    /// Opens (or creates) the database at `path` and loads the whole configuration.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let state = load(&conn)?;
        let (tx, _) = watch::channel(Arc::new(state));
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                tx,
            }),
        })
    }
}

fn load(conn: &Connection) -> Result<State, StoreError> {
    let revision: i64 =
        conn.query_row("SELECT v FROM meta WHERE k = 'revision'", [], |r| r.get(0))?;
    let mut certificates = imbl::OrdMap::new();
    let mut stmt = conn.prepare("SELECT name, body FROM certificates")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (name, body) = row?;
        let cert: tlsedge_model::StoredCertificate =
            serde_json::from_str(&body).map_err(|source| StoreError::Corrupt {
                key: format!("certificate {name}"),
                source,
            })?;
        certificates.insert(cert.name.clone(), Arc::new(cert));
    }
    let mut domains = imbl::OrdMap::new();
    let mut stmt = conn.prepare("SELECT name, body FROM domains")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (name, body) = row?;
        let domain: tlsedge_model::DomainConfig =
            serde_json::from_str(&body).map_err(|source| StoreError::Corrupt {
                key: format!("domain {name}"),
                source,
            })?;
        domains.insert(domain.name.clone(), Arc::new(domain));
    }
    Ok(State::from_parts(
        revision as Revision,
        certificates,
        domains,
    ))
}

fn encode(key: String, v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|source| StoreError::Corrupt { key, source })
}

impl Inner {
    fn commit(&self, base: Revision, ops: Vec<Op>) -> Result<Revision, StoreError> {
        let mut conn = self.conn.lock().map_err(|_| StoreError::Closed)?;
        let current = self.tx.borrow().clone();
        if current.revision != base {
            return Err(StoreError::Conflict {
                expected: base,
                actual: current.revision,
            });
        }
        let revision = base + 1;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for op in &ops {
            match op {
                Op::PutCertificate(c) => {
                    let body = encode(format!("certificate {}", c.name), c)?;
                    tx.execute(
                        "INSERT INTO certificates (name, body, mod_revision) VALUES (?1, ?2, ?3)
                         ON CONFLICT(name) DO UPDATE SET body = excluded.body, mod_revision = excluded.mod_revision",
                        params![c.name.as_str(), body, revision as i64],
                    )?;
                }
                Op::DeleteCertificate(n) => {
                    tx.execute(
                        "DELETE FROM certificates WHERE name = ?1",
                        params![n.as_str()],
                    )?;
                }
                Op::PutDomain(d) => {
                    let body = encode(format!("domain {}", d.name), d)?;
                    tx.execute(
                        "INSERT INTO domains (name, body, mod_revision) VALUES (?1, ?2, ?3)
                         ON CONFLICT(name) DO UPDATE SET body = excluded.body, mod_revision = excluded.mod_revision",
                        params![d.name.as_str(), body, revision as i64],
                    )?;
                }
                Op::DeleteDomain(n) => {
                    tx.execute("DELETE FROM domains WHERE name = ?1", params![n.as_str()])?;
                }
            }
        }
        tx.execute(
            "UPDATE meta SET v = ?1 WHERE k = 'revision'",
            params![revision as i64],
        )?;
        tx.commit()?;
        let next = Arc::new(current.apply(revision, &ops));
        self.tx.send_replace(next);
        Ok(revision)
    }

    fn report_node(&self, s: &NodeStatus) -> Result<(), StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Closed)?;
        conn.execute(
            "INSERT INTO nodes (name, applied_revision, last_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET applied_revision = excluded.applied_revision, last_seen = excluded.last_seen",
            params![s.name, s.applied_revision as i64, s.last_seen.unix_timestamp()],
        )?;
        Ok(())
    }

    fn nodes(&self) -> Result<Vec<NodeStatus>, StoreError> {
        let conn = self.conn.lock().map_err(|_| StoreError::Closed)?;
        let mut stmt =
            conn.prepare("SELECT name, applied_revision, last_seen FROM nodes ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, applied, seen) = row?;
            out.push(NodeStatus {
                name,
                applied_revision: applied as Revision,
                last_seen: time::OffsetDateTime::from_unix_timestamp(seen)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            });
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn state(&self) -> Arc<State> {
        self.inner.tx.borrow().clone()
    }

    fn subscribe(&self) -> watch::Receiver<Arc<State>> {
        self.inner.tx.subscribe()
    }

    async fn commit(&self, base: Revision, ops: Vec<Op>) -> Result<Revision, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.commit(base, ops))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    async fn report_node(&self, status: NodeStatus) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.report_node(&status))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    async fn nodes(&self) -> Result<Vec<NodeStatus>, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.nodes())
            .await
            .map_err(|_| StoreError::Closed)?
    }
}

/// Whether a row exists, for tests.
#[cfg(test)]
fn has_domain(conn: &Connection, name: &str) -> bool {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT 1 FROM domains WHERE name = ?1", [name], |_| Ok(()))
        .optional()
        .ok()
        .flatten()
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;
    use tlsedge_model::{DomainConfig, DomainName};

    fn domain(name: &str) -> DomainConfig {
        serde_json::from_value(
            serde_json::json!({"name": name, "origins": [{"address": "127.0.0.1"}]}),
        )
        .unwrap()
    }

    /// Issue 13 kind 15: a database that cannot take a write (here: read-only) is
    /// `Unavailable`, not a generic SQLite failure, and nothing changed.
    #[tokio::test]
    async fn a_read_only_database_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        store
            .inner
            .conn
            .lock()
            .unwrap()
            .pragma_update(None, "query_only", true)
            .unwrap();
        let err = store
            .commit(0, vec![Op::PutDomain(domain("a.example.com"))])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Unavailable(_)) && err.is_unavailable(),
            "{err:?}"
        );
        assert_eq!(store.state().revision, 0, "nothing changed");
        // A failure that waiting does not cure stays what it was.
        let bad = StoreError::from(rusqlite::Error::InvalidQuery);
        assert!(!bad.is_unavailable(), "{bad:?}");
    }

    #[tokio::test]
    async fn commits_bump_revision_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/t.db");
        let store = SqliteStore::open(&path).unwrap();
        let mut rx = store.subscribe();
        assert_eq!(store.state().revision, 0);
        let r1 = store
            .commit(0, vec![Op::PutDomain(domain("a.example.com"))])
            .await
            .unwrap();
        assert_eq!(r1, 1);
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow().revision, 1);
        let r2 = store
            .commit(
                1,
                vec![
                    Op::PutDomain(domain("b.example.com")),
                    Op::DeleteDomain(DomainName::parse("a.example.com").unwrap()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(r2, 2);
        let st = store.state();
        assert_eq!(st.domains.len(), 1);
        assert_eq!(
            st.changed_since(0).unwrap(),
            vec![
                Key::Domain(DomainName::parse("a.example.com").unwrap()),
                Key::Domain(DomainName::parse("b.example.com").unwrap())
            ]
        );
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let st = store.state();
        assert_eq!(st.revision, 2);
        assert!(st
            .domains
            .contains_key(&DomainName::parse("b.example.com").unwrap()));
        assert!(has_domain(
            &store.inner.conn.lock().unwrap(),
            "b.example.com"
        ));
        // A follower that starts from a reopened store has no change log: it rebuilds.
        assert_eq!(st.changed_since(1), None);
    }

    #[tokio::test]
    async fn a_stale_write_conflicts_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        store
            .commit(0, vec![Op::PutDomain(domain("a.example.com"))])
            .await
            .unwrap();
        let err = store
            .commit(0, vec![Op::PutDomain(domain("b.example.com"))])
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Conflict {
                expected: 0,
                actual: 1
            }
        ));
        assert_eq!(store.state().domains.len(), 1);
        assert!(!has_domain(
            &store.inner.conn.lock().unwrap(),
            "b.example.com"
        ));
    }

    #[tokio::test]
    async fn nodes_report() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let now = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        store
            .report_node(NodeStatus {
                name: "edge-1".into(),
                applied_revision: 3,
                last_seen: now,
            })
            .await
            .unwrap();
        store
            .report_node(NodeStatus {
                name: "edge-1".into(),
                applied_revision: 4,
                last_seen: now,
            })
            .await
            .unwrap();
        let nodes = store.nodes().await.unwrap();
        assert_eq!(
            nodes,
            vec![NodeStatus {
                name: "edge-1".into(),
                applied_revision: 4,
                last_seen: now
            }]
        );
    }
}
