//! The data plane of tlsedge: the HTTP and HTTPS listeners.
//!
//! Everything a connection or request needs to know about domains lives in one immutable
//! [`Snapshot`], swapped atomically (`arc-swap`) when the configuration changes. A handshake
//! loads the snapshot once, finds the domain's prebuilt `rustls::ServerConfig` with one map
//! lookup (exact name, then one-level wildcard) and hands it to rustls; a request loads the
//! snapshot once and routes by Host. Nothing on those paths takes a lock or parses anything, and
//! a connection or request in flight keeps the snapshot it started with.
//!
//! This crate knows nothing of the store or the admin API: the binary feeds it
//! [`DomainInput`]s (a validated domain plus its parsed certificate) and it does the rest.
//!
//! A request's way through the modules:
//! - `server`: the listeners, the TLS handshake (SNI → the domain's `ServerConfig`) and the
//!   connection limits; one `conn::ConnInfo` per connection.
//! - `authority`: the request's one authority (absolute-form target, else HTTP/2's
//!   `:authority`, else `Host`), used for routing, policy, usage and the origin's `Host`.
//! - `handler`: routes the request by its host in the snapshot and asks `policy::decide`
//!   (pure: the domain, the scheme, the domain the connection was made for) what to do.
//! - `respond`: every response the edge makes itself (refusals, redirects), from a typed
//!   `Refusal`.
//! - `proxy`: the origin loop (order, failover, pooled connections from `pool`), with the heads
//!   rewritten by `rewrite` and the body streamed by `body`.
//!
//! What a domain needs per request (handshake config, header values, redirect status, origin
//! pool keys) is built once in `snapshot::DomainRuntime` when the configuration changes.

mod authority;
mod body;
mod conn;
mod edge;
mod error;
mod handler;
mod metrics;
mod policy;
mod pool;
mod proxy;
mod respond;
mod rewrite;
mod scheme;
mod server;
mod settings;
mod snapshot;
mod tls;
mod usage;

pub use edge::Edge;
pub use error::{EdgeError, OriginCaError};
pub use metrics::Metrics;
pub use server::{serve_http, serve_https, Shutdown};
pub use settings::EdgeSettings;
pub use snapshot::{DomainInput, DomainRuntime, Snapshot};
pub use tls::TlsSettings;

/// The request's one authority as the edge decides it (see `authority.rs`): `None` when the
/// request has none or an ambiguous one (the edge answers 400). Only for the fuzz targets in
/// `fuzz/`; not part of the API.
#[doc(hidden)]
pub fn fuzz_authority_of<B>(req: &http::Request<B>) -> Option<http::HeaderValue> {
    authority::of(req).ok()
}
