use std::time::Duration;

/// Limits and timeouts of the data plane, fixed at start.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// Port put in redirects to HTTPS (omitted from the URL when 443).
    pub https_public_port: u16,
    /// Port put in redirects to HTTP (omitted from the URL when 80).
    pub http_public_port: u16,
    /// TLS handshake, from accept to finished.
    pub handshake_timeout: Duration,
    /// Reading a request head from a client.
    pub client_header_timeout: Duration,
    /// Connecting to an origin, TCP and TLS together.
    pub origin_connect_timeout: Duration,
    /// From sending a request to the origin's response head.
    pub origin_response_timeout: Duration,
    /// How long an idle pooled origin connection is kept.
    pub origin_idle_timeout: Duration,
    /// Idle keep-alive connections kept per origin and scheme.
    pub origin_idle_per_host: usize,
    /// Open client connections per listener.
    pub max_connections: usize,
    /// Largest request head in bytes (HTTP/1 head, HTTP/2 header list): over it, 431.
    pub max_header_bytes: usize,
    /// Largest origin response head in bytes: over it, 502.
    pub max_response_header_bytes: usize,
    /// Concurrent HTTP/2 streams per client connection.
    pub max_concurrent_streams: u32,
    /// How long in-flight requests may run after shutdown starts.
    pub shutdown_grace: Duration,
    /// The `Via` pseudonym of this node.
    pub via_name: String,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        Self {
            https_public_port: 443,
            http_public_port: 80,
            handshake_timeout: Duration::from_secs(10),
            client_header_timeout: Duration::from_secs(30),
            origin_connect_timeout: Duration::from_secs(5),
            origin_response_timeout: Duration::from_secs(60),
            origin_idle_timeout: Duration::from_secs(60),
            origin_idle_per_host: 64,
            max_connections: 50_000,
            max_header_bytes: 64 * 1024,
            max_response_header_bytes: 256 * 1024,
            max_concurrent_streams: 128,
            shutdown_grace: Duration::from_secs(30),
            via_name: "tlsedge".into(),
        }
    }
}

impl EdgeSettings {
    /// How many field lines an HTTP/1 head of at most `bytes` may have. Heads are limited by
    /// size; hyper also caps their field count (100 by default: 101 short request headers got
    /// 431, an origin's 150 `Set-Cookie` lines 502). The cap is raised out of the way, to one
    /// field per 64 bytes of the size limit and never below 1,000, where the size limit binds
    /// first for any real head. (hyper allocates the cap's room per head, 64 bytes a field,
    /// so it is not unbounded.)
    pub fn header_field_cap(bytes: usize) -> usize {
        (bytes / 64).max(1000)
    }
}
