use serde::{Deserialize, Serialize};

/// Requests and bytes of one domain in one minute, as the edge counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MinuteUsage {
    /// The minute, as Unix seconds divided by 60.
    pub minute: u64,
    /// Requests over plain HTTP, redirects and refusals included.
    pub http: u64,
    /// Requests over TLS (HTTP/1.1 and HTTP/2).
    pub https: u64,
    /// The part of `https` that came over HTTP/2.
    pub http2: u64,
    /// Response body bytes sent to clients.
    pub bytes_sent: u64,
}

impl MinuteUsage {
    /// Adds another count to this one.
    pub fn add(&mut self, o: &MinuteUsage) {
        // Saturating: a sum of counters must not panic in a debug build, however long it ran.
        self.http = self.http.saturating_add(o.http);
        self.https = self.https.saturating_add(o.https);
        self.http2 = self.http2.saturating_add(o.http2);
        self.bytes_sent = self.bytes_sent.saturating_add(o.bytes_sent);
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.http == 0 && self.https == 0 && self.http2 == 0 && self.bytes_sent == 0
    }
}
