//! Shared helpers of the end-to-end tests: they run the real `tlsedge` binary on loopback
//! (port 0 everywhere), real origins in the test process, certificates made by rcgen, and real
//! clients (reqwest with rustls, tokio-rustls, curl, openssl).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub const BIN: &str = env!("CARGO_BIN_EXE_tlsedge");

/// Polls `f` until it returns `Some`, or panics after `deadline` with `what`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The node under test

/// A running `tlsedge serve` child process with its own data folder.
pub struct Node {
    pub child: Child,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub admin: SocketAddr,
    pub token: String,
    stderr: Arc<Mutex<String>>,
}

impl Node {
    /// Starts a node in a new temporary folder; `extra` is appended to its config file.
    pub fn start(extra: &str) -> Node {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut n = Node::start_in(&dir, extra);
        n._tmp = Some(tmp);
        n
    }

    /// Starts a node on the data folder `dir` (kept by the caller), e.g. to restart one.
    pub fn start_in(dir: &Path, extra: &str) -> Node {
        Node::start_config(dir, &config_text(dir, "", extra))
    }

    /// Everything the node logged so far.
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The admin API client of this node.
    pub fn api(&self) -> Api {
        Api {
            base: format!("http://{}/api/v1", self.admin),
            token: self.token.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// Sends SIGTERM and waits for the process to exit (bounded).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe_free_kill(self.child.id(), "TERM");
        wait_exit(&mut self.child, Duration::from_secs(40))
    }

    /// SIGTERM from a blocking thread, so the test's runtime keeps serving its own clients
    /// (an HTTP/2 client must answer the node's GOAWAY ping for the node to finish early).
    pub async fn stop(mut self) -> std::process::ExitStatus {
        tokio::task::spawn_blocking(move || self.terminate())
            .await
            .unwrap()
    }

    /// SIGKILL, as a crash.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Takes the temporary folder so it outlives this node (for restarts).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._tmp.take()
    }

    /// A client for the edge that resolves `names` to this node and trusts `ca_pem`.
    pub fn client(&self, ca_pem: &str, names: &[&str]) -> reqwest::Client {
        client_builder(ca_pem, names, self).build().unwrap()
    }

    pub fn https_url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.https.port())
    }

    pub fn http_url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.http.port())
    }
}

/// A node config on loopback port 0 with its files in `dir`; `listen_extra` goes into
/// `[listen]`, `extra` at the end.
pub fn config_text(dir: &Path, listen_extra: &str, extra: &str) -> String {
    format!(
        "[listen]\nhttp = \"127.0.0.1:0\"\nhttps = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n{listen_extra}\n\n\
         [store]\npath = \"{d}/tlsedge.db\"\n\n[secrets]\nmaster_key_file = \"{d}/master.key\"\n\n\
         [admin]\ntoken_file = \"{d}/admin.token\"\n\n{extra}\n",
        d = dir.display()
    )
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal with the `kill` command (the tests forbid unsafe code too).
pub fn unsafe_free_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

pub fn wait_exit(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            start.elapsed() < deadline,
            "process did not exit within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A reqwest builder for the edge: names resolve to the node's listeners, only `ca_pem` is
/// trusted, redirects are not followed.
pub fn client_builder(ca_pem: &str, names: &[&str], node: &Node) -> reqwest::ClientBuilder {
    let mut b = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20));
    for n in names {
        b = b.resolve(n, node.https).resolve(n, node.http);
    }
    b
}

// ---------------------------------------------------------------------------------------------
// The admin API

pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    /// Calls and asserts a 2xx status.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, body).await;
        assert!((200..300).contains(&s), "{method} {path} -> {s}: {v}");
        v
    }

    pub async fn upload_cert(&self, name: &str, cert: &Leaf) -> Value {
        self.ok(
            "POST",
            "/certificates",
            Some(json!({"name": name, "cert_pem": cert.cert_pem, "key_pem": cert.key_pem})),
        )
        .await
    }

    pub async fn add_domain(&self, name: &str, origin: SocketAddr) -> Value {
        self.ok(
            "POST",
            "/domains",
            Some(json!({"name": name, "origins": [{"address": origin.ip().to_string(), "http_port": origin.port(), "https_port": origin.port()}]})),
        )
        .await
    }

    pub async fn enable_https(&self, domain: &str, cert: &str, extra: Value) -> Value {
        let mut body = json!({"enabled": true, "certificate": cert});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.ok("PUT", &format!("/domains/{domain}/https"), Some(body))
            .await
    }

    /// Waits until the node has applied the store's newest revision.
    pub async fn wait_applied(&self) {
        eventually(Duration::from_secs(5), "node applied revision", || async {
            let v = self.ok("GET", "/nodes", None).await;
            let rev = v["revision"].as_u64()?;
            let applied = v["nodes"]
                .as_array()?
                .iter()
                .filter_map(|n| n["applied_revision"].as_u64())
                .max()?;
            (applied >= rev).then_some(())
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates

pub struct TestCa {
    pub params: rcgen::CertificateParams,
    pub key: rcgen::KeyPair,
    pub cert_pem: String,
}

pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
pub enum Alg {
    EcdsaP256,
    EcdsaP384,
    Rsa2048,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            params,
            key,
            cert_pem: cert.pem(),
        }
    }

    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, Alg::EcdsaP256, None)
    }

    /// A leaf for `names` with key algorithm `alg`, valid `from`..`to` (default: now-1d..now+90d).
    pub fn leaf_with(
        &self,
        names: &[&str],
        alg: Alg,
        validity: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
    ) -> Leaf {
        self.make_leaf(names, alg, validity, None)
    }

    /// The one leaf factory: names, key algorithm, validity (default now-1d..now+90d) and an
    /// optional serial number (big-endian bytes).
    fn make_leaf(
        &self,
        names: &[&str],
        alg: Alg,
        validity: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
        serial: Option<&[u8]>,
    ) -> Leaf {
        let key = match alg {
            Alg::EcdsaP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            Alg::EcdsaP384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            Alg::Rsa2048 => rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256),
        }
        .unwrap();
        let mut p =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(
            rcgen::DnType::CommonName,
            names.first().copied().unwrap_or("leaf"),
        );
        p.distinguished_name = dn;
        let now = time::OffsetDateTime::now_utc();
        let (from, to) = validity.unwrap_or((
            now - time::Duration::days(1),
            now + time::Duration::days(90),
        ));
        p.not_before = from;
        p.not_after = to;
        p.serial_number = serial.map(rcgen::SerialNumber::from_slice);
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = p.signed_by(&key, &issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Origins

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

// ---------------------------------------------------------------------------------------------
// Raw TLS

/// The outcome of a handshake made with rustls directly.
#[derive(Debug)]
pub struct Handshake {
    pub version: rustls::ProtocolVersion,
    pub alpn: Option<Vec<u8>>,
    pub leaf_der: Vec<u8>,
}

/// A handshake to `addr` with SNI `sni` (`None`: no SNI is sent), trusting `ca_pem`, offering
/// `versions` and ALPN `alpn`.
pub async fn handshake(
    addr: SocketAddr,
    sni: Option<&str>,
    ca_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> Result<Handshake, String> {
    let mut cfg = test_client_config(ca_pem, versions, alpn);
    let name = match sni {
        Some(s) => rustls_pki_types::ServerName::try_from(s.to_owned()).unwrap(),
        // rustls sends no SNI for an IP address.
        None => rustls_pki_types::ServerName::IpAddress(addr.ip().into()),
    };
    if sni.is_none() {
        cfg.enable_sni = false;
    }
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let tls = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp),
    )
    .await
    .map_err(|_| "handshake timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    let conn = tls.get_ref().1;
    Ok(Handshake {
        version: conn.protocol_version().unwrap(),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        leaf_der: conn.peer_certificates().unwrap()[0].to_vec(),
    })
}

pub const TLS12: &rustls::SupportedProtocolVersion = &rustls::version::TLS12;
pub const TLS13: &rustls::SupportedProtocolVersion = &rustls::version::TLS13;
pub const BOTH: &[&rustls::SupportedProtocolVersion] = &[TLS13, TLS12];

// ---------------------------------------------------------------------------------------------
// Streaming origins, raw TLS streams and openssl (added for tests/tls.rs)

/// A response body fed chunk by chunk through a channel, so an origin can stream slowly.
pub struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

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

/// A rustls client trusting only `ca_pem`, offering `versions` and ALPN `alpn`, never resuming.
pub fn test_client_config(
    ca_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> rustls::ClientConfig {
    test_client_config_with(
        rustls::crypto::aws_lc_rs::default_provider(),
        ca_pem,
        versions,
        alpn,
    )
}

/// [`test_client_config`] with the client's own crypto provider (its cipher suites, say).
pub fn test_client_config_with(
    provider: rustls::crypto::CryptoProvider,
    ca_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> rustls::ClientConfig {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    cfg.resumption = rustls::client::Resumption::disabled();
    cfg
}

/// Like [`handshake`], but returns the established stream, to speak HTTP over it by hand.
pub async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    ca_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let cfg = test_client_config(ca_pem, versions, alpn);
    let name = rustls_pki_types::ServerName::try_from(sni.to_owned()).map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp),
    )
    .await
    .map_err(|_| "handshake timed out".to_owned())?
    .map_err(|e| e.to_string())
}

/// Sends `GET / HTTP/1.1` with `Host: host` and `Connection: close` over `io` and returns the
/// status code and the whole response text (head and body).
pub async fn raw_get<S>(io: &mut S, host: &str, path: &str) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    io.write_all(req.as_bytes()).await.unwrap();
    io.flush().await.unwrap();
    let mut buf = Vec::new();
    // A TLS peer may close without close_notify after `Connection: close`: keep what came.
    let _ = tokio::time::timeout(Duration::from_secs(10), io.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Whether an `openssl` command is on the PATH.
pub fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `openssl s_client -connect {addr} {args…}` with stdin closed (so it ends after the
/// handshake) and the system openssl.cnf ignored (so `-tls1_1` really offers TLS 1.1).
/// Returns whether it succeeded and its stdout+stderr. Blocking: call it via `spawn_blocking`.
pub fn openssl_s_client(addr: SocketAddr, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(addr.to_string())
        .args(args)
        .env("OPENSSL_CONF", "/dev/null")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

// ---------------------------------------------------------------------------------------------
// Chains, serials and digests (tests/admin.rs, tests/cli.rs)

impl TestCa {
    /// An intermediate CA issued by this CA; its `cert_pem` is what a chain appends to a leaf.
    pub fn intermediate(&self, name: &str) -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        TestCa {
            params,
            key,
            cert_pem: cert.pem(),
        }
    }

    /// A leaf like [`TestCa::leaf_with`] (valid now-1d..now+90d) with the serial number
    /// `serial` (big-endian bytes).
    pub fn leaf_with_serial(&self, names: &[&str], alg: Alg, serial: &[u8]) -> Leaf {
        self.make_leaf(names, alg, None, Some(serial))
    }
}

/// SHA-256 of `data` as 64 lowercase hex digits (aws-lc-rs, through rustls's hash provider).
pub fn sha256_hex(data: &[u8]) -> String {
    let suite = rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .unwrap();
    suite
        .common
        .hash_provider
        .hash(data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The base64 body lines of a PEM text (every line but BEGIN/END and headers): what must never
/// show up anywhere when the PEM is a private key.
pub fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----") && !l.contains(':'))
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Nodes with extra `[listen]` keys

impl Node {
    /// Like [`Node::start`], with `listen_extra` (e.g. `https_public_port = 443`) added to the
    /// `[listen]` table, which `extra` cannot reopen.
    pub fn start_with_listen(listen_extra: &str, extra: &str) -> Node {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut n = Node::start_config(&dir, &config_text(&dir, listen_extra, extra));
        n._tmp = Some(tmp);
        n
    }

    /// Writes `text` as `dir/tlsedge.toml` and starts a node on it. The config must listen on
    /// loopback (port 0 is fine) and keep its admin token file at `dir/admin.token`.
    pub fn start_config(dir: &Path, text: &str) -> Node {
        let config = dir.join("tlsedge.toml");
        std::fs::write(&config, text).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("node did not start; log:\n{}", stderr.lock().unwrap());
            }
        };
        let addrs: HashMap<&str, SocketAddr> = line
            .strip_prefix("tlsedge listening ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .split(' ')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k, v.parse().unwrap())
            })
            .collect();
        let token = std::fs::read_to_string(dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_owned();
        Node {
            child,
            dir: dir.to_path_buf(),
            _tmp: None,
            http: addrs["http"],
            https: addrs["https"],
            admin: addrs["admin"],
            token,
            stderr,
        }
    }
}
