//! The same hyper "hello" service on ringloop (`ringloop::http`) and on
//! tokio current_thread (hyper-util's tokio glue), with the same hyper
//! settings: hyper-util's `auto` builder (HTTP/1.1 and HTTP/2 prior
//! knowledge), a timer, and the 30 s header-read timeout.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::TcpListener;

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::from_static(b"hello")));
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    Ok(res)
}

/// hyper on ringloop, through `ringloop::http::serve`, until killed.
pub async fn serve_ringloop(listener: TcpListener) {
    let listener = ringloop::net::TcpListener::from_std(listener);
    let server = ringloop::http::serve(listener, service_fn(hello)).expect("serve");
    server.serve_forever().await;
}

/// hyper on tokio current_thread, the way hyper-util's docs serve, until killed.
pub fn serve_tokio(listener: TcpListener) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(std::time::Duration::from_secs(30));
        builder.http2().timer(TokioTimer::new());
        let builder = std::sync::Arc::new(builder);
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let builder = builder.clone();
                tokio::task::spawn(async move {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service_fn(hello))
                        .await;
                });
            }
        }
    });
}
