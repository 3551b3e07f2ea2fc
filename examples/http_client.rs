//! An HTTP client on hyper: GETs (or POSTs) a URL and prints the body.
//!
//! ```text
//! cargo run --release --example http_client -- URL [--cacert FILE] [--http2] [--data TEXT]
//! ```
//!
//! `http://` and `https://` URLs. HTTPS trusts the CA in `--cacert`, else
//! the system's (`SSL_CERT_FILE` or /etc/ssl/certs/ca-certificates.crt),
//! and offers h2 and http/1.1 by ALPN. `--http2` speaks HTTP/2 with prior
//! knowledge over plain TCP. The status and headers go to stderr, the body
//! to stdout; a failed request exits with 1.

use ringloop::http::http_body_util::{BodyExt, Full};
use ringloop::http::hyper::body::Bytes;
use ringloop::http::hyper::{Method, Request, Uri};
use ringloop::net::TcpStream;
use ringloop::tls::TlsConnector;
use std::io::Write;

const USAGE: &str = "usage: http_client URL [--cacert FILE] [--http2] [--data TEXT]";

struct Args {
    url: Uri,
    cacert: Option<String>,
    http2: bool,
    data: Option<String>,
}

fn parse_args() -> Args {
    let usage = || -> ! {
        eprintln!("{USAGE}");
        std::process::exit(2)
    };
    let (mut url, mut cacert, mut http2, mut data) = (None, None, false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cacert" => cacert = Some(args.next().unwrap_or_else(|| usage())),
            "--data" | "-d" => data = Some(args.next().unwrap_or_else(|| usage())),
            "--http2" => http2 = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => url = Some(arg),
        }
    }
    let url = url.unwrap_or_else(|| usage());
    let url = match url.parse::<Uri>() {
        Ok(u) if u.host().is_some() && matches!(u.scheme_str(), Some("http" | "https")) => u,
        _ => {
            eprintln!("http_client: {url:?} is not an http:// or https:// URL");
            std::process::exit(2);
        }
    };
    Args {
        url,
        cacert,
        http2,
        data,
    }
}

fn main() {
    let args = parse_args();
    if let Err(e) = ringloop::run(fetch(args)) {
        eprintln!("http_client: {e}");
        std::process::exit(1);
    }
}

async fn fetch(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let url = &args.url;
    let https = url.scheme_str() == Some("https");
    let host = url
        .host()
        .expect("checked")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    tcp.set_nodelay(true)?;
    let method = if args.data.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let authority = url.authority().expect("checked").as_str();
    let body = Full::new(Bytes::from(args.data.clone().unwrap_or_default()));
    let response = if https {
        let roots = match &args.cacert {
            Some(file) => ringloop::tls::load_certs(file)?,
            None => {
                let file = std::env::var("SSL_CERT_FILE")
                    .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
                ringloop::tls::load_certs(&file).map_err(|e| {
                    format!("no CA to trust: {e} (pass --cacert FILE or set SSL_CERT_FILE)")
                })?
            }
        };
        let config = ringloop::tls::client_config_with_roots(roots, &[b"h2", b"http/1.1"])?;
        let tls = TlsConnector::new(config).connect(&host, tcp).await?;
        if tls.alpn_protocol() == Some(b"h2") {
            let req = Request::builder()
                .method(method)
                .uri(url.clone())
                .body(body)?;
            ringloop::http::client::http2(tls)
                .await?
                .send_request(req)
                .await?
        } else {
            let req = Request::builder()
                .method(method)
                .uri(path)
                .header("host", authority)
                .body(body)?;
            ringloop::http::client::http1(tls)
                .await?
                .send_request(req)
                .await?
        }
    } else if args.http2 {
        let req = Request::builder()
            .method(method)
            .uri(url.clone())
            .body(body)?;
        ringloop::http::client::http2(tcp.into_poll_stream())
            .await?
            .send_request(req)
            .await?
    } else {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", authority)
            .body(body)?;
        ringloop::http::client::http1(tcp.into_poll_stream())
            .await?
            .send_request(req)
            .await?
    };
    eprintln!("{:?} {}", response.version(), response.status());
    for (name, value) in response.headers() {
        eprintln!("{name}: {}", value.to_str().unwrap_or("<binary>"));
    }
    let mut body = response.into_body();
    let mut out = std::io::stdout().lock();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            out.write_all(&data)?;
        }
    }
    out.flush()?;
    Ok(())
}
