//! What a proxied message loses and gains at the edge: hop-by-hop headers go, `Host` becomes
//! the origin's, `X-Forwarded-For`, `X-Forwarded-Proto` and `Via` are set, and the request
//! target becomes origin-form. Plain functions over heads, so each is tested without a socket.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{request, response, Uri, Version};

use crate::scheme::Scheme;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// What the edge adds to a request it forwards, all of it built before the request arrived:
/// per domain, per connection or per process.
pub(crate) struct Forwarding<'a> {
    /// The domain's `origin_host`, prebuilt; `None` forwards the request's authority.
    pub(crate) origin_host: Option<&'a HeaderValue>,
    /// The client's address, as an `X-Forwarded-For` entry.
    pub(crate) client_ip: &'a HeaderValue,
    /// The scheme the client used, for `X-Forwarded-Proto`.
    pub(crate) scheme: Scheme,
    /// This node's `Via` entry for the client's HTTP version.
    pub(crate) via: &'a HeaderValue,
}

/// Rewrites a client request's head for the origin: hop-by-hop headers removed, `Host` set to
/// `origin_host` or else to `authority` (the request's one authority: whatever `Host` the
/// client sent beside it is replaced), the forwarding headers set, HTTP/1.1 in origin-form.
pub(crate) fn request(parts: &mut request::Parts, authority: HeaderValue, with: &Forwarding<'_>) {
    strip_hop_by_hop(&mut parts.headers);
    let host_header = with.origin_host.cloned().unwrap_or(authority);
    parts.headers.insert(header::HOST, host_header);
    append_list(&mut parts.headers, &X_FORWARDED_FOR, with.client_ip);
    parts.headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(with.scheme.as_str()),
    );
    append_list(&mut parts.headers, &header::VIA, with.via);
    parts.version = Version::HTTP_11;
    // Origin-form: the path and query, moved over without parsing them again.
    let mut target = std::mem::take(&mut parts.uri).into_parts();
    target.scheme = None;
    target.authority = None;
    if target.path_and_query.is_none() {
        target.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    parts.uri = Uri::from_parts(target).unwrap_or_else(|_| Uri::from_static("/"));
}

/// An origin response whose body the edge cannot forward whole: its last transfer coding is not
/// `chunked` (hyper reads such a body to the connection's end, still coded, and the coding would
/// be lost with the hop-by-hop `Transfer-Encoding`). An origin fault: 502.
#[derive(Debug, thiserror::Error)]
#[error("the origin's Transfer-Encoding does not end in chunked")]
pub(crate) struct UndecodedTransferCoding;

/// Rewrites an origin's response head for the client: hop-by-hop headers removed and `via`
/// appended. The version is the one hyper writes to the client anyway.
///
/// Framing (RFC 9112 §6.3): a response with `Transfer-Encoding` was read by it, so any
/// `Content-Length` beside it is dropped, and hyper frames the body for the client from what
/// was read (a stale length would cut an HTTP/1.1 body short and reset an HTTP/2 stream).
/// `has_body` is false when hyper reads no body at all (HEAD, 204, 304), where the framing
/// headers describe nothing that is forwarded.
///
/// # Errors
/// [`UndecodedTransferCoding`] when a body's last transfer coding is not `chunked`.
pub(crate) fn response(
    parts: &mut response::Parts,
    via: &HeaderValue,
    has_body: bool,
) -> Result<(), UndecodedTransferCoding> {
    if parts.headers.contains_key(header::TRANSFER_ENCODING) {
        if has_body && !ends_in_chunked(&parts.headers) {
            return Err(UndecodedTransferCoding);
        }
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    strip_hop_by_hop(&mut parts.headers);
    append_list(&mut parts.headers, &header::VIA, via);
    parts.version = Version::HTTP_11;
    Ok(())
}

/// Whether the last coding of the last `Transfer-Encoding` field is `chunked`: hyper's own test
/// for a chunked body (RFC 9112 §6.1: chunked is always the final coding).
fn ends_in_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
}

/// The hop-by-hop headers every message loses at a proxy (RFC 9110 §7.6.1), beside those its
/// `Connection` header names.
static HOP_BY_HOP: [&HeaderName; 7] = [
    &header::CONNECTION,
    &KEEP_ALIVE,
    &PROXY_CONNECTION,
    &header::TE,
    &header::TRAILER,
    &header::TRANSFER_ENCODING,
    &header::UPGRADE,
];

/// Removes the hop-by-hop headers (RFC 9110 §7.6.1): the fixed list and any named in
/// `Connection`.
///
/// Runs twice per proxied request, so the common cases are cheap: a message without any of
/// them costs one pass over its names (no hashing, no allocation), and `Connection` tokens
/// that name a fixed-list header or `close` (what clients and origins send) allocate nothing.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if !headers.keys().any(|k| HOP_BY_HOP.contains(&k)) {
        return;
    }
    let mut named: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim) {
            let fixed = token.is_empty()
                || token.eq_ignore_ascii_case("close")
                || HOP_BY_HOP
                    .iter()
                    .any(|h| token.eq_ignore_ascii_case(h.as_str()));
            if !fixed {
                if let Ok(n) = HeaderName::from_bytes(token.as_bytes()) {
                    named.push(n);
                }
            }
        }
    }
    for n in named {
        headers.remove(n);
    }
    for n in HOP_BY_HOP {
        headers.remove(n);
    }
}

/// Appends `item` to the list header `name`. Several field lines of it are one list (RFC 9110
/// §5.3), so all of them are joined in order first: none is dropped. Without one, the prebuilt
/// value is inserted as it is (no formatting, no allocation).
fn append_list(headers: &mut HeaderMap, name: &HeaderName, item: &HeaderValue) {
    if !headers.contains_key(name) {
        headers.insert(name.clone(), item.clone());
        return;
    }
    let mut list: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    list.push(item.to_str().unwrap_or_default());
    let joined = list.join(", ");
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(name.clone(), v);
    }
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::*;

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn headers_named_by_every_connection_line_are_removed_and_others_kept() {
        let mut h = HeaderMap::new();
        h.append(header::CONNECTION, HeaderValue::from_static("close, X-A"));
        h.append(
            header::CONNECTION,
            HeaderValue::from_static(" x-b ,,Keep-Alive"),
        );
        for n in ["x-a", "x-b", "x-c"] {
            h.insert(HeaderName::from_static(n), HeaderValue::from_static("1"));
        }
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key("x-c"));

        // Nothing hop-by-hop: nothing changes.
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        h.insert(header::SERVER, HeaderValue::from_static("origin"));
        let before = h.clone();
        strip_hop_by_hop(&mut h);
        assert_eq!(h, before);
    }

    fn origin_response(headers: &[(&'static str, &'static str)]) -> response::Parts {
        let mut b = http::Response::builder();
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_chunked_response_loses_its_content_length() {
        // shared/cases/origin-cl-and-chunked.resp
        let via = HeaderValue::from_static("1.1 tlsedge");
        for te in ["chunked", "gzip, CHUNKED", "chunked "] {
            let mut p = origin_response(&[("content-length", "5"), ("transfer-encoding", te)]);
            response(&mut p, &via, true).unwrap();
            assert!(!p.headers.contains_key(header::CONTENT_LENGTH), "{te}");
            assert!(!p.headers.contains_key(header::TRANSFER_ENCODING), "{te}");
        }
        // Content-Length alone is the body's length and stays.
        let mut p = origin_response(&[("content-length", "5")]);
        response(&mut p, &via, true).unwrap();
        assert_eq!(p.headers[header::CONTENT_LENGTH], "5");
    }

    #[test]
    fn a_transfer_coding_not_ending_in_chunked_is_refused_when_a_body_follows() {
        let via = HeaderValue::from_static("1.1 tlsedge");
        for te in ["gzip", "chunked, gzip"] {
            let mut p = origin_response(&[("transfer-encoding", te)]);
            assert!(response(&mut p, &via, true).is_err(), "{te}");
            // No body read (HEAD, 204, 304): nothing is lost.
            let mut p = origin_response(&[("transfer-encoding", te)]);
            assert!(response(&mut p, &via, false).is_ok(), "{te}");
        }
    }

    #[test]
    fn lists_are_appended() {
        let mut h = HeaderMap::new();
        append_list(
            &mut h,
            &X_FORWARDED_FOR,
            &HeaderValue::from_static("1.2.3.4"),
        );
        append_list(
            &mut h,
            &X_FORWARDED_FOR,
            &HeaderValue::from_static("5.6.7.8"),
        );
        assert_eq!(h[&X_FORWARDED_FOR], "1.2.3.4, 5.6.7.8");
    }

    #[test]
    fn every_field_line_of_a_list_is_kept() {
        let mut h = HeaderMap::new();
        h.append(&X_FORWARDED_FOR, HeaderValue::from_static("1.1.1.1"));
        h.append(
            &X_FORWARDED_FOR,
            HeaderValue::from_static("2.2.2.2, 3.3.3.3"),
        );
        append_list(
            &mut h,
            &X_FORWARDED_FOR,
            &HeaderValue::from_static("9.9.9.9"),
        );
        assert_eq!(h.get_all(&X_FORWARDED_FOR).iter().count(), 1);
        assert_eq!(h[&X_FORWARDED_FOR], "1.1.1.1, 2.2.2.2, 3.3.3.3, 9.9.9.9");
    }

    fn rewritten(req: Request<()>, origin_host: Option<&HeaderValue>) -> request::Parts {
        let (mut parts, ()) = req.into_parts();
        let client_ip = HeaderValue::from_static("192.0.2.7");
        let via = HeaderValue::from_static("1.1 tlsedge");
        let with = Forwarding {
            origin_host,
            client_ip: &client_ip,
            scheme: Scheme::Https,
            via: &via,
        };
        let authority = crate::authority::of(&Request::from_parts(parts.clone(), ()))
            .unwrap_or_else(|e| panic!("no authority: {e:?}"));
        request(&mut parts, authority, &with);
        parts
    }

    #[test]
    fn a_forwarded_request_carries_the_forwarding_headers_in_origin_form() {
        let req = Request::builder()
            .uri("https://a.example.com:8443/p?q=1")
            .version(Version::HTTP_2)
            .header("x-forwarded-for", "198.51.100.1")
            .header(header::CONNECTION, "x-private")
            .header("x-private", "1")
            .body(())
            .unwrap();
        let p = rewritten(req, None);
        assert_eq!(p.uri, "/p?q=1");
        assert_eq!(p.version, Version::HTTP_11);
        // The authority the client used, port included, when origin_host is not set.
        assert_eq!(p.headers[header::HOST], "a.example.com:8443");
        assert_eq!(p.headers["x-forwarded-for"], "198.51.100.1, 192.0.2.7");
        assert_eq!(p.headers["x-forwarded-proto"], "https");
        assert_eq!(p.headers[header::VIA], "1.1 tlsedge");
        assert!(!p.headers.contains_key("x-private"));
        assert!(!p.headers.contains_key(header::CONNECTION));
    }

    #[test]
    fn the_origin_gets_the_targets_authority_not_the_clients_other_host() {
        // shared/cases/absolute-form-other-host.req
        let req = Request::builder()
            .uri("http://a.example/echo")
            .header(header::HOST, "b.example")
            .body(())
            .unwrap();
        let p = rewritten(req, None);
        assert_eq!(p.headers[header::HOST], "a.example");
        assert_eq!(p.headers.get_all(header::HOST).iter().count(), 1);
        assert_eq!(p.uri, "/echo");
    }

    #[test]
    fn origin_host_replaces_the_client_host() {
        let req = Request::builder()
            .uri("/")
            .header(header::HOST, "a.example.com")
            .body(())
            .unwrap();
        let origin = HeaderValue::from_static("origin.internal:8080");
        let p = rewritten(req, Some(&origin));
        assert_eq!(p.headers[header::HOST], "origin.internal:8080");
        assert_eq!(p.headers.get_all(header::HOST).iter().count(), 1);
    }
}
