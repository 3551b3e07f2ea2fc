//! Serving HTTP/1.1 and HTTP/2 with hyper: [`Http`], [`serve`] and the
//! [`HttpServer`] they start.

use crate::io::AutoWrites;
use crate::{HyperIo, LocalExec, RingTimer};
use futures_io::{AsyncBufRead, AsyncWrite};
use futures_util::future::{select, Either};
use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::server::conn::auto;
use ringloop_net::{Server, ShutdownReport, TcpListener, TcpStream, UnixListener};
use ringloop_runtime::sync::Event;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

/// A boxed error, as hyper's services return.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// How long a client may take to send a request's headers (hyper's default
/// once a timer is set); a slow or silent client is disconnected after it.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// hyper's connection settings for serving on ringloop: HTTP/1.1 and
/// HTTP/2 with prior knowledge on the same connections (hyper-util's
/// `auto` builder, which tells them apart by the HTTP/2 preface), the
/// [`LocalExec`] executor and the [`RingTimer`] (so the header-read
/// timeout and HTTP/2 keep-alive work).
///
/// ```no_run
/// use http_body_util::Full;
/// use hyper::{body::Bytes, service::service_fn, Response};
/// ringloop_runtime::run(async {
///     let listener = ringloop_net::TcpListener::bind("127.0.0.1:8080").unwrap();
///     let hello = service_fn(|_req| async {
///         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hello\n"))))
///     });
///     let server = ringloop_http::Http::new().serve(listener, hello).unwrap();
///     server.serve_forever().await;
/// });
/// ```
pub struct Http {
    builder: auto::Builder<LocalExec>,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http").finish_non_exhaustive()
    }
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

impl Http {
    /// HTTP/1.1 and HTTP/2 with hyper's defaults, ringloop's executor and
    /// timer, and a [`HEADER_READ_TIMEOUT`] for request headers.
    pub fn new() -> Http {
        let mut builder = auto::Builder::new(LocalExec);
        builder
            .http1()
            .timer(RingTimer)
            .header_read_timeout(HEADER_READ_TIMEOUT);
        builder.http2().timer(RingTimer);
        Http { builder }
    }

    /// hyper's settings, to change (limits, keep-alive, HTTP/1-only, ...).
    pub fn builder(&mut self) -> &mut auto::Builder<LocalExec> {
        &mut self.builder
    }

    /// Serves one connection to its end: every request on `io` goes to
    /// `service`. `io` is a [`PollStream`](ringloop_net::PollStream), a TLS stream, or any stream with
    /// the `futures-io` buffered-read and write traits.
    ///
    /// # Errors
    /// hyper's error for the connection: a malformed request, a header
    /// block over the limit, a timeout, an I/O error.
    pub async fn serve_connection<I, S, B>(&self, io: I, service: S) -> Result<(), BoxError>
    where
        I: AsyncBufRead + AsyncWrite + Unpin + 'static,
        S: Service<Request<Incoming>, Response = Response<B>> + 'static,
        S::Future: 'static,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
    {
        self.builder
            .serve_connection(HyperIo::new(io), service)
            .await
    }

    /// Serves `service` on every connection of `listener`, each in a task of
    /// its own, until [`HttpServer::shutdown`] or [`HttpServer::close`].
    /// Connections get TCP_NODELAY.
    ///
    /// # Errors
    /// The listener's address cannot be read.
    ///
    /// # Panics
    /// Outside a ringloop runtime.
    pub fn serve<S, B>(self, listener: TcpListener, service: S) -> io::Result<HttpServer>
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
        S::Future: 'static,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
    {
        self.serve_with(
            listener,
            |s| async move { Ok(AutoWrites::new(s.into_poll_stream())) },
            service,
        )
    }

    /// Like [`serve`](Self::serve), but each accepted stream first goes
    /// through `wrap` (a TLS handshake, say: `|s| acceptor.accept(s)`). A
    /// connection whose `wrap` fails is closed; the others go on.
    ///
    /// # Errors
    /// The listener's address cannot be read.
    ///
    /// # Panics
    /// Outside a ringloop runtime.
    pub fn serve_with<S, B, W, F, I>(
        self,
        listener: TcpListener,
        wrap: W,
        service: S,
    ) -> io::Result<HttpServer>
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
        S::Future: 'static,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
        W: Fn(TcpStream) -> F + 'static,
        F: Future<Output = io::Result<I>> + 'static,
        I: AsyncBufRead + AsyncWrite + Unpin + 'static,
    {
        let state = Rc::new(Shared {
            http: self,
            closing: Event::new(),
        });
        let shared = state.clone();
        let wrap = Rc::new(wrap);
        let server = Server::from_listener_streams(listener, move |stream: TcpStream| {
            let _ = stream.set_nodelay(true);
            let (shared, wrap, service) = (shared.clone(), wrap.clone(), service.clone());
            async move {
                if let Ok(io) = wrap(stream).await {
                    shared.run(io, service).await;
                }
            }
        })?;
        Ok(HttpServer { server, state })
    }

    /// [`serve`](Self::serve) on a Unix listener.
    ///
    /// # Panics
    /// Outside a ringloop runtime.
    pub fn serve_unix<S, B>(self, listener: UnixListener, service: S) -> HttpServer
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
        S::Future: 'static,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
    {
        let state = Rc::new(Shared {
            http: self,
            closing: Event::new(),
        });
        let shared = state.clone();
        let server = Server::from_unix_listener_streams(listener, move |stream| {
            let (shared, service) = (shared.clone(), service.clone());
            async move {
                shared
                    .run(AutoWrites::new(stream.into_poll_stream()), service)
                    .await
            }
        });
        HttpServer { server, state }
    }
}

/// Serves `service` on `listener` with [`Http::new`]'s settings.
///
/// # Errors
/// The listener's address cannot be read.
///
/// # Panics
/// Outside a ringloop runtime.
pub fn serve<S, B>(listener: TcpListener, service: S) -> io::Result<HttpServer>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    Http::new().serve(listener, service)
}

/// What the connection tasks of one [`HttpServer`] share.
struct Shared {
    http: Http,
    /// Set when the server shuts down: each connection then finishes its
    /// requests in flight and closes.
    closing: Event,
}

impl Shared {
    async fn run<I, S, B>(&self, io: I, service: S)
    where
        I: AsyncBufRead + AsyncWrite + Unpin + 'static,
        S: Service<Request<Incoming>, Response = Response<B>> + 'static,
        S::Future: 'static,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
    {
        let mut conn = pin!(self
            .http
            .builder
            .serve_connection(HyperIo::new(io), service));
        // A connection's error (bad request, timeout, reset) ends only it.
        if let Either::Right(((), _)) = select(conn.as_mut(), pin!(self.closing.wait())).await {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A running HTTP server, from [`serve`] or [`Http::serve`]. It keeps
/// serving if dropped; stop it with [`shutdown`](Self::shutdown).
pub struct HttpServer {
    server: Server,
    state: Rc<Shared>,
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer")
            .field("server", &self.server)
            .field("closing", &self.state.closing.is_set())
            .finish()
    }
}

impl HttpServer {
    /// The address it listens on (`None` on a Unix socket).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.local_addr()
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.server.connections()
    }

    /// Waits until the server is closed by another task.
    pub async fn serve_forever(&self) {
        self.server.serve_forever().await
    }

    /// Stops accepting; open connections go on. See
    /// [`shutdown`](Self::shutdown) for a graceful end.
    pub fn close(&self) {
        self.server.close()
    }

    /// Graceful shutdown: stops accepting, tells every connection to finish
    /// its requests in flight and then close (HTTP/1.1 ends keep-alive,
    /// HTTP/2 sends GOAWAY), waits up to `grace` for them, and aborts those
    /// still open then.
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        self.server.close();
        self.state.closing.set();
        self.server.shutdown(grace).await
    }
}
