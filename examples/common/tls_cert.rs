//! Certificates for the TLS examples: from PEM files, or a fresh CA and a
//! server certificate it signed, made at start.

use ringloop::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io;
use std::path::PathBuf;

/// The server's chain and key, and where the CA to trust was written (for
/// a generated certificate).
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub ca_file: Option<PathBuf>,
}

/// Loads `--cert`/`--key` if given, or makes a CA and a certificate for
/// localhost, 127.0.0.1 and ::1 and writes the CA to a file (named by
/// `prog` and the process id, in the temp directory).
pub fn server_cert(
    cert: Option<String>,
    key: Option<String>,
    prog: &str,
) -> io::Result<ServerCert> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(ServerCert {
            chain: ringloop::tls::load_certs(cert)?,
            key: ringloop::tls::load_private_key(key)?,
            ca_file: None,
        }),
        (None, None) => self_signed(prog),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--cert and --key go together",
        )),
    }
}

fn self_signed(prog: &str) -> io::Result<ServerCert> {
    let err = |e: rcgen::Error| io::Error::other(format!("cannot make a certificate: {e}"));
    let ca_key = rcgen::KeyPair::generate().map_err(err)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{prog} test CA"));
    let ca = ca_params.self_signed(&ca_key).map_err(err)?;
    let key = rcgen::KeyPair::generate().map_err(err)?;
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let mut params = rcgen::CertificateParams::new(names).map_err(err)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(err)?;
    let ca_file = std::env::temp_dir().join(format!("{prog}-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca.pem())?;
    Ok(ServerCert {
        chain: vec![cert.der().clone(), ca.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        ca_file: Some(ca_file),
    })
}
