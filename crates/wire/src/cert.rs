//! Client-certificate login: which names a verified client certificate
//! vouches for, and whether one of them is the account's `cert_subject`.
//!
//! rustls has already checked the chain against the configured client CA
//! (and the validity period and the clientAuth key usage) by the time these
//! run; this only reads names out of the leaf certificate.
//!
//! A certificate vouches for:
//! - each common name (CN) of its subject, written bare (`svc_powerbi`) or
//!   as `CN=svc_powerbi`;
//! - each DNS name and each email address (rfc822Name) of its subject
//!   alternative names.
//!
//! Matching is exact and case-sensitive, like PostgreSQL's `cert` method:
//! no wildcards, no normalisation. Other name forms (URIs, IP addresses,
//! other subject attributes) are never matched, so a CA that signs them for
//! other purposes cannot mint a login by accident.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The names a certificate (DER) vouches for, as described above. A
/// certificate that does not parse vouches for nothing.
pub fn identities(der: &[u8]) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for cn in cert.subject().iter_common_name() {
        if let Ok(cn) = cn.as_str() {
            names.push(cn.to_owned());
            names.push(format!("CN={cn}"));
        }
    }
    // A malformed or duplicated SAN extension contributes nothing rather
    // than failing the login outright: the CN may still match.
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) | GeneralName::RFC822Name(n) => names.push((*n).to_owned()),
                _ => {}
            }
        }
    }
    names
}

/// Whether a certificate carrying `identities` may log in as an account
/// whose `cert_subject` is `subject`.
pub fn matches(identities: &[String], subject: Option<&str>) -> bool {
    match subject {
        Some(s) if !s.is_empty() => identities.iter().any(|i| i == s),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    fn cert(cn: &str, sans: Vec<SanType>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        dn.push(DnType::OrganizationName, "svc_other");
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn common_name_and_dns_and_email_sans_count() {
        let der = cert(
            "svc_powerbi",
            vec![
                SanType::DnsName("bi.example.com".try_into().unwrap()),
                SanType::Rfc822Name("bi@example.com".try_into().unwrap()),
                SanType::URI("https://svc_uri".try_into().unwrap()),
            ],
        );
        let ids = identities(&der);
        for yes in [
            "svc_powerbi",
            "CN=svc_powerbi",
            "bi.example.com",
            "bi@example.com",
        ] {
            assert!(matches(&ids, Some(yes)), "{yes} in {ids:?}");
        }
        for no in [
            "SVC_POWERBI",
            "svc_other",
            "O=svc_other",
            "https://svc_uri",
            "",
            "*.example.com",
        ] {
            assert!(!matches(&ids, Some(no)), "{no} not in {ids:?}");
        }
        assert!(!matches(&ids, None));
    }

    #[test]
    fn garbage_vouches_for_nothing() {
        assert!(identities(b"not a certificate").is_empty());
    }
}
