//! The error body every refusal of the API carries.

use serde::{Deserialize, Serialize};
use tlsedge_model::ErrorCode;

/// `{"error": {"code", "message", "field"}}`, with a 4xx or 5xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What was refused.
    pub error: ErrorDetail,
}

/// One refusal: a code for programs, a sentence for people, and the field concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The contract's code; the status follows from it.
    pub code: ErrorCode,
    /// A sentence for a person; never key material.
    pub message: String,
    /// The request field concerned, when there is one (left out otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
