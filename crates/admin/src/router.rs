//! The admin router: which path goes to which handler, and what every path shares (token,
//! body limit, the contract's errors for unknown paths and methods).

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tlsedge_model::ErrorCode;

use crate::error::ApiError;
use crate::state::AdminState;
use crate::{auth, certificates, csr, domains, node, openapi};

/// The admin router: `/healthz`, `/metrics` and the token-protected `/api/v1`.
pub fn app(state: Arc<AdminState>) -> Router {
    let api = Router::new()
        .merge(certificates::routes())
        .merge(domains::routes())
        .route("/csrs", post(csr::create))
        .route("/nodes", get(node::nodes))
        .route("/openapi.json", get(openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/healthz", get(node::health))
        .route("/metrics", get(node::metrics))
        .nest("/api/v1", api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such API path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
