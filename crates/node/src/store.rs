//! Opening the configured store backend.
//!
//! Every backend implements [`tlsedge_store::Store`]; the rest of the node only sees that trait.
//! A second backend (etcd) is one more arm in [`open`], next to its [`StoreBackend`] variant.

use std::sync::Arc;

use tlsedge_store::{SqliteStore, Store};

use crate::config::StoreBackend;
use crate::error::NodeError;

/// Opens the store `backend` describes.
///
/// # Errors
/// [`NodeError::Store`] when the backend cannot be opened, [`NodeError::BackendUnavailable`]
/// for a backend this build does not have.
pub(crate) fn open(backend: &StoreBackend) -> Result<Arc<dyn Store>, NodeError> {
    match backend {
        StoreBackend::Sqlite(sqlite) => {
            let store = SqliteStore::open(&sqlite.path).map_err(|source| NodeError::Store {
                path: sqlite.path.clone(),
                source,
            })?;
            Ok(Arc::new(store))
        }
        StoreBackend::Etcd(_) => Err(NodeError::BackendUnavailable {
            backend: backend.name(),
        }),
    }
}
