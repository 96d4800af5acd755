//! The bench server's TLS identity: a self-signed certificate for `127.0.0.1` and `localhost`,
//! made fresh at every start (rcgen), and the rustls configuration that offers it with ALPN
//! `h2` then `http/1.1`, as Yahoo's edge does.
//!
//! rustls and rcgen both run on the `ring` provider, chosen explicitly here rather than through
//! a process-wide default, so this crate never needs aws-lc and never fights another crate over
//! `CryptoProvider::install_default`.

use std::io;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate and the server configuration that presents it.
pub(crate) struct Identity {
    pub cert_pem: String,
    pub config: Arc<rustls::ServerConfig>,
}

pub(crate) fn self_signed() -> io::Result<Identity> {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let cert_der = CertificateDer::from(certified.cert.der().to_vec());
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Identity {
        cert_pem: certified.cert.pem(),
        config: Arc::new(config),
    })
}
