//! Issue 13 kind 15 (store part): a store that cannot take a write answers 503
//! `StoreUnavailable`, not 500 `Internal`, and nothing changes.

use std::sync::Arc;

use serde_json::json;
use tlsedge_store::{NodeStatus, Op, Revision, SqliteStore, State, Store, StoreError};

use crate::harness::{assert_error, Admin};

/// A SQLite store whose writes fail as a backend that is out of reach (or on a full disk) does.
struct Unwritable(SqliteStore);

#[async_trait::async_trait]
impl Store for Unwritable {
    fn state(&self) -> Arc<State> {
        self.0.state()
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<State>> {
        self.0.subscribe()
    }

    async fn commit(&self, _base: Revision, _ops: Vec<Op>) -> Result<Revision, StoreError> {
        Err(StoreError::Unavailable("disk full (test)".into()))
    }

    async fn report_node(&self, status: NodeStatus) -> Result<(), StoreError> {
        self.0.report_node(status).await
    }

    async fn nodes(&self) -> Result<Vec<NodeStatus>, StoreError> {
        self.0.nodes().await
    }
}

#[tokio::test]
async fn a_store_that_cannot_write_is_503_store_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("tlsedge.db")).unwrap();
    let api = Admin::over(Arc::new(Unwritable(sqlite)));
    let body = json!({"name": "a.example.com", "origins": [{"address": "127.0.0.1"}]});
    let got = api.call("POST", "/domains", Some(body)).await;
    assert_error("POST /domains", &got, 503, "StoreUnavailable", None);
    assert!(
        !got.1.to_string().contains("disk full (test)"),
        "the backend's cause stays in the log: {}",
        got.1
    );
    // Nothing changed, and reads still work.
    let (status, list) = api.call("GET", "/domains", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["domains"], json!([]), "{list}");
}
