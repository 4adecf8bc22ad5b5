use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

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
