//! TCP: [`TcpListener`] and [`TcpStream`].

use crate::accept::{FromAccepted, Incoming};
use crate::addr::{context, resolve, resolve_blocking, try_each, Addrs, ToSocketAddrs};
use crate::core::{stream_io_methods, StreamCore};
use ringloop_runtime::buf::{IoBuf, IoBufMut};
use ringloop_runtime::fd::SharedFd;
use ringloop_runtime::op;
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

/// How a listening socket is set up; see [`TcpListener::bind_with`].
///
/// ```
/// let opts = ringloop_net::ListenOptions::new().backlog(4096).reuse_port(true);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct ListenOptions {
    backlog: i32,
    reuse_port: bool,
    steer_by_cpu: bool,
    only_v6: Option<bool>,
    pub(crate) cleanup_socket: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions::new()
    }
}

impl ListenOptions {
    /// SO_REUSEADDR (always on), a backlog of 1024, no SO_REUSEPORT, and
    /// Unix socket files removed when their listener closes.
    pub fn new() -> ListenOptions {
        ListenOptions {
            backlog: 1024,
            reuse_port: false,
            steer_by_cpu: false,
            only_v6: None,
            cleanup_socket: true,
        }
    }

    /// The listen backlog: how many connections may wait to be accepted
    /// (the kernel caps it at `net.core.somaxconn`).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        self
    }

    /// SO_REUSEPORT: several sockets (one per thread or process) may bind
    /// the same address, and the kernel spreads connections among them.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// With SO_REUSEPORT (which it turns on), sends each new connection to
    /// the listener of the group that was bound on the CPU that handled the
    /// connection's SYN, instead of a hash of its addresses: for runtimes
    /// pinned one per core (`Builder::pin_to_cores`), a connection is then
    /// served on the core whose NIC queue received it, with no cache line
    /// crossing cores. It helps where the NIC spreads flows over queues
    /// tied to CPUs (RSS/RPS); on loopback the SYN is handled on the
    /// connecting thread's CPU, so it only follows the clients.
    ///
    /// Each listener records the CPU its thread runs on when it starts
    /// listening (`SO_ATTACH_REUSEPORT_CBPF` with a CPU -> listener table
    /// for the group, rebuilt as listeners join); a CPU with no listener
    /// falls back to the hash. If a listener of the group closes, the
    /// kernel reorders the group and the table no longer matches it: close
    /// them together.
    pub fn steer_by_cpu(mut self, on: bool) -> Self {
        self.steer_by_cpu = on;
        self.reuse_port |= on;
        self
    }

    /// IPV6_V6ONLY for IPv6 addresses: `false` accepts IPv4 too on `[::]`.
    /// Unset, the system default (`net.ipv6.bindv6only`) applies.
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }

    /// Unix listeners only: whether the socket file a
    /// [`UnixListener`](crate::UnixListener) bound to is removed when the
    /// listener (and every [`Incoming`] stream taken from it) is dropped —
    /// but only if the path still names the file the bind created (same
    /// device and inode), so a socket file another process bound at the
    /// same path since is left alone. On by default, as Python's
    /// `cleanup_socket=True`; turn it off to manage the file yourself.
    /// [`UnixDatagram`](crate::UnixDatagram)s have the same switch in
    /// [`DatagramOptions`](crate::DatagramOptions).
    pub fn cleanup_socket(mut self, on: bool) -> Self {
        self.cleanup_socket = on;
        self
    }

    /// Creates a socket of `ty`, applies the options, binds and listens.
    /// With CPU steering, also returns the listener's membership of its
    /// group's table, which the listener holds while it lives.
    pub(crate) fn listen(
        &self,
        domain: Domain,
        protocol: Option<Protocol>,
        addr: &SockAddr,
    ) -> io::Result<(Socket, Option<steer::Member>)> {
        let socket = Socket::new(domain, Type::STREAM, protocol)?;
        if domain != Domain::UNIX {
            socket.set_reuse_address(true)?;
        }
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        if let (Some(only), Domain::IPV6) = (self.only_v6, domain) {
            socket.set_only_v6(only)?;
        }
        socket.bind(addr)?;
        let member = if self.steer_by_cpu && domain != Domain::UNIX {
            Some(steer::listen(&socket, self.backlog)?)
        } else {
            socket.listen(self.backlog)?;
            None
        };
        Ok((socket, member))
    }
}

/// A TCP socket listening for connections.
///
/// ```no_run
/// use ringloop_net::TcpListener;
/// ringloop_runtime::run(async {
///     let listener = TcpListener::bind("127.0.0.1:8080").unwrap();
///     loop {
///         let (stream, peer) = listener.accept().await.unwrap();
///         ringloop_runtime::spawn(async move {
///             let (res, buf) = stream.read(Vec::with_capacity(4096)).await;
///             if res.is_ok() {
///                 let _ = stream.write_all(buf).await;
///             }
///             let _ = peer;
///         });
///     }
/// });
/// ```
#[derive(Debug)]
pub struct TcpListener {
    fd: SharedFd,
    /// Its place in a CPU-steered group's table (`ListenOptions::steer_by_cpu`).
    _steer: Option<steer::Member>,
}

impl TcpListener {
    /// Binds to `addr` (each resolved address in turn) with SO_REUSEADDR and
    /// a backlog of 1024, and starts listening. Port 0 picks a free port;
    /// see [`local_addr`](Self::local_addr).
    ///
    /// A host name is resolved synchronously, blocking the loop while the
    /// system resolver runs; pass an IP address, or use
    /// [`start_server`](crate::start_server), which resolves off the loop.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListener::bind_with(addr, &ListenOptions::new())
    }

    /// Like [`bind`](Self::bind) with [`ListenOptions`] (SO_REUSEPORT, backlog).
    pub fn bind_with<A: ToSocketAddrs>(addr: A, opts: &ListenOptions) -> io::Result<TcpListener> {
        TcpListener::bind_addrs(resolve_blocking(&addr)?, opts)
    }

    /// Binds to the first of the resolved `addrs` that works.
    pub(crate) fn bind_addrs(addrs: Addrs, opts: &ListenOptions) -> io::Result<TcpListener> {
        let mut last = None;
        for addr in addrs {
            match opts.listen(Domain::for_address(addr), Some(Protocol::TCP), &addr.into()) {
                Ok((socket, member)) => {
                    return Ok(TcpListener {
                        fd: SharedFd::new(socket.into()),
                        _steer: member,
                    })
                }
                Err(e) => last = Some(context(e, "could not listen on", addr)),
            }
        }
        Err(last.expect("resolve() never returns an empty list"))
    }

    /// Wraps a listening std socket.
    pub fn from_std(listener: std::net::TcpListener) -> TcpListener {
        TcpListener {
            fd: SharedFd::new(listener.into()),
            _steer: None,
        }
    }

    /// Accepts one connection (a single-shot ACCEPT) and returns it with the
    /// peer's address. Errors, EMFILE included, are returned as they come;
    /// [`incoming`](Self::incoming) backs off on them instead.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, addr) = op::accept(&self.fd).await?;
        let stream = TcpStream::from_accepted(fd);
        let peer = match addr.as_socket() {
            Some(peer) => peer,
            None => stream.peer_addr()?,
        };
        Ok((stream, peer))
    }

    /// An endless stream of accepted connections, multishot where the
    /// kernel supports it, with back-off on fd exhaustion; see [`Incoming`].
    ///
    /// # Panics
    /// Outside a ringloop runtime (it asks the runtime which accept the
    /// kernel supports).
    pub fn incoming(&self) -> Incoming<TcpStream> {
        Incoming::new(self.fd.clone(), None)
    }

    /// The address the listener is bound to (with the port the kernel
    /// picked, if bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(SockRef::from(&self.fd).local_addr()?)
    }
}

fn socket_addr(addr: SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an IP socket address"))
}

/// A TCP connection. I/O uses owned buffers:
/// `read(buf) -> (io::Result<usize>, buf)`.
///
/// ```no_run
/// use ringloop_net::TcpStream;
/// ringloop_runtime::run(async {
///     let stream = TcpStream::connect("127.0.0.1:8080").await.unwrap();
///     let (res, _) = stream.write_all(b"hello\n".to_vec()).await;
///     res.unwrap();
///     let (res, buf) = stream.read(Vec::with_capacity(1024)).await;
///     println!("{} bytes: {:?}", res.unwrap(), buf);
/// });
/// ```
#[derive(Debug)]
pub struct TcpStream {
    core: StreamCore,
}

impl FromAccepted for TcpStream {
    fn from_accepted(fd: OwnedFd) -> Self {
        TcpStream {
            core: StreamCore::new(fd),
        }
    }
}

impl TcpStream {
    /// Connects to `addr`, trying each resolved address (IPv4 or IPv6) in
    /// turn; the error of the last one if none accepts. A closed port fails
    /// with [`io::ErrorKind::ConnectionRefused`].
    ///
    /// A host name is resolved on the runtime's blocking pool, so the loop
    /// keeps running other tasks meanwhile; IP addresses are used as they are.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        try_each(resolve(&addr).await?, |addr| async move {
            TcpStream::connect_addr(addr)
                .await
                .map_err(|e| context(e, "could not connect to", addr))
        })
        .await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        let fd = SharedFd::new(socket.into());
        op::connect(&fd, addr.into()).await?;
        Ok(TcpStream {
            core: StreamCore::from_shared(fd),
        })
    }

    /// Wraps a connected std socket.
    pub fn from_std(stream: std::net::TcpStream) -> TcpStream {
        TcpStream::from_accepted(stream.into())
    }

    stream_io_methods!();

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.core.sock().peer_addr()?)
    }

    /// The local address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(self.core.sock().local_addr()?)
    }

    /// TCP_NODELAY: send small segments at once instead of coalescing them
    /// (Nagle's algorithm). Request/response protocols want it on.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.core.sock().set_tcp_nodelay(on)
    }

    /// Whether TCP_NODELAY is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.core.sock().tcp_nodelay()
    }

    /// SO_LINGER. `Some(Duration::ZERO)` makes close send a reset (RST)
    /// instead of a normal shutdown.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.core.sock().set_linger(linger)
    }
}

/// The CPU -> listener tables of the SO_REUSEPORT groups this process
/// steers by CPU (see [`ListenOptions::steer_by_cpu`]).
mod steer {
    use socket2::Socket;
    use std::collections::HashMap;
    use std::io;
    use std::net::SocketAddr;
    use std::os::fd::AsFd;
    use std::sync::Mutex;

    /// Per bound address, the CPU of each listener in the order they
    /// started listening (the kernel's order of the group), and how many of
    /// them are alive: when none is, the next listener starts a new group.
    static GROUPS: Mutex<Option<HashMap<SocketAddr, Group>>> = Mutex::new(None);

    #[derive(Default)]
    struct Group {
        cpus: Vec<u32>,
        live: usize,
    }

    /// A listener's membership of its group; the last one dropped forgets
    /// the group.
    #[derive(Debug)]
    pub(crate) struct Member(SocketAddr);

    impl Drop for Member {
        fn drop(&mut self) {
            let mut groups = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(map) = groups.as_mut() {
                if let Some(group) = map.get_mut(&self.0) {
                    group.live -= 1;
                    if group.live == 0 {
                        map.remove(&self.0);
                    }
                }
            }
        }
    }

    /// Listens on `socket` and points the group's table at it for the CPU
    /// this thread runs on. Under one lock, so the order recorded is the
    /// order the kernel saw.
    pub(super) fn listen(socket: &Socket, backlog: i32) -> io::Result<Member> {
        let addr = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("ringloop: CPU steering needs an IP socket"))?;
        let cpu = ringloop_runtime::steer::current_cpu()? as u32;
        let mut groups = GROUPS.lock().unwrap_or_else(|p| p.into_inner());
        let group = groups
            .get_or_insert_with(HashMap::new)
            .entry(addr)
            .or_default();
        socket.listen(backlog)?;
        group.cpus.push(cpu);
        group.live += 1;
        let member = Member(addr);
        // The first listener on a CPU gets its connections.
        let mut table: Vec<(u32, u32)> = Vec::with_capacity(group.cpus.len());
        for (index, &c) in group.cpus.iter().enumerate() {
            if !table.iter().any(|&(t, _)| t == c) {
                table.push((c, index as u32));
            }
        }
        drop(groups);
        ringloop_runtime::steer::attach_cpu_steering(socket.as_fd(), &table)?;
        Ok(member)
    }
}
