//! hyper's client connections over ringloop streams.
//!
//! ```no_run
//! use http_body_util::{BodyExt, Empty};
//! use hyper::{body::Bytes, Request};
//! ringloop_runtime::run(async {
//!     let stream = ringloop_net::TcpStream::connect("127.0.0.1:8080").await.unwrap();
//!     let mut sender = ringloop_http::client::http1(stream.into_poll_stream()).await.unwrap();
//!     let req = Request::get("/").header("host", "localhost").body(Empty::<Bytes>::new()).unwrap();
//!     let res = sender.send_request(req).await.unwrap();
//!     let body = res.into_body().collect().await.unwrap().to_bytes();
//!     println!("{}", String::from_utf8_lossy(&body));
//! });
//! ```

use crate::{HyperIo, LocalExec, RingTimer};
use futures_io::{AsyncBufRead, AsyncWrite};
use hyper::body::Body;
use hyper::client::conn::{http1 as h1, http2 as h2};

/// Starts an HTTP/1.1 client connection on `io` (a
/// [`PollStream`](ringloop_net::PollStream), a TLS stream, ...): the
/// connection runs in a local task, and the returned sender sends requests
/// on it, one at a time.
///
/// # Errors
/// hyper's handshake error.
///
/// # Panics
/// Outside a ringloop runtime.
pub async fn http1<I, B>(io: I) -> hyper::Result<h1::SendRequest<B>>
where
    I: AsyncBufRead + AsyncWrite + Unpin + 'static,
    B: Body + 'static,
    B::Data: Send,
    B::Error: Into<crate::BoxError>,
{
    let (sender, conn) = h1::handshake(HyperIo::new(io)).await?;
    // Detached; it ends with the connection, and its error shows in the
    // sender's next request.
    drop(ringloop_runtime::spawn(async move {
        let _ = conn.await;
    }));
    Ok(sender)
}

/// Starts an HTTP/2 client connection on `io` (prior knowledge, or ALPN
/// "h2" on TLS): requests may be sent concurrently from clones of the
/// returned sender.
///
/// # Errors
/// hyper's handshake error.
///
/// # Panics
/// Outside a ringloop runtime.
pub async fn http2<I, B>(io: I) -> hyper::Result<h2::SendRequest<B>>
where
    I: AsyncBufRead + AsyncWrite + Unpin + 'static,
    B: Body + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<crate::BoxError>,
{
    let mut builder = h2::Builder::new(LocalExec);
    builder.timer(RingTimer);
    let (sender, conn) = builder.handshake(HyperIo::new(io)).await?;
    drop(ringloop_runtime::spawn(async move {
        let _ = conn.await;
    }));
    Ok(sender)
}
