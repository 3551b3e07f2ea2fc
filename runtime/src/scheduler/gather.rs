//! `gather` and `try_gather`: run futures concurrently inside the caller.

use futures_util::stream::{FuturesUnordered, Stream};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A future tagged with its position in the caller's argument list.
///
/// The children of [`gather`] and [`wait`](crate::wait) live in a
/// `FuturesUnordered`, which gives every child its own waker: a wake-up polls
/// only the child that was woken, never all of them.
pub(crate) struct Indexed<F> {
    /// Position in the input. Never changes once built.
    pub(crate) index: usize,
    /// Structurally pinned: never moved out while `Indexed` is pinned, and
    /// `Indexed` has no `Drop` impl that could move it.
    pub(crate) future: F,
}

impl<F: Future> Future for Indexed<F> {
    type Output = (usize, F::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index;
        // SAFETY: `future` is structurally pinned (see the field): it is never
        // moved out of a pinned `Indexed`, and `Indexed` is not `Unpin` unless `F` is.
        let future = unsafe { self.map_unchecked_mut(|s| &mut s.future) };
        future.poll(cx).map(|out| (index, out))
    }
}

/// Builds the set of indexed children from the caller's futures.
pub(crate) fn indexed<I>(futures: I) -> FuturesUnordered<Indexed<I::Item>>
where
    I: IntoIterator,
    I::Item: Future,
{
    futures
        .into_iter()
        .enumerate()
        .map(|(index, future)| Indexed { index, future })
        .collect()
}

/// Runs all `futures` concurrently inside the calling task and returns their
/// outputs in argument order (asyncio's `gather`).
///
/// The futures are not spawned: they make progress only while the gather is
/// polled, and dropping the gather drops (cancels) those not finished yet.
/// Each child has its own waker, so a wake-up polls only the child it concerns.
///
/// ```
/// use ringloop_runtime::{gather, run, spawn};
///
/// let outs = run(async {
///     // Plain futures, or JoinHandles of spawned tasks.
///     let handles: Vec<_> = (0..3).map(|i| spawn(async move { i * 10 })).collect();
///     gather(handles).await
/// });
/// let outs: Vec<i32> = outs.into_iter().map(Result::unwrap).collect();
/// assert_eq!(outs, [0, 10, 20]);
/// ```
pub fn gather<I>(futures: I) -> Gather<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let children = indexed(futures);
    let outputs = (0..children.len()).map(|_| None).collect();
    Gather { children, outputs }
}

/// The future of [`gather`].
#[must_use = "gather does nothing unless awaited"]
pub struct Gather<F: Future> {
    children: FuturesUnordered<Indexed<F>>,
    outputs: Vec<Option<F::Output>>,
}

impl<F: Future> Unpin for Gather<F> {}

impl<F: Future> Future for Gather<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match Pin::new(&mut this.children).poll_next(cx) {
                Poll::Ready(Some((index, out))) => this.outputs[index] = Some(out),
                Poll::Ready(None) => {
                    let outputs = std::mem::take(&mut this.outputs);
                    return Poll::Ready(
                        outputs
                            .into_iter()
                            .map(|o| o.expect("every child of a gather yields once"))
                            .collect(),
                    );
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<F: Future> fmt::Debug for Gather<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gather")
            .field("pending", &self.children.len())
            .field("total", &self.outputs.len())
            .finish()
    }
}

/// Runs all `futures` concurrently like [`gather`], but stops at the first
/// `Err`: it is returned and the other futures are dropped (cancelled).
///
/// **Deliberately unlike asyncio**: `asyncio.gather` propagates the first
/// exception but leaves the other awaitables running, unobserved, and their
/// later exceptions are lost. Here nothing outlives the call. To let siblings
/// keep running, spawn them and gather the `JoinHandle`s: dropping a handle
/// detaches its task instead of cancelling it.
///
/// ```
/// use ringloop_runtime::{run, try_gather};
///
/// async fn parse(s: &'static str) -> Result<u32, String> {
///     s.parse().map_err(|e| format!("{s:?}: {e}"))
/// }
/// assert_eq!(run(try_gather(["1", "2"].map(parse))), Ok(vec![1, 2]));
/// let res = run(try_gather(["1", "x"].map(parse)));
/// assert_eq!(res, Err("\"x\": invalid digit found in string".to_string()));
/// ```
pub fn try_gather<I, T, E>(futures: I) -> TryGather<I::Item, T, E>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    let children = indexed(futures);
    let outputs = (0..children.len()).map(|_| None).collect();
    TryGather { children, outputs }
}

/// The future of [`try_gather`].
#[must_use = "try_gather does nothing unless awaited"]
pub struct TryGather<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    children: FuturesUnordered<Indexed<F>>,
    outputs: Vec<Option<T>>,
}

impl<F, T, E> Unpin for TryGather<F, T, E> where F: Future<Output = Result<T, E>> {}

impl<F, T, E> Future for TryGather<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match Pin::new(&mut this.children).poll_next(cx) {
                Poll::Ready(Some((index, Ok(out)))) => this.outputs[index] = Some(out),
                Poll::Ready(Some((_, Err(e)))) => {
                    // Cancel the rest now rather than when the caller drops us.
                    this.children.clear();
                    this.outputs.clear();
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(None) => {
                    let outputs = std::mem::take(&mut this.outputs);
                    return Poll::Ready(Ok(outputs
                        .into_iter()
                        .map(|o| o.expect("every child of a try_gather yields once"))
                        .collect()));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<F, T, E> fmt::Debug for TryGather<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryGather")
            .field("pending", &self.children.len())
            .finish()
    }
}
