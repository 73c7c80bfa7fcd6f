//! The server side of SCRAM-SHA-256(-PLUS) on arbitrary client messages,
//! with and without channel binding offered, against a fixed verifier.
//!
//! Never panics; never accepts a proof it did not get from the password;
//! never accepts a binding downgrade or binding data of another
//! connection.

#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use libfuzzer_sys::fuzz_target;
use ring::{digest, hmac};
use sqlgate_wire::scram::{
    MECHANISM, MECHANISM_PLUS, Offer, ScramError, Verifier, client_final, client_first,
};

const PASSWORD: &str = "pencil";
const SALT: &[u8] = b"fuzz-salt-16byte";
const ITERATIONS: u32 = 4096;
const BINDING: &[u8] = b"hash of the server certificate";

/// The verifier, and the client key a client knowing the password derives
/// (computed once: PBKDF2 with 4096 rounds per input would be slow).
fn keys() -> &'static (Verifier, [u8; 32]) {
    static KEYS: OnceLock<(Verifier, [u8; 32])> = OnceLock::new();
    KEYS.get_or_init(|| {
        let verifier = Verifier::from_password(PASSWORD, SALT, ITERATIONS);
        let mut salted = [0u8; 32];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(ITERATIONS).unwrap(),
            SALT,
            PASSWORD.as_bytes(),
            &mut salted,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        (verifier, client_key)
    })
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg)
        .as_ref()
        .try_into()
        .unwrap()
}

#[derive(Arbitrary, Debug)]
enum Mechanism {
    Plain,
    Plus,
    Other(String),
}

/// How the client-final message is built.
#[derive(Arbitrary, Debug)]
enum Final {
    /// Arbitrary bytes.
    Raw(Vec<u8>),
    /// `c=<c>,r=<server nonce><suffix>[,<extra>],p=<proof>` with fuzzed
    /// parts around the real nonce, so the checks after the nonce are
    /// reached.
    Shaped {
        channel: String,
        nonce_suffix: String,
        extra: Option<String>,
        proof: String,
    },
    /// The right channel-binding data for the gs2 header sent, the real
    /// nonce, and a fuzzed proof (of 32 bytes, so it reaches the HMAC
    /// check).
    WrongProof {
        proof: [u8; 32],
        binding: Option<Vec<u8>>,
    },
    /// The exchange of a client that knows the password, with fuzzed
    /// channel-binding data: must succeed exactly when that data is the
    /// gs2 header plus this connection's binding.
    Honest { binding: Option<Vec<u8>> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    tls: bool,
    mechanism: Mechanism,
    first: Vec<u8>,
    /// Replaces `first` with `<gs2>n=,r=<nonce>` built from these parts.
    shaped_first: Option<(String, String, String)>,
    last: Final,
}

fuzz_target!(|input: Input| {
    let (verifier, client_key) = keys();
    let offer = Offer {
        binding: input.tls.then_some(BINDING),
    };
    let mechanism = match &input.mechanism {
        Mechanism::Plain => MECHANISM,
        Mechanism::Plus => MECHANISM_PLUS,
        Mechanism::Other(m) => m.as_str(),
    };
    let first: Vec<u8> = match &input.shaped_first {
        Some((gs2, nonce, rest)) => format!("{gs2},,n=,r={nonce}{rest}").into_bytes(),
        None => input.first.clone(),
    };
    let result = client_first(&offer, mechanism, &first, verifier.clone());
    let Ok(state) = result else {
        return;
    };

    // What client_first accepted.
    let text = std::str::from_utf8(&first).expect("accepted a message that is not UTF-8");
    let mut parts = text.splitn(3, ',');
    let flag = parts.next().unwrap();
    let authzid = parts.next().unwrap();
    let bare = parts.next().unwrap();
    assert!(authzid.is_empty(), "accepted an authorization identity");
    match (mechanism, input.tls) {
        (MECHANISM, true) => assert_eq!(flag, "n", "accepted {flag:?} for the plain mechanism over TLS"),
        (MECHANISM, false) => assert!(flag == "n" || flag == "y", "accepted flag {flag:?}"),
        (MECHANISM_PLUS, true) => assert_eq!(flag, "p=tls-server-end-point"),
        (m, tls) => panic!("accepted mechanism {m:?} (tls: {tls})"),
    }
    let client_nonce = bare
        .split(',')
        .nth(1)
        .and_then(|r| r.strip_prefix("r="))
        .expect("accepted a message without a nonce");
    let server_first = state.message().to_owned();
    let nonce = server_first
        .strip_prefix("r=")
        .and_then(|s| s.split(',').next())
        .expect("server-first starts with r=")
        .to_owned();
    assert!(nonce.starts_with(client_nonce) && nonce.len() > client_nonce.len());

    let gs2 = format!("{flag},,");
    let expected_binding = {
        let mut b = gs2.clone().into_bytes();
        if mechanism == MECHANISM_PLUS {
            b.extend_from_slice(BINDING);
        }
        b
    };
    let (last, honest): (Vec<u8>, bool) = match &input.last {
        Final::Raw(bytes) => (bytes.clone(), false),
        Final::Shaped {
            channel,
            nonce_suffix,
            extra,
            proof,
        } => {
            let mut m = format!("c={channel},r={nonce}{nonce_suffix}");
            if let Some(extra) = extra {
                m.push(',');
                m.push_str(extra);
            }
            m.push_str(",p=");
            m.push_str(proof);
            (m.into_bytes(), false)
        }
        Final::WrongProof { proof, binding } => {
            let c = binding.clone().unwrap_or_else(|| expected_binding.clone());
            let m = format!("c={},r={nonce},p={}", B64.encode(c), B64.encode(proof));
            (m.into_bytes(), false)
        }
        Final::Honest { binding } => {
            let c = binding.clone().unwrap_or_else(|| expected_binding.clone());
            let honest = c == expected_binding;
            let without_proof = format!("c={},r={nonce}", B64.encode(&c));
            let auth = format!("{bare},{server_first},{without_proof}");
            let stored: [u8; 32] = digest::digest(&digest::SHA256, client_key)
                .as_ref()
                .try_into()
                .unwrap();
            let signature = hmac_sha256(&stored, auth.as_bytes());
            let proof: Vec<u8> = client_key.iter().zip(signature).map(|(k, s)| k ^ s).collect();
            let m = format!("{without_proof},p={}", B64.encode(proof));
            (m.into_bytes(), honest)
        }
    };
    match client_final(&state, &last) {
        Ok(server_final) => {
            assert!(
                honest,
                "accepted a client-final message that was not built from the password \
                 and this connection's binding: {:?}",
                String::from_utf8_lossy(&last)
            );
            assert!(server_final.starts_with("v="));
        }
        Err(e) => {
            assert!(
                !honest,
                "refused the honest exchange ({e:?}): {:?}",
                String::from_utf8_lossy(&last)
            );
            if let Final::WrongProof { binding: None, .. } = &input.last {
                assert_eq!(e, ScramError::BadProof);
            }
        }
    }
});
