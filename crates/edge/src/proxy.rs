use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use rand::Rng;
use tlsedge_model::{OriginProtocol, Priority};

use crate::body::EdgeBody;
use crate::handler::{text, ConnInfo};
use crate::pool::{self, ConnectError, PoolKey, Returning};
use crate::snapshot::DomainRuntime;

/// How long an origin whose connect failed is skipped (while another one can be tried).
const DOWN_FOR: Duration = Duration::from_secs(10);

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
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
/// §5.3), so all of them are joined in order first: none is dropped.
/// Appends `item` to a comma-separated list header, keeping every field line already there.
/// Without one, the prebuilt value is inserted as it is (no formatting, no allocation).
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

/// The order in which to try the origins: one primary chosen by weight, the other primaries,
/// then the backups; origins marked down go last, so they are still tried when nothing else is.
fn origin_order(domain: &DomainRuntime) -> Vec<usize> {
    let origins = &domain.config.origins;
    let now = now_ms();
    let up = |i: usize| {
        domain
            .down_until
            .get(i)
            .is_none_or(|d| d.load(Relaxed) <= now)
    };
    let mut primaries: Vec<usize> = (0..origins.len())
        .filter(|&i| origins[i].priority == Priority::Primary && up(i))
        .collect();
    let total: u32 = primaries.iter().map(|&i| origins[i].weight).sum();
    if primaries.len() > 1 && total > 0 {
        let mut pick = rand::rng().random_range(0..total);
        if let Some(pos) = primaries.iter().position(|&i| {
            let w = origins[i].weight;
            if pick < w {
                true
            } else {
                pick -= w;
                false
            }
        }) {
            primaries.swap(0, pos);
        }
    }
    let mut order = primaries;
    order.extend((0..origins.len()).filter(|&i| origins[i].priority == Priority::Backup && up(i)));
    order
        .extend((0..origins.len()).filter(|&i| origins[i].priority == Priority::Primary && !up(i)));
    order.extend((0..origins.len()).filter(|&i| origins[i].priority == Priority::Backup && !up(i)));
    order
}

enum Sent {
    Answered(Response<Incoming>),
    /// The request never left: try it elsewhere.
    Unsent(Request<Incoming>),
    Failed(hyper::Error),
    TimedOut,
}

async fn send(tx: &mut SendRequest<Incoming>, req: Request<Incoming>, timeout: Duration) -> Sent {
    match tokio::time::timeout(timeout, tx.try_send_request(req)).await {
        Err(_) => Sent::TimedOut,
        Ok(Ok(resp)) => Sent::Answered(resp),
        Ok(Err(mut e)) => match e.take_message() {
            Some(req) => Sent::Unsent(req),
            None => Sent::Failed(e.into_error()),
        },
    }
}

/// Forwards a request to the domain's origins and streams the answer back. 502 when no origin
/// can be reached or one fails mid-answer, 504 when one does not answer in time.
pub(crate) async fn forward(
    conn: &ConnInfo,
    domain: &Arc<DomainRuntime>,
    host: &str,
    req: Request<Incoming>,
) -> Response<EdgeBody> {
    let cfg = &domain.config;
    let settings = conn.edge.settings();
    let metrics = conn.edge.metrics();
    let use_tls = match cfg.origin_protocol {
        OriginProtocol::Http => false,
        OriginProtocol::Https => true,
        OriginProtocol::Follow => conn.tls.is_some(),
    };
    let client_version = req.version();
    let (mut parts, body) = req.into_parts();
    let client_host = match parts.headers.get(header::HOST) {
        Some(h) => h.clone(),
        None => match parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            Some(h) => h,
            None => HeaderValue::from_str(host).unwrap_or(HeaderValue::from_static("")),
        },
    };
    strip_hop_by_hop(&mut parts.headers);
    let host_header = match &cfg.origin_host {
        Some(h) => HeaderValue::from_str(h).unwrap_or(client_host),
        None => client_host,
    };
    parts.headers.insert(header::HOST, host_header);
    append_list(&mut parts.headers, &X_FORWARDED_FOR, &conn.client_ip);
    parts.headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(if conn.tls.is_some() { "https" } else { "http" }),
    );
    let via = conn.edge.via(client_version);
    append_list(&mut parts.headers, &header::VIA, via);
    parts.version = Version::HTTP_11;
    // Origin-form: the path and query, moved over without parsing them again.
    let mut target = std::mem::take(&mut parts.uri).into_parts();
    target.scheme = None;
    target.authority = None;
    if target.path_and_query.is_none() {
        target.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    parts.uri = Uri::from_parts(target).unwrap_or_else(|_| Uri::from_static("/"));
    let mut req = Request::from_parts(parts, body);

    let mut saw_timeout = false;
    for idx in origin_order(domain) {
        let Some(origin) = cfg.origins.get(idx) else {
            continue;
        };
        let Some(key) = domain.origin_keys.get(idx).and_then(|(plain, tls)| {
            if use_tls {
                tls.clone()
            } else {
                Some(plain.clone())
            }
        }) else {
            continue;
        };
        // Reuse an idle connection; one that turns out dead hands the request back untouched.
        while let Some(tx) = pool::checkout(&key, std::time::Instant::now()) {
            match exchange(conn, domain, &key, tx, req, via).await {
                Ok(resp) => return resp,
                Err(r) => req = r,
            }
        }
        let tx = match pool::connect(&key, settings.origin_connect_timeout).await {
            Ok(tx) => tx,
            Err(e) => {
                if matches!(e, ConnectError::Timeout) {
                    saw_timeout = true;
                }
                tracing::info!(domain = %cfg.name, origin = %origin.address, port = key.port, error = %e, "origin connect failed");
                if let Some(d) = domain.down_until.get(idx) {
                    d.store(now_ms() + DOWN_FOR.as_millis() as u64, Relaxed);
                }
                continue;
            }
        };
        if let Some(d) = domain.down_until.get(idx) {
            d.store(0, Relaxed);
        }
        match exchange(conn, domain, &key, tx, req, via).await {
            Ok(resp) => return resp,
            Err(r) => req = r,
        }
    }
    if saw_timeout {
        origin_timeout(conn)
    } else {
        metrics.origin_errors.fetch_add(1, Relaxed);
        text(StatusCode::BAD_GATEWAY, "no origin could be reached\n")
    }
}

/// One request on one origin connection: the answer for the client (the origin's response, or
/// 502/504 once the request has left), or the request back untouched when the connection
/// turned out unusable before sending, so the caller can try another.
async fn exchange(
    conn: &ConnInfo,
    domain: &Arc<DomainRuntime>,
    key: &PoolKey,
    mut tx: SendRequest<Incoming>,
    req: Request<Incoming>,
    via: &HeaderValue,
) -> Result<Response<EdgeBody>, Request<Incoming>> {
    match send(&mut tx, req, conn.edge.settings().origin_response_timeout).await {
        Sent::Answered(resp) => {
            let conn = Returning {
                key: key.clone(),
                tx,
                max_idle: domain.origin_idle_per_host,
                idle_timeout: domain.origin_idle_timeout,
            };
            Ok(respond(resp, via, conn))
        }
        Sent::Unsent(r) => Err(r),
        Sent::Failed(e) => Ok(origin_failed(conn, &e)),
        Sent::TimedOut => Ok(origin_timeout(conn)),
    }
}

fn origin_failed(conn: &ConnInfo, e: &hyper::Error) -> Response<EdgeBody> {
    conn.edge.metrics().origin_errors.fetch_add(1, Relaxed);
    tracing::info!(error = %e, "origin request failed");
    text(StatusCode::BAD_GATEWAY, "the origin failed to answer\n")
}

fn origin_timeout(conn: &ConnInfo) -> Response<EdgeBody> {
    conn.edge.metrics().origin_timeouts.fetch_add(1, Relaxed);
    text(
        StatusCode::GATEWAY_TIMEOUT,
        "the origin did not answer in time\n",
    )
}

fn respond(resp: Response<Incoming>, via: &HeaderValue, conn: Returning) -> Response<EdgeBody> {
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    append_list(&mut parts.headers, &header::VIA, via);
    parts.version = Version::HTTP_11;
    Response::from_parts(parts, EdgeBody::origin(body, conn))
}

#[cfg(test)]
mod tests {
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
}
