//! The node's configuration file (TOML), parsed once into typed structs with defaults for every
//! key (`shared/spec/api.md`, "Config file").

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: Listen,
    pub store: StoreConfig,
    pub secrets: Secrets,
    pub admin: Admin,
    pub node: Node,
    pub tls: Tls,
    pub limits: Limits,
    pub timeouts: Timeouts,
    pub runtime: Runtime,
}

/// The async runtime.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Runtime {
    /// Data-plane threads, each a single-threaded runtime with its own `SO_REUSEPORT` listeners;
    /// 0 means one per CPU core. The admin API and the store follower run on a thread of their
    /// own.
    pub worker_threads: usize,
}

/// Listener addresses.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listen {
    /// Plain-HTTP edge listener; "" disables it.
    pub http: String,
    /// TLS edge listener; "" disables it.
    pub https: String,
    /// Admin API; "" disables it on this node.
    pub admin: String,
    /// Port put in redirects to HTTPS (default: the HTTPS listener's own port).
    pub https_public_port: Option<u16>,
    /// Port put in redirects to HTTP (default: the HTTP listener's own port).
    pub http_public_port: Option<u16>,
}

impl Default for Listen {
    fn default() -> Self {
        Self {
            http: "0.0.0.0:80".into(),
            https: "0.0.0.0:443".into(),
            admin: "127.0.0.1:9180".into(),
            https_public_port: None,
            http_public_port: None,
        }
    }
}

/// Which store backend holds the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// "sqlite" or "etcd".
    pub backend: String,
    /// SQLite database file.
    pub path: PathBuf,
    /// etcd endpoints.
    pub endpoints: Vec<String>,
    /// etcd key prefix.
    pub prefix: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: "sqlite".into(),
            path: "data/tlsedge.db".into(),
            endpoints: vec!["http://127.0.0.1:2379".into()],
            prefix: "/tlsedge/".into(),
        }
    }
}

/// Where secrets live.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Secrets {
    /// The master key that encrypts private keys at rest; created mode 0600 if absent.
    pub master_key_file: PathBuf,
}

impl Default for Secrets {
    fn default() -> Self {
        Self {
            master_key_file: "data/master.key".into(),
        }
    }
}

/// Admin API settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admin {
    /// Bearer token file; created mode 0600 with a random value if absent.
    pub token_file: PathBuf,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
}

impl Default for Admin {
    fn default() -> Self {
        Self {
            token_file: "data/admin.token".into(),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// This node's identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Node {
    /// Unique per node.
    pub name: String,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            name: "edge-1".into(),
        }
    }
}

/// TLS settings shared by every domain.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// Session tickets and the server-side session cache (TLS resumption).
    pub session_resumption: bool,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            session_resumption: true,
        }
    }
}

/// Size and count limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Open client connections per listener; more wait in the accept queue.
    pub max_connections: usize,
    /// Largest request head (request line and headers) in bytes.
    pub max_header_bytes: usize,
    /// Concurrent HTTP/2 streams per client connection.
    pub max_concurrent_streams: u32,
    /// Idle keep-alive connections kept per origin.
    pub origin_idle_per_host: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 50_000,
            max_header_bytes: 64 * 1024,
            max_concurrent_streams: 128,
            origin_idle_per_host: 64,
        }
    }
}

/// Timeouts, in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// TLS handshake, from accept to finished.
    pub handshake_secs: f64,
    /// Reading a request head from a client; on HTTP/1 this also bounds how long a keep-alive
    /// connection may sit idle before its next request.
    pub client_header_secs: f64,
    /// Connecting to an origin (TCP and TLS).
    pub origin_connect_secs: f64,
    /// From sending a request to the origin's response head.
    pub origin_response_secs: f64,
    /// An idle pooled origin connection.
    pub origin_idle_secs: f64,
    /// How long in-flight requests may run after SIGTERM.
    pub shutdown_grace_secs: f64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            handshake_secs: 10.0,
            client_header_secs: 30.0,
            origin_connect_secs: 5.0,
            origin_response_secs: 60.0,
            origin_idle_secs: 60.0,
            shutdown_grace_secs: 30.0,
        }
    }
}

/// A duration from seconds, refusing negatives and NaN.
pub fn secs(field: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v)
        .map_err(|_| anyhow::anyhow!("timeouts.{field} must be a non-negative number of seconds"))
}

impl Config {
    /// Reads and checks a config file. Relative paths in it are taken from the folder the
    /// process runs in, as an operator would expect from a command line tool.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        let cfg: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Loads `path`, or `./tlsedge.toml` when no path is given and that file exists, or else
    /// the built-in defaults.
    pub fn load_or_default(path: Option<&Path>) -> anyhow::Result<Self> {
        match path {
            Some(p) => Self::load(p),
            None if Path::new("tlsedge.toml").exists() => Self::load(Path::new("tlsedge.toml")),
            None => Ok(Self::default()),
        }
    }

    /// Checks what serde cannot: addresses parse, the backend is known, durations are sane.
    pub fn check(&self) -> anyhow::Result<()> {
        for (k, v) in [
            ("http", &self.listen.http),
            ("https", &self.listen.https),
            ("admin", &self.listen.admin),
        ] {
            if !v.is_empty() {
                v.parse::<SocketAddr>()
                    .map_err(|e| anyhow::anyhow!("listen.{k} = {v:?} is not an address: {e}"))?;
            }
        }
        if !matches!(self.store.backend.as_str(), "sqlite" | "etcd") {
            anyhow::bail!(
                "store.backend must be \"sqlite\" or \"etcd\", not {:?}",
                self.store.backend
            );
        }
        if self.node.name.is_empty() {
            anyhow::bail!("node.name must not be empty");
        }
        let t = &self.timeouts;
        for (k, v) in [
            ("handshake_secs", t.handshake_secs),
            ("client_header_secs", t.client_header_secs),
            ("origin_connect_secs", t.origin_connect_secs),
            ("origin_response_secs", t.origin_response_secs),
            ("origin_idle_secs", t.origin_idle_secs),
            ("shutdown_grace_secs", t.shutdown_grace_secs),
        ] {
            secs(k, v)?;
        }
        if self.limits.max_connections == 0 || self.limits.max_header_bytes < 8192 {
            anyhow::bail!(
                "limits.max_connections must be > 0 and limits.max_header_bytes at least 8192"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Config> {
        let cfg: Config = toml::from_str(text)?;
        cfg.check()?;
        Ok(cfg)
    }

    #[test]
    fn an_empty_file_gives_the_contract_defaults() {
        let cfg = parse("").unwrap();
        assert_eq!(cfg.listen.http, "0.0.0.0:80");
        assert_eq!(cfg.listen.https, "0.0.0.0:443");
        assert_eq!(cfg.listen.admin, "127.0.0.1:9180");
        assert_eq!(cfg.store.backend, "sqlite");
        assert_eq!(cfg.store.path, PathBuf::from("data/tlsedge.db"));
        assert_eq!(
            cfg.secrets.master_key_file,
            PathBuf::from("data/master.key")
        );
        assert_eq!(cfg.admin.token_file, PathBuf::from("data/admin.token"));
        assert_eq!(cfg.node.name, "edge-1");
        assert!(cfg.tls.session_resumption);
    }

    #[test]
    fn bad_files_are_refused_with_the_key_named() {
        for (text, needle) in [
            ("[listen]\nhttp = \"nowhere\"\n", "listen.http"),
            ("[store]\nbackend = \"mysql\"\n", "store.backend"),
            (
                "[timeouts]\norigin_connect_secs = -1\n",
                "origin_connect_secs",
            ),
            ("[listen]\nbogus = 1\n", "bogus"),
            ("[node]\nname = \"\"\n", "node.name"),
            ("[limits]\nmax_header_bytes = 100\n", "max_header_bytes"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn empty_listen_addresses_disable_listeners() {
        let cfg = parse("[listen]\nhttp = \"\"\nadmin = \"\"\n").unwrap();
        assert!(cfg.listen.http.is_empty() && cfg.listen.admin.is_empty());
    }
}
