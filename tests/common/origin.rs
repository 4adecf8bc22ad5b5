//! Test origins: an HTTP/HTTPS origin that records what it saw and answers with a closure, and a
//! streaming origin whose body waits at a gate the test opens.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;

use super::ca::Leaf;

/// What an origin saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HashMap<String, String>,
    pub sni: Option<String>,
}

/// A test origin: answers every request with `body` (or what `respond` makes) and records it.
pub struct Origin {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub type Respond = Arc<dyn Fn(&Seen) -> Response<Full<Bytes>> + Send + Sync>;

/// Replies `200 {name}` with the request's path, and echoes forwarding headers as `x-echo-*`.
pub fn echo(name: &'static str) -> Respond {
    Arc::new(move |s: &Seen| {
        let mut r = Response::new(Full::new(Bytes::from(format!("{name} {}", s.uri))));
        for h in ["host", "x-forwarded-for", "x-forwarded-proto", "via"] {
            if let Some(v) = s.headers.get(h) {
                r.headers_mut().insert(
                    http::HeaderName::from_bytes(format!("x-echo-{h}").as_bytes()).unwrap(),
                    http::HeaderValue::from_str(v).unwrap(),
                );
            }
        }
        r
    })
}

impl Origin {
    /// A plain-HTTP origin.
    pub async fn http(respond: Respond) -> Origin {
        Self::start(respond, None).await
    }

    /// A TLS origin serving `leaf`; records the SNI it was asked for.
    pub async fn https(respond: Respond, leaf: &Leaf) -> Origin {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Self::start(respond, Some(Arc::new(cfg))).await
    }

    async fn start(respond: Respond, tls: Option<Arc<rustls::ServerConfig>>) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let respond = respond.clone();
                let log = log.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let serve = |sni: Option<String>| {
                        let respond = respond.clone();
                        let log = log.clone();
                        hyper::service::service_fn(move |req: Request<Incoming>| {
                            let s = Seen {
                                method: req.method().to_string(),
                                uri: req.uri().to_string(),
                                headers: req
                                    .headers()
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                                    })
                                    .collect(),
                                sni: sni.clone(),
                            };
                            let resp = respond(&s);
                            log.lock().unwrap().push(s);
                            async move { Ok::<_, Infallible>(resp) }
                        })
                    };
                    match tls {
                        None => {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(tcp), serve(None))
                                .await;
                        }
                        Some(cfg) => {
                            let Ok(stream) = tokio_rustls::TlsAcceptor::from(cfg).accept(tcp).await
                            else {
                                return;
                            };
                            let sni = stream.get_ref().1.server_name().map(str::to_owned);
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), serve(sni))
                                .await;
                        }
                    }
                });
            }
        });
        Origin { addr, seen, task }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A response body fed chunk by chunk through a channel, so an origin can stream slowly.
pub struct ChannelBody(pub tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|c| c.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// A plain-HTTP origin that answers every request with `chunks` as a chunked body (no
/// `Content-Length`): the first chunk at once, the others `every` apart. While the gate is
/// closed (see [`StreamOrigin::gated`]) it stops after the first chunk until [`StreamOrigin::release`].
pub struct StreamOrigin {
    pub addr: SocketAddr,
    gate: tokio::sync::watch::Sender<bool>,
    /// How many responses were started.
    pub started: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StreamOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StreamOrigin {
    /// Streams `chunks` `every` apart, without waiting for a release.
    pub async fn start(chunks: Vec<Bytes>, every: Duration) -> StreamOrigin {
        let o = Self::gated(chunks, every).await;
        o.release();
        o
    }

    /// Sends the first chunk, then waits for [`StreamOrigin::release`] before the others.
    pub async fn gated(chunks: Vec<Bytes>, every: Duration) -> StreamOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (gate, gate_rx) = tokio::sync::watch::channel(false);
        let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = started.clone();
        let chunks = Arc::new(chunks);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let chunks = chunks.clone();
                let gate_rx = gate_rx.clone();
                let count = count.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req: Request<Incoming>| {
                        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let (tx, rx) = tokio::sync::mpsc::channel(chunks.len().max(1));
                        let chunks = chunks.clone();
                        let mut gate_rx = gate_rx.clone();
                        tokio::spawn(async move {
                            for (i, c) in chunks.iter().enumerate() {
                                if i == 1 {
                                    let _ = gate_rx.wait_for(|open| *open).await;
                                }
                                if i > 0 {
                                    tokio::time::sleep(every).await;
                                }
                                if tx.send(c.clone()).await.is_err() {
                                    return;
                                }
                            }
                        });
                        async move { Ok::<_, Infallible>(Response::new(ChannelBody(rx))) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        StreamOrigin {
            addr,
            gate,
            started,
            task,
        }
    }

    /// Lets every response (started or not) send the rest of its chunks.
    pub fn release(&self) {
        self.gate.send_replace(true);
    }
}

/// A gate the test opens: an origin waits at it, so a request stays in flight exactly until the
/// test says so (no sleep guesses how long "in flight" lasts). Clones share one gate.
#[derive(Clone)]
pub struct Gate(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Gate {
    fn default() -> Gate {
        Gate(Arc::new(tokio::sync::watch::channel(false).0))
    }
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Opens the gate for every waiter, present and future.
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    /// Waits until the gate is open (forever if the test never opens it).
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}

/// A plain-HTTP origin that holds every request at a [`Gate`]: it tells the test that a request
/// arrived ([`HeldOrigin::arrived`]), waits until [`HeldOrigin::release`], then answers 200 with
/// `body` (with a `Content-Length`).
pub struct HeldOrigin {
    pub addr: SocketAddr,
    gate: Gate,
    arrivals: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HeldOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HeldOrigin {
    pub async fn start(body: Bytes) -> HeldOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let gate = Gate::new();
        let (arrived_tx, arrivals) = tokio::sync::mpsc::unbounded_channel();
        let g = gate.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (gate, arrived_tx, body) = (g.clone(), arrived_tx.clone(), body.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let _ = arrived_tx.send(req.uri().to_string());
                        let (gate, body) = (gate.clone(), body.clone());
                        async move {
                            gate.wait().await;
                            Ok::<_, Infallible>(Response::new(Full::new(body)))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        HeldOrigin {
            addr,
            gate,
            arrivals: tokio::sync::Mutex::new(arrivals),
            task,
        }
    }

    /// Waits (at most 10 s) for the next request to reach the origin; returns its URI.
    pub async fn arrived(&self) -> String {
        let mut rx = self.arrivals.lock().await;
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("no request reached the held origin within 10 s")
            .expect("the held origin stopped")
    }

    /// Opens the gate: every held request (and every later one) is answered.
    pub fn release(&self) {
        self.gate.open();
    }
}

/// A loopback address that never answers a connection attempt: a listener with a one-slot accept
/// queue that the test fills and never accepts from, so the kernel drops further SYNs and a
/// connect hangs until the connector's own timeout. Keep the returned value alive while it is
/// used.
pub struct Unanswered {
    pub addr: SocketAddr,
    _listener: tokio::net::TcpListener,
    _queued: Vec<tokio::net::TcpStream>,
}

impl Unanswered {
    pub async fn start() -> Unanswered {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        // Connect until one attempt hangs: the accept queue is then full.
        loop {
            assert!(queued.len() < 64, "the accept queue of {addr} never filled");
            match tokio::time::timeout(
                Duration::from_millis(300),
                tokio::net::TcpStream::connect(addr),
            )
            .await
            {
                Ok(Ok(s)) => queued.push(s),
                Ok(Err(e)) => panic!("connect to the filling listener failed: {e}"),
                Err(_) => break,
            }
        }
        Unanswered {
            addr,
            _listener: listener,
            _queued: queued,
        }
    }
}

/// The body type of [`test_origin`] handlers.
pub type OBody = BoxBody<Bytes, Infallible>;

/// A whole body for [`test_origin`] handlers.
pub fn full(s: impl Into<Bytes>) -> OBody {
    Full::new(s.into()).boxed()
}

/// A test origin driven by an async handler; counts TCP connections and requests.
pub struct TestOrigin {
    pub addr: SocketAddr,
    /// TCP connections accepted.
    pub conns: Arc<AtomicUsize>,
    /// Requests received.
    pub requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn test_origin<F, Fut>(handler: F) -> TestOrigin
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<OBody>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let handler = Arc::new(handler);
    let (c, r) = (conns.clone(), requests.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            c.fetch_add(1, SeqCst);
            let handler = handler.clone();
            let r = r.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    r.fetch_add(1, SeqCst);
                    let fut = (*handler)(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    TestOrigin {
        addr,
        conns,
        requests,
        task,
    }
}

/// A loopback port that refuses connections: bound, then released.
pub fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A plain-HTTP origin that answers every request with `response`, bytes as they are (any
/// framing, right or wrong), after reading the request head (and `Content-Length` bytes of
/// body), then closes the connection. Counts the requests it answered and keeps their heads.
pub struct RawOrigin {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    /// The request heads it read, as text.
    pub heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawOrigin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawOrigin {
    pub async fn start(response: impl Into<Bytes>) -> RawOrigin {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let response: Bytes = response.into();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = heads.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (response, count, log) = (response.clone(), count.clone(), log.clone());
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    let head_end = loop {
                        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match tcp.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
                    let body_len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while got.len() < head_end + body_len {
                        match tcp.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    log.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&got[..head_end]).into_owned());
                    count.fetch_add(1, SeqCst);
                    let _ = tcp.write_all(&response).await;
                    let _ = tcp.shutdown().await;
                });
            }
        });
        RawOrigin {
            addr,
            requests,
            heads,
            task,
        }
    }
}
