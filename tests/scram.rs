//! The SCRAM exchange as an attacker in the middle would drive it: a raw
//! protocol client that strips channel binding must be refused.

mod common;

use std::sync::Arc;

use common::policy::standard;
use common::{Options, Server, data_set};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

async fn send<S: AsyncWrite + Unpin>(s: &mut S, tag: Option<u8>, body: &[u8]) {
    let mut msg = Vec::new();
    if let Some(t) = tag {
        msg.push(t);
    }
    msg.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    msg.extend_from_slice(body);
    s.write_all(&msg).await.unwrap();
}

/// Reads one backend message: (tag, body).
async fn recv<S: AsyncRead + Unpin>(s: &mut S) -> (u8, Vec<u8>) {
    let tag = s.read_u8().await.unwrap();
    let len = s.read_i32().await.unwrap() as usize;
    let mut body = vec![0; len - 4];
    s.read_exact(&mut body).await.unwrap();
    (tag, body)
}

fn startup(user: &str) -> Vec<u8> {
    let mut b = 196608i32.to_be_bytes().to_vec();
    for (k, v) in [("user", user), ("database", "sqlgate")] {
        b.extend_from_slice(k.as_bytes());
        b.push(0);
        b.extend_from_slice(v.as_bytes());
        b.push(0);
    }
    b.push(0);
    b
}

fn sasl_initial(mechanism: &str, data: &str) -> Vec<u8> {
    let mut b = mechanism.as_bytes().to_vec();
    b.push(0);
    b.extend_from_slice(&(data.len() as i32).to_be_bytes());
    b.extend_from_slice(data.as_bytes());
    b
}

/// The mechanisms of an AuthenticationSASL message.
fn mechanisms(body: &[u8]) -> Vec<String> {
    assert_eq!(
        &body[..4],
        &10i32.to_be_bytes(),
        "AuthenticationSASL expected"
    );
    body[4..]
        .split(|b| *b == 0)
        .filter(|m| !m.is_empty())
        .map(|m| String::from_utf8(m.to_vec()).unwrap())
        .collect()
}

/// The SQLSTATE of an ErrorResponse body.
fn error_code(body: &[u8]) -> String {
    let mut fields = body.split(|b| *b == 0);
    fields
        .find_map(|f| {
            f.strip_prefix(b"C")
                .map(|c| String::from_utf8(c.to_vec()).unwrap())
        })
        .unwrap()
}

async fn tls_stream(s: &Server) -> tokio_rustls::client::TlsStream<TcpStream> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(&[0, 0, 0, 8, 4, 210, 22, 47]).await.unwrap();
    assert_eq!(tcp.read_u8().await.unwrap(), b'S');
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(s.cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_binding_downgrade_over_tls_is_refused() {
    let s = Server::start(Options::new(data_set(2_000), standard()));
    let mut tls = tls_stream(&s).await;
    send(&mut tls, None, &startup("svc_all")).await;
    let (tag, body) = recv(&mut tls).await;
    assert_eq!(tag, b'R');
    let offered = mechanisms(&body);
    assert_eq!(offered, ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);
    // "I support binding, but I think you don't": someone stripped PLUS.
    send(
        &mut tls,
        Some(b'p'),
        &sasl_initial("SCRAM-SHA-256", "y,,n=,r=abcdefghijkl"),
    )
    .await;
    let (tag, body) = recv(&mut tls).await;
    assert_eq!(tag, b'E');
    assert_eq!(error_code(&body), "08P01");
}

#[tokio::test]
async fn binding_data_on_plaintext_is_refused() {
    let mut opts = Options::new(data_set(2_000), standard());
    opts.allow_plaintext = true;
    let s = Server::start(opts);
    for (mechanism, first) in [
        (
            "SCRAM-SHA-256-PLUS",
            "p=tls-server-end-point,,n=,r=abcdefghijkl",
        ),
        ("SCRAM-SHA-256", "p=tls-server-end-point,,n=,r=abcdefghijkl"),
    ] {
        let mut tcp = TcpStream::connect(s.addr).await.unwrap();
        send(&mut tcp, None, &startup("svc_all")).await;
        let (_, body) = recv(&mut tcp).await;
        assert_eq!(
            mechanisms(&body),
            ["SCRAM-SHA-256"],
            "no binding offered without TLS"
        );
        send(&mut tcp, Some(b'p'), &sasl_initial(mechanism, first)).await;
        let (tag, body) = recv(&mut tcp).await;
        assert_eq!(tag, b'E');
        assert_eq!(error_code(&body), "08P01", "{mechanism} {first}");
    }
}

#[tokio::test]
async fn plaintext_login_works_only_where_allowed() {
    let mut opts = Options::new(data_set(2_000), standard());
    opts.allow_plaintext = true;
    let s = Server::start(opts);
    let c = s
        .connect_plain("svc_all", &common::policy::password("svc_all"))
        .await
        .expect("plaintext allowed by config");
    c.simple_query("SELECT 1").await.unwrap();
}
