use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::body::RequestBody;
use crate::settings::EdgeSettings;

/// hyper's default read buffer limit for origin connections, kept as the floor.
const MIN_READ_BUF: usize = 8192 + 4096 * 100;

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
    tx: SendRequest<RequestBody>,
    since: Instant,
    /// How long it may stay idle: the domain's `origin_idle_secs`, or [`SURPLUS_LINGER`] for
    /// a connection above `origin_idle_per_host`.
    keep: Duration,
    surplus: bool,
}

impl Idle {
    fn usable(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.since) < self.keep && !self.tx.is_closed()
    }
}

#[derive(Default)]
struct Idles {
    by_key: HashMap<PoolKey, Vec<Idle>>,
    /// Returns since the last sweep of dead and expired entries.
    since_sweep: usize,
    /// Whether this thread has a task that drops surplus connections once they expire.
    reaper: bool,
}

impl Idles {
    /// Drops closed and expired entries; tells whether surplus entries remain.
    fn expire(&mut self, now: Instant) -> bool {
        let mut surplus = false;
        self.by_key.retain(|_, list| {
            list.retain(|i| i.usable(now));
            surplus |= list.iter().any(|i| i.surplus);
            !list.is_empty()
        });
        surplus
    }
}

thread_local! {
    /// Idle keep-alive connections of this thread. Each data-plane thread runs its own runtime,
    /// and a connection's driver runs where it was made: keeping the pool per thread keeps
    /// every request on one thread and takes no lock shared between threads.
    static IDLE: RefCell<Idles> = RefCell::default();
}

/// How often returns sweep the whole pool for closed, expired or forgotten entries.
const SWEEP_EVERY: usize = 1024;

/// A pool keeps up to `origin_idle_per_host` idle connections per origin for
/// `origin_idle_secs`, and up to this many times as many for [`SURPLUS_LINGER`]. Under a burst
/// (many requests in flight, say HTTP/2 clients with many streams) connections come back while
/// the pool is full and are needed again a moment later: closing them at the cap and opening new
/// ones cost 18% of the edge's CPU in the HTTP/2 benchmark (each a TCP handshake for both
/// sides, and a TLS handshake with an HTTPS origin). The surplus is bounded and short-lived.
const SURPLUS_FACTOR: usize = 4;

/// How long a connection above `origin_idle_per_host` is kept idle.
pub(crate) const SURPLUS_LINGER: Duration = Duration::from_secs(1);

/// A pooled connection to `key` that is still open and idle, newest first.
pub(crate) fn checkout(key: &PoolKey, now: Instant) -> Option<SendRequest<RequestBody>> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let list = idle.by_key.get_mut(key)?;
        while let Some(i) = list.pop() {
            if i.usable(now) && i.tx.is_ready() {
                return Some(i.tx);
            }
        }
        None
    })
}

fn push(
    key: PoolKey,
    tx: SendRequest<RequestBody>,
    max_idle: usize,
    idle_timeout: Duration,
    now: Instant,
) {
    let surplus = IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        idle.since_sweep += 1;
        if idle.since_sweep >= SWEEP_EVERY {
            idle.since_sweep = 0;
            idle.expire(now);
        }
        let list = idle.by_key.entry(key).or_default();
        list.retain(|i| !i.tx.is_closed());
        let (keep, surplus) = if list.len() < max_idle {
            (idle_timeout, false)
        } else if list.len() < max_idle.saturating_mul(SURPLUS_FACTOR) {
            (SURPLUS_LINGER.min(idle_timeout), true)
        } else {
            return false; // dropped: the connection closes
        };
        list.push(Idle {
            tx,
            since: now,
            keep,
            surplus,
        });
        let start = surplus && !idle.reaper;
        if start {
            idle.reaper = true;
        }
        start
    });
    if surplus {
        start_reaper();
    }
}

/// Spawns this thread's reaper: it wakes every [`SURPLUS_LINGER`] and drops expired entries
/// until no surplus connection is left, so a burst's surplus closes about a second after the
/// burst even when no request follows it.
fn start_reaper() {
    if tokio::runtime::Handle::try_current().is_err() {
        IDLE.with(|idle| idle.borrow_mut().reaper = false);
        return;
    }
    tokio::spawn(async {
        loop {
            tokio::time::sleep(SURPLUS_LINGER).await;
            let more = IDLE.with(|idle| {
                let mut idle = idle.borrow_mut();
                let more = idle.expire(Instant::now());
                if !more {
                    idle.reaper = false;
                }
                more
            });
            if !more {
                break;
            }
        }
    });
}

/// An origin connection that goes back to the pool when the response body it carries has been
/// read to the end (and is closed with the body when the client goes away before that).
pub(crate) struct Returning {
    pub(crate) key: PoolKey,
    pub(crate) tx: SendRequest<RequestBody>,
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
            push(key, tx, max_idle, idle_timeout, Instant::now());
            return;
        }
        tokio::spawn(async move {
            if tx.ready().await.is_ok() {
                push(key, tx, max_idle, idle_timeout, Instant::now());
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
///
/// A response head over `max_head` bytes is refused ("message head is too large"); the number
/// of its fields is capped only at [`EdgeSettings::header_field_cap`].
pub(crate) async fn connect(
    key: &PoolKey,
    deadline: Duration,
    max_head: usize,
) -> Result<SendRequest<RequestBody>, ConnectError> {
    let tls = key.tls.as_ref().map(|t| (&t.config.0, &*t.sni));
    tokio::time::timeout(
        deadline,
        connect_inner(&key.address, key.port, tls, max_head),
    )
    .await
    .map_err(|_| ConnectError::Timeout)?
}

async fn connect_inner(
    address: &str,
    port: u16,
    tls: Option<(&Arc<ClientConfig>, &str)>,
    max_head: usize,
) -> Result<SendRequest<RequestBody>, ConnectError> {
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
    let (tx, conn) = http1::Builder::new()
        .max_header_size(max_head)
        .max_headers(EdgeSettings::header_field_cap(max_head))
        // hyper's read buffer (about 400 KB by default) must hold the largest head allowed.
        .max_buf_size(max_head.saturating_add(8192).max(MIN_READ_BUF))
        .handshake(TokioIo::new(io))
        .await?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(port: u16) -> PoolKey {
        PoolKey {
            address: Arc::from("127.0.0.1"),
            port,
            tls: None,
        }
    }

    /// A ready client connection over an in-memory pipe (the far end is returned to keep it
    /// open).
    async fn sender() -> (SendRequest<RequestBody>, tokio::io::DuplexStream) {
        let (near, far) = tokio::io::duplex(4096);
        let (mut tx, conn) = http1::handshake::<_, RequestBody>(TokioIo::new(near))
            .await
            .unwrap();
        tokio::spawn(conn);
        tx.ready().await.unwrap();
        (tx, far)
    }

    fn idle_count(key: &PoolKey) -> (usize, usize) {
        IDLE.with(|idle| {
            idle.borrow().by_key.get(key).map_or((0, 0), |l| {
                (
                    l.iter().filter(|i| !i.surplus).count(),
                    l.iter().filter(|i| i.surplus).count(),
                )
            })
        })
    }

    /// Up to `max_idle` connections stay for the idle timeout, up to four times as many for
    /// about a second, and more are closed; checkout takes the newest usable one and drops
    /// what has expired on the way.
    #[tokio::test]
    async fn surplus_above_the_idle_cap_is_kept_briefly() {
        let k = key(1);
        let t0 = Instant::now();
        let mut far_ends = Vec::new();
        for _ in 0..10 {
            let (tx, far) = sender().await;
            far_ends.push(far);
            push(k.clone(), tx, 2, Duration::from_secs(60), t0);
        }
        assert_eq!(idle_count(&k), (2, 6), "2 kept, 6 surplus, 2 closed");

        // Within the linger every one is usable: the newest (a surplus one) comes first.
        assert!(checkout(&k, t0 + Duration::from_millis(10)).is_some());
        assert_eq!(idle_count(&k), (2, 5));
        // After it the surplus has expired: checkout drops it and returns a kept one.
        assert!(checkout(&k, t0 + SURPLUS_LINGER + Duration::from_millis(1)).is_some());
        assert_eq!(idle_count(&k), (1, 0));
        // After the idle timeout nothing is usable.
        assert!(checkout(&k, t0 + Duration::from_secs(61)).is_none());
        assert_eq!(idle_count(&k), (0, 0));
    }

    /// With no request after a burst, the thread's reaper closes the surplus about a second
    /// later and keeps the connections under the cap.
    #[tokio::test]
    async fn the_reaper_closes_the_surplus_without_traffic() {
        let k = key(2);
        let mut far_ends = Vec::new();
        for _ in 0..5 {
            let (tx, far) = sender().await;
            far_ends.push(far);
            push(k.clone(), tx, 2, Duration::from_secs(60), Instant::now());
        }
        assert_eq!(idle_count(&k), (2, 3));
        let deadline = Instant::now() + 10 * SURPLUS_LINGER;
        while idle_count(&k) != (2, 0) {
            assert!(
                Instant::now() < deadline,
                "surplus still pooled: {:?}",
                idle_count(&k)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            !IDLE.with(|idle| idle.borrow().reaper),
            "the reaper stops when done"
        );
    }
}
