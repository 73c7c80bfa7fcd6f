//! Bearer-token login: JWTs signed by a configured issuer, checked against
//! the keys of a JWKS file, carried by the SASL mechanism OAUTHBEARER
//! (RFC 7628), which PostgreSQL 18 speaks.
//!
//! A token is accepted when:
//! - its header names a `kid` of the JWKS and the algorithm that key is for
//!   (RS256 for an RSA key, ES256 for a P-256 key); `none`, the HMAC family
//!   and every other algorithm are refused, so a public key can never be
//!   used as an HMAC secret;
//! - its signature verifies with that key;
//! - `iss` and `aud` are the configured ones, `exp` is present and not past,
//!   `nbf` (when present) not in the future, both within the leeway;
//! - it has a `sub`; the caller then matches it against the account's
//!   `token_subject`.
//!
//! The token itself never reaches a log or the audit trail; only the reason
//! it was refused does.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The SASL mechanism name.
pub const MECHANISM: &str = "OAUTHBEARER";

/// Whether a password sent whole is a compact JWT: three non-empty
/// base64url parts. Only a shape test; `verify` decides.
pub fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// What `[auth.token]` configures.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub leeway_seconds: u64,
}

/// Checks tokens against one issuer's keys.
pub struct TokenVerifier {
    settings: TokenSettings,
    /// By `kid`: the key and the one algorithm it verifies.
    keys: HashMap<String, (DecodingKey, Algorithm)>,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("TokenVerifier")
            .field("settings", &self.settings)
            .field("kids", &kids)
            .finish()
    }
}

/// Why a token was refused: recorded in the audit log, never sent to the
/// client (which only learns that authentication failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    NoKeyId,
    UnknownKey,
    Algorithm(String),
    Signature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    MissingClaim(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed => write!(f, "malformed token or unsupported algorithm"),
            TokenError::NoKeyId => write!(f, "token header has no kid"),
            TokenError::UnknownKey => write!(f, "token signed with a key not in the JWKS"),
            TokenError::Algorithm(a) => write!(f, "token algorithm {a} not allowed for its key"),
            TokenError::Signature => write!(f, "token signature does not verify"),
            TokenError::Expired => write!(f, "token expired"),
            TokenError::NotYetValid => write!(f, "token not yet valid"),
            TokenError::Issuer => write!(f, "token issuer is not the configured one"),
            TokenError::Audience => write!(f, "token audience is not the configured one"),
            TokenError::MissingClaim(c) => write!(f, "token has no {c} claim"),
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    /// Optional here so that a token without one is reported as such,
    /// not as malformed.
    sub: Option<String>,
}

#[derive(Deserialize)]
struct JwkSetRaw {
    keys: Vec<serde_json::Value>,
}

impl TokenVerifier {
    /// Reads a JWKS file.
    pub fn load(settings: TokenSettings, jwks: &Path) -> Result<TokenVerifier, String> {
        let text = std::fs::read_to_string(jwks).map_err(|e| format!("{}: {e}", jwks.display()))?;
        TokenVerifier::from_jwks(settings, &text).map_err(|e| format!("{}: {e}", jwks.display()))
    }

    /// Builds a verifier from JWKS text. Keys this server cannot use for
    /// RS256/ES256 signatures (encryption keys, HMAC secrets, other curves,
    /// keys without a `kid`) are skipped; a set with no usable key, or with
    /// one `kid` twice, is an error.
    pub fn from_jwks(settings: TokenSettings, jwks: &str) -> Result<TokenVerifier, String> {
        if settings.issuer.is_empty() || settings.audience.is_empty() {
            return Err("issuer and audience must not be empty".into());
        }
        let set: JwkSetRaw =
            serde_json::from_str(jwks).map_err(|e| format!("not a JWKS document: {e}"))?;
        let mut keys = HashMap::new();
        for (i, raw) in set.keys.into_iter().enumerate() {
            // One key of a type this crate does not model must not make the
            // whole set unusable: such a key is simply not one of ours.
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw) else {
                continue;
            };
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if matches!(
                jwk.common.public_key_use,
                Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
            ) {
                continue;
            }
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => continue,
            };
            // A key pinned to another algorithm (`"alg": "RS512"`) is not
            // used for this one.
            if let Some(pinned) = &jwk.common.key_algorithm
                && format!("{pinned:?}") != format!("{alg:?}")
            {
                continue;
            }
            let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("key #{i} ({kid}): {e}"))?;
            if keys.insert(kid.clone(), (key, alg)).is_some() {
                return Err(format!("kid {kid:?} appears twice"));
            }
        }
        if keys.is_empty() {
            return Err("no RS256 or ES256 signing key with a kid".into());
        }
        Ok(TokenVerifier { settings, keys })
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Checks a token; returns its `sub`.
    pub fn verify(&self, token: &str) -> Result<String, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(TokenError::NoKeyId)?;
        let (key, alg) = self.keys.get(kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != *alg {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        }
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.settings.leeway_seconds;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| match e
            .into_kind()
        {
            ErrorKind::InvalidSignature | ErrorKind::Crypto(_) => TokenError::Signature,
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidIssuer => TokenError::Issuer,
            ErrorKind::InvalidAudience => TokenError::Audience,
            ErrorKind::InvalidAlgorithm => TokenError::Algorithm(format!("{:?}", header.alg)),
            ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(c),
            _ => TokenError::Malformed,
        })?;
        data.claims
            .sub
            .ok_or_else(|| TokenError::MissingClaim("sub".into()))
    }

    /// The RFC 7628 error challenge: what the client should do to get a
    /// token. Sent for a discovery request and for a refused token alike.
    pub fn error_challenge(&self) -> String {
        let issuer = self.settings.issuer.trim_end_matches('/');
        serde_json::json!({
            "status": "invalid_token",
            "scope": "",
            "openid-configuration": format!("{issuer}/.well-known/openid-configuration"),
        })
        .to_string()
    }
}

/// What the client's OAUTHBEARER initial response carried.
#[derive(PartialEq, Eq)]
pub enum Initial {
    /// No token: the client asks how to get one (PostgreSQL's discovery).
    Discovery,
    Bearer(String),
}

impl fmt::Debug for Initial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Initial::Discovery => write!(f, "Discovery"),
            Initial::Bearer(_) => write!(f, "Bearer(<redacted>)"),
        }
    }
}

/// Parses an OAUTHBEARER client initial response (RFC 7628 §3.1):
/// `gs2-header %x01 *(key=value %x01) %x01`, e.g.
/// `n,,\x01auth=Bearer <token>\x01\x01`. Channel binding and authorization
/// identities are refused, as PostgreSQL does.
pub fn parse_initial(data: &[u8]) -> Result<Initial, String> {
    let text = std::str::from_utf8(data).map_err(|_| "message is not UTF-8".to_owned())?;
    let rest = match text.split_at_checked(2) {
        Some(("n,", rest)) | Some(("y,", rest)) => rest,
        Some((p, _)) if p.starts_with('p') => {
            return Err("channel binding is not supported with OAUTHBEARER".into());
        }
        _ => return Err("malformed gs2 header".into()),
    };
    let Some(rest) = rest.strip_prefix(',') else {
        return Err("authorization identities are not supported".into());
    };
    let kvpairs = rest
        .strip_prefix('\x01')
        .and_then(|r| {
            r.strip_suffix("\x01\x01")
                .or_else(|| r.strip_suffix('\x01'))
        })
        .ok_or_else(|| "malformed key/value list".to_owned())?;
    // `strip_suffix` above took the terminating separators; an empty list
    // (`n,,\x01\x01`) leaves nothing.
    let mut auth = None;
    if !kvpairs.is_empty() {
        for pair in kvpairs.split('\x01') {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| "malformed key/value pair".to_owned())?;
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err("malformed key".into());
            }
            if key == "auth" {
                if auth.is_some() {
                    return Err("auth given twice".into());
                }
                auth = Some(value);
            }
        }
    }
    let Some(auth) = auth.filter(|a| !a.is_empty()) else {
        return Ok(Initial::Discovery);
    };
    // RFC 6750: the scheme is case-insensitive, one space, then b64token.
    let (scheme, token) = auth
        .split_once(' ')
        .ok_or_else(|| "malformed auth value".to_owned())?;
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err("auth scheme is not Bearer".into());
    }
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if token.is_empty() || !token.chars().all(b64token) {
        return Err("malformed bearer token".into());
    }
    Ok(Initial::Bearer(token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_base64url_parts_look_like_a_token() {
        assert!(looks_like_jwt(
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_"
        ));
        for not in [
            "",
            "pw-svc_all",
            "a.b",
            "a..c",
            "a.b.c.d",
            "a.b.c=",
            "a b.c.d",
            "a.b/c.d",
        ] {
            assert!(!looks_like_jwt(not), "{not}");
        }
    }

    #[test]
    fn initial_responses() {
        assert_eq!(
            parse_initial(b"n,,\x01auth=Bearer abc.def-_.g+/=\x01\x01"),
            Ok(Initial::Bearer("abc.def-_.g+/=".into()))
        );
        assert_eq!(
            parse_initial(b"y,,\x01host=x\x01auth=bearer t\x01\x01"),
            Ok(Initial::Bearer("t".into()))
        );
        assert_eq!(parse_initial(b"n,,\x01\x01"), Ok(Initial::Discovery));
        assert_eq!(
            parse_initial(b"n,,\x01auth=\x01\x01"),
            Ok(Initial::Discovery)
        );
        for bad in [
            &b""[..],
            b"p=tls-server-end-point,,\x01auth=Bearer t\x01\x01",
            b"n,a=someone,\x01auth=Bearer t\x01\x01",
            b"n,,auth=Bearer t",
            b"n,,\x01auth=Basic dXNlcg==\x01\x01",
            b"n,,\x01auth=Bearer t t\x01\x01",
            b"n,,\x01auth=Bearer t\x01auth=Bearer u\x01\x01",
            b"n,,\x01noequals\x01\x01",
            b"n,,\x01auth=Bearer \xff\x01\x01",
        ] {
            assert!(parse_initial(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bearer_tokens_are_redacted_in_debug() {
        assert_eq!(
            format!("{:?}", Initial::Bearer("secret".into())),
            "Bearer(<redacted>)"
        );
    }

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    /// An ES256 key (rcgen makes P-256 keys), its JWKS and a signer.
    fn es256() -> (TokenVerifier, impl Fn(&str, serde_json::Value) -> String) {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
        let key = rcgen::KeyPair::generate().unwrap();
        let point = key.public_key_raw().to_vec();
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "k1",
            "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..]),
        }]});
        let settings = TokenSettings {
            issuer: "https://issuer".into(),
            audience: "sqlgate".into(),
            leeway_seconds: 60,
        };
        let verifier = TokenVerifier::from_jwks(settings, &jwks.to_string()).unwrap();
        let der = key.serialize_der();
        let sign = move |kid: &str, claims: serde_json::Value| {
            let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
            header.kid = Some(kid.into());
            jsonwebtoken::encode(
                &header,
                &claims,
                &jsonwebtoken::EncodingKey::from_ec_der(&der),
            )
            .unwrap()
        };
        (verifier, sign)
    }

    #[test]
    fn tokens_are_checked_claim_by_claim() {
        let (v, sign) = es256();
        let claims = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut c = serde_json::json!({
                "iss": "https://issuer", "aud": ["other", "sqlgate"], "sub": "s1",
                "exp": now() + 300,
            });
            f(&mut c);
            c
        };
        assert_eq!(v.verify(&sign("k1", claims(&|_| {}))), Ok("s1".into()));
        type Tamper<'a> = &'a dyn Fn(&mut serde_json::Value);
        let cases: [(Tamper, TokenError); 6] = [
            (&|c| c["exp"] = (now() - 120).into(), TokenError::Expired),
            (
                &|c| c["nbf"] = (now() + 120).into(),
                TokenError::NotYetValid,
            ),
            (&|c| c["iss"] = "https://other".into(), TokenError::Issuer),
            (&|c| c["aud"] = "other".into(), TokenError::Audience),
            (
                &|c| {
                    c.as_object_mut().unwrap().remove("exp");
                },
                TokenError::MissingClaim("exp".into()),
            ),
            (
                &|c| {
                    c.as_object_mut().unwrap().remove("sub");
                },
                TokenError::MissingClaim("sub".into()),
            ),
        ];
        for (change, want) in cases {
            assert_eq!(v.verify(&sign("k1", claims(change))), Err(want));
        }
        assert_eq!(
            v.verify(&sign("k2", claims(&|_| {}))),
            Err(TokenError::UnknownKey)
        );
        // HS256 under the EC key's kid, keyed with the public key.
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let hs = jsonwebtoken::encode(
            &header,
            &claims(&|_| {}),
            &jsonwebtoken::EncodingKey::from_secret(b"anything"),
        )
        .unwrap();
        assert_eq!(v.verify(&hs), Err(TokenError::Algorithm("HS256".into())));
        // A signature of another token's: the payload changed under it.
        let good = sign("k1", claims(&|_| {}));
        let other = sign("k1", claims(&|c| c["sub"] = "s2".into()));
        let (head, _) = other.rsplit_once('.').unwrap();
        let sig = good.rsplit('.').next().unwrap();
        assert_eq!(
            v.verify(&format!("{head}.{sig}")),
            Err(TokenError::Signature)
        );
        assert_eq!(v.verify("a.b"), Err(TokenError::Malformed));
    }

    #[test]
    fn jwks_without_usable_keys_or_with_duplicate_kids_is_refused() {
        let settings = TokenSettings {
            issuer: "https://issuer".into(),
            audience: "sqlgate".into(),
            leeway_seconds: 60,
        };
        let hmac = r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#;
        assert!(TokenVerifier::from_jwks(settings.clone(), hmac).is_err());
        assert!(TokenVerifier::from_jwks(settings.clone(), "{}").is_err());
        let ec = r#"{"kty":"EC","crv":"P-256","kid":"e","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
        let one = format!(r#"{{"keys":[{ec},{{"kty":"oct","kid":"h","k":"c2VjcmV0"}}]}}"#);
        let v = TokenVerifier::from_jwks(settings.clone(), &one).unwrap();
        assert_eq!(v.keys.len(), 1);
        let twice = format!(r#"{{"keys":[{ec},{ec}]}}"#);
        assert!(TokenVerifier::from_jwks(settings, &twice).is_err());
    }
}
