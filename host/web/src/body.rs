//! Response bodies: whole buffers for small answers, a channel for streamed ones.
//!
//! `/federate` of a million series is hundreds of megabytes; it is produced on a blocking thread
//! in bounded chunks and handed to hyper through a small channel, so memory stays at a few chunks
//! and a slow reader slows the producer instead of growing a buffer.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// The body type every handler answers with.
pub type ResponseBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// A body that is already complete.
pub fn full(data: impl Into<Bytes>) -> ResponseBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A body fed chunk by chunk through the returned sender; it ends when the sender is dropped.
/// An `Err` sent through the channel aborts the response.
pub fn channel(capacity: usize) -> (mpsc::Sender<std::io::Result<Bytes>>, ResponseBody) {
    let (tx, rx) = mpsc::channel(capacity);
    (tx, ChannelBody { rx }.boxed())
}

struct ChannelBody {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|r| r.map(Frame::data)))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
