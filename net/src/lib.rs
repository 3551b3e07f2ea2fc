//! Sockets for ringloop: TCP, UDP and Unix sockets whose every accept,
//! connect, read and write is an io_uring op, plus asyncio-style streams
//! and servers on top.
//!
//! ```no_run
//! use ringloop_net::{open_connection, start_server};
//! ringloop_runtime::run(async {
//!     // An echo server, asyncio style.
//!     let server = start_server("127.0.0.1:0", |mut reader, writer| async move {
//!         while let Ok(line) = reader.read_line().await {
//!             if line.is_empty() || writer.write(line).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//!     .await
//!     .unwrap();
//!     let (mut reader, writer) = open_connection(server.local_addr().unwrap()).await.unwrap();
//!     writer.write(b"hello\n".to_vec()).await.unwrap();
//!     assert_eq!(&reader.read_line().await.unwrap()[..], b"hello\n");
//! });
//! ```
//!
//! Layers, lowest first:
//! - **Sockets** with owned buffers, `read(buf) -> (io::Result<usize>, buf)`:
//!   [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`UnixListener`],
//!   [`UnixStream`], [`UnixDatagram`]. Listeners' [`Incoming`] streams use
//!   multishot ACCEPT where the kernel has it and back off when out of fds.
//!   Stream reads and datagram receives are cancel-safe (see
//!   [`TcpStream::read`] and [`UdpSocket`]). Host names are resolved on the
//!   blocking pool by the async methods (see [`ToSocketAddrs`]).
//! - **asyncio-style streams**: [`open_connection`] and [`start_server`]
//!   give a buffered [`Reader`] (`read_line`, `read_until`, `read_exact`)
//!   and a back-pressured, cloneable [`Writer`]; [`Server`] closes and
//!   shuts down gracefully.
//! - **[`PollStream`]**: the `futures-io` `AsyncRead`/`AsyncWrite`/`AsyncBufRead`
//!   traits, for the wider ecosystem.
//!
//! # io_uring operations used
//!
//! ACCEPT (multishot on Linux 5.19+, probed through
//! `ringloop::features().multishot_accept`; single-shot otherwise or by
//! choice, see [`Incoming::multishot`]), CONNECT, RECV and SEND (with
//! `MSG_NOSIGNAL`) for streams and connected datagram sockets, SENDMSG and
//! RECVMSG for addressed datagrams, SHUTDOWN (Linux 5.11+), TIMEOUT for
//! back-off and shutdown grace periods, and ASYNC_CANCEL when an op is
//! dropped. Sockets are created and configured with ordinary syscalls
//! (socket2): `socket`, `bind`, `listen`, `setsockopt`.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod accept;
mod addr;
mod core;
mod datagram;
mod poll;
mod streams;
mod tcp;
mod udp;
mod unix;

pub use accept::Incoming;
pub use addr::ToSocketAddrs;
pub use poll::PollStream;
pub use streams::{
    open_connection, open_unix_connection, start_server, start_unix_server, IncompleteRead,
    LimitOverrun, Reader, Server, ShutdownReport, Writer, DEFAULT_LIMIT,
};
pub use tcp::{ListenOptions, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{DatagramOptions, UnixDatagram, UnixListener, UnixStream};
