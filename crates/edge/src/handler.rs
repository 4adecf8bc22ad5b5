use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use http::header::STRICT_TRANSPORT_SECURITY;
use http::{HeaderValue, Request, Response, Version};
use hyper::body::Incoming;

use crate::authority::{self, NoAuthority};
use crate::body::EdgeBody;
use crate::conn::ConnInfo;
use crate::policy::{self, Action, Route, Routed, Target};
use crate::proxy;
use crate::respond::Synthetic;
use crate::scheme::Scheme;
use crate::snapshot::HostBuf;

/// One request, start to end: route by Host, let the domain's policy decide, then answer,
/// redirect or proxy. Never fails: every problem becomes a response.
pub(crate) async fn handle(
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Result<Response<EdgeBody>, Infallible> {
    let m = conn.edge.metrics();
    let transport = conn.transport();
    let h2 = req.version() == Version::HTTP_2;
    match transport.scheme() {
        Scheme::Https => {
            m.requests_https.fetch_add(1, Relaxed);
            if h2 {
                m.requests_http2.fetch_add(1, Relaxed);
            }
        }
        Scheme::Http => {
            m.requests_http.fetch_add(1, Relaxed);
        }
    }
    let snapshot = conn.edge.snapshot();
    let mut buf = HostBuf::default();
    // The one authority of the request: routing, policy, usage and the origin's Host all use it.
    let authority = authority::of(&req);
    let route = match &authority {
        Err(NoAuthority::Ambiguous) => Route::Ambiguous,
        Err(NoAuthority::Missing) => Route::NoHost,
        Ok(a) => match host_of(a, &mut buf) {
            None => Route::NoHost,
            Some(host) => match snapshot.lookup(host) {
                Some(domain) => Route::Domain(Routed { domain, host }),
                None => Route::Unknown,
            },
        },
    };
    let target = Target::of(req.uri());
    let (Routed { domain, host }, action) =
        match policy::decide(req.method(), target, route, transport) {
            Ok(decided) => decided,
            Err(answer) => return Ok(Synthetic::from(answer).into_response()),
        };
    domain
        .usage
        .request(transport.scheme() == Scheme::Https, h2);
    let mut resp = match action {
        Action::Forward => {
            // A domain was routed to, so the authority was found.
            let authority = authority.unwrap_or_else(|_| HeaderValue::from_static(""));
            // Boxed: a connection keeps its handler future allocated between requests, so the
            // large proxy state (origin connect, TLS) lives only while a request runs.
            Box::pin(proxy::forward(&conn, domain, authority, req))
                .await
                .unwrap_or_else(|r| Synthetic::from(r).into_response())
        }
        Action::Redirect { to, status } => {
            let settings = conn.edge.settings();
            let port = match to {
                Scheme::Https => settings.https_public_port,
                Scheme::Http => settings.http_public_port,
            };
            Synthetic::Redirect {
                status,
                scheme: to,
                host,
                port,
                path_and_query: req.uri().path_and_query().map_or("/", |pq| pq.as_str()),
            }
            .into_response()
        }
        Action::Refuse(r) => Synthetic::from(r).into_response(),
    };
    if let (Scheme::Https, Some(h)) = (transport.scheme(), &domain.hsts) {
        resp.headers_mut()
            .insert(STRICT_TRANSPORT_SECURITY, h.clone());
    }
    Ok(resp.map(|b| b.metered(domain.usage.clone())))
}

/// The host of a request's authority, lowercase, without port or trailing dot, written into
/// `buf` (nothing is allocated). `None` when it is empty, no text, or longer than a host name
/// can be.
fn host_of<'b>(authority: &HeaderValue, buf: &'b mut HostBuf) -> Option<&'b str> {
    let raw = tlsedge_model::host_of(authority.to_str().ok()?);
    let host = raw.trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    buf.lowercase(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(authority: &str) -> Option<String> {
        host_of(
            &HeaderValue::from_str(authority).unwrap(),
            &mut HostBuf::default(),
        )
        .map(str::to_owned)
    }

    #[test]
    fn the_host_of_an_authority_is_lowercase_without_port_or_trailing_dot() {
        assert_eq!(host("WWW.Example.com:8080").unwrap(), "www.example.com");
        assert_eq!(host("www.example.com.").unwrap(), "www.example.com");
        assert_eq!(host("[::1]:443").unwrap(), "[::1]");
        assert_eq!(host("."), None);
        assert_eq!(host(""), None);
    }

    #[test]
    fn a_host_longer_than_a_host_name_is_refused() {
        let label = "a".repeat(63);
        let long = [label.as_str(); 4].join("."); // 255 characters
        assert_eq!(host(&long), None);
        let longest = &long[..253];
        assert_eq!(
            host(&longest.to_ascii_uppercase()).as_deref(),
            Some(longest)
        );
    }
}
