//! asyncio-style streams: [`open_connection`] and [`start_server`] give a
//! buffered [`Reader`] and a cloneable, back-pressured [`Writer`] per
//! connection.

mod reader;
mod server;
mod writer;

pub use reader::{IncompleteRead, LimitOverrun, Reader, DEFAULT_LIMIT};
pub use server::{start_server, start_unix_server, Server, ShutdownReport};
pub use writer::Writer;

use crate::core::StreamCore;
use crate::{TcpStream, ToSocketAddrs, UnixStream};
use std::io;
use std::path::Path;
use std::rc::Rc;

/// Splits a stream core into its reader and writer halves.
pub(crate) fn split(core: StreamCore) -> (Reader, Writer) {
    let core = Rc::new(core);
    (Reader::new(core.clone()), Writer::new(core))
}

/// Connects to `addr` over TCP (with TCP_NODELAY, as asyncio does) and
/// returns the stream's reader and writer. A host name is resolved on the
/// blocking pool, off the loop.
///
/// ```no_run
/// ringloop_runtime::run(async {
///     let (mut reader, writer) = ringloop_net::open_connection("127.0.0.1:8888").await.unwrap();
///     writer.write(b"hello\n".to_vec()).await.unwrap();
///     let line = reader.read_line().await.unwrap();
///     println!("{}", String::from_utf8_lossy(&line));
/// });
/// ```
pub async fn open_connection<A: ToSocketAddrs>(addr: A) -> io::Result<(Reader, Writer)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream.into_split())
}

/// Connects to the Unix socket at `path`; see [`open_connection`].
pub async fn open_unix_connection<P: AsRef<Path>>(path: P) -> io::Result<(Reader, Writer)> {
    Ok(UnixStream::connect(path).await?.into_split())
}
