//! The one authority of a request, decided once and used for routing, policy, usage and the
//! `Host` the origin receives, so no two parts of the edge can judge a request by different
//! names (one domain's policy applied while another domain's name reaches the origin).
//!
//! The rules (spec/api.md "Additions (v1.1)"):
//! - HTTP/1.x, absolute-form target (`GET http://a.example/p`): the target's authority. A
//!   `Host` beside it is replaced, whatever it says (RFC 9112 §3.2.2: a server MUST ignore it
//!   and use the target's).
//! - HTTP/2: `:authority` (RFC 9113 §8.3.1); a `Host` that names another host or port is
//!   malformed (400). Without `:authority`, `Host`.
//! - Otherwise `Host`.
//! - More than one `Host` field is ambiguous (400, RFC 9112 §3.2), and so is an authority with
//!   userinfo (`user@host`, RFC 9110 §4.2.4: no authority for a request).

use http::header::HOST;
use http::{HeaderValue, Request, Version};

/// Why a request has no one authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoAuthority {
    /// No `Host` and no authority in the target.
    Missing,
    /// Two `Host` fields, a `Host` that contradicts HTTP/2's `:authority`, or userinfo.
    Ambiguous,
}

/// The request's authority as the origin receives it in `Host` (host and port as the client
/// wrote them), by the rules of the module.
///
/// Costs nothing in the common cases: the `Host` field's value is shared, not copied (an
/// HTTP/1.1 origin-form request, an HTTP/2 request whose `Host` repeats `:authority`). Only an
/// authority taken from the target is copied into a new value.
pub(crate) fn of<B>(req: &Request<B>) -> Result<HeaderValue, NoAuthority> {
    let mut hosts = req.headers().get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(NoAuthority::Ambiguous);
    }
    let Some(target) = req.uri().authority() else {
        return host.cloned().ok_or(NoAuthority::Missing);
    };
    let target = target.as_str();
    if target.contains('@') {
        return Err(NoAuthority::Ambiguous);
    }
    if req.version() == Version::HTTP_2 {
        if let Some(h) = host {
            if !same_authority(h.as_bytes(), target.as_bytes()) {
                return Err(NoAuthority::Ambiguous);
            }
            return Ok(h.clone());
        }
    }
    HeaderValue::from_str(target).map_err(|_| NoAuthority::Missing)
}

/// Whether two authorities name the same host and port: hosts compared without case or a
/// trailing dot, ports equal (a port left out is the scheme's, so it matches any written one:
/// `a.example` and `a.example:443` are one origin to every client).
fn same_authority(a: &[u8], b: &[u8]) -> bool {
    let (ha, pa) = split_port(a);
    let (hb, pb) = split_port(b);
    trim_dot(ha).eq_ignore_ascii_case(trim_dot(hb))
        && match (pa, pb) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// A host without its trailing dot.
fn trim_dot(h: &[u8]) -> &[u8] {
    h.strip_suffix(b".").unwrap_or(h)
}

/// An authority's host and port (`[v6]:port` kept whole up to the bracket).
fn split_port(a: &[u8]) -> (&[u8], Option<&[u8]>) {
    let host_end = match a.iter().rposition(|&b| b == b']') {
        Some(bracket) => bracket + 1,
        None => 0,
    };
    match a[host_end..].iter().position(|&b| b == b':') {
        Some(colon) => (&a[..host_end + colon], Some(&a[host_end + colon + 1..])),
        None => (a, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(version: Version, uri: &str, hosts: &[&str]) -> Request<()> {
        let mut b = Request::builder().version(version).uri(uri);
        for h in hosts {
            b = b.header(HOST, *h);
        }
        b.body(()).unwrap()
    }

    fn authority(version: Version, uri: &str, hosts: &[&str]) -> Result<String, NoAuthority> {
        of(&req(version, uri, hosts)).map(|v| v.to_str().unwrap().to_owned())
    }

    const H1: Version = Version::HTTP_11;
    const H2: Version = Version::HTTP_2;

    #[test]
    fn origin_form_uses_host_as_written() {
        assert_eq!(
            authority(H1, "/p", &["A.Example:8080"]),
            Ok("A.Example:8080".into())
        );
        assert_eq!(authority(H1, "/p", &[]), Err(NoAuthority::Missing));
        assert_eq!(
            authority(Version::HTTP_10, "/p", &[]),
            Err(NoAuthority::Missing)
        );
    }

    #[test]
    fn an_absolute_form_target_wins_over_host_in_http1() {
        // shared/cases/absolute-form-other-host.req
        assert_eq!(
            authority(H1, "http://a.example/echo", &["b.example"]),
            Ok("a.example".into())
        );
        assert_eq!(
            authority(H1, "https://a.example:8443/echo", &[]),
            Ok("a.example:8443".into())
        );
    }

    #[test]
    fn http2_uses_authority_and_refuses_a_host_that_contradicts_it() {
        assert_eq!(
            authority(H2, "https://a.example/x", &[]),
            Ok("a.example".into())
        );
        // Host repeating :authority (curl and browsers may send both) is the same entity.
        for same in ["a.example", "A.EXAMPLE", "a.example.", "a.example:443"] {
            assert!(
                authority(H2, "https://a.example/x", &[same]).is_ok(),
                "{same}"
            );
        }
        for other in ["b.example", "a.example:8443", "a.example.b"] {
            assert_eq!(
                authority(H2, "https://a.example:443/x", &[other]),
                Err(NoAuthority::Ambiguous),
                "{other}"
            );
        }
        // Without :authority, Host.
        assert_eq!(authority(H2, "/x", &["a.example"]), Ok("a.example".into()));
    }

    #[test]
    fn two_host_fields_or_userinfo_are_ambiguous() {
        for v in [H1, H2] {
            assert_eq!(
                authority(v, "/", &["a.example", "b.example"]),
                Err(NoAuthority::Ambiguous)
            );
            assert_eq!(
                authority(v, "/", &["a.example", "a.example"]),
                Err(NoAuthority::Ambiguous)
            );
        }
        assert_eq!(
            authority(H1, "http://a.example/", &["a.example", "b.example"]),
            Err(NoAuthority::Ambiguous)
        );
        assert_eq!(
            authority(H1, "http://user@a.example/", &[]),
            Err(NoAuthority::Ambiguous)
        );
    }

    #[test]
    fn ports_split_after_an_ipv6_literal() {
        assert_eq!(split_port(b"[::1]:443"), (&b"[::1]"[..], Some(&b"443"[..])));
        assert_eq!(split_port(b"[::1]"), (&b"[::1]"[..], None));
        assert_eq!(split_port(b"a.example"), (&b"a.example"[..], None));
        assert!(same_authority(b"[::1]:443", b"[::1]"));
        assert!(!same_authority(b"[::1]:443", b"[::2]:443"));
    }
}
