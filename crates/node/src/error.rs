//! Why a config file is refused, and why a node cannot start.
//!
//! The messages name the file, the key or the address concerned and leave the cause to
//! `source()`: print them with their chain (`anyhow`'s `{:#}`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a config file was refused. Each variant names the file; a refused value names its key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read (missing, unreadable, a folder).
    #[error("cannot read config file {}", file.display())]
    Read {
        /// The config file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("invalid config file {}", file.display())]
    Syntax {
        /// The config file.
        file: PathBuf,
        /// The parse error, with its line and column.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A key is unknown or its value has the wrong type or is refused (an address that does not
    /// parse, a negative duration, an unknown store backend).
    #[error("invalid config file {}{}", file.display(), key.as_ref().map(|k| format!(": {k}")).unwrap_or_default())]
    Value {
        /// The config file.
        file: PathBuf,
        /// The key, as `table.key` (`listen.http`); `None` for the top level of the file.
        key: Option<String>,
        /// What is wrong, with its line and column.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A value each key accepts alone but the node cannot run with (an empty node name, a
    /// header limit below 8 KiB).
    #[error("invalid config file {}: {key} {reason}", file.display())]
    Invalid {
        /// The config file.
        file: PathBuf,
        /// The key, as `table.key`.
        key: &'static str,
        /// The rule it breaks.
        reason: &'static str,
    },
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The store backend cannot be opened.
    #[error("cannot open store {}", path.display())]
    Store {
        /// The store's location (the SQLite file).
        path: PathBuf,
        /// The store's error.
        #[source]
        source: tlsedge_store::StoreError,
    },
    /// The configured store backend is accepted in the file but not built into this binary.
    #[error("store backend {backend:?} is not available in this build (use \"sqlite\")")]
    BackendUnavailable {
        /// `store.backend`.
        backend: &'static str,
    },
    /// The master key file cannot be read or created.
    #[error("master key {}", path.display())]
    MasterKey {
        /// `secrets.master_key_file`.
        path: PathBuf,
        /// Why.
        #[source]
        source: tlsedge_certs::SealError,
    },
    /// The admin token file cannot be read or created.
    #[error("admin token file {}", path.display())]
    AdminToken {
        /// `admin.token_file`.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A listener cannot be opened (address in use, not local, no permission for the port).
    #[error("cannot listen on {listener} address {addr}")]
    Listen {
        /// `http`, `https` or `admin`.
        listener: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The data plane's TLS configuration cannot be built.
    #[error("cannot set up TLS")]
    Tls(#[source] tlsedge_edge::EdgeError),
    /// The OS refused a data-plane thread.
    #[error("cannot start a data-plane thread")]
    Thread(#[source] std::io::Error),
}
