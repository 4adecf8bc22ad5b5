//! tlsedge's one test certificate authority, built on rcgen: a root, its intermediates, and the
//! leaf certificates they issue, all made at run time (no committed key or certificate blobs).
//!
//! Four places need a private CA, and all four use this one builder so that a change of defaults
//! (key types, validity, key usages) reaches them together:
//!
//! - the certificate crate's unit tests (chains, expired intermediates, key types);
//! - the end-to-end tests (`tests/common/ca.rs` wraps it with panicking helpers);
//! - `tlsedge demo`, which is product code: hence a normal crate the binary can depend on, and a
//!   fallible API ([`CaError`]) instead of panics;
//! - the bench tool (`bench/tool.rs gencerts`).
//!
//! Beside it, two checks both kinds of tests share ([`withhold_key_material`],
//! [`prometheus_samples`]).
//!
//! Defaults, chosen to look like a real public-CA chain: CA keys are ECDSA P-256; a root is
//! unconstrained, an intermediate may issue leaves only (path length 0); a leaf carries its names
//! as DNS SANs (the first one also as its common name) and is valid from one day ago to 90 days ahead.
//! rcgen is built with aws-lc-rs only (no ring), as the rest of the workspace.

mod ca;
mod check;

pub use ca::{self_signed, Alg, CaError, Leaf, TestCa, LEAF_DAYS};
pub use check::{prometheus_samples, withhold_key_material};
pub use rcgen;
