//! The HTTP and TLS examples against real clients: curl (HTTP/1.1, HTTP/2
//! prior knowledge, HTTPS with the example's CA, 10 MB uploads echoed
//! byte-exact), h2load, wrk and `openssl s_client`; and bad input (a
//! malformed request line, an oversized header block, clients that stop
//! mid-body or mid-handshake), after which the server serves on with no fd
//! left behind.
//!
//! The examples are the binaries this `cargo test` built; a test whose
//! example or client is missing says so and skips.

#[path = "util/examples.rs"]
mod examples;

use examples::{example_bin, have, serving_port, ServerProcess};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running example server: its process, port and CA file (TLS ones).
struct Example {
    proc: ServerProcess,
    port: u16,
    ca: Option<PathBuf>,
}

impl Example {
    fn pid(&self) -> u32 {
        self.proc.0.id()
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        let host = if scheme == "https" {
            "localhost"
        } else {
            "127.0.0.1"
        };
        format!("{scheme}://{host}:{}{path}", self.port)
    }

    /// The server's open fds.
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Waits (bounded) until the fd count is back to at most `limit`.
    fn settle_fds(&self, limit: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let n = self.fds();
            if n <= limit || Instant::now() > deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts example `name` on a free port, or says why it cannot.
fn start(name: &str, tools: &[&str]) -> Option<Example> {
    for tool in tools {
        if !have(tool) {
            eprintln!("skipping: {tool} is not installed (.ci/run installs it)");
            return None;
        }
    }
    let Some(bin) = example_bin(name) else {
        eprintln!("skipping: the {name} example is not built (run the whole `cargo test`)");
        return None;
    };
    let mut child = Command::new(bin)
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let port = serving_port(&mut out);
    let mut ca = None;
    if name != "http_server" {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let path = line.trim().strip_prefix("CA certificate: ");
        ca =
            Some(PathBuf::from(path.unwrap_or_else(|| {
                panic!("expected the CA line, got {line:?}")
            })));
    }
    // Keep draining stdout so the server never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Some(Example {
        proc: ServerProcess(child),
        port,
        ca,
    })
}

/// Runs a client to its end (bounded by `timeout`) and returns its output.
fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new("timeout")
        .arg("60")
        .arg(program)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn curl(args: &[&str]) -> Vec<u8> {
    let mut all = vec!["-sS", "--max-time", "30"];
    all.extend_from_slice(args);
    run("curl", &all).stdout
}

/// A 10 MB file of varied bytes, written once per test binary. Tests run
/// in parallel: the first caller writes it (under a temporary name, then
/// renamed) while the others wait, so no test uploads a half-written file.
fn upload_file() -> PathBuf {
    static FILE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("ringloop-upload-{}.bin", std::process::id()));
        let mut data = Vec::with_capacity(10_000_000);
        let mut x: u32 = 12345;
        while data.len() < 10_000_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            data.push((x >> 16) as u8);
        }
        let tmp = path.with_extension("part");
        std::fs::write(&tmp, data).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    })
    .clone()
}

fn assert_echoes(url: &str, extra: &[&str]) {
    let file = upload_file();
    let arg = format!("@{}", file.display());
    let mut args = extra.to_vec();
    args.extend_from_slice(&["--data-binary", &arg, url]);
    let body = curl(&args);
    let sent = std::fs::read(&file).unwrap();
    assert_eq!(body.len(), sent.len(), "echoed length ({url} {extra:?})");
    assert!(body == sent, "echoed bytes differ ({url} {extra:?})");
}

#[test]
fn curl_http1_and_http2_prior_knowledge() {
    let Some(ex) = start("http_server", &["curl"]) else {
        return;
    };
    let root = ex.url("http", "/");
    assert_eq!(curl(&[&root]), b"Hello from ringloop\n");
    assert_eq!(
        curl(&["-w", "%{http_version}", "-o", "/dev/null", &root]),
        b"1.1"
    );
    assert_eq!(
        curl(&[
            "--http2-prior-knowledge",
            "-w",
            "%{http_version}",
            "-o",
            "/dev/null",
            &root
        ]),
        b"2"
    );
    let streamed = curl(&["--http2-prior-knowledge", &ex.url("http", "/stream")]);
    let expect: String = (0..16).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&streamed), expect);
    // HTTP/1.1 sends it chunked.
    let head = curl(&["-D", "-", "-o", "/dev/null", &ex.url("http", "/stream")]);
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let code = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &ex.url("http", "/nope"),
    ]);
    assert_eq!(code, b"404");
    assert_echoes(&ex.url("http", "/echo"), &[]);
    assert_echoes(&ex.url("http", "/echo"), &["--http2-prior-knowledge"]);
}

#[test]
fn curl_https_with_the_examples_ca() {
    let Some(ex) = start("https_server", &["curl"]) else {
        return;
    };
    let ca = ex.ca.clone().unwrap();
    let ca = ca.to_str().unwrap();
    let root = ex.url("https", "/");
    assert_eq!(curl(&["--cacert", ca, &root]), b"Hello from ringloop\n");
    // ALPN: h2 by default, HTTP/1.1 when the client offers only that.
    let v = curl(&[
        "--cacert",
        ca,
        "-w",
        "%{http_version}",
        "-o",
        "/dev/null",
        &root,
    ]);
    assert_eq!(v, b"2");
    let v = curl(&[
        "--http1.1",
        "--cacert",
        ca,
        "-w",
        "%{http_version}",
        "-o",
        "/dev/null",
        &root,
    ]);
    assert_eq!(v, b"1.1");
    // Without the CA, curl refuses the certificate.
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", &root])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "curl trusted a certificate it had no CA for"
    );
    assert_echoes(&ex.url("https", "/echo"), &["--cacert", ca]);
    assert_echoes(&ex.url("https", "/echo"), &["--http1.1", "--cacert", ca]);
}

/// h2load's summary line: requests done, succeeded, failed, errored.
fn h2load_ok(out: &Output, total: usize) {
    let text = String::from_utf8_lossy(&out.stdout);
    let want = format!("requests: {total} total, {total} started, {total} done, {total} succeeded, 0 failed, 0 errored, 0 timeout");
    assert!(text.contains(&want), "h2load reported errors:\n{text}");
    assert!(
        text.contains(&format!("status codes: {total} 2xx")),
        "{text}"
    );
}

#[test]
fn h2load_100_streams_over_10_connections() {
    let Some(ex) = start("http_server", &["h2load"]) else {
        return;
    };
    let out = run(
        "h2load",
        &["-n", "5000", "-c", "10", "-m", "10", &ex.url("http", "/")],
    );
    h2load_ok(&out, 5000);
    let out = run(
        "h2load",
        &[
            "-n",
            "500",
            "-c",
            "10",
            "-m",
            "10",
            "-d",
            "/etc/hostname",
            &ex.url("http", "/echo"),
        ],
    );
    h2load_ok(&out, 500);
}

#[test]
fn h2load_over_tls() {
    let Some(ex) = start("https_server", &["h2load"]) else {
        return;
    };
    let out = run(
        "h2load",
        &["-n", "2000", "-c", "10", "-m", "10", &ex.url("https", "/")],
    );
    h2load_ok(&out, 2000);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Application protocol: h2"));
}

#[test]
fn wrk_keep_alive_no_errors() {
    let Some(ex) = start("http_server", &["wrk"]) else {
        return;
    };
    let out = run("wrk", &["-t1", "-c50", "-d2s", &ex.url("http", "/")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("Socket errors"), "{text}");
    assert!(!text.contains("Non-2xx"), "{text}");
    let requests: u64 = text
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in ")
                .map(|(n, _)| n.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no request count in:\n{text}"));
    assert!(requests > 100, "{text}");
}

#[test]
fn openssl_s_client_against_the_tls_echo_server() {
    let Some(ex) = start("tls_echo_server", &["openssl"]) else {
        return;
    };
    let ca = ex.ca.clone().unwrap();
    let mut client = Command::new("timeout")
        .args([
            "30",
            "openssl",
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-connect",
        ])
        .arg(format!("127.0.0.1:{}", ex.port))
        .arg("-CAfile")
        .arg(&ca)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    let mut stdout = BufReader::new(client.stdout.take().unwrap());
    for i in 0..20 {
        let line = format!("line {i} through TLS\n");
        stdin.write_all(line.as_bytes()).unwrap();
        let mut back = String::new();
        stdout.read_line(&mut back).unwrap();
        assert_eq!(back, line);
    }
    drop(stdin);
    let _ = client.kill();
    let _ = client.wait();
}

/// Sends `request` on a fresh connection and returns what came back before
/// the server closed it (or 5 s passed).
fn raw_exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn bad_requests_end_their_connection_only() {
    let Some(ex) = start("http_server", &["curl"]) else {
        return;
    };
    let root = ex.url("http", "/");
    assert_eq!(curl(&[&root]), b"Hello from ringloop\n");
    let base = ex.fds();
    // A keep-alive connection that stays open through everything below.
    let mut kept = TcpStream::connect(("127.0.0.1", ex.port)).unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1024];
    let n = kept.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));

    let reply = raw_exchange(ex.port, b"THIS IS NOT HTTP\r\n\r\n");
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    let mut huge = b"GET / HTTP/1.1\r\nhost: x\r\n".to_vec();
    for i in 0..20_000 {
        huge.extend_from_slice(format!("x-filler-{i}: {}\r\n", "y".repeat(40)).as_bytes());
    }
    huge.extend_from_slice(b"\r\n");
    let reply = raw_exchange(ex.port, &huge);
    assert!(
        reply.is_empty()
            || reply.starts_with(b"HTTP/1.1 431")
            || reply.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&reply[..reply.len().min(200)])
    );
    // A client that stops mid-body: the connection ends, nothing else does.
    {
        let mut s = TcpStream::connect(("127.0.0.1", ex.port)).unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\nonly this")
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    // A client that stops mid-headers.
    {
        let mut s = TcpStream::connect(("127.0.0.1", ex.port)).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nhost").unwrap();
    }
    // The kept connection and new ones are served.
    kept.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let n = kept.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    drop(kept);
    assert_eq!(curl(&[&root]), b"Hello from ringloop\n");
    let after = ex.settle_fds(base);
    assert!(
        after <= base,
        "the server holds {after} fds, {base} before the bad clients"
    );
}

#[test]
fn bad_tls_clients_end_their_connection_only() {
    let Some(ex) = start("https_server", &["curl"]) else {
        return;
    };
    let ca = ex.ca.clone().unwrap();
    let ca = ca.to_str().unwrap();
    let root = ex.url("https", "/");
    assert_eq!(curl(&["--cacert", ca, &root]), b"Hello from ringloop\n");
    let base = ex.fds();
    // Plain HTTP on the TLS port: a TLS alert or a close.
    let reply = raw_exchange(ex.port, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    assert!(reply.is_empty() || reply[0] == 0x15, "{reply:?}");
    // A ClientHello cut short, then silence; and one cut short then closed.
    let hello_start = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let stalled = TcpStream::connect(("127.0.0.1", ex.port)).unwrap();
    (&stalled).write_all(&hello_start).unwrap();
    {
        let mut s = TcpStream::connect(("127.0.0.1", ex.port)).unwrap();
        s.write_all(&hello_start).unwrap();
    }
    assert_eq!(curl(&["--cacert", ca, &root]), b"Hello from ringloop\n");
    drop(stalled);
    let after = ex.settle_fds(base);
    assert!(
        after <= base,
        "the server holds {after} fds, {base} before the bad clients"
    );
}
