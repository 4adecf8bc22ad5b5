use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::LazyConfigAcceptor;

use crate::conn::ConnInfo;
use crate::edge::Edge;
use crate::handler::handle;
use crate::settings::EdgeSettings;
use crate::snapshot::{DomainRuntime, HostBuf};
use crate::tls::HelloRefusal;

/// Tells the listeners to stop accepting and drain. Clone it to every listener; call
/// [`Shutdown::trigger`] once.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        Self {
            tx: Arc::new(tx),
            rx,
        }
    }
}

impl Shutdown {
    /// Starts the shutdown of every listener holding a clone.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Resolves once shutdown has been triggered.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// An accepted client connection, counted in `tlsedge_connections_open` and holding its
/// listener's `max_connections` permit for as long as it lives.
struct OpenConnection {
    edge: Arc<Edge>,
    /// Given back to the listener's limit when the connection ends.
    _permit: OwnedSemaphorePermit,
}

impl OpenConnection {
    fn new(edge: &Arc<Edge>, permit: OwnedSemaphorePermit) -> Self {
        edge.metrics().connections_open.fetch_add(1, Relaxed);
        Self {
            edge: edge.clone(),
            _permit: permit,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.edge.metrics().connections_open.fetch_sub(1, Relaxed);
    }
}

/// The accept loop shared by both listeners: bounded by `max_connections`, stops on shutdown,
/// then waits (bounded by the grace period) for the connections it started to finish.
async fn accept_loop<F, Fut>(
    edge: Arc<Edge>,
    listener: TcpListener,
    limit: Arc<Semaphore>,
    shutdown: Shutdown,
    serve: F,
) where
    F: Fn(TcpStream, std::net::SocketAddr, OpenConnection, Watcher) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.wait() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // The limit is shared by every thread's listener. A thread at the limit holds the one
        // connection it accepted and accepts no more until a slot frees; its other clients wait
        // in the kernel's queue.
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.wait() => break,
        };
        tokio::spawn(serve(
            tcp,
            peer,
            OpenConnection::new(&edge, permit),
            graceful.watcher(),
        ));
    }
    drop(listener);
    let grace = edge.settings().shutdown_grace;
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over with connections still open");
    }
}

/// Serves HTTP/1.1 (and HTTP/2 when ALPN chose it) on an accepted stream until it closes.
///
/// The connection's future is built here and boxed, sized for its protocol only, so the task
/// that holds an idle keep-alive connection carries nothing else.
fn serve_conn<I>(
    edge: &Edge,
    io: I,
    info: Arc<ConnInfo>,
    h2: bool,
    watcher: Watcher,
) -> Pin<Box<dyn Future<Output = ()> + Send>>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let s = edge.settings();
    // Boxed: hyper keeps a slot of the service future's size for the connection's lifetime
    // (HTTP/1.1) even while idle; a box makes that slot one pointer and lives per request.
    let svc = service_fn(move |req: hyper::Request<Incoming>| Box::pin(handle(info.clone(), req)));
    let done = |result: Result<(), hyper::Error>| {
        if let Err(e) = result {
            tracing::debug!(error = %e, "client connection ended with an error");
        }
    };
    if h2 {
        let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        b.timer(TokioTimer::new())
            .max_concurrent_streams(s.max_concurrent_streams)
            .max_header_list_size(s.max_header_bytes.min(u32::MAX as usize) as u32);
        let conn = watcher.watch(b.serve_connection(TokioIo::new(io), svc));
        Box::pin(async move { done(conn.await) })
    } else {
        let mut b = hyper::server::conn::http1::Builder::new();
        b.timer(TokioTimer::new())
            .header_read_timeout(s.client_header_timeout)
            .max_header_size(s.max_header_bytes)
            .max_headers(EdgeSettings::header_field_cap(s.max_header_bytes))
            .max_buf_size(s.max_header_bytes.max(8192) + 8192);
        let conn = watcher.watch(b.serve_connection(TokioIo::new(io), svc));
        Box::pin(async move { done(conn.await) })
    }
}

/// Runs the plain-HTTP listener until `shutdown`.
///
/// Set TCP_NODELAY on the listener: accepted connections inherit it (Linux), and the accept
/// loop does not set it again per connection.
pub async fn serve_http(edge: Arc<Edge>, listener: TcpListener, shutdown: Shutdown) {
    let e = edge.clone();
    accept_loop(
        edge,
        listener,
        e.limits().http.clone(),
        shutdown,
        move |tcp, peer, open, watcher| {
            let edge = e.clone();
            async move {
                let info = Arc::new(ConnInfo::new(edge.clone(), peer, None, false));
                serve_conn(&edge, tcp, info, false, watcher).await;
                drop(open);
            }
        },
    )
    .await;
}

/// Runs the TLS listener until `shutdown`. Each handshake reads the ClientHello first, picks
/// the domain's prebuilt `ServerConfig` by SNI from the current snapshot, and only then lets
/// rustls continue; no SNI or an unknown name ends in the fatal alert `unrecognized_name`. As
/// for [`serve_http`], the listener should carry TCP_NODELAY.
pub async fn serve_https(edge: Arc<Edge>, listener: TcpListener, shutdown: Shutdown) {
    let e = edge.clone();
    accept_loop(
        edge,
        listener,
        e.limits().https.clone(),
        shutdown,
        move |tcp, peer, open, watcher| {
            let edge = e.clone();
            async move {
                // The handshake runs in its own allocation and hands back the boxed connection
                // future: the task an idle connection keeps holds two pointers, not the
                // handshake's state (rustc keeps a handshake result bound across an await in
                // the task's own state otherwise).
                let conn = Box::pin(start_tls(edge, tcp, peer, watcher)).await;
                if let Some(conn) = conn {
                    conn.await;
                }
                drop(open);
            }
        },
    )
    .await;
}

/// Completes the TLS handshake (bounded by the handshake timeout) and returns the connection's
/// HTTP future, or `None` when the handshake failed.
async fn start_tls(
    edge: Arc<Edge>,
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    watcher: Watcher,
) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> {
    let timeout = edge.settings().handshake_timeout;
    let (tls, sni_domain) = match tokio::time::timeout(timeout, handshake(&edge, tcp)).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            edge.metrics().handshakes_failed.fetch_add(1, Relaxed);
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return None;
        }
        Err(_) => {
            edge.metrics().handshakes_failed.fetch_add(1, Relaxed);
            tracing::debug!(%peer, "TLS handshake timed out");
            return None;
        }
    };
    edge.metrics().handshakes.fetch_add(1, Relaxed);
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let info = Arc::new(ConnInfo::new(edge.clone(), peer, Some(sni_domain), h2));
    Some(serve_conn(&edge, tls, info, h2, watcher))
}

/// Reads the ClientHello, picks the SNI's domain from the current snapshot and completes the
/// handshake with that domain's config. Returns the stream and the domain it was made for.
///
/// A ClientHello that `tls::judge_hello` refuses (no SNI, an unknown name, a fallback to
/// TLS 1.2 where the domain serves 1.3) gets its fatal alert and an error naming it.
async fn handshake(
    edge: &Arc<Edge>,
    tcp: TcpStream,
) -> std::io::Result<(
    tokio_rustls::server::TlsStream<TcpStream>,
    Arc<DomainRuntime>,
)> {
    let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
    let judged = {
        let hello = start.client_hello();
        let offered = hello.cipher_suites();
        let chacha = crate::tls::prefers_chacha(offered);
        let snapshot = edge.snapshot();
        let mut buf = HostBuf::default();
        let found = hello
            .server_name()
            .and_then(|sni| buf.lowercase(sni))
            .and_then(|sni| snapshot.tls_domain(sni, chacha));
        let versions = found
            .as_ref()
            .map(|(d, _)| d.config.https.tls_versions.as_slice());
        crate::tls::judge_hello(offered, versions).map(|()| found)
    };
    match judged {
        Ok(Some((domain, config))) => {
            let stream = start.into_stream(config).await?;
            Ok((stream, domain))
        }
        Ok(None) => Err(refuse_hello(edge, start.io, HelloRefusal::UnrecognizedName).await),
        Err(refusal) => Err(refuse_hello(edge, start.io, refusal).await),
    }
}

/// Ends a handshake with `refusal`'s fatal alert, in place of a ServerHello, and closes the
/// connection. Returns the error that reports it (the refusal is the expected outcome; a
/// failed write only changes the error).
async fn refuse_hello(edge: &Edge, mut io: TcpStream, refusal: HelloRefusal) -> std::io::Error {
    use tokio::io::AsyncWriteExt;
    if refusal == HelloRefusal::UnrecognizedName {
        edge.metrics().handshakes_rejected_sni.fetch_add(1, Relaxed);
    }
    let sent = async {
        io.write_all(&refusal.record()).await?;
        io.shutdown().await
    }
    .await;
    match sent {
        Ok(()) => std::io::Error::other(format!("refused with the alert {:?}", refusal.alert())),
        Err(e) => e,
    }
}
