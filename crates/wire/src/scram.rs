//! SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it, against
//! stored verifiers, with channel binding (`tls-server-end-point`).
//!
//! Written here rather than taken from pgwire because pgwire 0.41 accepts a
//! channel-binding downgrade. The rules enforced, as PostgreSQL does:
//! - over TLS the server offers `SCRAM-SHA-256-PLUS`; a client that then
//!   says `y` ("I support binding but think you don't") is being downgraded
//!   by someone in the middle, and is refused;
//! - `p=` is refused when binding was not offered, or with the plain
//!   mechanism, or for another binding type; the plain flag `n` is refused
//!   with the PLUS mechanism;
//! - the binding data in the final message must be the hash of our own
//!   certificate, so a relayed exchange fails.
//!
//! Unknown accounts run the same exchange against a fake verifier derived
//! from a server secret, so the answer (and the work) is the same as for a
//! wrong password.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};
use subtle::ConstantTimeEq;

pub const MECHANISM: &str = "SCRAM-SHA-256";
pub const MECHANISM_PLUS: &str = "SCRAM-SHA-256-PLUS";
const CHANNEL_BINDING_TYPE: &str = "tls-server-end-point";
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// A parsed stored verifier.
#[derive(Clone)]
pub struct Verifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

impl Verifier {
    /// Parses `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(s: &str) -> Option<Verifier> {
        let rest = s.strip_prefix("SCRAM-SHA-256$")?;
        let (iter_salt, keys) = rest.split_once('$')?;
        let (iter, salt) = iter_salt.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        Some(Verifier {
            iterations: iter.parse().ok()?,
            salt: B64.decode(salt).ok()?,
            stored_key: B64.decode(stored).ok()?.try_into().ok()?,
            server_key: B64.decode(server).ok()?.try_into().ok()?,
        })
    }

    /// Derives a verifier from a password (for `sqlgate hash-password`).
    pub fn from_password(password: &str, salt: &[u8], iterations: u32) -> Verifier {
        let salted = salted_password(password.as_bytes(), salt, iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        Verifier {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// A verifier no password matches, stable per user name, for accounts
    /// that do not exist or have no password.
    pub fn decoy(secret: &[u8], user: &str) -> Verifier {
        let tag = hmac_sha256(secret, user.as_bytes());
        Verifier {
            iterations: DEFAULT_ITERATIONS,
            salt: tag[..16].to_vec(),
            stored_key: hmac_sha256(secret, &tag),
            server_key: hmac_sha256(&tag, secret),
        }
    }

    /// Whether `password` is the one this verifier was made from: the same
    /// key derivation as a SCRAM exchange, compared in constant time. For a
    /// password sent whole (over TLS, when the server asks for one).
    pub fn matches_password(&self, password: &str) -> bool {
        let other = Verifier::from_password(password, &self.salt, self.iterations);
        let stored: bool = other.stored_key.ct_eq(&self.stored_key).into();
        let server: bool = other.server_key.ct_eq(&self.server_key).into();
        stored & server
    }

    /// The PostgreSQL text form.
    pub fn encode(&self) -> String {
        format!(
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }
}

/// Hashes a password into a verifier with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .expect("system random source");
    Verifier::from_password(password, &salt, DEFAULT_ITERATIONS).encode()
}

/// Why an exchange failed. `BadProof` is the only outcome of a wrong
/// password or unknown account; the others are protocol violations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScramError {
    BadProof,
    Protocol(String),
    /// A channel-binding downgrade or mismatch.
    ChannelBinding(String),
}

/// What the server offered and what it can bind to.
pub struct Offer<'a> {
    /// `tls-server-end-point` data (hash of our certificate) when the
    /// connection is TLS; `None` on plaintext.
    pub binding: Option<&'a [u8]>,
}

impl Offer<'_> {
    /// The mechanisms to advertise, strongest first.
    pub fn mechanisms(&self) -> Vec<String> {
        let mut m = Vec::new();
        if self.binding.is_some() {
            m.push(MECHANISM_PLUS.to_owned());
        }
        m.push(MECHANISM.to_owned());
        m
    }
}

/// The server's state between its first and final messages.
pub struct ServerFirst {
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    binding: Option<Vec<u8>>,
    verifier: Verifier,
}

impl ServerFirst {
    /// The message to send (AuthenticationSASLContinue).
    pub fn message(&self) -> &str {
        &self.server_first
    }
}

/// Handles the client-first message for the chosen mechanism.
pub fn client_first(
    offer: &Offer<'_>,
    mechanism: &str,
    message: &[u8],
    verifier: Verifier,
) -> Result<ServerFirst, ScramError> {
    let proto = |m: &str| ScramError::Protocol(m.to_owned());
    let text =
        std::str::from_utf8(message).map_err(|_| proto("client-first-message is not UTF-8"))?;
    let plus = match mechanism {
        MECHANISM => false,
        MECHANISM_PLUS if offer.binding.is_some() => true,
        MECHANISM_PLUS => {
            return Err(ScramError::ChannelBinding(
                "SCRAM-SHA-256-PLUS was not offered on this connection".into(),
            ));
        }
        other => return Err(proto(&format!("unsupported SASL mechanism {other}"))),
    };
    let (flag, rest) = text
        .split_once(',')
        .ok_or_else(|| proto("malformed gs2 header"))?;
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or_else(|| proto("malformed gs2 header"))?;
    if !authzid.is_empty() {
        return Err(proto("authorization identities are not supported"));
    }
    match (flag, plus) {
        ("n", false) => {}
        ("y", false) if offer.binding.is_some() => {
            return Err(ScramError::ChannelBinding(
                "the client supports channel binding but thinks the server does not; this server offers it (possible downgrade attack)".into(),
            ));
        }
        ("y", false) => {}
        (f, true) if f == format!("p={CHANNEL_BINDING_TYPE}") => {}
        (f, true) if f.starts_with("p=") => {
            return Err(ScramError::ChannelBinding(format!(
                "unsupported channel binding type {}",
                &f[2..]
            )));
        }
        (_, true) => {
            return Err(ScramError::ChannelBinding(
                "SCRAM-SHA-256-PLUS was selected but the client sent no channel binding".into(),
            ));
        }
        (f, false) if f.starts_with("p=") => {
            return Err(ScramError::ChannelBinding(
                "the client sent channel binding data with a mechanism that has none".into(),
            ));
        }
        _ => return Err(proto("malformed gs2 channel binding flag")),
    }
    // client-first-message-bare: n=<user>,r=<nonce>[,ext]; the user name is
    // ignored, as PostgreSQL does: the startup packet named the account.
    let mut attrs = bare.split(',');
    let user = attrs.next().unwrap_or_default();
    if !user.starts_with("n=") {
        return Err(proto("expected n= in client-first-message"));
    }
    let client_nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b','))
        .ok_or_else(|| proto("expected r= in client-first-message"))?;
    if attrs.any(|a| a.starts_with("m=")) {
        return Err(proto("mandatory SCRAM extensions are not supported"));
    }

    let mut raw = [0u8; 18];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| proto("no random source"))?;
    let nonce = format!("{client_nonce}{}", B64.encode(raw));
    let server_first = format!(
        "r={nonce},s={},i={}",
        B64.encode(&verifier.salt),
        verifier.iterations
    );
    Ok(ServerFirst {
        gs2_header: format!("{flag},{authzid},"),
        client_first_bare: bare.to_owned(),
        server_first,
        nonce,
        binding: if plus {
            offer.binding.map(<[u8]>::to_vec)
        } else {
            None
        },
        verifier,
    })
}

/// Checks the client-final message; on success returns the server-final
/// message (AuthenticationSASLFinal).
pub fn client_final(state: &ServerFirst, message: &[u8]) -> Result<String, ScramError> {
    let proto = |m: &str| ScramError::Protocol(m.to_owned());
    let text =
        std::str::from_utf8(message).map_err(|_| proto("client-final-message is not UTF-8"))?;
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or_else(|| proto("expected p= in client-final-message"))?;
    let mut attrs = without_proof.split(',');
    let channel = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .ok_or_else(|| proto("expected c= in client-final-message"))?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(|| proto("expected r= in client-final-message"))?;

    let mut expected = state.gs2_header.as_bytes().to_vec();
    if let Some(binding) = &state.binding {
        expected.extend_from_slice(binding);
    }
    let channel = B64
        .decode(channel)
        .map_err(|_| proto("malformed channel binding"))?;
    if !bool::from(channel.ct_eq(&expected)) {
        return Err(ScramError::ChannelBinding(
            "channel binding data does not match this connection".into(),
        ));
    }
    if !bool::from(nonce.as_bytes().ct_eq(state.nonce.as_bytes())) {
        return Err(proto("nonce mismatch"));
    }
    let proof = B64.decode(proof).map_err(|_| proto("malformed proof"))?;
    if proof.len() != 32 {
        return Err(ScramError::BadProof);
    }
    let auth_message = format!(
        "{},{},{}",
        state.client_first_bare, state.server_first, without_proof
    );
    let signature = hmac_sha256(&state.verifier.stored_key, auth_message.as_bytes());
    let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
    if !bool::from(sha256(&client_key).ct_eq(&state.verifier.stored_key)) {
        return Err(ScramError::BadProof);
    }
    let server_signature = hmac_sha256(&state.verifier.server_key, auth_message.as_bytes());
    Ok(format!("v={}", B64.encode(server_signature)))
}

fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    // SASLprep is the identity for ASCII passwords, which is what PostgreSQL
    // falls back to for passwords SASLprep would reject anyway.
    let mut out = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(iterations.max(1)).expect("nonzero"),
        salt,
        password,
        &mut out,
    );
    out
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg);
    tag.as_ref().try_into().expect("32-byte tag")
}

fn sha256(msg: &[u8]) -> [u8; 32] {
    digest::digest(&digest::SHA256, msg)
        .as_ref()
        .try_into()
        .expect("32-byte digest")
}

/// `tls-server-end-point` data: the certificate hashed with its signature's
/// hash, SHA-256 for SHA-1 and MD5 (RFC 5929).
pub fn end_point_binding(cert_der: &[u8]) -> Vec<u8> {
    use x509_certificate::algorithm::SignatureAlgorithm as S;
    use x509_certificate::certificate::X509Certificate;
    let algorithm = X509Certificate::from_der(cert_der)
        .ok()
        .and_then(|c| c.signature_algorithm());
    let hash = match algorithm {
        Some(S::RsaSha384 | S::EcdsaSha384) => &digest::SHA384,
        Some(S::RsaSha512) => &digest::SHA512,
        _ => &digest::SHA256,
    };
    digest::digest(hash, cert_der).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_passwords_match_their_verifier_only() {
        let v = Verifier::parse(&hash_password("correct horse")).unwrap();
        assert!(v.matches_password("correct horse"));
        assert!(!v.matches_password("correct horse "));
        assert!(!v.matches_password(""));
        let decoy = Verifier::decoy(b"secret", "nobody");
        assert!(!decoy.matches_password(""));
        assert!(!decoy.matches_password("nobody"));
    }

    /// A client written from the RFC, to drive the server side.
    struct Client {
        password: String,
        nonce: String,
        gs2: String,
        binding: Vec<u8>,
        first_bare: String,
    }

    impl Client {
        fn new(password: &str, gs2: &str, binding: &[u8]) -> Client {
            Client {
                password: password.into(),
                nonce: "rOprNGfwEbeRWgbNEkqO".into(),
                gs2: gs2.into(),
                binding: binding.to_vec(),
                first_bare: "n=,r=rOprNGfwEbeRWgbNEkqO".into(),
            }
        }
        fn first(&self) -> String {
            format!("{}{}", self.gs2, self.first_bare)
        }
        fn last(&self, server_first: &str) -> String {
            let mut parts = server_first.split(',');
            let nonce = parts.next().unwrap().strip_prefix("r=").unwrap();
            assert!(nonce.starts_with(&self.nonce));
            let salt = B64
                .decode(parts.next().unwrap().strip_prefix("s=").unwrap())
                .unwrap();
            let iters: u32 = parts
                .next()
                .unwrap()
                .strip_prefix("i=")
                .unwrap()
                .parse()
                .unwrap();
            let mut cb = self.gs2.as_bytes().to_vec();
            cb.extend_from_slice(&self.binding);
            let without_proof = format!("c={},r={nonce}", B64.encode(cb));
            let salted = salted_password(self.password.as_bytes(), &salt, iters);
            let client_key = hmac_sha256(&salted, b"Client Key");
            let stored = sha256(&client_key);
            let auth = format!("{},{server_first},{without_proof}", self.first_bare);
            let sig = hmac_sha256(&stored, auth.as_bytes());
            let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
            format!("{without_proof},p={}", B64.encode(proof))
        }
    }

    fn verifier() -> Verifier {
        Verifier::parse(&Verifier::from_password("s3cret", b"0123456789abcdef", 4096).encode())
            .unwrap()
    }

    fn run(offer: &Offer<'_>, mech: &str, client: &Client) -> Result<String, ScramError> {
        let first = client_first(offer, mech, client.first().as_bytes(), verifier())?;
        client_final(&first, client.last(first.message()).as_bytes())
    }

    #[test]
    fn correct_password_passes_without_and_with_binding() {
        let plain = Offer { binding: None };
        assert!(run(&plain, MECHANISM, &Client::new("s3cret", "n,,", b"")).is_ok());
        let tls = Offer {
            binding: Some(b"cert-hash"),
        };
        let c = Client::new("s3cret", "p=tls-server-end-point,,", b"cert-hash");
        assert!(run(&tls, MECHANISM_PLUS, &c).is_ok());
        // A client without binding support on TLS is fine.
        assert!(run(&tls, MECHANISM, &Client::new("s3cret", "n,,", b"")).is_ok());
    }

    #[test]
    fn wrong_password_is_bad_proof() {
        let plain = Offer { binding: None };
        assert_eq!(
            run(&plain, MECHANISM, &Client::new("nope", "n,,", b"")),
            Err(ScramError::BadProof)
        );
    }

    #[test]
    fn downgrade_flag_y_is_refused_when_binding_is_offered() {
        let tls = Offer {
            binding: Some(b"cert-hash"),
        };
        let r = run(&tls, MECHANISM, &Client::new("s3cret", "y,,", b""));
        assert!(matches!(r, Err(ScramError::ChannelBinding(_))), "{r:?}");
        // ...but is fine on plaintext, where nothing was offered.
        let plain = Offer { binding: None };
        assert!(run(&plain, MECHANISM, &Client::new("s3cret", "y,,", b"")).is_ok());
    }

    #[test]
    fn binding_without_offer_or_with_plain_mechanism_is_refused() {
        let plain = Offer { binding: None };
        let c = Client::new("s3cret", "p=tls-server-end-point,,", b"x");
        assert!(matches!(
            run(&plain, MECHANISM_PLUS, &c),
            Err(ScramError::ChannelBinding(_))
        ));
        assert!(matches!(
            run(&plain, MECHANISM, &c),
            Err(ScramError::ChannelBinding(_))
        ));
        let tls = Offer {
            binding: Some(b"cert-hash"),
        };
        assert!(matches!(
            run(&tls, MECHANISM_PLUS, &Client::new("s3cret", "n,,", b"")),
            Err(ScramError::ChannelBinding(_))
        ));
    }

    #[test]
    fn binding_data_of_another_certificate_is_refused() {
        let tls = Offer {
            binding: Some(b"our-cert"),
        };
        let c = Client::new("s3cret", "p=tls-server-end-point,,", b"relay-cert");
        assert!(matches!(
            run(&tls, MECHANISM_PLUS, &c),
            Err(ScramError::ChannelBinding(_))
        ));
    }

    #[test]
    fn decoy_verifiers_are_stable_and_refuse() {
        let a = Verifier::decoy(b"secret", "ghost");
        let b = Verifier::decoy(b"secret", "ghost");
        assert_eq!(a.salt, b.salt);
        let first = client_first(&Offer { binding: None }, MECHANISM, b"n,,n=,r=abc", a).unwrap();
        let c = Client::new("anything", "n,,", b"");
        let mut c = c;
        c.nonce = "abc".into();
        c.first_bare = "n=,r=abc".into();
        assert_eq!(
            client_final(&first, c.last(first.message()).as_bytes()),
            Err(ScramError::BadProof)
        );
    }

    #[test]
    fn verifier_text_round_trips() {
        let v = hash_password("pw");
        assert!(Verifier::parse(&v).is_some());
        assert!(v.starts_with("SCRAM-SHA-256$4096:"));
    }
}
