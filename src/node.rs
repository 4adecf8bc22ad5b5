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

    let http = bind("http", &cfg.listen.http).await?;
    let https = bind("https", &cfg.listen.https).await?;
    let admin = bind("admin", &cfg.listen.admin).await?;
    let bound = Bound {
        http: http.as_ref().and_then(|l| l.local_addr().ok()),
        https: https.as_ref().and_then(|l| l.local_addr().ok()),
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
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(l) = http {
        tasks.spawn(tlsedge_edge::serve_http(edge.clone(), l, shutdown.clone()));
    }
    if let Some(l) = https {
        tasks.spawn(tlsedge_edge::serve_https(edge.clone(), l, shutdown.clone()));
    }
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
    let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    tracing::info!("stopped");
    Ok(())
}
