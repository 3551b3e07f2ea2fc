//! hyper 1.x on ringloop: serve and call HTTP/1.1 and HTTP/2 from a
//! ringloop runtime.
//!
//! - [`HyperIo`] gives hyper's I/O traits over ringloop streams (TCP,
//!   Unix, TLS), cancel-safe, with one copy each way (see its docs).
//! - [`LocalExec`] runs hyper's tasks as local ringloop tasks (no `Send`
//!   needed), and [`RingTimer`] gives hyper ringloop's timers.
//! - [`serve`] / [`Http`]: an accept loop, one task per connection, HTTP/1.1
//!   and HTTP/2 prior knowledge on one port, and a graceful
//!   [`HttpServer::shutdown`] that finishes requests in flight.
//! - [`client`]: `hyper::client::conn` over a ringloop stream.
//!
//! ```no_run
//! use http_body_util::Full;
//! use hyper::{body::Bytes, service::service_fn, Response};
//! ringloop_runtime::run(async {
//!     let listener = ringloop_net::TcpListener::bind("127.0.0.1:8080").unwrap();
//!     let server = ringloop_http::serve(listener, service_fn(|_req| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hello\n"))))
//!     }))
//!     .unwrap();
//!     server.serve_forever().await;
//! });
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod client;
mod io;
mod rt;
mod server;

pub use io::HyperIo;
pub use rt::{LocalExec, RingTimer};
pub use server::{serve, BoxError, Http, HttpServer, HEADER_READ_TIMEOUT};

pub use http_body_util;
pub use hyper;
pub use ringloop_net::ShutdownReport;
