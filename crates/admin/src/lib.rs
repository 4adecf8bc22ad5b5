//! The admin REST API of tlsedge (`/api/v1`, contract in `shared/spec/api.md`).
//!
//! Every write follows the same steps: parse and validate the input once (model and certificate
//! crates), read the store's current [`State`](tlsedge_store::State), check the rules that
//! involve other objects against it, and commit all changes as one transaction at the revision
//! that was read. If another writer came first the commit conflicts and the whole step runs
//! again, so a rule is never checked against a stale state and a rejected write changes nothing.
//!
//! The router is built by [`app`] so tests can call it without a socket.

mod auth;
mod certificates;
mod csr;
mod domains;
mod error;
mod openapi;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tlsedge_certs::MasterKey;
use tlsedge_model::ErrorCode;
use tlsedge_store::{Op, Revision, Store, StoreError};

pub use auth::{load_or_create_token, write_private};
pub use error::{status_of, ApiError};

/// Renders extra Prometheus text (the data plane's counters) for `/metrics`.
pub type MetricsFn = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Reads the data plane's per-minute counters of a domain between two Unix times.
pub type UsageFn = Arc<dyn Fn(&str, i64, i64) -> Vec<tlsedge_model::MinuteUsage> + Send + Sync>;

/// What the handlers share.
pub struct AdminState {
    /// The configuration store.
    pub store: Arc<dyn Store>,
    /// Encrypts private keys before they reach the store.
    pub master_key: Arc<MasterKey>,
    /// The bearer token.
    pub token: String,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// The data plane's counters.
    pub metrics: MetricsFn,
    /// The data plane's per-domain usage counters.
    pub usage: UsageFn,
    /// Serialises this node's writes, so concurrent requests queue instead of racing each other
    /// into commit conflicts; conflicts then only come from other nodes sharing the store.
    writes: tokio::sync::Mutex<()>,
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

/// How many times a write re-reads the state after losing a race with another writer.
const COMMIT_ATTEMPTS: usize = 16;

/// Runs `plan` against the current state and commits its ops at that state's revision, again
/// from a fresh state whenever another writer committed in between.
pub(crate) async fn write<T>(
    admin: &AdminState,
    mut plan: impl FnMut(&tlsedge_store::State) -> Result<(Vec<Op>, T), ApiError>,
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

/// The admin router: `/healthz`, `/metrics` and the token-protected `/api/v1`.
pub fn app(state: Arc<AdminState>) -> Router {
    let api = Router::new()
        .merge(certificates::routes())
        .merge(domains::routes())
        .route("/csrs", axum::routing::post(csr::create))
        .route("/nodes", get(nodes))
        .route("/openapi.json", get(openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/metrics", get(metrics))
        .nest("/api/v1", api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such API path")
}

async fn method_not_allowed() -> Response {
    let mut r =
        ApiError::new(ErrorCode::InvalidRequest, "method not allowed on this path").into_response();
    *r.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
    r
}

async fn metrics(State(s): State<Arc<AdminState>>) -> Response {
    let mut out = String::new();
    let st = s.store.state();
    out.push_str("# TYPE tlsedge_store_revision gauge\n");
    out.push_str(&format!("tlsedge_store_revision {}\n", st.revision));
    out.push_str("# TYPE tlsedge_domains gauge\n");
    out.push_str(&format!("tlsedge_domains {}\n", st.domains.len()));
    out.push_str("# TYPE tlsedge_certificates gauge\n");
    out.push_str(&format!("tlsedge_certificates {}\n", st.certificates.len()));
    (s.metrics)(&mut out);
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        out,
    )
        .into_response()
}

async fn nodes(State(s): State<Arc<AdminState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let revision = s.store.state().revision;
    let nodes = s.store.nodes().await?;
    Ok(Json(
        serde_json::json!({ "revision": revision, "nodes": nodes }),
    ))
}

/// Reads a request body with the size limit, as the contract's errors.
pub(crate) fn body_error(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the request body is larger than the limit",
        )
    } else {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("cannot read the request body: {e}"),
        )
    }
}

/// A query string that does not parse (`?expiring_within_days=soon`), as the contract's
/// `InvalidRequest` rather than axum's plain-text 400.
pub(crate) fn query_error(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!("invalid query string: {}", e.body_text()),
    )
}
