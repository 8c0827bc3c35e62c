//! A throw-away CA and a `127.0.0.1`/`localhost` leaf certificate, generated at start.

use std::io;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Server-side TLS material.
pub(crate) struct TlsSetup {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) ca_pem: String,
}

/// Generates a CA, a leaf signed by it, and a rustls config (ring provider) serving the leaf.
pub(crate) fn generate() -> io::Result<TlsSetup> {
    let ca_key = KeyPair::generate().map_err(other)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    ca_params.distinguished_name.push(DnType::CommonName, "mdr-sandbox test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(other)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(other)?;
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).map_err(other)?;
    leaf_params.distinguished_name.push(DnType::CommonName, "mdr-sandbox");
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(other)?;

    let chain = vec![CertificateDer::from(leaf_cert.der().to_vec()), CertificateDer::from(ca_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(other)?;
    Ok(TlsSetup { config: Arc::new(config), ca_pem: ca_cert.pem() })
}

fn other<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(format!("tls setup: {e}"))
}
