//! Unix domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`].
//!
//! Addresses are reported as `Option<PathBuf>`: `None` for an unnamed
//! socket (one end of a pair, an unbound client) or an abstract address.

use crate::accept::{FromAccepted, Incoming};
use crate::addr::context;
use crate::core::{stream_io_methods, StreamCore};
use crate::datagram::DatagramCore;
use crate::tcp::ListenOptions;
use ringloop_runtime::buf::{IoBuf, IoBufMut};
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

fn unix_addr(path: &Path) -> io::Result<SockAddr> {
    SockAddr::unix(path).map_err(|e| context(e, "invalid Unix socket path", path.display()))
}

fn path_of(addr: SockAddr) -> Option<PathBuf> {
    addr.as_pathname().map(Path::to_path_buf)
}

/// The socket file a [`UnixListener`] or [`UnixDatagram`] bound, removed
/// when dropped if the path still names that same file (device and inode
/// recorded at bind time).
#[derive(Debug)]
pub(crate) struct SocketFile {
    /// Absolute, so that a later change of working directory does not
    /// point it at another file.
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// The file to remove for a socket just bound to `addr`, if `cleanup`
    /// asks for it: `None` for an abstract or unnamed address (no file).
    fn for_bound(addr: &SockAddr, cleanup: bool) -> Option<SocketFile> {
        match addr.as_pathname() {
            Some(bound) if cleanup => SocketFile::record(bound),
            _ => None,
        }
    }

    /// Records the file just bound at `path`; `None` if it cannot be found
    /// (then nothing will be removed).
    fn record(path: &Path) -> Option<SocketFile> {
        let path = std::path::absolute(path).ok()?;
        let meta = std::fs::symlink_metadata(&path).ok()?;
        Some(SocketFile {
            path,
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let same = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|meta| meta.dev() == self.dev && meta.ino() == self.ino);
        if same {
            // Best effort, as on close in Python: the file may be gone already.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A Unix socket listening for stream connections.
///
/// The socket file it binds is removed when the listener and every
/// [`Incoming`] stream taken from it are dropped, unless the path names
/// another file by then; see [`ListenOptions::cleanup_socket`].
#[derive(Debug)]
pub struct UnixListener {
    fd: SharedFd,
    socket_file: Option<Rc<SocketFile>>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist yet; remove a
    /// stale one first) and listens with a backlog of 1024. The file is
    /// removed again when the listener closes; see
    /// [`ListenOptions::cleanup_socket`] to keep it. A path starting with a
    /// NUL byte names an abstract socket, which has no file.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_with(path, &ListenOptions::new())
    }

    /// Like [`bind`](Self::bind) with a custom backlog, or without removing
    /// the socket file on close ([`ListenOptions::cleanup_socket`]).
    pub fn bind_with<P: AsRef<Path>>(path: P, opts: &ListenOptions) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let addr = unix_addr(path)?;
        let (socket, _) = opts
            .listen(Domain::UNIX, None, &addr)
            .map_err(|e| context(e, "could not listen on", path.display()))?;
        let socket_file = SocketFile::for_bound(&addr, opts.cleanup_socket).map(Rc::new);
        Ok(UnixListener {
            fd: SharedFd::new(socket.into()),
            socket_file,
        })
    }

    /// Accepts one connection (single-shot ACCEPT).
    pub async fn accept(&self) -> io::Result<(UnixStream, Option<PathBuf>)> {
        let (fd, addr) = op::accept(&self.fd).await?;
        Ok((UnixStream::from_accepted(fd), path_of(addr)))
    }

    /// An endless stream of accepted connections; see [`Incoming`].
    ///
    /// # Panics
    /// Outside a ringloop runtime (it asks the runtime which accept the
    /// kernel supports).
    pub fn incoming(&self) -> Incoming<UnixStream> {
        Incoming::new(self.fd.clone(), self.socket_file.clone())
    }

    /// The path the listener is bound to.
    pub fn local_addr(&self) -> io::Result<Option<PathBuf>> {
        Ok(path_of(SockRef::from(&self.fd).local_addr()?))
    }
}

/// A Unix stream connection, with the same owned-buffer I/O as
/// [`TcpStream`](crate::TcpStream).
#[derive(Debug)]
pub struct UnixStream {
    core: StreamCore,
}

impl FromAccepted for UnixStream {
    fn from_accepted(fd: OwnedFd) -> Self {
        UnixStream {
            core: StreamCore::new(fd),
        }
    }
}

impl UnixStream {
    /// Connects to the listener at `path`.
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let addr = unix_addr(path)?;
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        let fd = SharedFd::new(socket.into());
        op::connect(&fd, addr)
            .await
            .map_err(|e| context(e, "could not connect to", path.display()))?;
        Ok(UnixStream {
            core: StreamCore::from_shared(fd),
        })
    }

    /// A pair of connected, unnamed streams.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = Socket::pair(Domain::UNIX, Type::STREAM, None)?;
        Ok((
            UnixStream::from_accepted(a.into()),
            UnixStream::from_accepted(b.into()),
        ))
    }

    /// Wraps a connected std Unix stream.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> UnixStream {
        UnixStream::from_accepted(stream.into())
    }

    stream_io_methods!();

    /// The path of the peer's socket, if it is bound to one.
    pub fn peer_addr(&self) -> io::Result<Option<PathBuf>> {
        Ok(path_of(self.core.sock().peer_addr()?))
    }

    /// The path this end is bound to, if any.
    pub fn local_addr(&self) -> io::Result<Option<PathBuf>> {
        Ok(path_of(self.core.sock().local_addr()?))
    }
}

/// How a [`UnixDatagram`] is bound; see [`UnixDatagram::bind_with`].
///
/// ```
/// let opts = ringloop_net::DatagramOptions::new().cleanup_socket(false);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct DatagramOptions {
    cleanup_socket: bool,
}

impl Default for DatagramOptions {
    fn default() -> Self {
        DatagramOptions::new()
    }
}

impl DatagramOptions {
    /// The defaults of [`UnixDatagram::bind`]: the socket file is removed
    /// when the socket is dropped.
    pub fn new() -> DatagramOptions {
        DatagramOptions {
            cleanup_socket: true,
        }
    }

    /// Whether the socket file a [`UnixDatagram`] bound to is removed when
    /// the socket is dropped — but only if the path still names the file
    /// the bind created (same device and inode), so a file bound or put at
    /// the same path since is left alone. On by default, as for listeners
    /// ([`ListenOptions::cleanup_socket`]); turn it off to manage the file
    /// yourself.
    pub fn cleanup_socket(mut self, on: bool) -> Self {
        self.cleanup_socket = on;
        self
    }
}

/// A Unix datagram socket. Each send is one datagram; each receive returns
/// one datagram, truncated to the buffer's capacity.
///
/// Receives are cancel-safe, as [`UdpSocket`](crate::UdpSocket)'s are: a
/// receive dropped before it completes stays in flight and the datagram it
/// gets goes to the next receive, in order. Receive from one task at a time.
///
/// The socket file it binds is removed when the socket is dropped, unless
/// the path names another file by then; see
/// [`DatagramOptions::cleanup_socket`].
#[derive(Debug)]
pub struct UnixDatagram {
    core: DatagramCore,
    /// The file to remove on drop (bound to a path, with cleanup on).
    _socket_file: Option<SocketFile>,
}

impl UnixDatagram {
    /// A socket bound to the socket file `path` (which must not exist yet;
    /// remove a stale one first). The file is removed again when the socket
    /// is dropped; see [`DatagramOptions::cleanup_socket`] to keep it. A
    /// path starting with a NUL byte names an abstract socket, which has no
    /// file.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_with(path, &DatagramOptions::new())
    }

    /// Like [`bind`](Self::bind), or without removing the socket file on
    /// drop ([`DatagramOptions::cleanup_socket`]).
    pub fn bind_with<P: AsRef<Path>>(path: P, opts: &DatagramOptions) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        let addr = unix_addr(path)?;
        let socket = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
        socket
            .bind(&addr)
            .map_err(|e| context(e, "could not bind to", path.display()))?;
        Ok(UnixDatagram {
            core: DatagramCore::new(socket.into()),
            _socket_file: SocketFile::for_bound(&addr, opts.cleanup_socket),
        })
    }

    /// A socket bound to no path (it can send, but not be answered unless connected).
    pub fn unbound() -> io::Result<UnixDatagram> {
        let socket = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
        Ok(UnixDatagram {
            core: DatagramCore::new(socket.into()),
            _socket_file: None,
        })
    }

    /// A pair of connected, unnamed datagram sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = Socket::pair(Domain::UNIX, Type::DGRAM, None)?;
        Ok((
            UnixDatagram {
                core: DatagramCore::new(OwnedFd::from(a)),
                _socket_file: None,
            },
            UnixDatagram {
                core: DatagramCore::new(OwnedFd::from(b)),
                _socket_file: None,
            },
        ))
    }

    /// Sets the default peer of [`send`](Self::send) and [`recv`](Self::recv).
    pub async fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let path = path.as_ref();
        self.core
            .connect(unix_addr(path)?)
            .await
            .map_err(|e| context(e, "could not connect to", path.display()))
    }

    /// Sends one datagram to the socket at `path`.
    pub async fn send_to<B: IoBuf, P: AsRef<Path>>(
        &self,
        buf: B,
        path: P,
    ) -> (io::Result<usize>, B) {
        match unix_addr(path.as_ref()) {
            Ok(addr) => self.core.send_to(buf, addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Receives one datagram and the path of its sender (`None` if unbound,
    /// or if a cancelled [`recv`](Self::recv) on an unconnected socket
    /// received it). Cancel-safe.
    pub async fn recv_from<B: IoBufMut>(
        &self,
        buf: B,
    ) -> (io::Result<(usize, Option<PathBuf>)>, B) {
        let (res, buf) = self.core.recv_from(buf).await;
        (res.map(|(n, addr)| (n, addr.and_then(path_of))), buf)
    }

    /// Sends one datagram to the connected peer.
    pub async fn send<B: IoBuf>(&self, buf: B) -> (io::Result<usize>, B) {
        self.core.send(buf).await
    }

    /// Receives one datagram from the connected peer. Cancel-safe.
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> (io::Result<usize>, B) {
        self.core.recv(buf).await
    }

    /// The path this socket is bound to, if any.
    pub fn local_addr(&self) -> io::Result<Option<PathBuf>> {
        Ok(path_of(self.core.sock().local_addr()?))
    }
}
