//! Building rustls configurations from PEM files.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::sync::Arc;

fn pem_error(what: &str, path: &Path, e: impl std::fmt::Display) -> io::Error {
    let kind = if path.exists() {
        io::ErrorKind::InvalidData
    } else {
        io::ErrorKind::NotFound
    };
    io::Error::new(
        kind,
        format!("cannot read {what} from {}: {e}", path.display()),
    )
}

/// Reads every certificate of a PEM file (a chain: the server's first).
///
/// # Errors
/// The file is missing (`NotFound`) or holds no valid certificate
/// (`InvalidData`); the message names the file.
pub fn load_certs(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error("certificates", path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("certificates", path, e))?;
    if certs.is_empty() {
        return Err(pem_error("certificates", path, "no CERTIFICATE block"));
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
///
/// # Errors
/// The file is missing (`NotFound`) or holds no valid key (`InvalidData`);
/// the message names the file.
pub fn load_private_key(path: impl AsRef<Path>) -> io::Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error("a private key", path, e))
}

/// A server configuration with one certificate chain and key, no client
/// authentication, and `alpn` as the protocols offered (most preferred
/// first, e.g. `[b"h2", b"http/1.1"]`).
///
/// # Errors
/// The key does not fit the certificate or is not supported.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn: &[&[u8]],
) -> io::Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad certificate or key: {e}"),
            )
        })?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client configuration that trusts `roots` (e.g. a test CA, or the
/// system's roots loaded by the caller) and offers `alpn`.
///
/// # Errors
/// A root certificate is malformed.
pub fn client_config_with_roots(
    roots: Vec<CertificateDer<'static>>,
    alpn: &[&[u8]],
) -> io::Result<Arc<rustls::ClientConfig>> {
    let mut store = rustls::RootCertStore::empty();
    for cert in roots {
        store.add(cert).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad root certificate: {e}"),
            )
        })?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The crypto provider: `ring`, whatever process default is installed.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
