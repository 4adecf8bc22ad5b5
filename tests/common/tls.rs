//! TLS clients that are not reqwest: rustls handshakes reporting version, ALPN and leaf,
//! raw TLS streams to speak HTTP by hand, and `openssl s_client`.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

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

/// Panics unless `openssl` runs, naming its Debian package (see [`super::require_tool`]).
pub fn require_openssl() {
    super::require_tool("openssl", &["version"], "openssl");
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
