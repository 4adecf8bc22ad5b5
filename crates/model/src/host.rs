//! Where an origin is reached: a host (DNS name or IP address), a host with an optional port
//! (the `Host` header sent to the origin), and the `HOST[:PORT]` argument of the CLI and
//! `tlsedge import`.
//!
//! Each keeps the text as it was written (so the JSON on the wire and in the store is what the
//! operator sent) and is checked once, when it is parsed.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ValidationError;
use crate::names::host_of;

/// A host name (letters, digits, `-`, `_` and `.`, labels of 1 to 63 characters) or an IP
/// address (v4, or v6 with or without brackets), as written. At most 253 characters.
///
/// The data plane connects to it and uses it as the default SNI, so it is kept verbatim:
/// `[::1]` stays bracketed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "10.0.0.5")]
pub struct Host(String);

impl Host {
    /// Parses a host name or an IP address. `None` when it is neither.
    pub fn parse(input: &str) -> Option<Self> {
        valid_host_or_ip(input).then(|| Self(input.to_owned()))
    }

    /// The host as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The IP address, when the host is one (brackets removed).
    pub fn ip(&self) -> Option<IpAddr> {
        unbracketed(&self.0).parse().ok()
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Host {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Host {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            ValidationError::carry(ValidationError::new(
                crate::ErrorCode::InvalidRequest,
                None,
                format!("invalid host {s:?}: expected a host name or an IP address"),
            ))
        })
    }
}

/// A host with an optional port (`origin.example:8080`, `[::1]:8443`, `10.0.0.5`), as written:
/// the value of a `Host` header. The port, when present, is not checked beyond being digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "backend.internal:8080")]
pub struct Authority(String);

impl Authority {
    /// Parses `HOST` or `HOST:PORT` where HOST is a [`Host`]. `None` otherwise.
    pub fn parse(input: &str) -> Option<Self> {
        valid_host_or_ip(host_of(input)).then(|| Self(input.to_owned()))
    }

    /// The authority as written (what the `Host` header carries).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host, without the port (`[::1]` keeps its brackets).
    pub fn host(&self) -> &str {
        host_of(&self.0)
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Authority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            ValidationError::carry(ValidationError::new(
                crate::ErrorCode::InvalidRequest,
                None,
                format!("invalid host {s:?}: expected HOST or HOST:PORT"),
            ))
        })
    }
}

/// A `HOST[:PORT]` command-line argument naming an origin: `HOST`, `HOST:PORT`, `[IPV6]`,
/// `[IPV6]:PORT` or a bare IPv6 address. An IPv6 host is kept without brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// The host.
    pub host: Host,
    /// The port (1 to 65535), or the default given to [`parse`](Self::parse).
    pub port: u16,
}

impl HostPort {
    /// Parses the argument; `default_port` applies when it names none. The error is a sentence
    /// that quotes the argument (an address, never a secret).
    pub fn parse(input: &str, default_port: u16) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("empty origin".into());
        }
        if s.contains("://") || s.contains('/') {
            return Err(format!(
                "{s:?}: give HOST[:PORT] without a scheme or path (see --origin-protocol)"
            ));
        }
        let port = |p: &str| match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("{s:?}: the port must be a number from 1 to 65535")),
            Ok(n) => Ok(n),
        };
        let host = |h: &str| {
            Host::parse(h).ok_or_else(|| format!("{s:?}: {h:?} is not a host name or IP address"))
        };
        if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: missing ']'"))?;
            h.parse::<Ipv6Addr>()
                .map_err(|_| format!("{s:?}: {h:?} is not an IPv6 address"))?;
            let port = match after {
                "" => default_port,
                _ => port(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| format!("{s:?}: expected ':' after ']'"))?,
                )?,
            };
            return Ok(Self {
                host: host(h)?,
                port,
            });
        }
        match s.matches(':').count() {
            0 => Ok(Self {
                host: host(s)?,
                port: default_port,
            }),
            1 => {
                let (h, p) = s
                    .split_once(':')
                    .ok_or_else(|| format!("{s:?}: bad origin"))?;
                if h.is_empty() {
                    return Err(format!("{s:?}: missing host"));
                }
                Ok(Self {
                    host: host(h)?,
                    port: port(p)?,
                })
            }
            _ => match s.parse::<Ipv6Addr>() {
                Ok(_) => Ok(Self {
                    host: host(s)?,
                    port: default_port,
                }),
                Err(_) => Err(format!(
                    "{s:?}: write an IPv6 origin with a port as [ADDRESS]:PORT"
                )),
            },
        }
    }
}

fn unbracketed(s: &str) -> &str {
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s)
}

/// A host name (letters, digits, `-`, `_`, `.`) or an IP address (v4, or v6 with or without
/// brackets).
fn valid_host_or_ip(s: &str) -> bool {
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    if unbracketed(s).parse::<IpAddr>().is_ok() {
        return true;
    }
    s.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_names_or_addresses_kept_as_written() {
        for good in [
            "10.0.0.5",
            "::1",
            "[::1]",
            "Origin.Example",
            "a_b.internal",
            "x",
        ] {
            assert_eq!(Host::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "a b",
            "a..b",
            "a.test:80",
            "[::1",
            "é.com",
            &"a".repeat(64),
        ] {
            assert!(Host::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Host::parse("[::1]").unwrap().ip(),
            Some(IpAddr::from(Ipv6Addr::LOCALHOST))
        );
        assert_eq!(Host::parse("a.test").unwrap().ip(), None);
    }

    #[test]
    fn authorities_take_an_optional_port() {
        let a = Authority::parse("backend.internal:8080").unwrap();
        assert_eq!(
            (a.as_str(), a.host()),
            ("backend.internal:8080", "backend.internal")
        );
        assert_eq!(Authority::parse("[::1]:443").unwrap().host(), "[::1]");
        assert_eq!(Authority::parse("a.test").unwrap().host(), "a.test");
        for bad in ["", "a b:80", "a.test:x", "a..b"] {
            assert!(Authority::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn host_serde_is_a_plain_string_and_refusals_carry_a_code() {
        let h: Host = serde_json::from_str("\"[::1]\"").unwrap();
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"[::1]\"");
        let e = serde_json::from_str::<Host>("\"a b\"").unwrap_err();
        let carried = ValidationError::of_json(&e).unwrap();
        assert_eq!(carried.code, crate::ErrorCode::InvalidRequest);
        let e = serde_json::from_str::<Authority>("\"a b\"").unwrap_err();
        assert!(ValidationError::of_json(&e).is_some());
    }

    #[test]
    fn host_port_arguments() {
        let p = |s: &str| {
            let hp = HostPort::parse(s, 80).unwrap();
            (hp.host.as_str().to_owned(), hp.port)
        };
        assert_eq!(p("10.0.0.5"), ("10.0.0.5".into(), 80));
        assert_eq!(p(" app.internal:8080 "), ("app.internal".into(), 8080));
        assert_eq!(p("[::1]:8080"), ("::1".into(), 8080));
        assert_eq!(p("[::1]"), ("::1".into(), 80));
        assert_eq!(p("fe80::1"), ("fe80::1".into(), 80));
        for bad in [
            "",
            "http://a.test",
            "a.test/x",
            "a.test:0",
            "a.test:x",
            ":80",
            "[::1",
            "[nope]:80",
            "[::1]80",
            "fe80::1:x:80",
            "a b:80",
        ] {
            assert!(HostPort::parse(bad, 80).is_err(), "{bad}");
        }
    }
}
