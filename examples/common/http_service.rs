//! The service of the `http_server` and `https_server` examples.

use ringloop::http::http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use ringloop::http::hyper::body::{Bytes, Frame, Incoming};
use ringloop::http::hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;

/// Every response's body: a whole buffer, the request's own body, or a stream.
pub type Body = UnsyncBoxBody<Bytes, ringloop::http::hyper::Error>;

fn full(status: StatusCode, text: &'static str) -> Response<Body> {
    let body = Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res
}

/// `GET /` says hello; `POST /echo` streams the request body back as it
/// arrives (hyper's buffers, no copy); `GET /stream` sends numbered lines
/// as separate chunks; anything else is 404.
pub async fn handle(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => full(StatusCode::OK, "Hello from ringloop\n"),
        (&Method::POST, "/echo") => Response::new(req.into_body().boxed_unsync()),
        (&Method::GET, "/stream") => {
            let chunks = (0..16).map(|i| Ok(Frame::data(Bytes::from(format!("chunk {i}\n")))));
            Response::new(StreamBody::new(futures_util::stream::iter(chunks)).boxed_unsync())
        }
        (_, "/" | "/echo" | "/stream") => {
            full(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        }
        _ => full(StatusCode::NOT_FOUND, "not found\n"),
    })
}
