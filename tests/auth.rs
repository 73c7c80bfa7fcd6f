//! Logins without a password: client certificates verified against
//! `[server] client_ca`, and bearer tokens (JWTs over OAUTHBEARER) checked
//! against `[auth.token]`. Each refusal is checked for its SQLSTATE, and the
//! audit log for the method used and the absence of every token.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use common::policy::{account, grant, password};
use common::{Options, Server, audit_records, code, data_set};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SCALE: u64 = 2_000;

/// Accounts with certificate and token identities:
/// - `svc_all` (CN `svc_all`, token subject `sub-all`);
/// - `svc_hr` (DNS SAN `hr.example.com`, token subject `sub-hr`);
/// - `svc_interactive`, refused by the account checks whatever the
///   credential (CN written `CN=svc_interactive`, `sub-interactive`).
fn policy() -> String {
    let web = "web_service_access_only = true";
    let mut p = String::from("[[role]]\nname = \"reader\"\n\n[[role]]\nname = \"hr_reader\"\n\n");
    p += &account(
        "svc_all",
        "0000000000000000000000000000a001",
        &["sn_odbc_rest_access", "reader"],
        &format!("{web}\ncert_subject = \"svc_all\"\ntoken_subject = \"sub-all\""),
    );
    p += &account(
        "svc_hr",
        "0000000000000000000000000000a003",
        &["sn_odbc_rest_access", "hr_reader"],
        &format!("{web}\ncert_subject = \"hr.example.com\"\ntoken_subject = \"sub-hr\""),
    );
    p += &account(
        "svc_interactive",
        "0000000000000000000000000000a004",
        &["sn_odbc_rest_access", "reader"],
        "web_service_access_only = false\ncert_subject = \"CN=svc_interactive\"\ntoken_subject = \"sub-interactive\"",
    );
    p += &grant("incident", &["reader"]);
    p += &grant("sn_hr_core_case", &["hr_reader"]);
    p
}

// ---------------------------------------------------------------- PKI

/// A certificate authority made for one test.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A client certificate with subject CN `cn` and the given SANs.
    fn client(&self, cn: &str, sans: Vec<SanType>) -> ClientCert {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        ClientCert {
            chain: vec![cert.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        }
    }
}

struct ClientCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn client_config(server: &Server, cert: Option<&ClientCert>) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(server.cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    match cert {
        Some(c) => builder
            .with_client_auth_cert(c.chain.clone(), c.key.clone_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    }
}

/// Connects as `user` presenting `cert`, with no password at all.
async fn connect_with_cert(
    s: &Server,
    user: &str,
    cert: &ClientCert,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let conn = format!(
        "host=127.0.0.1 port={} user={user} dbname=sqlgate sslmode=require",
        s.addr.port()
    );
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(s, Some(cert)));
    let (client, connection) = tokio_postgres::connect(&conn, tls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn cert_server(ca: &Ca, extra: &str) -> (Server, tempfile::TempDir) {
    let pki = tempfile::tempdir().unwrap();
    let ca_path = pki.path().join("clients-ca.pem");
    std::fs::write(&ca_path, &ca.pem).unwrap();
    let mut opts = Options::new(data_set(SCALE), policy());
    opts.server_extra = format!("client_ca = {:?}\n", ca_path.display().to_string());
    opts.extra = extra.to_owned();
    (Server::start(opts), pki)
}

async fn count(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn certificate_logins() {
    let ca = Ca::new("sqlgate test clients");
    let (mut s, _pki) = cert_server(&ca, "[audit]\nfile = \"audit.jsonl\"\n");

    // The CN names svc_all: in without any password, as svc_all.
    let all_cert = ca.client("svc_all", vec![]);
    let c = connect_with_cert(&s, "svc_all", &all_cert)
        .await
        .expect("certificate login");
    assert!(count(&c, "SELECT count(*) FROM incident").await > 0);
    assert_eq!(
        code(
            &c.simple_query("SELECT 1 FROM sn_hr_core_case")
                .await
                .unwrap_err()
        ),
        "42P01",
        "the session is svc_all's, with svc_all's ACLs"
    );

    // A DNS SAN names svc_hr (the CN names nobody).
    let hr_cert = ca.client(
        "someone else",
        vec![SanType::DnsName("hr.example.com".try_into().unwrap())],
    );
    let hr = connect_with_cert(&s, "svc_hr", &hr_cert)
        .await
        .expect("certificate login by SAN");
    assert!(count(&hr, "SELECT count(*) FROM sn_hr_core_case").await > 0);

    // A trusted certificate that names no account: 28000.
    let nobody = ca.client("nobody", vec![]);
    let e = connect_with_cert(&s, "svc_all", &nobody).await.unwrap_err();
    assert_eq!(code(&e), "28000", "{e}");
    assert!(
        db_message(&e).contains("certificate authentication failed for user \"svc_all\""),
        "{e}"
    );

    // svc_all's certificate used for svc_hr: 28000, no fallback.
    let e = connect_with_cert(&s, "svc_hr", &all_cert)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "28000", "{e}");
    // ...and for an account that does not exist: the same answer.
    let e = connect_with_cert(&s, "ghost", &all_cert).await.unwrap_err();
    assert_eq!(code(&e), "28000", "{e}");

    // Matching is exact: a CN differing in case names nobody.
    let upper = ca.client("SVC_ALL", vec![]);
    let e = connect_with_cert(&s, "svc_all", &upper).await.unwrap_err();
    assert_eq!(code(&e), "28000", "{e}");

    // A certificate does not bypass the account checks.
    let interactive = ca.client("svc_interactive", vec![]);
    let e = connect_with_cert(&s, "svc_interactive", &interactive)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "28000", "{e}");
    assert!(db_message(&e).contains("may not connect"), "{e}");

    // A certificate from another CA fails the TLS handshake itself: no
    // PostgreSQL error at all, the connection just ends.
    let rogue = Ca::new("rogue").client("svc_all", vec![]);
    let e = connect_with_cert(&s, "svc_all", &rogue).await.unwrap_err();
    assert!(e.as_db_error().is_none(), "refused in the handshake: {e}");

    // Without a certificate, passwords work as before.
    let pw = s
        .connect("svc_all", &password("svc_all"))
        .await
        .expect("password login with client_ca set");
    assert_eq!(count(&pw, "SELECT 1::bigint").await, 1);
    let e = s.connect("svc_all", "wrong").await.unwrap_err();
    assert_eq!(code(&e), "28P01");
    drop((c, hr, pw));

    s.terminate(Duration::from_secs(30)).expect("exits");
    let records = audit_records(&s.dir.path().join("audit.jsonl"));
    let login = |account: &str, outcome: &str, method: &str| {
        records.iter().any(|r| {
            r["event"] == "login"
                && r["account"] == account
                && r["outcome"] == outcome
                && r["method"] == method
        })
    };
    assert!(login("svc_all", "success", "certificate"));
    assert!(login("svc_hr", "success", "certificate"));
    assert!(login("svc_hr", "failure", "certificate"));
    assert!(login("svc_interactive", "failure", "certificate"));
    assert!(login("svc_all", "success", "scram"));
}

#[tokio::test]
async fn without_client_ca_no_certificate_is_asked_for() {
    // A client that has a certificate but talks to a server without
    // client_ca logs in with its password as always.
    let s = Server::start(Options::new(data_set(SCALE), policy()));
    let ca = Ca::new("unused");
    let cert = ca.client("svc_all", vec![]);
    let conn = s.conn_string("svc_all", &password("svc_all"));
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(client_config(&s, Some(&cert)));
    let (client, connection) = tokio_postgres::connect(&conn, tls).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(count(&client, "SELECT 1::bigint").await, 1);
    // And a certificate alone is not a credential there.
    let e = connect_with_cert(&s, "svc_all", &cert).await.unwrap_err();
    assert!(
        e.as_db_error().is_none() || code(&e) == "28P01",
        "the server asked for a password: {e}"
    );
}
const RSA_KEY_DER_B64: &str = concat!(
    "MIIEowIBAAKCAQEAw766k0+XRWdueffA+GqbQN6MusMpR3u+s0j+VgmJQa5vEfMa0rYgKjDcunHZ",
    "NnMwP54emaegdYizkMgyUohwGMi7DcCDFdw+Q7hl739s9r3yJx4Pd92Lj63vFbkj4u68JURA+Fhh",
    "b1NR2PHscPJgJ+rGCCHeEIsgCegQmRcT5xtIfs09N5cLdT+zpb9jYFXsEJas0sAUz5/xk6lI6G6l",
    "K5IXaVDzfjLkdrm9tEHzMyjZDO5F+Fi36EoGYyYQ1zqNRXrk6SPYWA20D4rcXRChl17njH1ERty0",
    "+h10e2gKi+IQmPehOlZ/t86+q6d5owc1gS+2nCW4O3oqKcuPdSfYjwIDAQABAoIBABmCuXPVFcy/",
    "SqLNsGdlFBUeYVk+ccT1sn2mKojRrFg+4LiGUOgblqc5AANdLrxjGGt/ctMpXrGtXmL6Rwis7G27",
    "zMO2476ib2D0XstESvyrS6xfxWSknyQwvG3ogkNN7tUCh18hEZhofkxtAcNvQICN9JTUaR8J1WPv",
    "y9NP3ScAvmsX8Wdv6mHyoGVYYoEEA9W2uoTKbQ+7ZJclJiX9ETGZ37Fe8RI+wXbqt+QxIkhiDuUp",
    "DsNmZMbGhYHfhi88txfC8XvtUMNqGreAbxouS4RHl/4tS8iTbaFOxYpeYFIwv2AfF+uEKVjuvYyx",
    "aSKwryeq2xZCAW+I/IF6oOx+exkCgYEA4o5WobZMcNsOFzUDkqkRKSiFsUckTtdaDba35zLfKtp0",
    "BP7Wtn3300tMoYfooHF+VM71f0MC7QKiOGHD6twN6hYnzth2TLYdcQ20xUOV+SMqso6Tug2dN0bb",
    "S0R7qDUrrE82Q2TXjhGlsSDap5aNB5mxzg/eqoPWVa0RJ4dUJ/cCgYEA3S9KMDO/ffUszNoNtasw",
    "ah28NBU2vZFalh+PP3n9GgkC+l2cOpPYbSPZAbruqXTXZFwbBF413JDYKrVeAqu0kBFvl7hTNSj5",
    "OX4jPcVE/xEyTjm+YXhJ7iUaFRQtgjerPXFUdxuDn60uaJSjIkg1NQ/ozsDTmAER5IxrckVVnikC",
    "gYAbiMsUmlBOAwGCZooJoAya4PbmpcvO3TNvqT5OlgszbRtepA46XbLp9iPZGeh233RIIGML1Xwc",
    "jA5lJdSmzZnPUmQCKqKuDhAj9lN7CgzHG7QLwXJI0XDDEBSE4EzbE6M8LOBebnoYJSLrFSAd8Bkx",
    "zEck0R7xwFYjUYZdNIBQ3wKBgQCxxcp5B36HfEEvvKp8M0VMZO3ZZpuCrYsDUgZOXHvDKy8Lj6V7",
    "p0yyG7fVHiuoY1KjRSwpzJa52mkDmpYey2bqzDjG1s150p7NSMaGZUFZSLcIDH0p1gaFs6hM/NS+",
    "7oNhdO8QdDrMYeMFB0I+0Y6CQXE6i90FNQbujLXnODbiUQKBgEZB4D6HaFib3UydAQEqjZoJmUx4",
    "a3QaeizcHMFEiv1L2iZgu5dirGgvircsWQglR3LSt8O5a+IbXyEqC1+KTp5MDG3Cdo1DK//H0Xj4",
    "BJ1sp9PK56a9y58SYUeHOlldiLwbxX/7YGel30J5FuavZAO4K71G5pUH1JWH/En+rm2S",
);
const RSA_N: &str = concat!(
    "w766k0-XRWdueffA-GqbQN6MusMpR3u-s0j-VgmJQa5vEfMa0rYgKjDcunHZNnMwP54emaegdYiz",
    "kMgyUohwGMi7DcCDFdw-Q7hl739s9r3yJx4Pd92Lj63vFbkj4u68JURA-Fhhb1NR2PHscPJgJ-rG",
    "CCHeEIsgCegQmRcT5xtIfs09N5cLdT-zpb9jYFXsEJas0sAUz5_xk6lI6G6lK5IXaVDzfjLkdrm9",
    "tEHzMyjZDO5F-Fi36EoGYyYQ1zqNRXrk6SPYWA20D4rcXRChl17njH1ERty0-h10e2gKi-IQmPeh",
    "OlZ_t86-q6d5owc1gS-2nCW4O3oqKcuPdSfYjw",
);

// ---------------------------------------------------------------- tokens

const ISSUER: &str = "https://id.example.test/realm";
const AUDIENCE: &str = "sqlgate";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The token issuer of these tests: an ES256 key (`ec1`) and an RS256 key
/// (`rsa1`, a fixed test key above: ring cannot generate RSA keys), and
/// the JWKS that publishes them.
struct TokenIssuer {
    ec: KeyPair,
    jwks: String,
}

impl TokenIssuer {
    fn new() -> TokenIssuer {
        let ec = KeyPair::generate().unwrap();
        let point = ec.public_key_raw();
        assert_eq!(point.len(), 65, "uncompressed P-256 point");
        let jwks = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec1", "use": "sig", "alg": "ES256",
             "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..])},
            {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
            // An HMAC secret in the set must never become a verification key.
            {"kty": "oct", "kid": "hmac1", "k": B64URL.encode(b"shared-secret")},
        ]});
        TokenIssuer {
            ec,
            jwks: jwks.to_string(),
        }
    }

    fn claims(sub: &str) -> serde_json::Value {
        serde_json::json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": sub,
            "iat": now(), "nbf": now() - 5, "exp": now() + 600,
        })
    }

    fn es256(&self, claims: &serde_json::Value) -> String {
        sign(
            jsonwebtoken::Algorithm::ES256,
            "ec1",
            &jsonwebtoken::EncodingKey::from_ec_der(&self.ec.serialize_der()),
            claims,
        )
    }

    fn rs256(&self, claims: &serde_json::Value) -> String {
        let der = B64.decode(RSA_KEY_DER_B64).unwrap();
        sign(
            jsonwebtoken::Algorithm::RS256,
            "rsa1",
            &jsonwebtoken::EncodingKey::from_rsa_der(&der),
            claims,
        )
    }
}

fn sign(
    alg: jsonwebtoken::Algorithm,
    kid: &str,
    key: &jsonwebtoken::EncodingKey,
    claims: &serde_json::Value,
) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn token_server(issuer: &TokenIssuer, lockout_threshold: u32) -> (Server, tempfile::TempDir) {
    token_server_with(issuer, lockout_threshold, "")
}

fn token_server_with(
    issuer: &TokenIssuer,
    lockout_threshold: u32,
    token_extra: &str,
) -> (Server, tempfile::TempDir) {
    let mut opts = Options::new(data_set(SCALE), policy());
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, &issuer.jwks).unwrap();
    opts.extra = format!(
        "[audit]\nfile = \"audit.jsonl\"\n[limits]\nlockout_threshold = {lockout_threshold}\n\
         [auth.token]\nissuer = {ISSUER:?}\naudience = {AUDIENCE:?}\njwks = {:?}\nleeway_seconds = 60\n{token_extra}\n",
        jwks.display().to_string()
    );
    (Server::start(opts), dir)
}

/// A client written from the protocol (libpq's OAUTHBEARER needs an OAuth
/// flow or a hook): TLS, startup, the SASL exchange with `initial` as the
/// OAUTHBEARER client initial response, then one query.
struct Raw {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

/// How a raw login ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Logged in, and `SELECT 1` answered.
    In,
    /// An ErrorResponse: SQLSTATE and message; `challenge` is the RFC 7628
    /// error challenge received first, if any.
    Refused {
        code: String,
        message: String,
        challenge: Option<String>,
    },
}

impl Raw {
    async fn connect(s: &Server) -> Raw {
        let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        tcp.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
            .await
            .unwrap();
        assert_eq!(tcp.read_u8().await.unwrap(), b'S');
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(s, None)));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        Raw {
            stream: connector.connect(name, tcp).await.unwrap(),
        }
    }

    async fn send(&mut self, tag: Option<u8>, body: &[u8]) {
        let mut m = Vec::new();
        if let Some(t) = tag {
            m.push(t);
        }
        m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        self.stream.write_all(&m).await.unwrap();
    }

    async fn recv(&mut self) -> (u8, Vec<u8>) {
        let tag = self.stream.read_u8().await.unwrap();
        let len = self.stream.read_i32().await.unwrap() as usize;
        let mut body = vec![0; len - 4];
        self.stream.read_exact(&mut body).await.unwrap();
        (tag, body)
    }

    /// Sends the startup packet; returns the SASL mechanisms offered.
    async fn startup(&mut self, user: &str) -> Vec<String> {
        let mut body = 196608i32.to_be_bytes().to_vec();
        body.extend_from_slice(format!("user\0{user}\0database\0sqlgate\0\0").as_bytes());
        self.send(None, &body).await;
        let (tag, body) = self.recv().await;
        assert_eq!(tag, b'R');
        assert_eq!(&body[..4], &10i32.to_be_bytes(), "AuthenticationSASL");
        body[4..]
            .split(|b| *b == 0)
            .filter(|m| !m.is_empty())
            .map(|m| String::from_utf8(m.to_vec()).unwrap())
            .collect()
    }

    /// The rest of the login after `startup`, with OAUTHBEARER.
    async fn oauthbearer(&mut self, initial: &[u8]) -> Outcome {
        let mut body = b"OAUTHBEARER\0".to_vec();
        body.extend_from_slice(&(initial.len() as i32).to_be_bytes());
        body.extend_from_slice(initial);
        self.send(Some(b'p'), &body).await;
        let mut challenge = None;
        loop {
            let (tag, body) = self.recv().await;
            match tag {
                b'R' if body[..4] == 0i32.to_be_bytes() => break,
                b'R' if body[..4] == 11i32.to_be_bytes() => {
                    assert!(challenge.is_none(), "one challenge only");
                    challenge = Some(String::from_utf8(body[4..].to_vec()).unwrap());
                    // RFC 7628: the client answers an error with %x01.
                    self.send(Some(b'p'), b"\x01").await;
                }
                b'E' => {
                    let field = |f: u8| {
                        body.split(|b| *b == 0)
                            .find(|x| x.first() == Some(&f))
                            .map(|x| String::from_utf8_lossy(&x[1..]).into_owned())
                            .unwrap_or_default()
                    };
                    return Outcome::Refused {
                        code: field(b'C'),
                        message: field(b'M'),
                        challenge,
                    };
                }
                other => panic!("unexpected message {:?} during login", other as char),
            }
        }
        // Logged in: parameters, key data, ReadyForQuery; then a query.
        while self.recv().await.0 != b'Z' {}
        self.send(Some(b'Q'), b"SELECT 1\0").await;
        let mut rows = 0;
        loop {
            match self.recv().await.0 {
                b'D' => rows += 1,
                b'Z' => break,
                b'E' => panic!("query failed after token login"),
                _ => {}
            }
        }
        assert_eq!(rows, 1);
        Outcome::In
    }
}

fn bearer(token: &str) -> Vec<u8> {
    format!("n,,\x01auth=Bearer {token}\x01\x01").into_bytes()
}

async fn token_login(s: &Server, user: &str, token: &str) -> Outcome {
    let mut raw = Raw::connect(s).await;
    raw.startup(user).await;
    raw.oauthbearer(&bearer(token)).await
}

/// A refusal with 28P01 and a bad password's message, after the challenge.
fn assert_bad_credential(outcome: Outcome, user: &str, what: &str) {
    match outcome {
        Outcome::Refused {
            code,
            message,
            challenge,
        } => {
            assert_eq!(code, "28P01", "{what}: {message}");
            assert_eq!(
                message,
                format!("password authentication failed for user \"{user}\""),
                "{what}"
            );
            let challenge = challenge.unwrap_or_else(|| panic!("{what}: no error challenge"));
            assert!(challenge.contains("invalid_token"), "{what}: {challenge}");
        }
        Outcome::In => panic!("{what}: logged in"),
    }
}

#[tokio::test]
async fn token_logins() {
    let issuer = TokenIssuer::new();
    // Every refused token counts towards the lockout: room for them all.
    let (mut s, _keys) = token_server(&issuer, 100);
    let mut secrets = Vec::new();

    // OAUTHBEARER is offered after the SCRAM mechanisms.
    let mut raw = Raw::connect(&s).await;
    let offered = raw.startup("svc_all").await;
    assert_eq!(
        offered,
        ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "OAUTHBEARER"],
        "mechanisms"
    );
    let good = issuer.es256(&TokenIssuer::claims("sub-all"));
    secrets.push(good.clone());
    assert_eq!(raw.oauthbearer(&bearer(&good)).await, Outcome::In, "ES256");

    let rs = issuer.rs256(&TokenIssuer::claims("sub-hr"));
    secrets.push(rs.clone());
    assert_eq!(token_login(&s, "svc_hr", &rs).await, Outcome::In, "RS256");

    // Within the leeway, an expired token still passes.
    let mut skew = TokenIssuer::claims("sub-all");
    skew["exp"] = (now() - 20).into();
    let skewed = issuer.es256(&skew);
    secrets.push(skewed.clone());
    assert_eq!(
        token_login(&s, "svc_all", &skewed).await,
        Outcome::In,
        "leeway"
    );

    // Every bad token: 28P01, a bad password's message.
    let other_key = KeyPair::generate().unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = TokenIssuer::claims("sub-all");
        f(&mut c);
        c
    };
    let header_none = B64URL.encode(br#"{"alg":"none","typ":"JWT","kid":"ec1"}"#);
    let body = B64URL.encode(TokenIssuer::claims("sub-all").to_string());
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            issuer.es256(&with(&|c| c["exp"] = (now() - 3600).into())),
        ),
        (
            "not yet valid",
            issuer.es256(&with(&|c| c["nbf"] = (now() + 3600).into())),
        ),
        (
            "wrong audience",
            issuer.es256(&with(&|c| c["aud"] = "other-api".into())),
        ),
        (
            "wrong issuer",
            issuer.es256(&with(&|c| c["iss"] = "https://evil.test".into())),
        ),
        (
            "no exp",
            issuer.es256(&with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "another account's subject",
            issuer.es256(&TokenIssuer::claims("sub-hr")),
        ),
        (
            "unknown subject",
            issuer.es256(&TokenIssuer::claims("sub-ghost")),
        ),
        (
            "bad signature",
            sign(
                jsonwebtoken::Algorithm::ES256,
                "ec1",
                &jsonwebtoken::EncodingKey::from_ec_der(&other_key.serialize_der()),
                &TokenIssuer::claims("sub-all"),
            ),
        ),
        (
            "unknown kid",
            sign(
                jsonwebtoken::Algorithm::ES256,
                "ec9",
                &jsonwebtoken::EncodingKey::from_ec_der(&issuer.ec.serialize_der()),
                &TokenIssuer::claims("sub-all"),
            ),
        ),
        ("alg none", format!("{header_none}.{body}.")),
        (
            // The classic confusion: the public key used as an HMAC secret.
            "HS256 with the public key",
            sign(
                jsonwebtoken::Algorithm::HS256,
                "ec1",
                &jsonwebtoken::EncodingKey::from_secret(issuer.ec.public_key_raw()),
                &TokenIssuer::claims("sub-all"),
            ),
        ),
        (
            "HS256 with the JWKS secret",
            sign(
                jsonwebtoken::Algorithm::HS256,
                "hmac1",
                &jsonwebtoken::EncodingKey::from_secret(b"shared-secret"),
                &TokenIssuer::claims("sub-all"),
            ),
        ),
        ("RS256 token under the EC key's kid", {
            let der = B64.decode(RSA_KEY_DER_B64).unwrap();
            sign(
                jsonwebtoken::Algorithm::RS256,
                "ec1",
                &jsonwebtoken::EncodingKey::from_rsa_der(&der),
                &TokenIssuer::claims("sub-all"),
            )
        }),
        ("not a JWT", "abc.def.ghi".to_owned()),
    ];
    for (what, token) in &cases {
        secrets.push(token.clone());
        assert_bad_credential(token_login(&s, "svc_all", token).await, "svc_all", what);
    }
    // A good token for an account that does not exist: the same answer.
    assert_bad_credential(token_login(&s, "ghost", &good).await, "ghost", "no account");

    // A good token does not bypass the account checks.
    let inter = issuer.es256(&TokenIssuer::claims("sub-interactive"));
    secrets.push(inter.clone());
    match token_login(&s, "svc_interactive", &inter).await {
        Outcome::Refused { code, .. } => assert_eq!(code, "28000"),
        Outcome::In => panic!("interactive account logged in"),
    }

    // A client without a token asks where to get one (discovery).
    let mut raw = Raw::connect(&s).await;
    raw.startup("svc_all").await;
    match raw.oauthbearer(b"n,,\x01\x01").await {
        Outcome::Refused {
            code, challenge, ..
        } => {
            assert_eq!(code, "28P01");
            let c: serde_json::Value = serde_json::from_str(&challenge.unwrap()).unwrap();
            assert_eq!(c["status"], "invalid_token");
            assert_eq!(
                c["openid-configuration"],
                format!("{ISSUER}/.well-known/openid-configuration")
            );
        }
        Outcome::In => panic!("logged in without a token"),
    }
    // Channel binding is not part of OAUTHBEARER: a protocol error.
    let mut raw = Raw::connect(&s).await;
    raw.startup("svc_all").await;
    match raw
        .oauthbearer(format!("p=tls-server-end-point,,\x01auth=Bearer {good}\x01\x01").as_bytes())
        .await
    {
        Outcome::Refused { code, .. } => assert_eq!(code, "08P01"),
        Outcome::In => panic!("logged in with a channel-binding header"),
    }

    // Passwords still work next to tokens.
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    assert_eq!(count(&c, "SELECT 1::bigint").await, 1);
    drop(c);

    s.terminate(Duration::from_secs(30)).expect("exits");
    let path = s.dir.path().join("audit.jsonl");
    let records = audit_records(&path);
    let login = |account: &str, outcome: &str, reason: Option<&str>| {
        records.iter().any(|r| {
            r["event"] == "login"
                && r["account"] == account
                && r["outcome"] == outcome
                && r["method"] == "token"
                && reason
                    .is_none_or(|want| r["reason"].as_str().is_some_and(|got| got.contains(want)))
        })
    };
    assert!(login("svc_all", "success", None));
    assert!(login("svc_hr", "success", None));
    for reason in [
        "expired",
        "not yet valid",
        "audience",
        "issuer",
        "exp claim",
        "signature",
        "not in the JWKS",
        "token_subject",
        "malformed",
        "algorithm",
    ] {
        assert!(login("svc_all", "failure", Some(reason)), "reason {reason}");
    }
    assert!(login("svc_interactive", "failure", None));
    let text = std::fs::read_to_string(&path).unwrap();
    let log = s.log().join("\n");
    for secret in &secrets {
        // The signature part is the secret-looking bit; none of it, nor the
        // whole token, may be anywhere.
        let signature = secret.rsplit('.').next().unwrap();
        for needle in [secret.as_str(), signature] {
            if needle.len() < 8 {
                continue;
            }
            assert!(!text.contains(needle), "token in the audit log");
            assert!(!log.contains(needle), "token in the server log");
        }
    }
}

#[tokio::test]
async fn refused_tokens_lock_the_name_like_wrong_passwords() {
    let issuer = TokenIssuer::new();
    let (s, _keys) = token_server(&issuer, 3);
    let mut expired = TokenIssuer::claims("sub-hr");
    expired["exp"] = (now() - 3600).into();
    let expired = issuer.es256(&expired);
    for _ in 0..3 {
        assert_bad_credential(
            token_login(&s, "svc_hr", &expired).await,
            "svc_hr",
            "expired",
        );
    }
    // Locked now: a good token answers like a bad one, and so does the
    // right password.
    let good = issuer.es256(&TokenIssuer::claims("sub-hr"));
    assert_bad_credential(token_login(&s, "svc_hr", &good).await, "svc_hr", "locked");
    let e = s.connect("svc_hr", &password("svc_hr")).await.unwrap_err();
    assert_eq!(code(&e), "28P01");
    // Another name is untouched.
    let all = issuer.es256(&TokenIssuer::claims("sub-all"));
    assert_eq!(token_login(&s, "svc_all", &all).await, Outcome::In);
}

/// With `as_password`, clients that know no OAUTHBEARER (psql before 18,
/// pgjdbc, Npgsql) send the token as the password, over TLS only; a real
/// password still works, checked against the same verifier.
#[tokio::test]
async fn tokens_sent_as_the_password() {
    let issuer = TokenIssuer::new();
    let (mut s, _keys) = token_server_with(&issuer, 100, "as_password = true");
    let mut secrets = Vec::new();

    // psql, libpq's own login, with the token in PGPASSWORD.
    let good = issuer.es256(&TokenIssuer::claims("sub-all"));
    secrets.push(good.clone());
    let out = s.psql(
        "svc_all",
        &good,
        &["-At", "-c", "SELECT count(*) FROM incident"],
    );
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(n > 0, "incident rows: {n}");

    // tokio-postgres with an RS256 token.
    let rs = issuer.rs256(&TokenIssuer::claims("sub-hr"));
    secrets.push(rs.clone());
    let c = s.connect("svc_hr", &rs).await.unwrap();
    assert!(count(&c, "SELECT count(*) FROM sn_hr_core_case").await > 0);
    drop(c);

    // The password, sent whole, is checked against the stored verifier.
    let c = s.connect("svc_all", &password("svc_all")).await.unwrap();
    assert_eq!(count(&c, "SELECT 1::bigint").await, 1);
    drop(c);

    // No SCRAM is offered any more: a client that insists on channel
    // binding cannot log in (the price of sending tokens as passwords).
    let strict = format!(
        "{} channel_binding=require",
        s.conn_string("svc_all", &password("svc_all"))
    );
    assert!(tokio_postgres::connect(&strict, s.tls()).await.is_err());

    // Every bad credential: the same 28P01 and message, whether or not the
    // account exists, whether it was a token or a password.
    let mut expired = TokenIssuer::claims("sub-all");
    expired["exp"] = (now() - 3600).into();
    let expired = issuer.es256(&expired);
    let hr_token = issuer.es256(&TokenIssuer::claims("sub-hr"));
    secrets.push(hr_token.clone());
    let cases: Vec<(&str, String)> = vec![
        ("svc_all", expired),
        ("svc_all", hr_token.clone()),
        ("svc_all", "wrong-password".into()),
        ("svc_all", format!("{good}x")),
        ("nobody_here", good.clone()),
        ("nobody_here", "a-password".into()),
    ];
    for (user, credential) in &cases {
        let e = s.connect(user, credential).await.unwrap_err();
        assert_eq!(code(&e), "28P01", "{user}: {e}");
        assert_eq!(
            db_message(&e),
            format!("password authentication failed for user \"{user}\""),
        );
    }
    // A good token for an account that may not connect: 28000.
    let inter = issuer.es256(&TokenIssuer::claims("sub-interactive"));
    secrets.push(inter.clone());
    let e = s.connect("svc_interactive", &inter).await.unwrap_err();
    assert_eq!(code(&e), "28000", "{e}");

    s.terminate(Duration::from_secs(30)).expect("exits");
    let path = s.dir.path().join("audit.jsonl");
    let records = audit_records(&path);
    let login = |account: &str, method: &str, outcome: &str| {
        records.iter().any(|r| {
            r["event"] == "login"
                && r["account"] == account
                && r["method"] == method
                && r["outcome"] == outcome
        })
    };
    assert!(login("svc_all", "token", "success"));
    assert!(login("svc_hr", "token", "success"));
    assert!(login("svc_all", "scram", "success"));
    assert!(login("svc_all", "token", "failure"));
    assert!(login("svc_all", "scram", "failure"));
    assert!(login("nobody_here", "token", "failure"));
    let text = std::fs::read_to_string(&path).unwrap();
    let log = s.log().join("\n");
    for secret in secrets
        .iter()
        .map(String::as_str)
        .chain(["wrong-password", "a-password"])
    {
        assert!(!text.contains(secret), "credential in the audit log");
        assert!(!log.contains(secret), "credential in the server log");
        let signature = secret.rsplit('.').next().unwrap();
        if signature.len() >= 8 {
            assert!(!text.contains(signature) && !log.contains(signature));
        }
    }
}
