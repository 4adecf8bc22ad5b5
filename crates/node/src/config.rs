//! The node's configuration file (TOML; `docs/configuration.md`), parsed once, at load, into
//! typed values: addresses are `SocketAddr`s, durations `Duration`s, the store backend an enum
//! with its own keys. Nothing else in tlsedge reads a config string again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use crate::error::ConfigError;

/// The file used when no `--config` is given, looked for in the folder the process runs in.
pub const DEFAULT_CONFIG_FILE: &str = "tlsedge.toml";

/// The whole configuration file. Every key has a default, so an empty file is a valid one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[listen]`: listener addresses and the ports written into redirects.
    pub listen: ListenConfig,
    /// `[store]`: which backend holds the configuration, with that backend's keys.
    pub store: StoreBackend,
    /// `[secrets]`: where the master key lives.
    pub secrets: SecretsConfig,
    /// `[admin]`: admin API token and body limit.
    pub admin: AdminConfig,
    /// `[node]`: this node's identity.
    pub node: NodeConfig,
    /// `[tls]`: TLS settings shared by every domain.
    pub tls: TlsConfig,
    /// `[limits]`: size and count limits.
    pub limits: LimitsConfig,
    /// `[timeouts]`: every timeout of the data plane and the drain.
    pub timeouts: TimeoutsConfig,
    /// `[runtime]`: data-plane threads.
    pub runtime: RuntimeConfig,
}

impl Config {
    /// Reads and checks the config file `path`. Relative paths in it are taken from the folder
    /// the process runs in, as an operator would expect from a command line tool.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read, is not TOML, has an unknown key, or a key
    /// whose value is refused; the error names the file and, where there is one, the key.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks `text`, the contents of the config file `file` (named in errors only).
    ///
    /// # Errors
    /// As [`Config::load`], except reading.
    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let document = toml::Deserializer::parse(text).map_err(|source| ConfigError::Syntax {
            file: file.to_owned(),
            source: Box::new(source),
        })?;
        let cfg: Config = serde_path_to_error::deserialize(document).map_err(|e| {
            // The path of the key the error is about ("listen.http"); "." is the whole file.
            let key = e.path().to_string();
            ConfigError::Value {
                file: file.to_owned(),
                key: (key != ".").then_some(key),
                source: Box::new(e.into_inner()),
            }
        })?;
        cfg.check().map_err(|(key, reason)| ConfigError::Invalid {
            file: file.to_owned(),
            key,
            reason,
        })?;
        Ok(cfg)
    }

    /// Finds the config file of this process, the one rule for every command of the binary:
    /// `explicit` (`--config`) when given, else [`DEFAULT_CONFIG_FILE`] in the current folder
    /// when it exists, else none (`Ok(None)`: the caller uses the built-in defaults). Returns
    /// the loaded config and the path it came from.
    ///
    /// # Errors
    /// As [`Config::load`]; also when whether the default file exists cannot be told.
    pub fn discover(explicit: Option<&Path>) -> Result<Option<(Self, PathBuf)>, ConfigError> {
        Self::discover_with(explicit, Path::new(DEFAULT_CONFIG_FILE))
    }

    /// [`Config::discover`] with `default_file` in place of [`DEFAULT_CONFIG_FILE`].
    fn discover_with(
        explicit: Option<&Path>,
        default_file: &Path,
    ) -> Result<Option<(Self, PathBuf)>, ConfigError> {
        let path = match explicit {
            Some(p) => p,
            None => match default_file.try_exists() {
                Ok(true) => default_file,
                Ok(false) => return Ok(None),
                Err(source) => {
                    return Err(ConfigError::Read {
                        file: default_file.to_owned(),
                        source,
                    })
                }
            },
        };
        Ok(Some((Self::load(path)?, path.to_owned())))
    }

    /// [`Config::discover`], falling back to the built-in defaults when there is no file.
    ///
    /// # Errors
    /// As [`Config::discover`].
    pub fn discover_or_default(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        Ok(Self::discover(explicit)?.map_or_else(Self::default, |(cfg, _)| cfg))
    }

    /// What serde cannot check key by key; returns the key and why it is refused.
    fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if self.node.name.is_empty() {
            return Err(("node.name", "must not be empty"));
        }
        if self.limits.max_connections == 0 {
            return Err(("limits.max_connections", "must be > 0"));
        }
        if self.limits.max_request_header_bytes < 8192 {
            return Err(("limits.max_request_header_bytes", "must be at least 8192"));
        }
        if self.limits.max_response_header_bytes < 8192 {
            return Err(("limits.max_response_header_bytes", "must be at least 8192"));
        }
        Ok(())
    }
}

/// `[listen]`: listener addresses. In the file an address is `"IP:PORT"`, and `""` turns the
/// listener off (`None` here).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    /// Plain-HTTP edge listener; `None` (`""`) disables it.
    #[serde(deserialize_with = "address_or_off")]
    pub http: Option<SocketAddr>,
    /// TLS edge listener; `None` (`""`) disables it.
    #[serde(deserialize_with = "address_or_off")]
    pub https: Option<SocketAddr>,
    /// Admin API; `None` (`""`) disables it on this node.
    #[serde(deserialize_with = "address_or_off")]
    pub admin: Option<SocketAddr>,
    /// Port put in redirects to HTTPS (default: the HTTPS listener's own port).
    pub https_public_port: Option<u16>,
    /// Port put in redirects to HTTP (default: the HTTP listener's own port).
    pub http_public_port: Option<u16>,
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            http: Some(SocketAddr::from(([0, 0, 0, 0], 80))),
            https: Some(SocketAddr::from(([0, 0, 0, 0], 443))),
            admin: Some(SocketAddr::from(([127, 0, 0, 1], 9180))),
            https_public_port: None,
            http_public_port: None,
        }
    }
}

/// `"IP:PORT"` as an address, `""` as off.
fn address_or_off<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|e| {
        D::Error::custom(format_args!(
            "{text:?} is not an address (IP:PORT, or \"\" for off): {e}"
        ))
    })
}

/// `[store]`: the backend that holds the configuration, with the keys of that backend. The
/// file says which with `backend = "sqlite"` (the default) or `backend = "etcd"`.
///
/// A new backend is a new variant here and one more arm in the node's store opening
/// (`crates/node/src/store.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "StoreTable")]
pub enum StoreBackend {
    /// The embedded SQLite database: one node, or several on one machine sharing the file.
    Sqlite(SqliteConfig),
    /// An etcd cluster. The file format accepts it; a node of this build refuses to start on it.
    Etcd(EtcdConfig),
}

impl StoreBackend {
    /// The backend's name as written in the file (`"sqlite"`, `"etcd"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Etcd(_) => "etcd",
        }
    }
}

impl Default for StoreBackend {
    fn default() -> Self {
        StoreTable::default().into()
    }
}

/// The keys of `backend = "sqlite"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteConfig {
    /// `path`: the database file (default `data/tlsedge.db`).
    pub path: PathBuf,
}

/// The keys of `backend = "etcd"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// `endpoints`: the cluster's client URLs (default `["http://127.0.0.1:2379"]`).
    pub endpoints: Vec<String>,
    /// `prefix`: the key prefix of this installation (default `"/tlsedge/"`).
    pub prefix: String,
}

/// `[store]` as written: one flat table whose `backend` key picks which of the other keys
/// count. Keys of the backend not chosen are accepted and ignored, as they always were.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StoreTable {
    backend: BackendName,
    path: PathBuf,
    endpoints: Vec<String>,
    prefix: String,
}

/// The accepted values of `store.backend`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BackendName {
    #[default]
    Sqlite,
    Etcd,
}

impl Default for StoreTable {
    fn default() -> Self {
        Self {
            backend: BackendName::Sqlite,
            path: "data/tlsedge.db".into(),
            endpoints: vec!["http://127.0.0.1:2379".into()],
            prefix: "/tlsedge/".into(),
        }
    }
}

impl From<StoreTable> for StoreBackend {
    fn from(t: StoreTable) -> Self {
        match t.backend {
            BackendName::Sqlite => Self::Sqlite(SqliteConfig { path: t.path }),
            BackendName::Etcd => Self::Etcd(EtcdConfig {
                endpoints: t.endpoints,
                prefix: t.prefix,
            }),
        }
    }
}

/// `[secrets]`: where secrets live.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// The master key that encrypts private keys at rest; created mode 0600 if absent.
    pub master_key_file: PathBuf,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            master_key_file: "data/master.key".into(),
        }
    }
}

/// `[admin]`: admin API settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer token file; created mode 0600 with a random value if absent.
    pub token_file: PathBuf,
    /// Largest accepted request body, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            token_file: "data/admin.token".into(),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// `[node]`: this node's identity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Unique per node, never empty; reported by `GET /api/v1/nodes`.
    pub name: String,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            name: "edge-1".into(),
        }
    }
}

/// `[tls]`: TLS settings shared by every domain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Session tickets and the server-side session cache (TLS resumption).
    pub session_resumption: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            session_resumption: true,
        }
    }
}

/// `[limits]`: size and count limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Open client connections per listener, all threads together (> 0); more wait in the
    /// accept queue.
    pub max_connections: usize,
    /// Largest request head (request line and fields; on HTTP/2 the header list), in bytes
    /// (at least 8192); over it, 431. `max_header_bytes` is the old name, still read.
    #[serde(alias = "max_header_bytes")]
    pub max_request_header_bytes: usize,
    /// Largest origin response head (status line and fields), in bytes (at least 8192); over
    /// it, 502. Heads are limited by size only: the number of fields is not capped below
    /// 1,000 (see `EdgeSettings::header_field_cap`).
    pub max_response_header_bytes: usize,
    /// Concurrent HTTP/2 streams per client connection.
    pub max_concurrent_streams: u32,
    /// Idle keep-alive connections kept per origin (per data-plane thread).
    pub origin_idle_per_host: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 50_000,
            max_request_header_bytes: 64 * 1024,
            max_response_header_bytes: 256 * 1024,
            max_concurrent_streams: 128,
            origin_idle_per_host: 64,
        }
    }
}

/// `[timeouts]`: written in the file as seconds (`*_secs`, fractions allowed, never negative).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutsConfig {
    /// `handshake_secs`: TLS handshake, from accept to finished.
    #[serde(rename = "handshake_secs", deserialize_with = "seconds")]
    pub handshake: Duration,
    /// `client_header_secs`: reading a request head from a client; on HTTP/1 this also bounds
    /// how long a keep-alive connection may sit idle before its next request.
    #[serde(rename = "client_header_secs", deserialize_with = "seconds")]
    pub client_header: Duration,
    /// `origin_connect_secs`: connecting to an origin (TCP and TLS).
    #[serde(rename = "origin_connect_secs", deserialize_with = "seconds")]
    pub origin_connect: Duration,
    /// `origin_response_secs`: from sending a request to the origin's response head.
    #[serde(rename = "origin_response_secs", deserialize_with = "seconds")]
    pub origin_response: Duration,
    /// `origin_idle_secs`: an idle pooled origin connection.
    #[serde(rename = "origin_idle_secs", deserialize_with = "seconds")]
    pub origin_idle: Duration,
    /// `shutdown_grace_secs`: how long in-flight requests may run after SIGTERM/SIGINT.
    #[serde(rename = "shutdown_grace_secs", deserialize_with = "seconds")]
    pub shutdown_grace: Duration,
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(10),
            client_header: Duration::from_secs(30),
            origin_connect: Duration::from_secs(5),
            origin_response: Duration::from_secs(60),
            origin_idle: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A number of seconds (integer or fraction) as a `Duration`, refusing negatives and NaN.
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(d)?;
    Duration::try_from_secs_f64(secs).map_err(|_| {
        D::Error::custom(format_args!(
            "{secs} is not a non-negative number of seconds"
        ))
    })
}

/// `[runtime]`: the async runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Data-plane threads, each a single-threaded runtime with its own `SO_REUSEPORT` listeners;
    /// 0 means one per CPU core. The admin API and the store follower run on a thread of their
    /// own.
    pub worker_threads: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("conf/edge.toml"))
    }

    #[test]
    fn an_empty_file_gives_the_contract_defaults() {
        let cfg = parse("").unwrap();
        assert_eq!(cfg.listen.http, Some("0.0.0.0:80".parse().unwrap()));
        assert_eq!(cfg.listen.https, Some("0.0.0.0:443".parse().unwrap()));
        assert_eq!(cfg.listen.admin, Some("127.0.0.1:9180".parse().unwrap()));
        assert_eq!(cfg.listen.https_public_port, None);
        assert_eq!(cfg.listen.http_public_port, None);
        assert_eq!(
            cfg.store,
            StoreBackend::Sqlite(SqliteConfig {
                path: PathBuf::from("data/tlsedge.db")
            })
        );
        assert_eq!(
            cfg.secrets.master_key_file,
            PathBuf::from("data/master.key")
        );
        assert_eq!(cfg.admin.token_file, PathBuf::from("data/admin.token"));
        assert_eq!(cfg.admin.max_body_bytes, 1_048_576);
        assert_eq!(cfg.node.name, "edge-1");
        assert!(cfg.tls.session_resumption);
        assert_eq!(cfg.runtime.worker_threads, 0);
        assert_eq!(cfg.limits.max_connections, 50_000);
        assert_eq!(cfg.limits.max_request_header_bytes, 65_536);
        assert_eq!(cfg.limits.max_response_header_bytes, 262_144);
        assert_eq!(cfg.limits.max_concurrent_streams, 128);
        assert_eq!(cfg.limits.origin_idle_per_host, 64);
        let t = &cfg.timeouts;
        assert_eq!(
            [
                t.handshake,
                t.client_header,
                t.origin_connect,
                t.origin_response,
                t.origin_idle,
                t.shutdown_grace
            ],
            [10, 30, 5, 60, 60, 30].map(Duration::from_secs)
        );
    }

    #[test]
    fn every_documented_key_is_read_into_its_type() {
        let cfg = parse(
            r#"
[listen]
http = "127.0.0.1:8080"
https = "[::1]:8443"
admin = "0.0.0.0:0"
https_public_port = 443
http_public_port = 80

[store]
backend = "sqlite"
path = "/var/lib/tlsedge/db"

[secrets]
master_key_file = "k"

[admin]
token_file = "t"
max_body_bytes = 10

[node]
name = "edge-7"

[tls]
session_resumption = false

[runtime]
worker_threads = 3

[limits]
max_connections = 5
max_request_header_bytes = 8192
max_response_header_bytes = 16384
max_concurrent_streams = 7
origin_idle_per_host = 2

[timeouts]
handshake_secs = 0.25
client_header_secs = 1
origin_connect_secs = 2.5
origin_response_secs = 0
origin_idle_secs = 4
shutdown_grace_secs = 6
"#,
        )
        .unwrap();
        assert_eq!(cfg.listen.https, Some("[::1]:8443".parse().unwrap()));
        assert_eq!(cfg.listen.admin, Some("0.0.0.0:0".parse().unwrap()));
        assert_eq!(cfg.listen.https_public_port, Some(443));
        assert_eq!(
            cfg.store,
            StoreBackend::Sqlite(SqliteConfig {
                path: "/var/lib/tlsedge/db".into()
            })
        );
        assert_eq!(cfg.node.name, "edge-7");
        assert!(!cfg.tls.session_resumption);
        assert_eq!(cfg.runtime.worker_threads, 3);
        assert_eq!(cfg.limits.max_request_header_bytes, 8192);
        assert_eq!(cfg.limits.max_response_header_bytes, 16384);
        assert_eq!(cfg.timeouts.handshake, Duration::from_millis(250));
        assert_eq!(cfg.timeouts.origin_connect, Duration::from_millis(2500));
        assert_eq!(cfg.timeouts.origin_response, Duration::ZERO);
    }

    #[test]
    fn the_etcd_backend_has_its_own_keys() {
        let cfg = parse("[store]\nbackend = \"etcd\"\nprefix = \"/x/\"\n").unwrap();
        assert_eq!(
            cfg.store,
            StoreBackend::Etcd(EtcdConfig {
                endpoints: vec!["http://127.0.0.1:2379".into()],
                prefix: "/x/".into()
            })
        );
        assert_eq!(cfg.store.name(), "etcd");
    }

    #[test]
    fn bad_files_are_refused_with_the_key_and_the_file_named() {
        for (text, key) in [
            ("[listen]\nhttp = \"nowhere\"\n", "listen.http"),
            ("[listen]\nhttps = \"127.0.0.1\"\n", "listen.https"),
            ("[listen]\nadmin = \"localhost:9180\"\n", "listen.admin"),
            (
                "[listen]\nhttps_public_port = 70000\n",
                "listen.https_public_port",
            ),
            ("[store]\nbackend = \"mysql\"\n", "store.backend"),
            ("[store]\npath = 3\n", "store.path"),
            ("[store]\nbogus = 1\n", "bogus"),
            (
                "[timeouts]\norigin_connect_secs = -1\n",
                "timeouts.origin_connect_secs",
            ),
            (
                "[timeouts]\nhandshake_secs = \"10\"\n",
                "timeouts.handshake_secs",
            ),
            ("[timeouts]\nhandshake = 10\n", "handshake"),
            ("[listen]\nbogus = 1\n", "bogus"),
            ("[nonsense]\n", "nonsense"),
            ("[node]\nname = \"\"\n", "node.name"),
            ("[node]\nname = 5\n", "node.name"),
            (
                "[tls]\nsession_resumption = \"yes\"\n",
                "tls.session_resumption",
            ),
            ("[runtime]\nworker_threads = -1\n", "runtime.worker_threads"),
            (
                "[limits]\nmax_header_bytes = 100\n",
                "limits.max_request_header_bytes",
            ),
            (
                "[limits]\nmax_response_header_bytes = 100\n",
                "limits.max_response_header_bytes",
            ),
            ("[limits]\nmax_connections = 0\n", "limits.max_connections"),
            ("[admin]\nmax_body_bytes = -5\n", "admin.max_body_bytes"),
            (
                "[secrets]\nmaster_key_file = []\n",
                "secrets.master_key_file",
            ),
        ] {
            let err = parse(text).unwrap_err();
            let shown = err.to_string();
            assert!(shown.contains(key), "{text:?}: {shown}");
            assert!(shown.contains("conf/edge.toml"), "{text:?}: {shown}");
        }
    }

    #[test]
    fn a_file_that_is_not_toml_is_refused_with_the_file_named() {
        let err = parse("[listen\n").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
        assert!(err.to_string().contains("conf/edge.toml"), "{err}");
    }

    #[test]
    fn empty_listen_addresses_disable_listeners() {
        let cfg = parse("[listen]\nhttp = \"\"\nadmin = \"\"\n").unwrap();
        assert_eq!(cfg.listen.http, None);
        assert_eq!(cfg.listen.admin, None);
        assert_eq!(cfg.listen.https, Some("0.0.0.0:443".parse().unwrap()));
    }

    #[test]
    fn discovery_takes_the_explicit_file_then_the_default_then_none() {
        let dir = tempfile::tempdir().unwrap();
        let default_file = dir.path().join("tlsedge.toml");
        let explicit = dir.path().join("other.toml");
        std::fs::write(&explicit, "[node]\nname = \"explicit\"\n").unwrap();

        // No default file: nothing found, unless a file is named.
        assert!(Config::discover_with(None, &default_file)
            .unwrap()
            .is_none());
        let (cfg, from) = Config::discover_with(Some(&explicit), &default_file)
            .unwrap()
            .unwrap();
        assert_eq!(
            (cfg.node.name.as_str(), from),
            ("explicit", explicit.clone())
        );

        std::fs::write(&default_file, "[node]\nname = \"default\"\n").unwrap();
        let (cfg, from) = Config::discover_with(None, &default_file).unwrap().unwrap();
        assert_eq!((cfg.node.name.as_str(), from), ("default", default_file));

        // A named file that is missing is an error naming it, never the defaults.
        let missing = dir.path().join("missing.toml");
        let err = Config::discover_with(Some(&missing), &explicit).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("missing.toml"), "{err}");
    }
}
