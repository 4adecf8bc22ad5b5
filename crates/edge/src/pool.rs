use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Which connection a request may reuse: the origin (by index in the domain's list) and
/// whether it is TLS.
pub(crate) type PoolKey = (usize, bool);

/// Keep-alive HTTP/1.1 connections to one domain's origins.
///
/// A connection is checked out for one request and comes back when its response body has been
/// read to the end and hyper says it is ready for the next request. The lock is held only
/// to push or pop a handle, never across I/O.
pub(crate) struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<Idle>>>,
    max_idle: usize,
    idle_timeout: Duration,
}

struct Idle {
    tx: SendRequest<Incoming>,
    since: Instant,
}

impl Pool {
    pub(crate) fn new(max_idle: usize, idle_timeout: Duration) -> Self {
        Self {
            idle: Mutex::new(HashMap::new()),
            max_idle,
            idle_timeout,
        }
    }

    /// A pooled connection that is still open and idle, newest first.
    pub(crate) fn checkout(&self, key: PoolKey) -> Option<SendRequest<Incoming>> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(&key)?;
        while let Some(i) = list.pop() {
            if i.since.elapsed() < self.idle_timeout && i.tx.is_ready() && !i.tx.is_closed() {
                return Some(i.tx);
            }
        }
        None
    }

    /// Returns `tx` to the pool: at once when hyper already reports it ready (the usual case
    /// when the response body has just been read to its end), else once it becomes ready.
    pub(crate) fn give_back(self: &Arc<Self>, key: PoolKey, mut tx: SendRequest<Incoming>) {
        if tx.is_ready() {
            self.push(key, tx);
            return;
        }
        let pool = Arc::downgrade(self);
        tokio::spawn(async move {
            if tx.ready().await.is_err() {
                return;
            }
            if let Some(pool) = pool.upgrade() {
                pool.push(key, tx);
            }
        });
    }

    fn push(&self, key: PoolKey, tx: SendRequest<Incoming>) {
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        let list = idle.entry(key).or_default();
        list.retain(|i| !i.tx.is_closed());
        if list.len() < self.max_idle {
            list.push(Idle {
                tx,
                since: Instant::now(),
            });
        }
    }
}

/// An origin connection that goes back to its pool when the response body it carries has been
/// read to the end (and is closed with the body when the client goes away before that).
pub(crate) struct Returning {
    pub(crate) pool: Arc<Pool>,
    pub(crate) key: PoolKey,
    pub(crate) tx: SendRequest<Incoming>,
}

impl Returning {
    pub(crate) fn done(self) {
        self.pool.give_back(self.key, self.tx);
    }
}

/// Why a connection to an origin could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("connect timed out")]
    Timeout,
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("http handshake: {0}")]
    Http(#[from] hyper::Error),
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

/// Opens a new HTTP/1.1 connection to `address:port`, over TLS when `tls` is given, and spawns
/// its driver. The whole connect (resolve, TCP, TLS) shares one deadline.
pub(crate) async fn connect(
    address: &str,
    port: u16,
    tls: Option<(&Arc<ClientConfig>, &str)>,
    deadline: Duration,
) -> Result<SendRequest<Incoming>, ConnectError> {
    tokio::time::timeout(deadline, connect_inner(address, port, tls))
        .await
        .map_err(|_| ConnectError::Timeout)?
}

async fn connect_inner(
    address: &str,
    port: u16,
    tls: Option<(&Arc<ClientConfig>, &str)>,
) -> Result<SendRequest<Incoming>, ConnectError> {
    let host = address.trim_start_matches('[').trim_end_matches(']');
    let tcp = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => TcpStream::connect((ip, port)).await?,
        Err(_) => {
            let mut last = None;
            let mut stream = None;
            let addrs = tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| ConnectError::Resolve(host.to_owned()))?;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(s) => {
                        stream = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            match (stream, last) {
                (Some(s), _) => s,
                (None, Some(e)) => return Err(e.into()),
                (None, None) => return Err(ConnectError::Resolve(host.to_owned())),
            }
        }
    };
    tcp.set_nodelay(true)?;
    let io = match tls {
        None => OriginStream::Plain(tcp),
        Some((config, sni)) => {
            let sni = sni.trim_start_matches('[').trim_end_matches(']');
            let name = ServerName::try_from(sni.to_owned())
                .map_err(|_| ConnectError::ServerName(sni.to_owned()))?;
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await?;
            OriginStream::Tls(Box::new(stream))
        }
    };
    let (tx, conn) = http1::Builder::new().handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "origin connection ended");
        }
    });
    Ok(tx)
}

/// A connection to an origin, plain or TLS.
enum OriginStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for OriginStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for OriginStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
