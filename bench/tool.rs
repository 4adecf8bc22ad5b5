//! Helpers of `bench/run` that no Debian package provides (built as the `benchtool` example):
//!
//! - `gencerts DIR N SUFFIX`: one CA and N ECDSA P-256 leaf certificates `dNNNNNN.SUFFIX`, as
//!   `DIR/NAME.crt` + `DIR/NAME.key` (the layout `tlsedge import` reads) and `DIR/names.txt`.
//! - `handshakes ADDR NAMES_FILE|NAME CONNS SECS [--no-request]`: full TLS 1.3 handshakes
//!   (X25519, no resumption, SNI picked at random among the names), each followed by one
//!   `GET /1k` with `Connection: close` (or, with `--no-request`, by close_notify and close),
//!   from CONNS concurrent loops for SECS seconds; prints `ops=… errors=… secs=… rate=…`.
//! - `hold ADDR NAME N SECS`: opens N TLS connections, sends one keep-alive request on each,
//!   prints `holding N` once all answered, then keeps them idle for SECS seconds.
//! - `inmem CERT KEY N`: N full TLS 1.3 handshakes between a rustls client and a rustls server
//!   in memory (no sockets, no tokio), the server with tickets and the session cache off as in
//!   the handshake rows; prints the time of the server's calls per handshake (the floor of the stack on
//!   this machine, beside which tlsedge's per-connection figure is read).
//!
//! The client offers only X25519 (as OpenSSL 3.0 clients such as h2load and wrk do) and skips
//! certificate verification (the server's work is what is measured).
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["gencerts", dir, n, suffix] => gencerts(dir, n.parse().unwrap(), suffix),
        ["handshakes", addr, names, conns, secs, rest @ ..] => runtime().block_on(handshakes(
            addr.parse().unwrap(),
            read_names(names),
            conns.parse().unwrap(),
            secs.parse().unwrap(),
            rest.first() != Some(&"--no-request"),
        )),
        ["hold", addr, name, n, secs] => runtime().block_on(hold(
            addr.parse().unwrap(),
            name.to_string(),
            n.parse().unwrap(),
            secs.parse().unwrap(),
        )),
        ["inmem", cert, key, n, rest @ ..] => inmem(
            cert,
            key,
            n.parse().unwrap(),
            rest.first() == Some(&"--aes128"),
        ),
        _ => {
            eprintln!("usage: benchtool gencerts DIR N SUFFIX | handshakes ADDR NAMES_FILE|NAME CONNS SECS | hold ADDR NAME N SECS | inmem CERT KEY N");
            std::process::exit(2);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn read_names(arg: &str) -> Vec<String> {
    match std::fs::read_to_string(arg) {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        Err(_) => vec![arg.to_owned()],
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates

fn gencerts(dir: &str, n: usize, suffix: &str) {
    std::fs::create_dir_all(dir).unwrap();
    // The workspace's one test CA builder; leaves valid a day ago to a year ahead.
    let ca = tlsedge_testkit::TestCa::new("tlsedge bench CA").unwrap();
    std::fs::write(format!("{dir}/ca.pem.txt"), &ca.cert_pem).unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("d{i:06}.{suffix}")).collect();
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let not_after = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    std::thread::scope(|s| {
        for part in names.chunks(n.div_ceil(threads).max(1)) {
            let ca = &ca;
            s.spawn(move || {
                for name in part {
                    let leaf = ca
                        .leaf_with(&[name.as_str()], tlsedge_testkit::Alg::EcdsaP256, |p| {
                            p.not_after = not_after;
                        })
                        .unwrap();
                    std::fs::write(format!("{dir}/{name}.crt"), leaf.cert_pem).unwrap();
                    std::fs::write(format!("{dir}/{name}.key"), leaf.key_pem).unwrap();
                }
            });
        }
    });
    std::fs::write(format!("{dir}/names.txt"), names.join("\n") + "\n").unwrap();
    println!("generated {n} certificates in {dir}");
}

// ---------------------------------------------------------------------------------------------
// In-memory handshakes

fn inmem(cert: &str, key: &str, n: usize, aes128: bool) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::PrivateKeyDer;
    use rustls::{ClientConnection, ServerConfig, ServerConnection};

    let chain = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let mut server = ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    server.send_tls13_tickets = 0;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let server = Arc::new(server);
    let client = client_config(aes128);
    let name = ServerName::try_from("ecdsa.tlsedge.test").unwrap();

    let (mut server_time, mut buf) = (Duration::ZERO, Vec::with_capacity(16 * 1024));
    // Wall time of the server's calls only; run it pinned to an otherwise idle core
    // (`taskset -c 0`), where wall time is CPU time.
    let cpu = Instant::now;
    for _ in 0..n {
        let mut c = ClientConnection::new(client.clone(), name.clone()).unwrap();
        let t = cpu();
        let mut s = ServerConnection::new(server.clone()).unwrap();
        server_time += cpu() - t;
        while c.is_handshaking() || s.is_handshaking() {
            buf.clear();
            while c.wants_write() {
                c.write_tls(&mut buf).unwrap();
            }
            let t = cpu();
            let mut rd = &buf[..];
            while !rd.is_empty() {
                s.read_tls(&mut rd).unwrap();
                s.process_new_packets().unwrap();
            }
            let mut out = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut out).unwrap();
            }
            server_time += cpu() - t;
            let mut rd = &out[..];
            while !rd.is_empty() {
                c.read_tls(&mut rd).unwrap();
                c.process_new_packets().unwrap();
            }
        }
        let t = cpu();
        drop(s);
        server_time += cpu() - t;
    }
    println!(
        "inmem handshakes={n} server_us_per_handshake={:.1}",
        server_time.as_secs_f64() * 1e6 / n as f64
    );
}

// ---------------------------------------------------------------------------------------------
// TLS client

#[derive(Debug)]
struct AcceptAll(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAll {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector() -> TlsConnector {
    TlsConnector::from(client_config(false))
}

/// The benchmark client: TLS 1.3, X25519 only, no resumption, HTTP/1.1, any certificate; with
/// `aes128_only`, TLS_AES_128_GCM_SHA256 as its only suite (rustls lists AES-256 first).
fn client_config(aes128_only: bool) -> Arc<ClientConfig> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
    if aes128_only {
        provider.cipher_suites =
            vec![rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256];
    }
    let provider = Arc::new(provider);
    let mut c = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAll(provider)))
        .with_no_client_auth();
    c.resumption = Resumption::disabled();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

/// One connection: handshake, one request, read the response (until close, or until the end of
/// a 1 KiB body when `keep` is set). Returns the stream when kept.
async fn one(
    tls: &TlsConnector,
    addr: SocketAddr,
    name: &str,
    keep: bool,
) -> std::io::Result<Option<tokio_rustls::client::TlsStream<TcpStream>>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let sni = ServerName::try_from(name.to_owned()).map_err(std::io::Error::other)?;
    let mut s = tls.connect(sni, tcp).await?;
    let req = format!(
        "GET /1k HTTP/1.1\r\nHost: {name}\r\nConnection: {}\r\n\r\n",
        if keep { "keep-alive" } else { "close" }
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut got = Vec::new();
    loop {
        let n = match s.read(&mut buf).await {
            Ok(n) => n,
            // A server that closes without close_notify still answered.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !got.is_empty() => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if keep && complete(&got) {
            break;
        }
    }
    if !got.starts_with(b"HTTP/1.1 200") {
        return Err(std::io::Error::other(format!(
            "unexpected answer: {:?}",
            String::from_utf8_lossy(&got[..got.len().min(80)])
        )));
    }
    Ok(keep.then_some(s))
}

/// A handshake, then close_notify and close: what choosing and using a certificate costs.
async fn handshake_only(tls: &TlsConnector, addr: SocketAddr, name: &str) -> std::io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let sni = ServerName::try_from(name.to_owned()).map_err(std::io::Error::other)?;
    let mut s = tls.connect(sni, tcp).await?;
    s.shutdown().await
}

/// Whether a buffered HTTP/1.1 response with a Content-Length body is complete.
fn complete(got: &[u8]) -> bool {
    let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    got.len() >= end + 4 + len
}

async fn handshakes(addr: SocketAddr, names: Vec<String>, conns: usize, secs: f64, request: bool) {
    let tls = connector();
    let names = Arc::new(names);
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (tls, names, ok, failed, stop) = (
            tls.clone(),
            names.clone(),
            ok.clone(),
            failed.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // xorshift: a cheap per-task random sequence.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ ((i as u64 + 1) * 0x1000_0001);
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let name = &names[(x % names.len() as u64) as usize];
                let r = if request {
                    one(&tls, addr, name, false).await.map(|_| ())
                } else {
                    handshake_only(&tls, addr, name).await
                };
                match r {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("handshake to {name}: {e}");
                        }
                        0
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let done = ok.load(Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "ops={} errors={} secs={elapsed:.3} rate={:.1}",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        done as f64 / elapsed
    );
}

async fn hold(addr: SocketAddr, name: String, n: usize, secs: f64) {
    let tls = connector();
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (tls, name, sem) = (tls.clone(), name.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.ok()?;
            for _ in 0..3 {
                if let Ok(Some(s)) = one(&tls, addr, &name, true).await {
                    return Some(s);
                }
            }
            None
        }));
    }
    let mut held = Vec::with_capacity(n);
    for t in tasks {
        if let Ok(Some(s)) = t.await {
            held.push(s);
        }
    }
    println!("holding {}", held.len());
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    drop(held);
}
