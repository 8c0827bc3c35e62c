//! A throw-away CA and a `127.0.0.1`/`localhost` leaf certificate, generated at start; or, as
//! `openssl req -x509` makes it, one self-signed `CA:TRUE` certificate served alone.

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

/// Which certificate a TLS stand-in serves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TlsCert {
    /// A leaf for `127.0.0.1` and `localhost` signed by a generated CA; `ca_pem` is the CA.
    #[default]
    CaSigned,
    /// One self-signed certificate with `CA:TRUE` for these names (`openssl req -x509 -addext
    /// subjectAltName=...`); `ca_pem` is that certificate.
    SelfSigned(Vec<String>),
}

/// The TLS material for `cert`.
pub(crate) fn generate_for(cert: &TlsCert) -> io::Result<TlsSetup> {
    match cert {
        TlsCert::CaSigned => generate(),
        TlsCert::SelfSigned(names) => self_signed(names),
    }
}

fn self_signed(names: &[String]) -> io::Result<TlsSetup> {
    let key = KeyPair::generate().map_err(other)?;
    let mut params = CertificateParams::new(names.to_vec()).map_err(other)?;
    params.distinguished_name.push(DnType::CommonName, names.first().map_or("mdr-sandbox", String::as_str));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).map_err(other)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = server_config(vec![CertificateDer::from(cert.der().to_vec())], key_der)?;
    Ok(TlsSetup { config, ca_pem: cert.pem() })
}

fn server_config(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> io::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(other)?;
    Ok(Arc::new(config))
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
    Ok(TlsSetup { config: server_config(chain, key)?, ca_pem: ca_cert.pem() })
}

fn other<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(format!("tls setup: {e}"))
}
