//! The one way the API changes the store: plan against a state, commit at its revision, and
//! plan again from a fresh state when another writer came first.

use tlsedge_model::ErrorCode;
use tlsedge_store::{Op, Revision, State, StoreError};

use crate::error::ApiError;
use crate::state::AdminState;

/// How many times a write re-reads the state after losing a race with another writer.
const COMMIT_ATTEMPTS: usize = 16;

/// Runs `plan` against the current state and commits its ops at that state's revision, again
/// from a fresh state whenever another writer committed in between. A plan that returns no ops
/// commits nothing. Errors: the plan's own refusal, the store's failure (`Internal`), or
/// `Internal` after [`COMMIT_ATTEMPTS`] lost races.
pub(crate) async fn write<T>(
    admin: &AdminState,
    mut plan: impl FnMut(&State) -> Result<(Vec<Op>, T), ApiError>,
) -> Result<(Revision, T), ApiError> {
    let _serial = admin.writes.lock().await;
    let store = &*admin.store;
    for _ in 0..COMMIT_ATTEMPTS {
        let state = store.state();
        let (ops, out) = plan(&state)?;
        if ops.is_empty() {
            return Ok((state.revision, out));
        }
        match store.commit(state.revision, ops).await {
            Ok(rev) => return Ok((rev, out)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        ErrorCode::Internal,
        "too many concurrent writes; try again",
    ))
}
