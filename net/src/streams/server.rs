//! [`start_server`] and the [`Server`] it returns.

use super::{Reader, Writer};
use crate::accept::{FromAccepted, Incoming};
use crate::addr::{resolve, ToSocketAddrs};
use crate::{ListenOptions, TcpListener, TcpStream, UnixListener, UnixStream};
use futures_util::future::{AbortHandle, Abortable};
use futures_util::StreamExt;
use ringloop_runtime::{spawn, JoinHandle};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// Starts a TCP server on `addr`: every accepted connection (with
/// TCP_NODELAY, as asyncio sets it) is split into a [`Reader`] and a
/// [`Writer`] and handed to `handler` in a task of its own. The server
/// accepts until [`Server::close`]; it keeps running if the `Server`
/// handle is dropped. A host name in `addr` is resolved on the blocking
/// pool, off the loop.
///
/// ```no_run
/// ringloop_runtime::run(async {
///     let server = ringloop_net::start_server("127.0.0.1:8888", |mut reader, writer| async move {
///         while let Ok(line) = reader.read_line().await {
///             if line.is_empty() || writer.write(line).await.is_err() {
///                 break;
///             }
///         }
///     })
///     .await
///     .unwrap();
///     server.serve_forever().await;
/// });
/// ```
pub async fn start_server<A, H, F>(addr: A, handler: H) -> io::Result<Server>
where
    A: ToSocketAddrs,
    H: Fn(Reader, Writer) -> F + 'static,
    F: Future<Output = ()> + 'static,
{
    let listener = TcpListener::bind_addrs(resolve(&addr).await?, &ListenOptions::new())?;
    Server::from_listener(listener, handler)
}

/// Starts a server on the Unix socket file `path`; see [`start_server`].
/// The socket file is removed when the server closes (if it is still the
/// file this server created); to keep it, bind a [`UnixListener`] with
/// [`ListenOptions::cleanup_socket`]`(false)` and serve it with
/// [`Server::from_unix_listener`].
pub async fn start_unix_server<P, H, F>(path: P, handler: H) -> io::Result<Server>
where
    P: AsRef<Path>,
    H: Fn(Reader, Writer) -> F + 'static,
    F: Future<Output = ()> + 'static,
{
    Ok(Server::from_unix_listener(
        UnixListener::bind(path)?,
        handler,
    ))
}

/// What [`Server::shutdown`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections that finished on their own within the grace period.
    pub finished: usize,
    /// Connections still open at the deadline, which were aborted.
    pub aborted: usize,
}

struct Inner {
    local_addr: Option<SocketAddr>,
    closed: Cell<bool>,
    /// The accept loop, to abort on close.
    accept_task: RefCell<Option<JoinHandle<()>>>,
    /// Set once the accept loop is gone and its listener dropped.
    accept_done: Cell<bool>,
    /// Open connections by id; each task removes itself when it ends.
    conns: RefCell<HashMap<u64, AbortHandle>>,
    next_id: Cell<u64>,
    accept_errors: Cell<u64>,
    /// Tasks waiting for `closed` or for `conns` to change.
    waiters: RefCell<Vec<Waker>>,
}

impl Inner {
    fn notify(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }

    async fn until(&self, cond: impl Fn(&Inner) -> bool) {
        poll_fn(|cx| {
            if cond(self) {
                return Poll::Ready(());
            }
            let mut waiters = self.waiters.borrow_mut();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

/// The accept loop's listener: dropped with the loop (however it ends),
/// after which the server's waiters learn that accepting is over.
struct AcceptLoop<T> {
    /// `Some` until dropped; taken first so the listener is gone by the
    /// time the waiters are told.
    incoming: Option<Incoming<T>>,
    inner: Rc<Inner>,
}

impl<T> Drop for AcceptLoop<T> {
    fn drop(&mut self) {
        drop(self.incoming.take());
        self.inner.accept_done.set(true);
        self.inner.notify();
    }
}

/// Removes a connection from the server when its task ends, however it ends.
struct ConnGuard {
    inner: Rc<Inner>,
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.inner.conns.borrow_mut().remove(&self.id);
        self.inner.notify();
    }
}

/// A running server, from [`start_server`]. Cheap to clone; the clones
/// control the same server.
#[derive(Clone)]
pub struct Server {
    inner: Rc<Inner>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.inner.local_addr)
            .field("closed", &self.inner.closed.get())
            .field("connections", &self.connections())
            .finish()
    }
}

impl Server {
    /// Serves connections of an existing listener (for custom
    /// [`ListenOptions`](crate::ListenOptions) such as SO_REUSEPORT).
    ///
    /// # Panics
    /// Outside a ringloop runtime (the accept loop is spawned at once).
    pub fn from_listener<H, F>(listener: TcpListener, handler: H) -> io::Result<Server>
    where
        H: Fn(Reader, Writer) -> F + 'static,
        F: Future<Output = ()> + 'static,
    {
        let local = listener.local_addr()?;
        Ok(Server::start(
            listener.incoming(),
            Some(local),
            move |s: TcpStream| {
                // Best effort: a connection reset already is reported by its first I/O.
                let _ = s.set_nodelay(true);
                let (reader, writer) = s.into_split();
                handler(reader, writer)
            },
        ))
    }

    /// Serves connections of an existing listener with a handler that
    /// takes the whole [`TcpStream`] (for protocols with their own framing,
    /// such as HTTP or TLS). The server tracks, closes and shuts down these
    /// connections as it does those of [`from_listener`](Self::from_listener).
    ///
    /// # Panics
    /// Outside a ringloop runtime (the accept loop is spawned at once).
    pub fn from_listener_streams<H, F>(listener: TcpListener, handler: H) -> io::Result<Server>
    where
        H: Fn(TcpStream) -> F + 'static,
        F: Future<Output = ()> + 'static,
    {
        let local = listener.local_addr()?;
        Ok(Server::start(listener.incoming(), Some(local), handler))
    }

    /// Serves connections of an existing Unix listener; see
    /// [`start_unix_server`].
    ///
    /// # Panics
    /// Outside a ringloop runtime (the accept loop is spawned at once).
    pub fn from_unix_listener<H, F>(listener: UnixListener, handler: H) -> Server
    where
        H: Fn(Reader, Writer) -> F + 'static,
        F: Future<Output = ()> + 'static,
    {
        Server::start(listener.incoming(), None, move |s: UnixStream| {
            let (reader, writer) = s.into_split();
            handler(reader, writer)
        })
    }

    /// Serves connections of an existing Unix listener with a handler that
    /// takes the whole [`UnixStream`]; see
    /// [`from_listener_streams`](Self::from_listener_streams).
    ///
    /// # Panics
    /// Outside a ringloop runtime (the accept loop is spawned at once).
    pub fn from_unix_listener_streams<H, F>(listener: UnixListener, handler: H) -> Server
    where
        H: Fn(UnixStream) -> F + 'static,
        F: Future<Output = ()> + 'static,
    {
        Server::start(listener.incoming(), None, handler)
    }

    fn start<T, H, F>(incoming: Incoming<T>, local_addr: Option<SocketAddr>, handler: H) -> Server
    where
        T: FromAccepted + 'static,
        H: Fn(T) -> F + 'static,
        F: Future<Output = ()> + 'static,
    {
        let inner = Rc::new(Inner {
            local_addr,
            closed: Cell::new(false),
            accept_task: RefCell::new(None),
            accept_done: Cell::new(false),
            conns: RefCell::new(HashMap::new()),
            next_id: Cell::new(0),
            accept_errors: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
        });
        let mut accept = AcceptLoop {
            incoming: Some(incoming),
            inner: inner.clone(),
        };
        let task = spawn(async move {
            let Some(incoming) = accept.incoming.as_mut() else {
                unreachable!("the listener is only taken when the loop is dropped")
            };
            // `incoming` never ends; it backs off by itself on EMFILE & co.
            while let Some(res) = incoming.next().await {
                let inner = &accept.inner;
                match res {
                    Ok(stream) => spawn_connection(inner, handler(stream)),
                    Err(_) => inner.accept_errors.set(inner.accept_errors.get() + 1),
                }
            }
        });
        *inner.accept_task.borrow_mut() = Some(task);
        Server { inner }
    }

    /// The address the server listens on (`None` for a Unix server).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr
    }

    /// Number of connections whose handler is still running.
    pub fn connections(&self) -> usize {
        self.inner.conns.borrow().len()
    }

    /// Number of failed accepts so far (the accept loop keeps going, and
    /// backs off when out of file descriptors).
    pub fn accept_errors(&self) -> u64 {
        self.inner.accept_errors.get()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// Waits until the server is closed (by [`close`](Self::close) from
    /// another task). Connections are served meanwhile, as they are from
    /// the moment the server starts.
    pub async fn serve_forever(&self) {
        self.inner.until(|inner| inner.closed.get()).await;
    }

    /// Stops accepting: the listening socket is closed once its accept op
    /// is cancelled, and new connections are refused. Open connections
    /// keep running; see [`wait_closed`](Self::wait_closed) and
    /// [`shutdown`](Self::shutdown).
    pub fn close(&self) {
        if self.inner.closed.replace(true) {
            return;
        }
        if let Some(task) = self.inner.accept_task.borrow().as_ref() {
            task.abort();
        }
        self.inner.notify();
    }

    /// Waits until the server is closed, its accept loop has dropped the
    /// listener, and every connection handler has returned. Any number of
    /// tasks may wait at once; each returns only then. Cancel-safe.
    pub async fn wait_closed(&self) {
        self.inner
            .until(|inner| {
                inner.closed.get() && inner.accept_done.get() && inner.conns.borrow().is_empty()
            })
            .await;
    }

    /// Graceful shutdown: [`close`](Self::close), wait up to `grace` for
    /// the open connections to finish, then abort those still running
    /// (dropping their streams, which closes the sockets).
    pub async fn shutdown(&self, grace: Duration) -> ShutdownReport {
        self.close();
        let open = self.connections();
        let _ = ringloop_timer::timeout(grace, self.wait_closed()).await;
        let handles: Vec<AbortHandle> = self.inner.conns.borrow().values().cloned().collect();
        for h in &handles {
            h.abort();
        }
        // Aborted handlers end at their next poll, which the abort schedules.
        self.inner
            .until(|inner| inner.conns.borrow().is_empty())
            .await;
        ShutdownReport {
            finished: open.saturating_sub(handles.len()),
            aborted: handles.len(),
        }
    }
}

/// Runs one connection handler in a task of its own, tracked by the server.
fn spawn_connection<F: Future<Output = ()> + 'static>(inner: &Rc<Inner>, handler: F) {
    let id = inner.next_id.get();
    inner.next_id.set(id + 1);
    let (abort, registration) = AbortHandle::new_pair();
    inner.conns.borrow_mut().insert(id, abort);
    let guard = ConnGuard {
        inner: inner.clone(),
        id,
    };
    // Detached: a panicking handler is reported by the runtime.
    drop(spawn(async move {
        let _guard = guard;
        let _ = Abortable::new(handler, registration).await;
    }));
}
