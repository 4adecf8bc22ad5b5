use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Process-wide counters of the data plane, exported in Prometheus text format.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) requests_http: AtomicU64,
    pub(crate) requests_https: AtomicU64,
    pub(crate) requests_http2: AtomicU64,
    pub(crate) handshakes: AtomicU64,
    pub(crate) handshakes_failed: AtomicU64,
    pub(crate) handshakes_rejected_sni: AtomicU64,
    pub(crate) origin_errors: AtomicU64,
    /// Requests refused for their own body: malformed, cut short, or not sent in time.
    pub(crate) client_errors: AtomicU64,
    pub(crate) origin_timeouts: AtomicU64,
    pub(crate) connections_open: AtomicU64,
}

impl Metrics {
    /// The counters as Prometheus text.
    pub fn render(&self, out: &mut String) {
        let rows: [(&str, &str, &AtomicU64, &str); 10] = [
            (
                "tlsedge_requests_total",
                "counter",
                &self.requests_http,
                "scheme=\"http\"",
            ),
            (
                "tlsedge_requests_total",
                "counter",
                &self.requests_https,
                "scheme=\"https\"",
            ),
            (
                "tlsedge_requests_http2_total",
                "counter",
                &self.requests_http2,
                "",
            ),
            (
                "tlsedge_tls_handshakes_total",
                "counter",
                &self.handshakes,
                "",
            ),
            (
                "tlsedge_tls_handshake_failures_total",
                "counter",
                &self.handshakes_failed,
                "",
            ),
            (
                "tlsedge_tls_unknown_sni_total",
                "counter",
                &self.handshakes_rejected_sni,
                "",
            ),
            (
                "tlsedge_origin_errors_total",
                "counter",
                &self.origin_errors,
                "",
            ),
            (
                "tlsedge_client_errors_total",
                "counter",
                &self.client_errors,
                "",
            ),
            (
                "tlsedge_origin_timeouts_total",
                "counter",
                &self.origin_timeouts,
                "",
            ),
            (
                "tlsedge_connections_open",
                "gauge",
                &self.connections_open,
                "",
            ),
        ];
        let mut last = "";
        for (name, kind, v, labels) in rows {
            if name != last {
                let _ = writeln!(out, "# TYPE {name} {kind}");
                last = name;
            }
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {}", v.load(Relaxed));
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {}", v.load(Relaxed));
            }
        }
    }
}
