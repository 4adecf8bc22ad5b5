//! The admin REST API of tlsedge (`/api/v1`, contract in `shared/spec/api.md`; wire types in
//! `tlsedge-api`).
//!
//! Every write follows the same steps: parse and validate the input once (model and certificate
//! crates, through the extractors of `extract.rs`), read the store's current
//! [`State`](tlsedge_store::State), check the rules that involve other objects against it, and
//! commit all changes as one transaction at the revision that was read (`write.rs`). If another
//! writer came first the commit conflicts and the whole step runs again, so a rule is never
//! checked against a stale state and a rejected write changes nothing.
//!
//! The router is built by [`app`] so tests can call it without a socket.

mod auth;
mod certificates;
mod csr;
mod domains;
mod error;
mod extract;
mod node;
mod openapi;
mod router;
mod state;
mod write;

pub use auth::{load_or_create_token, write_private};
pub use error::{status_of, ApiError};
pub use router::app;
pub use state::{AdminState, MetricsFn, UsageFn};
