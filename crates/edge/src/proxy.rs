//! The origin loop: a request goes to the domain's origins in order until one answers, and
//! the answer streams back. What the request and response heads lose and gain on the way is
//! `rewrite`'s; what the client gets when no origin answers is a `Refusal`.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, Response};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use rand::Rng;
use tlsedge_model::{OriginProtocol, Priority};

use crate::body::{BodyState, BodyWatch, EdgeBody, RequestBody};
use crate::conn::ConnInfo;
use crate::pool::{self, ConnectError, PoolKey, Returning};
use crate::respond::Refusal;
use crate::rewrite::{self, Forwarding};
use crate::scheme::Scheme;
use crate::snapshot::DomainRuntime;

/// How long an origin whose connect failed is skipped (while another one can be tried).
const DOWN_FOR: Duration = Duration::from_secs(10);

fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
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

/// How one send of a request on an origin connection ended.
enum Attempt {
    /// The origin sent a response head.
    Answered(Response<Incoming>),
    /// The request never left: try it elsewhere.
    Unsent(Request<RequestBody>),
    /// The connection failed after the request had left.
    Failed(hyper::Error),
    /// No response head within `origin_response_timeout`.
    TimedOut,
}

async fn send(
    tx: &mut SendRequest<RequestBody>,
    req: Request<RequestBody>,
    timeout: Duration,
) -> Attempt {
    match tokio::time::timeout(timeout, tx.try_send_request(req)).await {
        Err(_) => Attempt::TimedOut,
        Ok(Ok(resp)) => Attempt::Answered(resp),
        Ok(Err(mut e)) => match e.take_message() {
            Some(req) => Attempt::Unsent(req),
            None => Attempt::Failed(e.into_error()),
        },
    }
}

/// Forwards a request for `authority` (the request's one authority, see `authority`) to the
/// domain's origins and streams the answer back.
///
/// Refuses with [`Refusal::OriginUnreachable`] (502) when no origin can be connected to,
/// [`Refusal::OriginFailed`] (502) when one fails once the request has left, and
/// [`Refusal::OriginTimeout`] (504) when one does not connect or answer in time. A request
/// body that the client malformed or cut short is [`Refusal::BadRequestBody`] (400), one it had
/// not sent whole when the origin's answer was due [`Refusal::RequestBodyTimeout`] (408): both
/// the client's faults, counted in `tlsedge_client_errors_total`, never as origin errors.
pub(crate) async fn forward(
    conn: &ConnInfo,
    domain: &DomainRuntime,
    authority: HeaderValue,
    req: Request<Incoming>,
) -> Result<Response<EdgeBody>, Refusal> {
    let cfg = &domain.config;

    let scheme = conn.transport().scheme();
    let use_tls = match cfg.origin_protocol {
        OriginProtocol::Http => false,
        OriginProtocol::Https => true,
        OriginProtocol::Follow => scheme == Scheme::Https,
    };
    let via = conn.edge.via(req.version());
    let (mut parts, body) = req.into_parts();
    let (body, watch) = RequestBody::new(body, &conn.edge);
    let with = Forwarding {
        origin_host: domain.origin_host.as_ref(),
        client_ip: &conn.client_ip,
        scheme,
        via,
    };
    rewrite::request(&mut parts, authority, &with);
    let req = Request::from_parts(parts, body);
    let outcome = try_origins(conn, domain, use_tls, req, via, &watch).await;
    watch.settled();
    outcome
}

/// The origin loop of [`forward`]: each origin in [`origin_order`] until one answers.
async fn try_origins(
    conn: &ConnInfo,
    domain: &DomainRuntime,
    use_tls: bool,
    mut req: Request<RequestBody>,
    via: &HeaderValue,
    watch: &BodyWatch,
) -> Result<Response<EdgeBody>, Refusal> {
    let cfg = &domain.config;
    let settings = conn.edge.settings();
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
        while let Some(tx) = pool::checkout(&key, Instant::now()) {
            match exchange(conn, domain, &key, tx, req, via, watch).await {
                ControlFlow::Break(outcome) => return outcome,
                ControlFlow::Continue(r) => req = r,
            }
        }
        let tx = match pool::connect(
            &key,
            settings.origin_connect_timeout,
            settings.max_response_header_bytes,
        )
        .await
        {
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
        match exchange(conn, domain, &key, tx, req, via, watch).await {
            ControlFlow::Break(outcome) => return outcome,
            ControlFlow::Continue(r) => req = r,
        }
    }
    if saw_timeout {
        Err(origin_timeout(conn))
    } else {
        conn.edge.metrics().origin_errors.fetch_add(1, Relaxed);
        Err(Refusal::OriginUnreachable)
    }
}

/// One request on one origin connection. Breaks with the answer for the client (the origin's
/// response, or a refusal once the request has left), or continues with the request back
/// untouched when the connection turned out unusable before sending, so the caller can try
/// another.
async fn exchange(
    conn: &ConnInfo,
    domain: &DomainRuntime,
    key: &PoolKey,
    mut tx: SendRequest<RequestBody>,
    req: Request<RequestBody>,
    via: &HeaderValue,
    watch: &BodyWatch,
) -> ControlFlow<Result<Response<EdgeBody>, Refusal>, Request<RequestBody>> {
    let outcome = match send(&mut tx, req, conn.edge.settings().origin_response_timeout).await {
        Attempt::Answered(resp) => {
            let back = Returning {
                key: key.clone(),
                tx,
                max_idle: domain.origin_idle_per_host,
                idle_timeout: domain.origin_idle_timeout,
            };
            let (mut parts, body) = resp.into_parts();
            match rewrite::response(&mut parts, via, !body.is_end_stream()) {
                Ok(()) => Ok(Response::from_parts(parts, EdgeBody::origin(body, back))),
                Err(e) => {
                    // The connection is dropped with the unread body.
                    conn.edge.metrics().origin_errors.fetch_add(1, Relaxed);
                    tracing::info!(error = %e, "origin response refused");
                    Err(Refusal::OriginFailed)
                }
            }
        }
        Attempt::Unsent(r) => return ControlFlow::Continue(r),
        // The client's body failing fails the send too: then the client is to blame (the body
        // counted the client error where it broke).
        Attempt::Failed(_) if watch.state() == BodyState::Broken => Err(Refusal::BadRequestBody),
        Attempt::Failed(e) => {
            conn.edge.metrics().origin_errors.fetch_add(1, Relaxed);
            tracing::info!(error = %e, "origin request failed");
            Err(Refusal::OriginFailed)
        }
        // An origin may wait for the whole body before it answers: while the client has not
        // sent it, the wait is the client's.
        Attempt::TimedOut if watch.stalled() => {
            conn.edge.metrics().client_errors.fetch_add(1, Relaxed);
            Err(Refusal::RequestBodyTimeout)
        }
        Attempt::TimedOut if watch.state() == BodyState::Broken => Err(Refusal::BadRequestBody),
        Attempt::TimedOut => Err(origin_timeout(conn)),
    };
    ControlFlow::Break(outcome)
}

/// Counts an origin timeout.
fn origin_timeout(conn: &ConnInfo) -> Refusal {
    conn.edge.metrics().origin_timeouts.fetch_add(1, Relaxed);
    Refusal::OriginTimeout
}
