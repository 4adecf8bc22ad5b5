//! Every response the edge makes itself, built in one place from a typed reason.
//!
//! The data plane answers on its own only to refuse a request (with a [`Refusal`]) or to
//! redirect it to the other scheme; everything else is the origin's answer. Responses that
//! hyper writes before a request reaches the edge (400 for a malformed head, 431 for one over
//! `max_header_bytes`) are hyper's and never pass through here.

use http::header::{ALLOW, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Response, StatusCode};

use crate::body::EdgeBody;
use crate::scheme::Scheme;

/// Why the edge answers a request itself instead of forwarding it. Each reason has one status
/// and one short plain-text body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `CONNECT` (405): an edge is no forward proxy, and a tunnel would bypass every domain's
    /// policy.
    ConnectMethod,
    /// No Host header or authority, or one that is empty or longer than a host name can be
    /// (400).
    InvalidHost,
    /// More than one authority: two Host fields, or a Host that contradicts HTTP/2's
    /// `:authority` (400: RFC 9112 §3.2, RFC 9113 §8.3.1).
    AmbiguousHost,
    /// No domain answers the request's host (404).
    UnknownHost,
    /// An HTTPS request for a domain that does not serve HTTPS (421).
    HttpsNotEnabled,
    /// An HTTPS request for a domain the connection's handshake was not made for, that does not
    /// share its certificate and TLS versions (421: RFC 9110 §15.5.20, the client retries on a
    /// connection made for this host).
    OtherConnection,
    /// An HTTP/2 request for a domain with `http2: false` (421: the client retries on a
    /// connection of its own, where ALPN offers it HTTP/1.1 only).
    Http2NotEnabled,
    /// A plain-HTTP request for a domain whose policy is `deny_http` (403).
    HttpsRequired,
    /// A redirect whose target (host, path and query) is no valid `Location` value (400).
    InvalidTarget,
    /// The client's request body was malformed (a bad chunk) or cut short (fewer bytes than
    /// its `Content-Length`, a reset stream): the client's fault, not the origin's (400).
    BadRequestBody,
    /// The client had not sent its whole request body when the origin's answer was due
    /// (`origin_response_timeout`): an origin may wait for the body before it answers (408).
    RequestBodyTimeout,
    /// No origin of the domain could be connected to (502).
    OriginUnreachable,
    /// An origin failed after the request had been sent to it (502).
    OriginFailed,
    /// An origin did not connect, or did not send its response head, in time (504).
    OriginTimeout,
}

impl Refusal {
    /// The status the client gets.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::ConnectMethod => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidHost
            | Self::AmbiguousHost
            | Self::InvalidTarget
            | Self::BadRequestBody => StatusCode::BAD_REQUEST,
            Self::RequestBodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::UnknownHost => StatusCode::NOT_FOUND,
            Self::HttpsNotEnabled | Self::OtherConnection | Self::Http2NotEnabled => {
                StatusCode::MISDIRECTED_REQUEST
            }
            Self::HttpsRequired => StatusCode::FORBIDDEN,
            Self::OriginUnreachable | Self::OriginFailed => StatusCode::BAD_GATEWAY,
            Self::OriginTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The plain-text body the client gets: one line that names the reason.
    fn body(self) -> &'static str {
        match self {
            Self::ConnectMethod => "CONNECT is not supported\n",
            Self::InvalidHost => "missing or invalid Host header\n",
            Self::AmbiguousHost => "more than one Host, or a Host other than the target's\n",
            Self::UnknownHost => "unknown host\n",
            Self::HttpsNotEnabled => "HTTPS is not enabled for this host\n",
            Self::OtherConnection => "this connection was not made for this host\n",
            Self::Http2NotEnabled => "HTTP/2 is not enabled for this host\n",
            Self::HttpsRequired => "HTTPS is required for this host\n",
            Self::InvalidTarget => "invalid request target\n",
            Self::BadRequestBody => "malformed or incomplete request body\n",
            Self::RequestBodyTimeout => "the request body did not arrive in time\n",
            Self::OriginUnreachable => "no origin could be reached\n",
            Self::OriginFailed => "the origin failed to answer\n",
            Self::OriginTimeout => "the origin did not answer in time\n",
        }
    }
}

/// The methods the edge serves, the `Allow` of its answer to `OPTIONS *`: all it forwards
/// (`CONNECT` is refused).
const SERVER_METHODS: &str = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH";

/// A response the edge makes itself.
pub(crate) enum Synthetic<'a> {
    /// The request is refused.
    Refused(Refusal),
    /// `OPTIONS *`: 200, no body, `Allow` naming the methods the edge serves.
    ServerOptions,
    /// The request is sent to the same host, path and query on the other scheme.
    Redirect {
        /// The domain's redirect status (301, 302, 307 or 308).
        status: StatusCode,
        /// The scheme redirected to.
        scheme: Scheme,
        /// The request's host, lowercase, without port.
        host: &'a str,
        /// The public port of the listener of `scheme`: left out of the URL when it is the
        /// scheme's default.
        port: u16,
        /// The request's path and query, `/` when it has none.
        path_and_query: &'a str,
    },
}

impl From<Refusal> for Synthetic<'_> {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

/// What the edge answers itself for a request that no domain takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerAnswer {
    /// `OPTIONS *`: the methods the edge serves (RFC 9110 §9.3.7), whatever the host.
    Options,
    /// A refusal before any domain.
    Refuse(Refusal),
}

impl From<Refusal> for ServerAnswer {
    fn from(r: Refusal) -> Self {
        Self::Refuse(r)
    }
}

impl From<ServerAnswer> for Synthetic<'_> {
    fn from(a: ServerAnswer) -> Self {
        match a {
            ServerAnswer::Options => Self::ServerOptions,
            ServerAnswer::Refuse(r) => Self::Refused(r),
        }
    }
}

impl Synthetic<'_> {
    /// The response. A redirect whose URL is no valid header value becomes
    /// [`Refusal::InvalidTarget`].
    pub(crate) fn into_response(self) -> Response<EdgeBody> {
        match self {
            Self::Refused(r) => {
                let mut resp = Response::new(EdgeBody::text(r.body()));
                *resp.status_mut() = r.status();
                resp.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                resp
            }
            Self::ServerOptions => {
                let mut resp = Response::new(EdgeBody::empty());
                resp.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static(SERVER_METHODS));
                resp
            }
            Self::Redirect {
                status,
                scheme,
                host,
                port,
                path_and_query,
            } => {
                let name = scheme.as_str();
                let location = if port == scheme.default_port() {
                    format!("{name}://{host}{path_and_query}")
                } else {
                    format!("{name}://{host}:{port}{path_and_query}")
                };
                let Ok(location) = HeaderValue::from_str(&location) else {
                    return Self::Refused(Refusal::InvalidTarget).into_response();
                };
                let mut resp = Response::new(EdgeBody::empty());
                *resp.status_mut() = status;
                resp.headers_mut().insert(LOCATION, location);
                resp
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    fn redirect(scheme: Scheme, port: u16, pq: &'static str) -> Response<EdgeBody> {
        Synthetic::Redirect {
            status: StatusCode::PERMANENT_REDIRECT,
            scheme,
            host: "a.example.com",
            port,
            path_and_query: pq,
        }
        .into_response()
    }

    #[test]
    fn redirect_keeps_path_and_query_and_drops_default_port() {
        let r = redirect(Scheme::Https, 443, "/p/q?x=1&y=2");
        assert_eq!(r.status(), 308);
        assert_eq!(r.headers()[LOCATION], "https://a.example.com/p/q?x=1&y=2");
        let r = redirect(Scheme::Http, 8080, "/");
        assert_eq!(r.headers()[LOCATION], "http://a.example.com:8080/");
        let r = redirect(Scheme::Http, 80, "/");
        assert_eq!(r.headers()[LOCATION], "http://a.example.com/");
        let r = redirect(Scheme::Https, 8443, "/x");
        assert_eq!(r.headers()[LOCATION], "https://a.example.com:8443/x");
    }

    #[test]
    fn options_asterisk_is_an_empty_200_naming_the_methods() {
        let r = Synthetic::from(ServerAnswer::Options).into_response();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[ALLOW], SERVER_METHODS);
        assert!(!SERVER_METHODS.contains("CONNECT"));
        assert!(r.headers().get(LOCATION).is_none());
    }

    #[test]
    fn an_unusable_redirect_target_is_a_bad_request() {
        let r = redirect(Scheme::Https, 443, "/\u{7f}");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get(LOCATION).is_none());
    }

    #[tokio::test]
    async fn refusals_are_plain_text_with_the_contract_status() {
        // The statuses the README and the API contract name for each case.
        let cases = [
            (Refusal::ConnectMethod, 405),
            (Refusal::InvalidHost, 400),
            (Refusal::AmbiguousHost, 400),
            (Refusal::UnknownHost, 404),
            (Refusal::HttpsNotEnabled, 421),
            (Refusal::OtherConnection, 421),
            (Refusal::Http2NotEnabled, 421),
            (Refusal::HttpsRequired, 403),
            (Refusal::InvalidTarget, 400),
            (Refusal::BadRequestBody, 400),
            (Refusal::RequestBodyTimeout, 408),
            (Refusal::OriginUnreachable, 502),
            (Refusal::OriginFailed, 502),
            (Refusal::OriginTimeout, 504),
        ];
        for (refusal, status) in cases {
            let r = Synthetic::from(refusal).into_response();
            assert_eq!(r.status().as_u16(), status, "{refusal:?}");
            assert_eq!(
                r.headers()[CONTENT_TYPE],
                "text/plain; charset=utf-8",
                "{refusal:?}"
            );
            let body = r.into_body().collect().await.unwrap().to_bytes();
            assert!(body.ends_with(b"\n") && body.len() > 1, "{refusal:?}");
        }
    }
}
