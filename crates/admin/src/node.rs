//! Calls about the node rather than its configuration: health, metrics, the nodes sharing the
//! store.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use tlsedge_api::{Health, NodeReport, NodesReport};

use crate::error::ApiError;
use crate::state::AdminState;

/// `GET /healthz`: answers while the node serves; no token needed.
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// `GET /metrics`: the store's gauges and the data plane's counters, Prometheus text format.
pub(crate) async fn metrics(State(s): State<Arc<AdminState>>) -> Response {
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

/// `GET /nodes`: the store's newest revision and every node's applied one.
pub(crate) async fn nodes(State(s): State<Arc<AdminState>>) -> Result<Json<NodesReport>, ApiError> {
    let revision = s.store.state().revision;
    let nodes = s.store.nodes().await?;
    Ok(Json(NodesReport {
        revision,
        nodes: nodes
            .into_iter()
            .map(|n| NodeReport {
                name: n.name,
                applied_revision: n.applied_revision,
                last_seen: n.last_seen,
            })
            .collect(),
    }))
}
