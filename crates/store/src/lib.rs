//! The configuration store: certificates and domains, versioned by one store-wide revision.
//!
//! Every write is one transaction that bumps the revision. Readers never query the backend on
//! the hot path: each backend keeps the whole configuration as an immutable [`State`] in memory
//! (persistent maps, so a new revision shares almost everything with the previous one) and
//! publishes each new `State` on a watch channel. The data plane follows that channel; the admin
//! API reads a `State`, checks its rules against it, and commits with the revision it read
//! (optimistic concurrency), retrying when another writer came first.
//!
//! [`SqliteStore`] is the embedded default. A second backend (etcd) implements the same
//! [`Store`] trait.

mod sqlite;
mod state;

use std::sync::Arc;

pub use sqlite::SqliteStore;
pub use state::{Key, Op, State};

/// A store-wide revision: the number of committed writes.
pub type Revision = u64;

/// What a node reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStatus {
    /// `[node] name`.
    pub name: String,
    /// Every change up to this revision is served by the node.
    pub applied_revision: Revision,
    /// When the node last reported.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: time::OffsetDateTime,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another write committed since the revision the caller read; read again and retry.
    #[error("the store changed since revision {expected} (now {actual})")]
    Conflict {
        /// The revision the caller read.
        expected: Revision,
        /// The store's revision.
        actual: Revision,
    },
    /// The SQLite backend failed in a way that waiting will not cure (a bad statement, a
    /// constraint); see [`StoreError::Unavailable`] for the ones it may.
    #[error("sqlite: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The backend cannot take the call now: SQLite busy or locked beyond its busy timeout, a
    /// read-only or full disk, an I/O error, a file it cannot open (an etcd cluster out of
    /// reach, for that backend). Nothing changed; the same call may succeed later. The admin
    /// API answers it with 503 `StoreUnavailable`.
    #[error("the store is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored record does not decode.
    #[error("corrupt record {key}: {source}")]
    Corrupt {
        /// The record.
        key: String,
        /// The decode error.
        #[source]
        source: serde_json::Error,
    },
    /// The backend is gone (its worker stopped).
    #[error("the store is closed")]
    Closed,
    /// Any other backend failure.
    #[error("{0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    /// Sorts SQLite's failures: the ones of the disk or of other writers are
    /// [`StoreError::Unavailable`], the rest [`StoreError::Sqlite`].
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(
                C::DatabaseBusy
                | C::DatabaseLocked
                | C::ReadOnly
                | C::DiskFull
                | C::SystemIoFailure
                | C::CannotOpen
                | C::OutOfMemory
                | C::FileLockingProtocolFailed,
            ) => Self::Unavailable(Box::new(e)),
            _ => Self::Sqlite(e),
        }
    }
}

impl StoreError {
    /// Whether the backend could not take the call now (see [`StoreError::Unavailable`]): a
    /// retry later may succeed, and nothing changed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Closed)
    }
}

/// A configuration store backend.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The newest committed configuration.
    fn state(&self) -> Arc<State>;

    /// A channel that always holds the newest configuration.
    fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<State>>;

    /// Applies `ops` as one transaction if the store is still at `base`; returns the new
    /// revision. Fails with [`StoreError::Conflict`] (and changes nothing) otherwise.
    async fn commit(&self, base: Revision, ops: Vec<Op>) -> Result<Revision, StoreError>;

    /// Records what this node has applied (a heartbeat; does not bump the revision).
    async fn report_node(&self, status: NodeStatus) -> Result<(), StoreError>;

    /// What every node last reported.
    async fn nodes(&self) -> Result<Vec<NodeStatus>, StoreError>;
}
