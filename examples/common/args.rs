//! Command-line pieces the server examples share.

use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves the address to serve, with a free port picked now if it says
/// 0, so that every runtime of `--threads N` binds the same one. The probe
/// socket that reserved the port stays bound (never listening) for the life
/// of the process.
pub fn resolve(addr: &str) -> std::io::Result<SocketAddr> {
    let addr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("the address resolves to nothing"))?;
    if addr.port() != 0 {
        return Ok(addr);
    }
    let probe = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    probe.set_reuse_address(true)?;
    probe.set_reuse_port(true)?;
    probe.bind(&addr.into())?;
    let bound = probe.local_addr()?.as_socket().expect("an IP socket");
    std::mem::forget(probe);
    Ok(bound)
}

/// Ctrl-C / SIGTERM for a server of N runtimes: runtime 0 takes the signal
/// and tells the others through channels, so each shuts down its share.
pub struct Stop {
    senders: Vec<ringloop::sync::mpsc::Sender<()>>,
    receivers: Vec<std::sync::Mutex<Option<ringloop::sync::mpsc::Receiver<()>>>>,
}

impl Stop {
    /// Blocks SIGINT and SIGTERM in the calling thread (and so in the
    /// runtime threads it starts), so they wait for runtime 0's streams.
    pub fn new(runtimes: usize) -> std::io::Result<Stop> {
        use ringloop::signal::SignalKind;
        ringloop::signal::block(&[SignalKind::interrupt(), SignalKind::terminate()])?;
        let (senders, receivers) = (0..runtimes)
            .map(|_| {
                let (tx, rx) = ringloop::sync::mpsc::channel(1);
                (tx, std::sync::Mutex::new(Some(rx)))
            })
            .unzip();
        Ok(Stop { senders, receivers })
    }

    /// Waits until the server should stop: on runtime 0 for the signal
    /// (then tells the other runtimes), on the others for runtime 0.
    pub async fn wait(&self) -> std::io::Result<()> {
        use ringloop::signal::{signal, SignalKind};
        let i = ringloop::thread_index();
        if i == 0 {
            let mut int = signal(SignalKind::interrupt())?;
            let mut term = signal(SignalKind::terminate())?;
            futures_util::future::select(Box::pin(int.recv()), Box::pin(term.recv())).await;
            for tx in &self.senders[1..] {
                let _ = tx.send(()).await;
            }
        } else {
            let rx = self.receivers[i].lock().expect("not poisoned").take();
            if let Some(mut rx) = rx {
                rx.recv().await;
            }
        }
        Ok(())
    }
}
