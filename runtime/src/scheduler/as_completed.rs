//! `as_completed`: outputs in completion order, as a `Stream`.

use futures_util::stream::{FuturesUnordered, Stream};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs `futures` concurrently inside the caller and yields each output as
/// soon as its future finishes (asyncio's `as_completed`), as a
/// [`futures_util::Stream`]. Dropping the stream drops (cancels) the futures
/// not finished yet; pass `JoinHandle`s to let spawned tasks outlive it.
///
/// ```
/// use futures_util::StreamExt;
/// use ringloop_runtime::{as_completed, run, spawn, yield_now};
///
/// let order = run(async {
///     let slow = spawn(async { for _ in 0..10 { yield_now().await } "slow" });
///     let fast = spawn(async { "fast" });
///     let mut stream = as_completed(vec![slow, fast]);
///     let mut order = Vec::new();
///     while let Some(out) = stream.next().await {
///         order.push(out.unwrap());
///     }
///     order
/// });
/// assert_eq!(order, ["fast", "slow"]);
/// ```
pub fn as_completed<I>(futures: I) -> AsCompleted<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    AsCompleted {
        children: futures.into_iter().collect(),
    }
}

/// The stream of [`as_completed`].
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<F> {
    children: FuturesUnordered<F>,
}

impl<F> AsCompleted<F> {
    /// How many futures have not finished yet.
    pub fn remaining(&self) -> usize {
        self.children.len()
    }
}

impl<F> Unpin for AsCompleted<F> {}

impl<F: Future> Stream for AsCompleted<F> {
    type Item = F::Output;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        Pin::new(&mut self.children).poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.children.len(), Some(self.children.len()))
    }
}

impl<F> fmt::Debug for AsCompleted<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.children.len())
            .finish()
    }
}
