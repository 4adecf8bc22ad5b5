//! One node: start-up ([`Node::build`]), serving, and the drain at the end ([`Node::serve`]).

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tlsedge_admin::AdminState;
use tlsedge_certs::MasterKey;
use tlsedge_edge::{Edge, EdgeSettings, Shutdown, TlsSettings};
use tlsedge_store::Store;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::NodeError;
use crate::listen::{bind_one, bind_per_thread};
use crate::sync::{follow, Follower};

/// The addresses a node actually listens on (ports resolved when the config said 0); `None`
/// for a listener that is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bound {
    /// The plain-HTTP edge listener.
    pub http: Option<SocketAddr>,
    /// The TLS edge listener.
    pub https: Option<SocketAddr>,
    /// The admin API.
    pub admin: Option<SocketAddr>,
}

/// `http=ADDR https=ADDR admin=ADDR`, with `off` for a listener that is off: the words of the
/// line a node prints when it serves (`tlsedge listening …`, read by scripts and tests).
impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
        write!(
            f,
            "http={} https={} admin={}",
            show(self.http),
            show(self.https),
            show(self.admin)
        )
    }
}

/// A node that has opened its store, loaded the whole configuration into the data plane and
/// bound its listeners, but serves nothing yet: connections wait in the accept queues until
/// [`Node::serve`].
pub struct Node {
    name: String,
    store: Arc<dyn Store>,
    edge: Arc<Edge>,
    follower: Follower,
    threads: usize,
    http: Vec<std::net::TcpListener>,
    https: Vec<std::net::TcpListener>,
    /// The admin listener and the state its API runs on, when `listen.admin` is on.
    admin: Option<(std::net::TcpListener, Arc<AdminState>)>,
    bound: Bound,
}

impl Node {
    /// Starts a node from `cfg`: opens the store and the master key, binds the listeners (one
    /// HTTP and one HTTPS socket per data-plane thread), builds the data plane and loads the
    /// whole stored configuration into it, so that nothing is served before all of it is.
    /// Call it on the runtime that will run [`Node::serve`].
    ///
    /// # Errors
    /// [`NodeError`] naming what could not be opened: the store, the master key or token file,
    /// a listener address, the TLS set-up.
    pub async fn build(cfg: Config) -> Result<Self, NodeError> {
        let store = crate::store::open(&cfg.store)?;
        let master_key_file = &cfg.secrets.master_key_file;
        let master = Arc::new(
            MasterKey::load_or_create(master_key_file).map_err(|source| NodeError::MasterKey {
                path: master_key_file.clone(),
                source,
            })?,
        );

        let threads = match cfg.runtime.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let http = bind_per_thread("http", cfg.listen.http, threads)?;
        let https = bind_per_thread("https", cfg.listen.https, threads)?;
        let admin = bind_one("admin", cfg.listen.admin)?;
        let bound = Bound {
            http: http.first().and_then(|l| l.local_addr().ok()),
            https: https.first().and_then(|l| l.local_addr().ok()),
            admin: admin.as_ref().and_then(|l| l.local_addr().ok()),
        };

        let tls = TlsSettings {
            session_resumption: cfg.tls.session_resumption,
            ..TlsSettings::default()
        };
        let edge = Edge::new(edge_settings(&cfg, &bound), tls).map_err(NodeError::Tls)?;

        // Serve nothing until the whole configuration is loaded; `serve` then follows the store.
        let follower = Follower::new(edge.clone(), master.clone());
        let initial = store.state();
        let started = Instant::now();
        follower.load_all(&initial);
        tracing::info!(
            revision = initial.revision,
            domains = initial.domains.len(),
            ms = started.elapsed().as_millis() as u64,
            "configuration loaded"
        );

        let admin = match admin {
            None => None,
            Some(listener) => {
                let token_file = &cfg.admin.token_file;
                let token = tlsedge_admin::load_or_create_token(token_file).map_err(|source| {
                    NodeError::AdminToken {
                        path: token_file.clone(),
                        source,
                    }
                })?;
                let edge_for_metrics = edge.clone();
                let edge_for_usage = edge.clone();
                let state = Arc::new(AdminState::new(
                    store.clone(),
                    master.clone(),
                    token,
                    cfg.admin.max_body_bytes,
                    Arc::new(move |out: &mut String| edge_for_metrics.metrics().render(out)),
                    Arc::new(move |domain: &str, from: i64, to: i64| {
                        edge_for_usage.usage(domain, from, to)
                    }),
                ));
                Some((listener, state))
            }
        };

        Ok(Self {
            name: cfg.node.name,
            store,
            edge,
            follower,
            threads,
            http,
            https,
            admin,
            bound,
        })
    }

    /// Where this node listens.
    pub fn bound(&self) -> Bound {
        self.bound
    }

    /// Serves until `stop` resolves, then drains: no new connections, and in-flight requests
    /// get `timeouts.shutdown_grace_secs` (plus one second for the listeners to close) before
    /// this returns.
    ///
    /// The data plane runs on `[runtime] worker_threads` threads of its own, each a
    /// single-threaded runtime with its own listeners; the admin API and the store follower run
    /// on the runtime that polls this future.
    ///
    /// # Errors
    /// [`NodeError::Thread`] when a data-plane thread cannot be started.
    pub async fn serve(self, stop: impl Future<Output = ()>) -> Result<(), NodeError> {
        let Self {
            name,
            store,
            edge,
            follower,
            threads,
            mut http,
            mut https,
            admin,
            bound,
        } = self;
        tokio::spawn(follow(store, follower, name.clone()));

        let shutdown = Shutdown::default();
        // The data plane: one single-threaded runtime per thread, each with its own listeners. A
        // connection and everything it spawns (its requests, its origin connections) stay on the
        // thread that accepted it: no work stealing, no cross-thread wake-ups on the hot path.
        let mut data_plane = Vec::with_capacity(threads);
        for i in 0..threads {
            let (h, s) = (http.pop(), https.pop());
            let (edge, sd) = (edge.clone(), shutdown.clone());
            let thread = std::thread::Builder::new()
                .name(format!("tlsedge-edge-{i}"))
                .spawn(move || serve_data_plane(edge, h, s, sd))
                .map_err(NodeError::Thread)?;
            data_plane.push(thread);
        }
        let mut tasks = tokio::task::JoinSet::new();
        if let Some((listener, state)) = admin {
            match TcpListener::from_std(listener) {
                Ok(l) => {
                    let app = tlsedge_admin::app(state);
                    let sd = shutdown.clone();
                    tasks.spawn(async move {
                        if let Err(e) = axum::serve(l, app)
                            .with_graceful_shutdown(async move { sd.wait().await })
                            .await
                        {
                            tracing::error!(error = %e, "admin API stopped");
                        }
                    });
                }
                Err(e) => tracing::error!(error = %e, "cannot serve the admin API"),
            }
        }

        let show = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
        tracing::info!(node = %name, http = %show(bound.http), https = %show(bound.https), admin = %show(bound.admin), "tlsedge serving");

        stop.await;
        tracing::info!("shutting down: no new connections; in-flight requests may finish");
        shutdown.trigger();
        let grace = edge.settings().shutdown_grace + Duration::from_secs(1);
        let drained = async {
            while tasks.join_next().await.is_some() {}
            let _ = tokio::task::spawn_blocking(move || {
                for t in data_plane {
                    let _ = t.join();
                }
            })
            .await;
        };
        let _ = tokio::time::timeout(grace, drained).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The data plane's settings from the config; a public port not configured is the bound
/// listener's own.
fn edge_settings(cfg: &Config, bound: &Bound) -> EdgeSettings {
    let t = &cfg.timeouts;
    EdgeSettings {
        https_public_port: cfg
            .listen
            .https_public_port
            .or(bound.https.map(|a| a.port()))
            .unwrap_or(443),
        http_public_port: cfg
            .listen
            .http_public_port
            .or(bound.http.map(|a| a.port()))
            .unwrap_or(80),
        handshake_timeout: t.handshake,
        client_header_timeout: t.client_header,
        origin_connect_timeout: t.origin_connect,
        origin_response_timeout: t.origin_response,
        origin_idle_timeout: t.origin_idle,
        origin_idle_per_host: cfg.limits.origin_idle_per_host,
        max_connections: cfg.limits.max_connections,
        max_header_bytes: cfg.limits.max_request_header_bytes,
        max_response_header_bytes: cfg.limits.max_response_header_bytes,
        max_concurrent_streams: cfg.limits.max_concurrent_streams,
        shutdown_grace: t.shutdown_grace,
        via_name: "tlsedge".into(),
    }
}

/// Resolves on SIGTERM or SIGINT: the `stop` of a node run from the command line.
pub async fn shutdown_on_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

/// One data-plane thread: serves its HTTP and HTTPS listeners until shutdown and drains.
fn serve_data_plane(
    edge: Arc<Edge>,
    http: Option<std::net::TcpListener>,
    https: Option<std::net::TcpListener>,
    shutdown: Shutdown,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a data-plane runtime");
            return;
        }
    };
    runtime.block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        for (listener, tls) in [(http, false), (https, true)] {
            let Some(l) = listener else { continue };
            match TcpListener::from_std(l) {
                Ok(l) if tls => {
                    tasks.spawn(tlsedge_edge::serve_https(edge.clone(), l, shutdown.clone()));
                }
                Ok(l) => {
                    tasks.spawn(tlsedge_edge::serve_http(edge.clone(), l, shutdown.clone()));
                }
                Err(e) => tracing::error!(error = %e, "cannot serve a listener"),
            }
        }
        while tasks.join_next().await.is_some() {}
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announced_addresses_say_off_for_a_listener_that_is_off() {
        let bound = Bound {
            http: Some("127.0.0.1:8080".parse().unwrap()),
            https: Some("[::1]:8443".parse().unwrap()),
            admin: None,
        };
        assert_eq!(
            bound.to_string(),
            "http=127.0.0.1:8080 https=[::1]:8443 admin=off"
        );
    }

    #[test]
    fn public_ports_default_to_the_bound_listeners() {
        let bound = Bound {
            http: Some("127.0.0.1:8080".parse().unwrap()),
            https: None,
            admin: None,
        };
        let s = edge_settings(&Config::default(), &bound);
        assert_eq!((s.http_public_port, s.https_public_port), (8080, 443));
        let mut cfg = Config::default();
        cfg.listen.http_public_port = Some(80);
        cfg.timeouts.shutdown_grace = Duration::from_millis(1500);
        let s = edge_settings(&cfg, &bound);
        assert_eq!(s.http_public_port, 80);
        assert_eq!(s.shutdown_grace, Duration::from_millis(1500));
    }
}
