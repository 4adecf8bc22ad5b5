//! One tlsedge node, as a library: the typed configuration, start-up, the store → edge
//! follower, and the drain. The `tlsedge` binary parses its command line and calls this.
//!
//! - [`Config`] is the config file (`docs/configuration.md`) parsed once into typed values
//!   (`SocketAddr`, `Duration`, the [`StoreBackend`] enum); [`Config::discover`] is the one
//!   rule for finding that file, used by `serve` and by the CLI alike.
//! - [`Node::build`] opens the store and the master key, binds the listeners and loads the
//!   whole configuration into the data plane; [`Node::serve`] starts the data-plane threads, the
//!   admin API and the follower, and drains when its `stop` future resolves.
//! - The follower (`sync.rs`) turns each committed store revision into a new edge snapshot,
//!   rebuilding only the domains that changed, off the request path (`docs/lifecycle.md`).
//! - Store backends are opened in `store.rs`: a second backend is one more [`StoreBackend`]
//!   variant and one more arm there.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = tlsedge_node::Config::discover_or_default(None)?;
//! let node = tlsedge_node::Node::build(cfg).await?;
//! println!("tlsedge listening {}", node.bound());
//! node.serve(tlsedge_node::shutdown_on_signal()).await?;
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod listen;
mod node;
mod store;
mod sync;

pub use config::{
    AdminConfig, Config, EtcdConfig, LimitsConfig, ListenConfig, NodeConfig, RuntimeConfig,
    SecretsConfig, SqliteConfig, StoreBackend, TimeoutsConfig, TlsConfig, DEFAULT_CONFIG_FILE,
};
pub use error::{ConfigError, NodeError};
pub use node::{shutdown_on_signal, Bound, Node};
