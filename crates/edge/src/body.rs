use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::edge::Edge;
use crate::pool::Returning;
use crate::usage::DomainUsage;

/// A response body: either a short one the edge writes itself, or the origin's, streamed frame
/// by frame as it arrives (never buffered whole). When it belongs to a domain, the bytes it
/// sends are counted for that domain as they go.
pub(crate) struct EdgeBody {
    inner: Inner,
    usage: Option<Arc<DomainUsage>>,
    /// The origin connection the body comes from, pooled again at its end.
    returning: Option<Returning>,
}

enum Inner {
    Full(Option<Bytes>),
    Origin(Incoming),
}

impl EdgeBody {
    pub(crate) fn text(s: &'static str) -> Self {
        Self {
            inner: Inner::Full(Some(Bytes::from_static(s.as_bytes()))),
            usage: None,
            returning: None,
        }
    }

    pub(crate) fn empty() -> Self {
        Self {
            inner: Inner::Full(None),
            usage: None,
            returning: None,
        }
    }

    /// The origin's body; `conn` goes back to its pool once the body has been read.
    pub(crate) fn origin(body: Incoming, conn: Returning) -> Self {
        let returning = if body.is_end_stream() {
            // No body (HEAD, 204, 304...): hyper will not poll it, so the connection is free now.
            conn.done();
            None
        } else {
            Some(conn)
        };
        Self {
            inner: Inner::Origin(body),
            usage: None,
            returning,
        }
    }

    /// Counts what this body sends for a domain.
    pub(crate) fn metered(mut self, usage: Arc<DomainUsage>) -> Self {
        self.usage = Some(usage);
        self
    }
}

impl Body for EdgeBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = match &mut this.inner {
            Inner::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Inner::Origin(i) => Pin::new(i).poll_frame(cx),
        };
        if let (Poll::Ready(Some(Ok(f))), Some(u)) = (&frame, &this.usage) {
            if let Some(d) = f.data_ref() {
                u.sent(d.len() as u64);
            }
        }
        let ended = match &frame {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => this.is_end_stream(),
            _ => false,
        };
        if ended {
            if let Some(r) = this.returning.take() {
                r.done();
            }
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(b) => b.is_none(),
            Inner::Origin(i) => i.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Inner::Origin(i) => i.size_hint(),
        }
    }
}

/// How far a client's request body has been read, as the origin loop sees it: who is to blame
/// when the exchange with the origin fails or stalls depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyState {
    /// Not all of it has arrived yet.
    Reading,
    /// It arrived whole (or there was none).
    Complete,
    /// The client broke it: a malformed chunk, fewer bytes than its `Content-Length`, a stream
    /// reset or a closed connection. The client's fault, never the origin's.
    Broken,
}

/// A client's request body on its way to the origin, frame by frame as it arrives (never
/// buffered), that records in a [`BodyWatch`] whether it arrived whole.
///
/// A body the client breaks is counted in `tlsedge_client_errors_total` here, where the break
/// is seen: the origin connection's task reads the body, and it still does when the client's
/// HTTP/2 reset has cancelled the request's handler.
pub(crate) struct RequestBody {
    inner: Incoming,
    state: Arc<AtomicU8>,
    /// Where the break is counted; `None` for a request without a body.
    edge: Option<Arc<Edge>>,
}

/// The other end of a [`RequestBody`]: what the origin loop reads after the body went to the
/// origin.
///
/// Dropped before [`BodyWatch::settled`] (the request's handler was cancelled: the client
/// reset its HTTP/2 stream or closed its connection) while the body was still being read, it
/// counts the body as cut short by the client.
pub(crate) struct BodyWatch {
    state: Arc<AtomicU8>,
    edge: Option<Arc<Edge>>,
}

const READING: u8 = 0;
const COMPLETE: u8 = 1;
const BROKEN: u8 = 2;
/// Still being read when the origin's answer was due; counted then (reads as `Broken`).
const STALLED: u8 = 3;

impl RequestBody {
    /// Wraps the client's body; the watch tells how far it got.
    pub(crate) fn new(inner: Incoming, edge: &Arc<Edge>) -> (Self, BodyWatch) {
        // An HTTP/2 stream the client already reset also reads as ended: its declared length
        // tells it from a request that has no body.
        let none = inner.is_end_stream() && inner.size_hint().exact().is_none_or(|n| n == 0);
        let (first, edge) = if none {
            (COMPLETE, None)
        } else {
            (READING, Some(edge.clone()))
        };
        let state = Arc::new(AtomicU8::new(first));
        (
            Self {
                inner,
                state: state.clone(),
                edge: edge.clone(),
            },
            BodyWatch {
                state,
                edge: edge.clone(),
            },
        )
    }
}

impl BodyWatch {
    /// How far the body has been read.
    pub(crate) fn state(&self) -> BodyState {
        match self.state.load(Relaxed) {
            READING => BodyState::Reading,
            COMPLETE => BodyState::Complete,
            _ => BodyState::Broken,
        }
    }

    /// Marks a body still being read as the reason the origin's answer did not come in time:
    /// true when it was still being read (the caller counts the client error once; a break
    /// seen later is not counted again).
    pub(crate) fn stalled(&self) -> bool {
        self.state
            .compare_exchange(READING, STALLED, Relaxed, Relaxed)
            .is_ok()
    }

    /// The request got its answer: whatever happens to the body now is not counted here.
    pub(crate) fn settled(mut self) {
        self.edge = None;
    }
}

impl Drop for BodyWatch {
    fn drop(&mut self) {
        if let Some(edge) = &self.edge {
            cut_short(&self.state, edge);
        }
    }
}

/// Marks a body still being read as broken by its client and counts the client error, once per
/// request whoever sees the break first.
fn cut_short(state: &AtomicU8, edge: &Edge) {
    if state
        .compare_exchange(READING, BROKEN, Relaxed, Relaxed)
        .is_ok()
    {
        edge.metrics().client_errors.fetch_add(1, Relaxed);
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        match &frame {
            Poll::Ready(Some(Err(_))) => {
                if let Some(edge) = &this.edge {
                    cut_short(&this.state, edge);
                }
            }
            Poll::Ready(None) => this.state.store(COMPLETE, Relaxed),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => {
                this.state.store(COMPLETE, Relaxed)
            }
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
