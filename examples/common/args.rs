//! Command-line pieces the server examples share.

use std::net::{SocketAddr, ToSocketAddrs};

/// Which options a server example takes besides `[ADDR]` and `--help`.
#[derive(Clone, Copy, Default)]
pub struct Options {
    /// `--threads N` / `-t N`: runtimes serving the port (N ≥ 1).
    pub threads: bool,
    /// `--quiet` / `-q`.
    pub quiet: bool,
    /// `--cert FILE` and `--key FILE`.
    pub tls: bool,
}

/// A server example's command line.
pub struct ServerArgs {
    /// The last argument that is not an option (or the default).
    pub addr: String,
    pub threads: usize,
    pub quiet: bool,
    pub cert: Option<String>,
    pub key: Option<String>,
}

impl ServerArgs {
    /// Parses the process's arguments. `--help` prints `usage` and exits
    /// with 0; an option without its value (or a bad N) prints it on stderr
    /// and exits with 2. An option the example does not take is read as
    /// ADDR, which then fails to resolve with its own message.
    pub fn parse(usage: &str, default_addr: &str, options: Options) -> ServerArgs {
        let bad = || -> ! {
            eprintln!("{usage}");
            std::process::exit(2)
        };
        let mut parsed = ServerArgs {
            addr: default_addr.to_string(),
            threads: 1,
            quiet: false,
            cert: None,
            key: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--threads" | "-t" if options.threads => {
                    match args.next().and_then(|n| n.parse::<usize>().ok()) {
                        Some(n) if n > 0 => parsed.threads = n,
                        _ => bad(),
                    }
                }
                "--quiet" | "-q" if options.quiet => parsed.quiet = true,
                "--cert" if options.tls => parsed.cert = Some(args.next().unwrap_or_else(|| bad())),
                "--key" if options.tls => parsed.key = Some(args.next().unwrap_or_else(|| bad())),
                "--help" | "-h" => {
                    println!("{usage}");
                    std::process::exit(0)
                }
                _ => parsed.addr = arg,
            }
        }
        parsed
    }
}

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
