//! Answers about the node itself: health and the nodes sharing the store.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `GET /healthz`: `{"status": "ok"}` while the node serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`: a node that cannot serve does not answer.
    pub status: String,
}

/// `GET /nodes`: the store's newest revision and how far each node has applied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodesReport {
    /// The store's newest revision.
    pub revision: u64,
    /// Every node that has reported.
    pub nodes: Vec<NodeReport>,
}

/// One node of a [`NodesReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NodeReport {
    /// `[node] name` of its config.
    pub name: String,
    /// Every change up to this revision is served by the node.
    pub applied_revision: u64,
    /// When the node last reported (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: OffsetDateTime,
}
