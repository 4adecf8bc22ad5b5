use std::net::SocketAddr;
use std::sync::Arc;

use http::HeaderValue;

use crate::edge::Edge;
use crate::policy::Transport;
use crate::snapshot::DomainRuntime;

/// What a request handler knows about the connection it came on. Built once per connection.
pub(crate) struct ConnInfo {
    /// The data plane the connection belongs to.
    pub(crate) edge: Arc<Edge>,
    /// The client's address as an `X-Forwarded-For` entry.
    pub(crate) client_ip: HeaderValue,
    /// For a TLS connection, the domain its handshake was made for.
    pub(crate) tls: Option<Arc<DomainRuntime>>,
    /// Whether the connection speaks HTTP/2 (ALPN chose `h2`).
    pub(crate) http2: bool,
}

impl ConnInfo {
    /// A connection from `peer`, over TLS for the domain `tls` when it is `Some`, speaking
    /// HTTP/2 when `http2`.
    pub(crate) fn new(
        edge: Arc<Edge>,
        peer: SocketAddr,
        tls: Option<Arc<DomainRuntime>>,
        http2: bool,
    ) -> Self {
        let client_ip = HeaderValue::from_str(&peer.ip().to_string())
            .unwrap_or(HeaderValue::from_static("unknown"));
        Self {
            edge,
            client_ip,
            tls,
            http2,
        }
    }

    /// The connection as the policy sees it.
    pub(crate) fn transport(&self) -> Transport<'_> {
        match &self.tls {
            Some(sni) => Transport::Tls {
                sni,
                http2: self.http2,
            },
            None => Transport::Plain,
        }
    }
}
