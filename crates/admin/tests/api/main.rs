//! The admin API against its contract (`shared/spec/api.md`), in process: the router of
//! [`tlsedge_admin::app`] over a SQLite store in a temporary folder, called without a socket.
//! Every refusal is checked for its exact status, error code and `field`, and for leaving every
//! record it could touch (certificates, private ones included, domains, HTTPS settings) as it
//! was. Expected values come from the contract and from what the test generated, never from the
//! code under test.
//!
//! What needs a real process (TLS serving, node reports, logs and files on disk) is in the
//! workspace's `tests/admin.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod certificates;
mod certs;
mod conventions;
mod csr;
mod domains;
mod harness;
mod https;
mod requests;
mod store;
