use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use http::header::{CONTENT_TYPE, HOST, LOCATION, STRICT_TRANSPORT_SECURITY};
use http::{HeaderValue, Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use tlsedge_model::ForceRedirect;

use crate::body::EdgeBody;
use crate::edge::Edge;
use crate::proxy;
use crate::snapshot::DomainRuntime;

/// What a request handler knows about the connection it came on.
pub(crate) struct ConnInfo {
    pub(crate) edge: Arc<Edge>,
    /// The client's address as an `X-Forwarded-For` entry, built once per connection.
    pub(crate) client_ip: HeaderValue,
    /// For a TLS connection, the domain its handshake was made for.
    pub(crate) tls: Option<Arc<DomainRuntime>>,
}

/// One request, start to end: route by Host, apply the domain's HTTPS policy, then proxy.
/// Never fails: every problem becomes a response.
pub(crate) async fn handle(
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Result<Response<EdgeBody>, Infallible> {
    let m = conn.edge.metrics();
    if conn.tls.is_some() {
        m.requests_https.fetch_add(1, Relaxed);
        if req.version() == Version::HTTP_2 {
            m.requests_http2.fetch_add(1, Relaxed);
        }
    } else {
        m.requests_http.fetch_add(1, Relaxed);
    }
    if req.method() == Method::CONNECT {
        // An edge is no forward proxy: tunnels would bypass every domain's policy.
        return Ok(text(
            StatusCode::METHOD_NOT_ALLOWED,
            "CONNECT is not supported\n",
        ));
    }
    let snapshot = conn.edge.snapshot();
    let Some(host) = request_host(&req) else {
        return Ok(text(
            StatusCode::BAD_REQUEST,
            "missing or invalid Host header\n",
        ));
    };
    let Some(domain) = snapshot.lookup(&host).cloned() else {
        return Ok(text(StatusCode::NOT_FOUND, "unknown host\n"));
    };
    domain
        .usage
        .request(conn.tls.is_some(), req.version() == Version::HTTP_2);
    let https = &domain.config.https;
    let settings = conn.edge.settings();
    let mut resp = if let Some(sni) = &conn.tls {
        if domain.tls.is_none() {
            text(
                StatusCode::MISDIRECTED_REQUEST,
                "HTTPS is not enabled for this host\n",
            )
        } else if !domain.accepts_connection_of(sni) {
            // RFC 9110 §15.5.20: the client retries on a connection made for this host.
            text(
                StatusCode::MISDIRECTED_REQUEST,
                "this connection was not made for this host\n",
            )
        } else if https.force_redirect == ForceRedirect::HttpsToHttp {
            redirect(
                https.redirect_status,
                "http",
                &host,
                settings.http_public_port,
                80,
                &req,
            )
        } else {
            forward(&conn, &domain, &host, req).await
        }
    } else if https.enabled && https.force_redirect == ForceRedirect::HttpToHttps {
        redirect(
            https.redirect_status,
            "https",
            &host,
            settings.https_public_port,
            443,
            &req,
        )
    } else if https.enabled && https.force_redirect == ForceRedirect::DenyHttp {
        text(StatusCode::FORBIDDEN, "HTTPS is required for this host\n")
    } else {
        forward(&conn, &domain, &host, req).await
    };
    if conn.tls.is_some() {
        if let Some(h) = &domain.hsts {
            resp.headers_mut()
                .insert(STRICT_TRANSPORT_SECURITY, h.clone());
        }
    }
    let resp = resp.map(|b| b.metered(domain.usage.clone()));
    Ok(resp)
}

/// Proxies in a boxed future: a connection keeps its handler future allocated between requests,
/// so the large proxy state (origin connect, TLS) lives only while a request runs.
async fn forward(
    conn: &ConnInfo,
    domain: &Arc<DomainRuntime>,
    host: &str,
    req: Request<Incoming>,
) -> Response<EdgeBody> {
    Box::pin(proxy::forward(conn, domain, host, req)).await
}

/// The host a request is for, lowercase, without port or trailing dot: the URI authority (HTTP/2
/// and absolute-form requests), else the Host header.
pub(crate) fn request_host<B>(req: &Request<B>) -> Option<String> {
    let raw = match req.uri().authority() {
        Some(a) => a.host(),
        None => {
            let h = req.headers().get(HOST)?.to_str().ok()?;
            tlsedge_model::host_of(h)
        }
    };
    let host = raw.trim_end_matches('.');
    if host.is_empty() || host.len() > 253 {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

pub(crate) fn text(status: StatusCode, body: &'static str) -> Response<EdgeBody> {
    let mut r = Response::new(EdgeBody::text(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A redirect to the same host, path and query on the other scheme's public port.
fn redirect<B>(
    status: u16,
    scheme: &str,
    host: &str,
    port: u16,
    default_port: u16,
    req: &Request<B>,
) -> Response<EdgeBody> {
    let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let location = if port == default_port {
        format!("{scheme}://{host}{pq}")
    } else {
        format!("{scheme}://{host}:{port}{pq}")
    };
    let mut r = Response::new(EdgeBody::empty());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::MOVED_PERMANENTLY);
    match HeaderValue::from_str(&location) {
        Ok(v) => {
            r.headers_mut().insert(LOCATION, v);
        }
        Err(_) => return text(StatusCode::BAD_REQUEST, "invalid request target\n"),
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, host: Option<&str>) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        if let Some(h) = host {
            b = b.header(HOST, h);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn host_from_header_or_authority() {
        assert_eq!(
            request_host(&req("/", Some("WWW.Example.com:8080"))).unwrap(),
            "www.example.com"
        );
        assert_eq!(
            request_host(&req("/", Some("www.example.com."))).unwrap(),
            "www.example.com"
        );
        assert_eq!(
            request_host(&req("https://a.example.com/x", Some("other"))).unwrap(),
            "a.example.com"
        );
        assert_eq!(request_host(&req("/", Some("[::1]:443"))).unwrap(), "[::1]");
        assert_eq!(request_host(&req("/", None)), None);
    }

    #[test]
    fn redirect_keeps_path_and_query_and_drops_default_port() {
        let r = redirect(
            308,
            "https",
            "a.example.com",
            443,
            443,
            &req("/p/q?x=1&y=2", None),
        );
        assert_eq!(r.status(), 308);
        assert_eq!(r.headers()[LOCATION], "https://a.example.com/p/q?x=1&y=2");
        let r = redirect(301, "http", "a.example.com", 8080, 80, &req("/", None));
        assert_eq!(r.headers()[LOCATION], "http://a.example.com:8080/");
    }
}
