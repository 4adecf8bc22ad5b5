use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What makes two origin connections interchangeable: the same address and port, and for TLS
/// the same SNI and client config. Domains that share an origin share its connections (the Host
/// header travels with each request), so a node with many domains in front of one origin
/// cluster keeps a few warm connections instead of one set per domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) address: Arc<str>,
    pub(crate) port: u16,
    pub(crate) tls: Option<TlsTarget>,
}

/// The TLS part of a [`PoolKey`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TlsTarget {
    pub(crate) sni: Arc<str>,
    /// The client config, by identity (configs are built per domain only for a private CA).
    pub(crate) config: ConfigId,
}

/// A client config compared by identity.
#[derive(Clone, Debug)]
pub(crate) struct ConfigId(pub(crate) Arc<ClientConfig>);

impl PartialEq for ConfigId {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ConfigId {}

impl std::hash::Hash for ConfigId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state);
    }
}

struct Idle {
    tx: SendRequest<Incoming>,
    since: Instant,
}

#[derive(Default)]
struct Idles {
    by_key: HashMap<PoolKey, Vec<Idle>>,
    /// Returns since the last sweep of dead and expired entries.
    since_sweep: usize,
}

thread_local! {
    /// Idle keep-alive connections of this thread. Each data-plane thread runs its own runtime,
    /// and a connection's driver runs where it was made: keeping the pool per thread keeps
    /// every request on one thread and takes no lock shared between threads.
    static IDLE: RefCell<Idles> = RefCell::default();
}

/// How often returns sweep the whole pool for closed, expired or forgotten entries.
const SWEEP_EVERY: usize = 1024;

/// A pooled connection to `key` that is still open and idle, newest first.
pub(crate) fn checkout(key: &PoolKey, idle_timeout: Duration) -> Option<SendRequest<Incoming>> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.by_key.get_mut(key)?;
        while let Some(i) = list.pop() {
            if i.since.elapsed() < idle_timeout && i.tx.is_ready() && !i.tx.is_closed() {
                return Some(i.tx);
            }
        }
        None
    })
}

fn push(key: PoolKey, tx: SendRequest<Incoming>, max_idle: usize, idle_timeout: Duration) {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        idle.since_sweep += 1;
        if idle.since_sweep >= SWEEP_EVERY {
            idle.since_sweep = 0;
            idle.by_key.retain(|_, list| {
                list.retain(|i| i.since.elapsed() < idle_timeout && !i.tx.is_closed());
                !list.is_empty()
            });
        }
        let list = idle.by_key.entry(key).or_default();
        list.retain(|i| !i.tx.is_closed());
        if list.len() < max_idle {
            list.push(Idle {
                tx,
                since: Instant::now(),
            });
        }
    });
}

/// An origin connection that goes back to the pool when the response body it carries has been
/// read to the end (and is closed with the body when the client goes away before that).
pub(crate) struct Returning {
    pub(crate) key: PoolKey,
    pub(crate) tx: SendRequest<Incoming>,
    pub(crate) max_idle: usize,
    pub(crate) idle_timeout: Duration,
}

impl Returning {
    /// Pools the connection: at once when hyper already reports it ready (the usual case when
    /// the body has just been read to its end), else once it becomes ready.
    pub(crate) fn done(self) {
        let Returning {
            key,
            mut tx,
            max_idle,
            idle_timeout,
        } = self;
        if tx.is_ready() {
            push(key, tx, max_idle, idle_timeout);
            return;
        }
        tokio::spawn(async move {
            if tx.ready().await.is_ok() {
                push(key, tx, max_idle, idle_timeout);
            }
        });
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
    key: &PoolKey,
    deadline: Duration,
) -> Result<SendRequest<Incoming>, ConnectError> {
    let tls = key.tls.as_ref().map(|t| (&t.config.0, &*t.sni));
    tokio::time::timeout(deadline, connect_inner(&key.address, key.port, tls))
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
