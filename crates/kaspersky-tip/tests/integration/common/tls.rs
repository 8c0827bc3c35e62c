//! Throw-away PKI for the HTTPS stand-in: a server CA with a leaf for `127.0.0.1`, and a client CA that
//! issues the certificate + key PEM files the analyzer's `client_cert` item takes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

pub struct TestPki {
    server_ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key_der: Vec<u8>,
    client_ca_der: CertificateDer<'static>,
    client_issuer: Issuer<'static, KeyPair>,
}

/// A client certificate issued by the test client CA.
pub struct ClientIdentity {
    /// Certificate then PKCS#8 private key, as `client_cert` expects.
    pub pem: String,
    /// The certificate alone, to compare with what the stand-in recorded.
    pub der: Vec<u8>,
}

/// Numbers the CAs: two CAs with one name would look like the same issuer with a bad signature.
static GENERATED: AtomicUsize = AtomicUsize::new(0);

fn ca(name: &str) -> (CertificateDer<'static>, String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    let number = GENERATED.fetch_add(1, Ordering::Relaxed);
    params.distinguished_name.push(DnType::CommonName, format!("{name} {number}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).expect("CA certificate");
    (CertificateDer::from(cert.der().to_vec()), cert.pem(), Issuer::new(params, key))
}

impl TestPki {
    pub fn generate() -> TestPki {
        let (server_ca_der, server_ca_pem, server_issuer) = ca("kaspersky-tip stand-in server CA");
        let server_key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("server params");
        params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        let server_cert = params.signed_by(&server_key, &server_issuer).expect("server certificate");
        let (client_ca_der, _, client_issuer) = ca("kaspersky-tip stand-in client CA");
        TestPki {
            server_ca_pem,
            server_chain: vec![CertificateDer::from(server_cert.der().to_vec()), server_ca_der],
            server_key_der: server_key.serialize_der(),
            client_ca_der,
            client_issuer,
        }
    }

    /// A server certificate as `openssl req -x509` makes it: self-signed, `CA:TRUE`, served alone;
    /// [`TestPki::server_ca_pem`] is that certificate.
    pub fn self_signed() -> TestPki {
        let mut pki = TestPki::generate();
        let key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("server params");
        let number = GENERATED.fetch_add(1, Ordering::Relaxed);
        params.distinguished_name.push(DnType::CommonName, format!("self-signed {number}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("self-signed certificate");
        pki.server_ca_pem = cert.pem();
        pki.server_chain = vec![CertificateDer::from(cert.der().to_vec())];
        pki.server_key_der = key.serialize_der();
        pki
    }

    /// The PEM to trust (Cortex `cacerts`) so the analyzer accepts the stand-in.
    pub fn server_ca_pem(&self) -> &str {
        &self.server_ca_pem
    }

    pub fn client_identity(&self, common_name: &str) -> ClientIdentity {
        let key = KeyPair::generate().expect("client key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.client_issuer).expect("client certificate");
        ClientIdentity { pem: format!("{}{}", cert.pem(), key.serialize_pem()), der: cert.der().to_vec() }
    }

    /// rustls server config (ring provider); with `require_client_cert`, the handshake fails unless the client
    /// presents a certificate issued by the client CA.
    pub fn server_config(&self, require_client_cert: bool) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder =
            ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().expect("TLS");
        let builder = if require_client_cert {
            let mut roots = RootCertStore::empty();
            roots.add(self.client_ca_der.clone()).expect("client CA");
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().expect("verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        Arc::new(builder.with_single_cert(self.server_chain.clone(), key).expect("server config"))
    }
}
