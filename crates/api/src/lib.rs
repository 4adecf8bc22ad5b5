//! The wire types of tlsedge's admin API (`/api/v1`, contract in `shared/spec/api.md`).
//!
//! The server (`tlsedge-admin`) parses its requests into these types and answers with them, its
//! OpenAPI document is generated from them, and the CLI builds its requests and reads the answers
//! with them. One definition keeps the three from drifting apart: a field renamed here is renamed
//! everywhere, and the compiler finds every place that must follow.
//!
//! Objects of the model that travel as they are (`DomainConfig`, `CertificateInfo`,
//! `HttpsConfig`) stay in `tlsedge-model`; this crate holds what wraps them (lists, reports), the
//! request bodies, [`HttpsPatch`] (the one merge of HTTPS settings) and the error body with its
//! typed [`ErrorCode`](tlsedge_model::ErrorCode).

mod certificates;
mod domains;
mod error;
mod nodes;
mod usage;

pub use certificates::{
    CertificateList, CertificateStats, CsrRequest, CsrResponse, DeployRequest, DomainNames,
    ReplaceRequest, UploadRequest, MAX_WINDOW_DAYS,
};
pub use domains::{DomainList, HstsPatch, HttpsPatch, HttpsView};
pub use error::{ErrorBody, ErrorDetail};
pub use nodes::{Health, NodeReport, NodesReport};
pub use usage::{CacheCounts, RequestCounts, UsageMinute, UsageReport};
