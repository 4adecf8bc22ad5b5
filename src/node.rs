//! One node: opens the store, follows it into the data plane, serves the edge listeners and the
//! admin API until SIGTERM/SIGINT, then drains.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tlsedge_admin::AdminState;
use tlsedge_certs::MasterKey;
use tlsedge_edge::{Edge, EdgeSettings, Shutdown, TlsSettings};
use tlsedge_store::{SqliteStore, Store};
use tokio::net::TcpListener;

use crate::config::{secs, Config};

/// The addresses a node actually listens on (ports resolved when the config said 0).
#[derive(Debug, Clone, Default)]
pub struct Bound {
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
}

/// How a started node tells the world where it listens.
pub enum Announce {
    /// One line on stdout: `tlsedge listening http=… https=… admin=…` (tests and scripts read it).
    Stdout,
    /// To the demo, in process.
    Channel(tokio::sync::oneshot::Sender<Bound>),
}

/// Resolves on SIGTERM or SIGINT.
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

/// Binds `n` listening sockets to one address with `SO_REUSEPORT`, one per data-plane thread,
/// so the kernel spreads new connections over the threads and no accept is shared. The first
/// socket resolves port 0; the others take the same port.
fn bind_per_thread(what: &str, addr: &str, n: usize) -> anyhow::Result<Vec<std::net::TcpListener>> {
    if addr.is_empty() {
        return Ok(Vec::new());
    }
    let mut at: SocketAddr = addr
        .parse()
        .with_context(|| format!("listen.{what} = {addr:?}"))?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let bind = || -> std::io::Result<std::net::TcpListener> {
            let socket = if at.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket.set_reuseport(true)?;
            // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one setsockopt
            // here instead of one per connection (the data plane relies on it).
            socket.set_nodelay(true)?;
            socket.bind(at)?;
            socket.listen(4096)?.into_std()
        };
        let l = bind().with_context(|| format!("cannot listen on {what} address {at}"))?;
        at = l.local_addr()?;
        out.push(l);
    }
    Ok(out)
}

async fn bind(what: &str, addr: &str) -> anyhow::Result<Option<TcpListener>> {
    if addr.is_empty() {
        return Ok(None);
    }
    let l = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {what} address {addr}"))?;
    Ok(Some(l))
}

/// Runs a node until `stop` resolves, then shuts down gracefully.
pub async fn run(
    cfg: Config,
    announce: Announce,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = match cfg.store.backend.as_str() {
        "sqlite" => Arc::new(
            SqliteStore::open(&cfg.store.path)
                .with_context(|| format!("cannot open store {}", cfg.store.path.display()))?,
        ),
        other => {
            anyhow::bail!("store backend {other:?} is not available in this build (use \"sqlite\")")
        }
    };
    let master = Arc::new(
        MasterKey::load_or_create(&cfg.secrets.master_key_file)
            .with_context(|| format!("master key {}", cfg.secrets.master_key_file.display()))?,
    );

    let threads = match cfg.runtime.worker_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut http = bind_per_thread("http", &cfg.listen.http, threads)?;
    let mut https = bind_per_thread("https", &cfg.listen.https, threads)?;
    let admin = bind("admin", &cfg.listen.admin).await?;
    let bound = Bound {
        http: http.first().and_then(|l| l.local_addr().ok()),
        https: https.first().and_then(|l| l.local_addr().ok()),
        admin: admin.as_ref().and_then(|l| l.local_addr().ok()),
    };

    let t = &cfg.timeouts;
    let settings = EdgeSettings {
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
        handshake_timeout: secs("handshake_secs", t.handshake_secs)?,
        client_header_timeout: secs("client_header_secs", t.client_header_secs)?,
        origin_connect_timeout: secs("origin_connect_secs", t.origin_connect_secs)?,
        origin_response_timeout: secs("origin_response_secs", t.origin_response_secs)?,
        origin_idle_timeout: secs("origin_idle_secs", t.origin_idle_secs)?,
        origin_idle_per_host: cfg.limits.origin_idle_per_host,
        max_connections: cfg.limits.max_connections,
        max_header_bytes: cfg.limits.max_header_bytes,
        max_concurrent_streams: cfg.limits.max_concurrent_streams,
        shutdown_grace: secs("shutdown_grace_secs", t.shutdown_grace_secs)?,
        via_name: "tlsedge".into(),
    };
    let tls = TlsSettings {
        session_resumption: cfg.tls.session_resumption,
        ..TlsSettings::default()
    };
    let edge = Edge::new(settings, tls).context("cannot set up TLS")?;

    // Serve nothing until the whole configuration is loaded, then follow the store.
    let follower = crate::sync::Follower::new(edge.clone(), master.clone());
    let initial = store.state();
    let started = std::time::Instant::now();
    follower.load_all(&initial);
    tracing::info!(
        revision = initial.revision,
        domains = initial.domains.len(),
        ms = started.elapsed().as_millis() as u64,
        "configuration loaded"
    );
    tokio::spawn(crate::sync::follow(
        store.clone(),
        follower,
        cfg.node.name.clone(),
    ));

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
            .context("cannot start a data-plane thread")?;
        data_plane.push(thread);
    }
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(l) = admin {
        let token = tlsedge_admin::load_or_create_token(&cfg.admin.token_file)
            .with_context(|| format!("admin token file {}", cfg.admin.token_file.display()))?;
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

    let show = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
    tracing::info!(node = %cfg.node.name, http = %show(bound.http), https = %show(bound.https), admin = %show(bound.admin), "tlsedge serving");
    match announce {
        Announce::Stdout => {
            println!(
                "tlsedge listening http={} https={} admin={}",
                show(bound.http),
                show(bound.https),
                show(bound.admin)
            );
        }
        Announce::Channel(tx) => {
            let _ = tx.send(bound);
        }
    }

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

    /// The data plane no longer sets TCP_NODELAY on each accepted connection: the listeners
    /// must hand it down. (Nagle on a TLS connection delays small records by up to 40 ms.)
    #[tokio::test]
    async fn accepted_connections_inherit_nodelay_from_the_listener() {
        let listeners = bind_per_thread("https", "127.0.0.1:0", 2).unwrap();
        assert_eq!(listeners.len(), 2);
        let addr = listeners[0].local_addr().unwrap();
        assert_eq!(
            listeners[1].local_addr().unwrap(),
            addr,
            "one port, SO_REUSEPORT"
        );
        let listeners: Vec<TcpListener> = listeners
            .into_iter()
            .map(|l| {
                l.set_nonblocking(true).unwrap();
                TcpListener::from_std(l).unwrap()
            })
            .collect();
        // SO_REUSEPORT spreads connections over both listeners; accept from whichever gets it.
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = tokio::select! {
            a = listeners[0].accept() => a.unwrap(),
            a = listeners[1].accept() => a.unwrap(),
        };
        assert!(accepted.nodelay().unwrap());
    }
}
