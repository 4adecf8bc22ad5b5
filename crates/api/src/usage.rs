//! `GET /domains/{name}/usage`: requests and bytes of one domain, as this node counted them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tlsedge_model::{DomainName, MinuteUsage};

/// The usage of one domain between `from` and `to`: totals, and the minutes with traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageReport {
    /// The domain.
    pub domain: DomainName,
    /// Start of the window (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: OffsetDateTime,
    /// End of the window (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub to: OffsetDateTime,
    /// Requests in the window.
    pub requests: RequestCounts,
    /// Response body bytes sent to clients in the window.
    pub bytes_sent: u64,
    /// Cache hits and misses (no cache yet: zero).
    pub cache: CacheCounts,
    /// The minutes with traffic, oldest first.
    pub minutes: Vec<UsageMinute>,
}

/// Requests by how they arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestCounts {
    /// Over plain HTTP, redirects and refusals included.
    pub http: u64,
    /// Over TLS (HTTP/1.1 and HTTP/2).
    pub https: u64,
    /// The part of `https` over HTTP/2.
    pub http2: u64,
}

/// Cache lookups by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CacheCounts {
    /// Served from the cache.
    pub hit: u64,
    /// Fetched from the origin.
    pub miss: u64,
}

/// One minute of a [`UsageReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageMinute {
    /// Start of the minute (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub start: OffsetDateTime,
    /// Requests in the minute.
    pub requests: RequestCounts,
    /// Response body bytes sent in the minute.
    pub bytes_sent: u64,
}

impl From<&MinuteUsage> for RequestCounts {
    fn from(m: &MinuteUsage) -> Self {
        Self {
            http: m.http,
            https: m.https,
            http2: m.http2,
        }
    }
}

impl UsageReport {
    /// The report of `domain` over `from..to` from the data plane's per-minute counters: the
    /// totals are their sum, and each counted minute is listed.
    pub fn new(
        domain: DomainName,
        from: OffsetDateTime,
        to: OffsetDateTime,
        minutes: &[MinuteUsage],
    ) -> Self {
        let mut total = MinuteUsage::default();
        let minutes = minutes
            .iter()
            .map(|m| {
                total.add(m);
                let start = i64::try_from(m.minute)
                    .ok()
                    .and_then(|minute| minute.checked_mul(60))
                    .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                UsageMinute {
                    start,
                    requests: m.into(),
                    bytes_sent: m.bytes_sent,
                }
            })
            .collect();
        Self {
            domain,
            from,
            to,
            requests: (&total).into(),
            bytes_sent: total.bytes_sent,
            cache: CacheCounts::default(),
            minutes,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_report_sums_the_minutes_and_keeps_the_contract_shape() {
        let from = OffsetDateTime::from_unix_timestamp(0).unwrap();
        let to = OffsetDateTime::from_unix_timestamp(3600).unwrap();
        let minutes = [
            MinuteUsage {
                minute: 1,
                http: 1,
                https: 2,
                http2: 1,
                bytes_sent: 10,
            },
            MinuteUsage {
                minute: 2,
                http: 0,
                https: 3,
                http2: 0,
                bytes_sent: 5,
            },
        ];
        let r = UsageReport::new(
            DomainName::parse("a.example.com").unwrap(),
            from,
            to,
            &minutes,
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({
                "domain": "a.example.com", "from": "1970-01-01T00:00:00Z", "to": "1970-01-01T01:00:00Z",
                "requests": {"http": 1, "https": 5, "http2": 1}, "bytes_sent": 15,
                "cache": {"hit": 0, "miss": 0},
                "minutes": [
                    {"start": "1970-01-01T00:01:00Z", "requests": {"http": 1, "https": 2, "http2": 1}, "bytes_sent": 10},
                    {"start": "1970-01-01T00:02:00Z", "requests": {"http": 0, "https": 3, "http2": 0}, "bytes_sent": 5}
                ]
            })
        );
    }
}
