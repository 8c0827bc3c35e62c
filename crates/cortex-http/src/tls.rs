//! The client TLS configuration: system roots plus the configured CA material, and pinning of
//! self-signed certificates.
//!
//! `openssl req -x509` makes a self-signed certificate with `CA:TRUE`; Python `requests` with
//! `verify=<that file>` accepts it as the server's certificate, webpki refuses it
//! (`CaUsedAsEndEntity`). So a certificate presented by the server that is byte for byte one of the
//! configured certificates is accepted, after its host name and validity dates are checked; the
//! handshake signatures are still verified with its key. Any other self-signed certificate is
//! refused with [`NotConfigured`], so the message can say it is not the one configured.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, RootCertStore, SignatureScheme};

/// The server presented a self-signed certificate that is none of the configured ones.
#[derive(Debug, thiserror::Error)]
#[error("self-signed certificate that is not the one configured")]
pub(crate) struct NotConfigured;

#[derive(Debug)]
pub(crate) struct PinningVerifier {
    /// `None` when there is no root at all (no system store, nothing configured): nothing chains.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pinned: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinningVerifier {
    pub(crate) fn new(
        roots: RootCertStore,
        pinned: Vec<CertificateDer<'static>>,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> PinningVerifier {
        let algorithms = provider.signature_verification_algorithms;
        let webpki = (!roots.is_empty())
            .then(|| WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build().ok())
            .flatten();
        PinningVerifier { webpki, pinned, algorithms }
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self.pinned.iter().any(|pinned| pinned.as_ref() == end_entity.as_ref()) {
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
            check_validity(end_entity, now)?;
            return Ok(ServerCertVerified::assertion());
        }
        let verified = match &self.webpki {
            Some(webpki) => webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        };
        match verified {
            // Whatever webpki objects to (unknown issuer, CA used as end entity), the real
            // problem is that this self-signed certificate is not the configured one.
            Err(Error::InvalidCertificate(_)) if is_self_issued(end_entity) => {
                Err(Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(NotConfigured)))))
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn check_validity(cert: &[u8], now: UnixTime) -> Result<(), Error> {
    let tbs = Tbs::parse(cert).ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now = now.as_secs();
    match (der_time(tbs.not_before), der_time(tbs.not_after)) {
        (Some(from), _) if now < from => Err(Error::InvalidCertificate(CertificateError::NotValidYet)),
        (_, Some(until)) if now > until => Err(Error::InvalidCertificate(CertificateError::Expired)),
        (Some(_), Some(_)) => Ok(()),
        _ => Err(Error::InvalidCertificate(CertificateError::BadEncoding)),
    }
}

/// Issuer and subject are the same name: the certificate signed itself (as openssl judges it).
fn is_self_issued(cert: &[u8]) -> bool {
    Tbs::parse(cert).is_some_and(|tbs| tbs.issuer == tbs.subject)
}

/// The few fields of an X.509 `TBSCertificate` needed here (RFC 5280 §4.1), as raw DER.
struct Tbs<'a> {
    issuer: &'a [u8],
    not_before: (u8, &'a [u8]),
    not_after: (u8, &'a [u8]),
    subject: &'a [u8],
}

impl<'a> Tbs<'a> {
    fn parse(cert: &'a [u8]) -> Option<Tbs<'a>> {
        let (0x30, certificate, _) = tlv(cert)? else { return None };
        let (0x30, tbs, _) = tlv(certificate)? else { return None };
        let (mut tag, mut value, mut rest) = tlv(tbs)?;
        if tag == 0xa0 {
            (tag, value, rest) = tlv(rest)?; // the explicit version
        }
        let _serial = (tag == 0x02).then_some(value)?;
        let (_, _signature, rest) = tlv(rest)?;
        let (_, issuer, rest) = tlv(rest)?;
        let (0x30, validity, rest) = tlv(rest)? else { return None };
        let (_, subject, _) = tlv(rest)?;
        let (before_tag, not_before, after) = tlv(validity)?;
        let (after_tag, not_after, _) = tlv(after)?;
        Some(Tbs { issuer, not_before: (before_tag, not_before), not_after: (after_tag, not_after), subject })
    }
}

/// One DER tag-length-value: (tag, value, what follows).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, input) = input.split_first()?;
    let (len, input) = if first < 0x80 {
        (usize::from(first), input)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || input.len() < count {
            return None;
        }
        let len = input[..count].iter().fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &input[count..])
    };
    (input.len() >= len).then(|| (tag, &input[..len], &input[len..]))
}

/// UTCTime (`YYMMDDHHMMSSZ`, 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, 0x18) as Unix seconds.
fn der_time((tag, text): (u8, &[u8])) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if text.len() == 12 => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        0x18 if text.len() == 14 => (text.get(..4)?.parse().ok()?, &text[4..]),
        _ => return None,
    };
    let field = |at: usize| -> Option<i64> { rest.get(at..at + 2)?.parse().ok() };
    let (month, day, hour, minute, second) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    let days = days_from_civil(year, month, day);
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    #[test]
    fn reads_names_and_dates_of_generated_certificates() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(2001, 3, 1);
        params.not_after = rcgen::date_time_ymd(2061, 3, 1);
        let root = params.self_signed(&key).unwrap();
        assert!(is_self_issued(root.der()));
        let tbs = Tbs::parse(root.der()).unwrap();
        assert_eq!(der_time(tbs.not_before), Some(983_404_800));
        assert_eq!(der_time(tbs.not_after), Some(2_876_860_800));

        let issuer = Issuer::new(params, key);
        let mut leaf = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        leaf.distinguished_name.push(rcgen::DnType::CommonName, "leaf");
        let leaf = leaf.signed_by(&KeyPair::generate().unwrap(), &issuer).unwrap();
        assert!(!is_self_issued(leaf.der()));
        assert!(Tbs::parse(b"\x30\x05junk").is_none());
    }

    #[test]
    fn dates_outside_the_validity_are_refused() {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let at = |secs| UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
        assert!(check_validity(cert.der(), at(1_000_000_000)).is_ok());
        let late = check_validity(cert.der(), at(1_100_000_000)).unwrap_err();
        assert_eq!(late, Error::InvalidCertificate(CertificateError::Expired));
        let early = check_validity(cert.der(), at(900_000_000)).unwrap_err();
        assert_eq!(early, Error::InvalidCertificate(CertificateError::NotValidYet));
    }
}
