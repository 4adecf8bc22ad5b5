use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::usage::DomainUsage;

/// A response body: either a short one the edge writes itself, or the origin's, streamed frame
/// by frame as it arrives (never buffered whole). When it belongs to a domain, the bytes it
/// sends are counted for that domain as they go.
pub(crate) struct EdgeBody {
    inner: Inner,
    usage: Option<Arc<DomainUsage>>,
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
        }
    }

    pub(crate) fn empty() -> Self {
        Self {
            inner: Inner::Full(None),
            usage: None,
        }
    }

    pub(crate) fn origin(body: Incoming) -> Self {
        Self {
            inner: Inner::Origin(body),
            usage: None,
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
