//! TLS for ringloop: rustls server and client streams on ringloop sockets.
//!
//! ```no_run
//! use std::sync::Arc;
//! # fn config() -> rustls::ServerConfig { unimplemented!() }
//! ringloop_runtime::run(async {
//!     let acceptor = ringloop_tls::TlsAcceptor::new(Arc::new(config()));
//!     let listener = ringloop_net::TcpListener::bind("127.0.0.1:8443").unwrap();
//!     let (tcp, _) = listener.accept().await.unwrap();
//!     let mut tls = acceptor.accept(tcp).await.unwrap();
//!     let (res, buf) = tls.read(vec![0u8; 4096]).await;
//!     let n = res.unwrap();
//!     tls.write_all(buf[..n].to_vec()).await.0.unwrap();
//!     tls.shutdown().await.unwrap();
//! });
//! ```
//!
//! rustls runs with the `ring` crypto provider. Handshakes are bounded by a
//! timeout ([`DEFAULT_HANDSHAKE_TIMEOUT`]); a bad or stalled handshake is
//! an error for that connection only.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod config;
mod stream;

pub use config::{client_config_with_roots, load_certs, load_private_key, server_config};
pub use rustls;
pub use stream::TlsStream;

use ringloop_net::{PollStream, TcpStream, UnixStream};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// How long a handshake may take unless set otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A stream TLS can run over: [`TcpStream`], [`UnixStream`] or a
/// [`PollStream`] made from either.
pub trait Transport {
    /// The stream as the poll adapter TLS drives.
    fn into_poll_stream(self) -> PollStream;
}

impl Transport for TcpStream {
    fn into_poll_stream(self) -> PollStream {
        TcpStream::into_poll_stream(self)
    }
}

impl Transport for UnixStream {
    fn into_poll_stream(self) -> PollStream {
        UnixStream::into_poll_stream(self)
    }
}

impl Transport for PollStream {
    fn into_poll_stream(self) -> PollStream {
        self
    }
}

/// Runs a handshake on `tls` within `limit`.
async fn handshake(mut tls: TlsStream, limit: Duration, side: &str) -> io::Result<TlsStream> {
    match ringloop_timer::timeout(limit, poll_fn(|cx| tls.poll_handshake(cx))).await {
        Ok(Ok(())) => Ok(tls),
        Ok(Err(e)) => Err(io::Error::new(
            e.kind(),
            format!("TLS handshake ({side}) failed: {e}"),
        )),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("TLS handshake ({side}) did not finish within {limit:?}"),
        )),
    }
}

/// The server side: accepts TLS on connected streams.
#[derive(Clone)]
pub struct TlsAcceptor {
    config: Arc<rustls::ServerConfig>,
    timeout: Duration,
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("alpn", &self.config.alpn_protocols)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl TlsAcceptor {
    /// An acceptor with `config` (certificate, ALPN protocols, ...) and the
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub fn new(config: Arc<rustls::ServerConfig>) -> TlsAcceptor {
        TlsAcceptor {
            config,
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Sets how long a handshake may take.
    pub fn handshake_timeout(mut self, limit: Duration) -> TlsAcceptor {
        self.timeout = limit;
        self
    }

    /// Runs the server handshake on `stream`.
    ///
    /// # Errors
    /// The client's handshake is malformed or refused (`InvalidData`), it
    /// closes the connection (`UnexpectedEof`), or it takes longer than the
    /// handshake timeout (`TimedOut`); the message says which.
    pub async fn accept<S: Transport>(&self, stream: S) -> io::Result<TlsStream> {
        let conn = rustls::ServerConnection::new(self.config.clone())
            .map_err(|e| io::Error::other(format!("TLS server set-up failed: {e}")))?;
        let tls = TlsStream::new(stream.into_poll_stream(), conn.into());
        handshake(tls, self.timeout, "server").await
    }
}

/// The client side: starts TLS on connected streams.
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("alpn", &self.config.alpn_protocols)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl TlsConnector {
    /// A connector with `config` (trusted roots, ALPN protocols, ...) and
    /// the [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub fn new(config: Arc<rustls::ClientConfig>) -> TlsConnector {
        TlsConnector {
            config,
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Sets how long a handshake may take.
    pub fn handshake_timeout(mut self, limit: Duration) -> TlsConnector {
        self.timeout = limit;
        self
    }

    /// Runs the client handshake on `stream` for server `name` (a DNS name
    /// or an IP address, checked against the server's certificate).
    ///
    /// # Errors
    /// `name` is not a valid server name (`InvalidInput`), the server's
    /// certificate is not trusted or does not match (`InvalidData`), the
    /// server closes the connection (`UnexpectedEof`), or the handshake
    /// takes longer than the timeout (`TimedOut`).
    pub async fn connect<S: Transport>(&self, name: &str, stream: S) -> io::Result<TlsStream> {
        let server = rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is not a valid TLS server name: {e}"),
            )
        })?;
        let conn = rustls::ClientConnection::new(self.config.clone(), server)
            .map_err(|e| io::Error::other(format!("TLS client set-up failed: {e}")))?;
        let tls = TlsStream::new(stream.into_poll_stream(), conn.into());
        handshake(tls, self.timeout, "client").await
    }
}
