//! The webhook's certificates, self-managed as MetalLB's cert-controller does
//! (docs/compatibility.md §1.14): a CA (`CN=cert`, `O=metallb`) whose certificate is the
//! caBundle the API server trusts, and a serving certificate it signs for
//! `<service>.<namespace>.svc`. All of it is pure: what to do with a stored Secret is decided
//! from its bytes and the time alone.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Secret keys, as MetalLB's cert-controller writes them.
pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const TLS_CERT: &str = "tls.crt";
pub const TLS_KEY: &str = "tls.key";

/// The CA's common name and organization (docs/compatibility.md §1.14).
pub const CA_NAME: &str = "cert";
pub const CA_ORGANIZATION: &str = "metallb";

/// Ten years, as cert-controller: the CA is what the API server pins, so it should change
/// rarely; it is replaced when a third of its life remains.
pub const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// One year: the serving certificate is renewed (same CA, no caBundle change) when a third of
/// its life remains, about every eight months.
pub const SERVING_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates start an hour in the past, so a node whose clock lags still accepts them.
const BACKDATE: Duration = Duration::from_secs(3600);

/// PEM texts of the CA and of the serving certificate and their keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Bundle {
    pub ca_cert: String,
    pub ca_key: String,
    pub cert: String,
    pub key: String,
}

impl std::fmt::Debug for Bundle {
    /// Keys are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle").field("ca_cert", &self.ca_cert).field("cert", &self.cert).finish_non_exhaustive()
    }
}

impl Bundle {
    /// The Secret `data` (raw bytes; base64 is the transport's business).
    pub fn to_data(&self) -> BTreeMap<String, Vec<u8>> {
        BTreeMap::from([
            (CA_CERT.to_owned(), self.ca_cert.clone().into_bytes()),
            (CA_KEY.to_owned(), self.ca_key.clone().into_bytes()),
            (TLS_CERT.to_owned(), self.cert.clone().into_bytes()),
            (TLS_KEY.to_owned(), self.key.clone().into_bytes()),
        ])
    }

    /// Reads the four keys of a Secret's `data`; `None` when one is missing or not UTF-8.
    pub fn from_data(data: &BTreeMap<String, Vec<u8>>) -> Option<Bundle> {
        let text = |key: &str| data.get(key).and_then(|b| String::from_utf8(b.clone()).ok()).filter(|s| !s.is_empty());
        Some(Bundle { ca_cert: text(CA_CERT)?, ca_key: text(CA_KEY)?, cert: text(TLS_CERT)?, key: text(TLS_KEY)? })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("time out of range: {0}")]
    Time(String),
}

/// What to do with the stored certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Valid for long enough, for the right names: serve it, write nothing.
    Reuse,
    /// The CA is good but the serving certificate is not (expiring, wrong names, not from
    /// this CA, key mismatch): sign a new one with the same CA, so the caBundle stays.
    RenewServing { reason: String },
    /// No usable CA: new CA, new serving certificate, new caBundle.
    Regenerate { reason: String },
}

/// The DNS names the serving certificate must carry: the API server calls
/// `<service>.<namespace>.svc`; the `.cluster.local` form serves clients that resolve it.
pub fn dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![format!("{service}.{namespace}.svc"), format!("{service}.{namespace}.svc.cluster.local")]
}

/// Decides between reuse and renewal: a certificate is renewed once less than a third of
/// its lifetime remains, which leaves months for a failing renewal to be noticed.
pub fn decide(stored: Option<&Bundle>, names: &[String], now: SystemTime) -> Decision {
    let regenerate = |reason: &str| Decision::Regenerate { reason: reason.to_owned() };
    let Some(stored) = stored else { return regenerate("no stored certificate") };
    let now = unix(now);
    let Some(ca_der) = first_pem(&stored.ca_cert) else { return regenerate("ca.crt is not a PEM certificate") };
    let Ok((_, ca)) = X509Certificate::from_der(&ca_der) else { return regenerate("ca.crt does not parse") };
    if !ca.is_ca() {
        return regenerate("ca.crt is not a CA certificate");
    }
    match KeyPair::from_pem(&stored.ca_key) {
        Ok(key) if key.public_key_raw() == ca.public_key().subject_public_key.data.as_ref() => {}
        _ => return regenerate("ca.key does not match ca.crt"),
    }
    if let Some(reason) = expiring(&ca, now) {
        return regenerate(&format!("CA {reason}"));
    }
    let renew = |reason: &str| Decision::RenewServing { reason: reason.to_owned() };
    let Some(der) = first_pem(&stored.cert) else { return renew("tls.crt is not a PEM certificate") };
    let Ok((_, cert)) = X509Certificate::from_der(&der) else { return renew("tls.crt does not parse") };
    // Every CA of every install is named `CN=cert, O=metallb`: only the signature tells
    // whether this CA issued the certificate.
    if cert.issuer().as_raw() != ca.subject().as_raw() || cert.verify_signature(Some(ca.public_key())).is_err() {
        return renew("tls.crt was not issued by ca.crt");
    }
    match KeyPair::from_pem(&stored.key) {
        Ok(key) if key.public_key_raw() == cert.public_key().subject_public_key.data.as_ref() => {}
        _ => return renew("tls.key does not match tls.crt"),
    }
    let sans: Vec<&str> = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(name) => Some(*name),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if let Some(missing) = names.iter().find(|n| !sans.contains(&n.as_str())) {
        return renew(&format!("tls.crt is not valid for {missing}"));
    }
    if let Some(reason) = expiring(&cert, now) {
        return renew(&format!("serving certificate {reason}"));
    }
    Decision::Reuse
}

/// `Some(why)` when less than a third of the certificate's lifetime remains (or it is not
/// valid yet, which a CA from a clock far ahead would be).
fn expiring(cert: &X509Certificate<'_>, now: i64) -> Option<String> {
    let start = cert.validity().not_before.timestamp();
    let end = cert.validity().not_after.timestamp();
    if now < start {
        return Some("is not valid yet".into());
    }
    let lifetime = end - start;
    if end - now < lifetime / 3 {
        return Some(format!("expires in {}s, less than a third of its lifetime", (end - now).max(0)));
    }
    None
}

/// Generates a new CA and a serving certificate for `names`.
pub fn generate(names: &[String], now: SystemTime) -> Result<Bundle, CertError> {
    let ca_key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, CA_ORGANIZATION);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    (params.not_before, params.not_after) = validity(now, CA_LIFETIME)?;
    let ca_cert = params.self_signed(&ca_key)?;
    let issuer = Issuer::new(params, &ca_key);
    let (cert, key) = serving(names, &issuer, now)?;
    Ok(Bundle { ca_cert: ca_cert.pem(), ca_key: ca_key.serialize_pem(), cert, key })
}

/// Signs a new serving certificate with the stored CA (see [`Decision::RenewServing`]).
pub fn renew_serving(stored: &Bundle, names: &[String], now: SystemTime) -> Result<Bundle, CertError> {
    let ca_key = KeyPair::from_pem(&stored.ca_key)?;
    let issuer = Issuer::from_ca_cert_pem(&stored.ca_cert, &ca_key)?;
    let (cert, key) = serving(names, &issuer, now)?;
    Ok(Bundle { cert, key, ..stored.clone() })
}

fn serving(names: &[String], issuer: &Issuer<'_, &KeyPair>, now: SystemTime) -> Result<(String, String), CertError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    (params.not_before, params.not_after) = validity(now, SERVING_LIFETIME)?;
    let cert = params.signed_by(&key, issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn validity(now: SystemTime, lifetime: Duration) -> Result<(OffsetDateTime, OffsetDateTime), CertError> {
    let at = |t: i64| OffsetDateTime::from_unix_timestamp(t).map_err(|e| CertError::Time(e.to_string()));
    let now = unix(now);
    Ok((at(now - BACKDATE.as_secs() as i64)?, at(now + lifetime.as_secs() as i64)?))
}

fn unix(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// The DER of the first certificate in a PEM text.
fn first_pem(text: &str) -> Option<Vec<u8>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(text.as_bytes()).next()?.ok().map(|c| c.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn names() -> Vec<String> {
        dns_names("metallb-webhook-service", "metallb-system")
    }

    fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    #[test]
    fn a_fresh_bundle_is_reused() {
        let bundle = generate(&names(), t0()).unwrap();
        assert_eq!(decide(Some(&bundle), &names(), t0()), Decision::Reuse);
        assert_eq!(decide(Some(&bundle), &names(), t0() + 200 * DAY), Decision::Reuse);
    }

    #[test]
    fn nothing_stored_means_regenerate() {
        assert!(matches!(decide(None, &names(), t0()), Decision::Regenerate { .. }));
    }

    #[test]
    fn a_serving_certificate_with_less_than_a_third_left_is_renewed_with_the_same_ca() {
        let bundle = generate(&names(), t0()).unwrap();
        let later = t0() + 250 * DAY;
        let Decision::RenewServing { reason } = decide(Some(&bundle), &names(), later) else { panic!() };
        assert!(reason.contains("third"), "{reason}");
        let renewed = renew_serving(&bundle, &names(), later).unwrap();
        assert_eq!(renewed.ca_cert, bundle.ca_cert);
        assert_ne!(renewed.cert, bundle.cert);
        assert_eq!(decide(Some(&renewed), &names(), later), Decision::Reuse);
    }

    #[test]
    fn an_expiring_ca_regenerates_everything() {
        let bundle = generate(&names(), t0()).unwrap();
        let Decision::Regenerate { reason } = decide(Some(&bundle), &names(), t0() + 7 * 365 * DAY) else { panic!() };
        assert!(reason.starts_with("CA "), "{reason}");
    }

    #[test]
    fn a_certificate_for_another_service_is_renewed() {
        let bundle = generate(&dns_names("other", "metallb-system"), t0()).unwrap();
        let Decision::RenewServing { reason } = decide(Some(&bundle), &names(), t0()) else { panic!() };
        assert!(reason.contains("metallb-webhook-service.metallb-system.svc"), "{reason}");
    }

    #[test]
    fn mismatched_or_garbage_contents_are_never_reused() {
        let a = generate(&names(), t0()).unwrap();
        let b = generate(&names(), t0()).unwrap();
        let crossed = Bundle { cert: b.cert.clone(), key: b.key.clone(), ..a.clone() };
        assert!(matches!(decide(Some(&crossed), &names(), t0()), Decision::RenewServing { .. }));
        let wrong_key = Bundle { key: b.key.clone(), ..a.clone() };
        assert!(matches!(decide(Some(&wrong_key), &names(), t0()), Decision::RenewServing { .. }));
        let wrong_ca_key = Bundle { ca_key: b.ca_key.clone(), ..a.clone() };
        assert!(matches!(decide(Some(&wrong_ca_key), &names(), t0()), Decision::Regenerate { .. }));
        let garbage = Bundle { ca_cert: "junk".into(), ..a.clone() };
        assert!(matches!(decide(Some(&garbage), &names(), t0()), Decision::Regenerate { .. }));
        let not_ca = Bundle { ca_cert: a.cert.clone(), ..a };
        assert!(matches!(decide(Some(&not_ca), &names(), t0()), Decision::Regenerate { .. }));
    }

    #[test]
    fn the_ca_is_named_as_metallb_names_it() {
        let bundle = generate(&names(), t0()).unwrap();
        let der = first_pem(&bundle.ca_cert).unwrap();
        let (_, ca) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(ca.subject().to_string(), "CN=cert, O=metallb");
    }

    #[test]
    fn secret_data_round_trips_and_missing_keys_are_none() {
        let bundle = generate(&names(), t0()).unwrap();
        let mut data = bundle.to_data();
        assert_eq!(Bundle::from_data(&data), Some(bundle));
        data.remove(TLS_KEY);
        assert_eq!(Bundle::from_data(&data), None);
    }
}
