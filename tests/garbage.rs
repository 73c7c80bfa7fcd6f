//! Protocol garbage: whatever a peer sends, before TLS, during login or
//! after it, the server stays up, the other sessions keep answering and new
//! logins keep working. Where PostgreSQL answers a broken request with an
//! ErrorResponse, the server answers with the same SQLSTATE and the session
//! stays usable.
//!
//! Raw connections speak the protocol byte by byte; the logins on them use
//! the small SCRAM-SHA-256 client below (RFC 5802 / RFC 7677), written from
//! the RFCs.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::policy::{password, standard};
use common::{Options, Server, data_set};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_postgres::SimpleQueryMessage;

const USER: &str = "svc_all";

/// How long any answer may take before the test calls it a hang.
const ANSWER: Duration = Duration::from_secs(10);

/// A server that also accepts plaintext sessions, for the raw clients.
fn server() -> Server {
    let mut opts = Options::new(data_set(2_000), standard());
    opts.allow_plaintext = true;
    Server::start(opts)
}

// ---------------------------------------------------------------------------
// Bytes on the wire

/// A deterministic byte source (xorshift64*), so a failure replays.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A frontend message: type byte (none for startup-phase packets), length,
/// body.
fn msg(tag: Option<u8>, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 5);
    m.extend(tag);
    m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn cstr(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(s.as_bytes());
    b.push(0);
}

const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
const GSSENC_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];

fn startup_packet(user: &str) -> Vec<u8> {
    let mut b = 0x0003_0000i32.to_be_bytes().to_vec();
    for (k, v) in [("user", user), ("database", "sqlgate")] {
        cstr(&mut b, k);
        cstr(&mut b, v);
    }
    b.push(0);
    msg(None, &b)
}

fn query(sql: &str) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, sql);
    msg(Some(b'Q'), &b)
}

fn parse(name: &str, sql: &str, types: &[u32]) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, name);
    cstr(&mut b, sql);
    b.extend_from_slice(&(types.len() as u16).to_be_bytes());
    for t in types {
        b.extend_from_slice(&t.to_be_bytes());
    }
    msg(Some(b'P'), &b)
}

/// Bind with text parameters (`None` is NULL) and text results.
fn bind(portal: &str, statement: &str, params: &[Option<&str>]) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, portal);
    cstr(&mut b, statement);
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&(params.len() as u16).to_be_bytes());
    for p in params {
        match p {
            Some(v) => {
                b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                b.extend_from_slice(v.as_bytes());
            }
            None => b.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    b.extend_from_slice(&0u16.to_be_bytes());
    msg(Some(b'B'), &b)
}

fn describe(kind: u8, name: &str) -> Vec<u8> {
    let mut b = vec![kind];
    cstr(&mut b, name);
    msg(Some(b'D'), &b)
}

fn execute(portal: &str, max_rows: i32) -> Vec<u8> {
    let mut b = Vec::new();
    cstr(&mut b, portal);
    b.extend_from_slice(&max_rows.to_be_bytes());
    msg(Some(b'E'), &b)
}

fn close(kind: u8, name: &str) -> Vec<u8> {
    let mut b = vec![kind];
    cstr(&mut b, name);
    msg(Some(b'C'), &b)
}

fn sync() -> Vec<u8> {
    msg(Some(b'S'), &[])
}

/// A backend message.
#[derive(Debug, Clone)]
struct Reply {
    tag: u8,
    body: Vec<u8>,
}

impl Reply {
    /// A field of an ErrorResponse / NoticeResponse.
    fn field(&self, f: u8) -> Option<String> {
        self.body
            .split(|b| *b == 0)
            .find(|p| p.first() == Some(&f))
            .map(|p| String::from_utf8_lossy(&p[1..]).into_owned())
    }

    fn code(&self) -> String {
        assert_eq!(self.tag, b'E', "not an ErrorResponse: {self:?}");
        self.field(b'C').unwrap_or_default()
    }

    fn severity(&self) -> String {
        self.field(b'V')
            .or_else(|| self.field(b'S'))
            .unwrap_or_default()
    }
}

/// What a read ended with.
#[derive(Debug)]
enum Read {
    Message(Reply),
    /// The server closed the connection (or reset it).
    Closed,
    /// Nothing within the time given.
    Silent,
}

struct Raw {
    stream: TcpStream,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Raw { stream }
    }

    /// Sends bytes; a server that already hung up is not an error here.
    async fn send(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Ends our side of the connection (the server reads EOF).
    async fn hang_up(&mut self) {
        let _ = self.stream.shutdown().await;
    }

    async fn read_within(&mut self, wait: Duration) -> Read {
        let read = async {
            let tag = self.stream.read_u8().await?;
            let len = self.stream.read_i32().await?;
            assert!(
                (4..=1 << 24).contains(&len),
                "backend message {:?} of length {len}",
                tag as char
            );
            let mut body = vec![0; len as usize - 4];
            self.stream.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>(Reply { tag, body })
        };
        match timeout(wait, read).await {
            Ok(Ok(reply)) => Read::Message(reply),
            Ok(Err(_)) => Read::Closed,
            Err(_) => Read::Silent,
        }
    }

    /// The next message; panics on a hang or a hang-up.
    async fn read(&mut self) -> Reply {
        match self.read_within(ANSWER).await {
            Read::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Messages up to and including ReadyForQuery.
    async fn until_ready(&mut self) -> Vec<Reply> {
        let mut out = Vec::new();
        loop {
            let m = self.read().await;
            let done = m.tag == b'Z';
            out.push(m);
            if done {
                return out;
            }
        }
    }

    /// Reads until the server closes; returns what it said first. Panics if
    /// it keeps the connection open longer than `wait`.
    async fn until_closed(&mut self, wait: Duration, what: &str) -> Vec<Reply> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read_within(left).await {
                Read::Message(m) => out.push(m),
                Read::Closed => return out,
                Read::Silent => panic!("{what}: the server kept the connection open: {out:?}"),
            }
        }
    }

    /// Reads raw bytes until the server closes (for non-protocol answers
    /// such as a TLS alert).
    async fn drain_until_closed(&mut self, wait: Duration, what: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let read = async {
            let mut buf = [0u8; 4096];
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
        };
        timeout(wait, read)
            .await
            .unwrap_or_else(|_| panic!("{what}: the server kept the connection open"));
        out
    }
}

/// The server's answer to a refused connection: nothing, or one FATAL
/// ErrorResponse with one of `codes`, then the connection closes.
fn assert_refused(replies: &[Reply], codes: &[&str], what: &str) {
    assert!(replies.len() <= 1, "{what}: {replies:?}");
    if let Some(r) = replies.first() {
        assert!(
            r.tag == b'E' && codes.contains(&r.code().as_str()),
            "{what}: {r:?}"
        );
        assert_eq!(r.severity(), "FATAL", "{what}");
    }
}

// ---------------------------------------------------------------------------
// A SCRAM-SHA-256 client (RFC 5802, RFC 7677), without channel binding

fn sha256(data: &[u8]) -> [u8; 32] {
    let hash = tls13_sha256().common.hash_provider.hash(data);
    hash.as_ref().try_into().unwrap()
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    use rustls::crypto::tls13::OkmBlock;
    let tag = tls13_sha256()
        .hkdf_provider
        .hmac_sign(&OkmBlock::new(key), data);
    tag.as_ref().try_into().unwrap()
}

/// SHA-256 and HMAC-SHA-256 from the TLS library's primitives.
fn tls13_sha256() -> &'static rustls::Tls13CipherSuite {
    match rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256 {
        rustls::SupportedCipherSuite::Tls13(s) => s,
        _ => unreachable!("a TLS 1.3 suite"),
    }
}

/// Hi() of RFC 5802: PBKDF2 with HMAC-SHA-256, one block.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut block = salt.to_vec();
    block.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &block);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unb64(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = B64.iter().position(|x| *x == c).expect("base64") as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Logs in on a plaintext connection with SCRAM-SHA-256 and waits for
/// ReadyForQuery.
async fn login(addr: SocketAddr, user: &str, pass: &str) -> Raw {
    let mut raw = Raw::connect(addr).await;
    raw.send(&startup_packet(user)).await;
    let offer = raw.read().await;
    assert_eq!(offer.tag, b'R', "{offer:?}");
    assert_eq!(offer.body[..4], 10i32.to_be_bytes(), "AuthenticationSASL");
    assert!(
        offer.body[4..]
            .split(|b| *b == 0)
            .any(|m| m == b"SCRAM-SHA-256")
    );

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let nonce = b64(&Noise(seed | 1).bytes(18));
    let first_bare = format!("n=,r={nonce}");
    let first = format!("n,,{first_bare}");
    let mut initial = Vec::new();
    cstr(&mut initial, "SCRAM-SHA-256");
    initial.extend_from_slice(&(first.len() as i32).to_be_bytes());
    initial.extend_from_slice(first.as_bytes());
    raw.send(&msg(Some(b'p'), &initial)).await;

    let challenge = raw.read().await;
    assert_eq!(challenge.tag, b'R', "{challenge:?}");
    assert_eq!(challenge.body[..4], 11i32.to_be_bytes(), "SASLContinue");
    let server_first = String::from_utf8(challenge.body[4..].to_vec()).unwrap();
    let attr = |name: &str| {
        server_first
            .split(',')
            .find_map(|a| a.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {server_first}"))
            .to_owned()
    };
    let server_nonce = attr("r=");
    assert!(server_nonce.starts_with(&nonce) && server_nonce.len() > nonce.len());
    let salt = unb64(&attr("s="));
    let iterations: u32 = attr("i=").parse().unwrap();

    let salted = hi(pass.as_bytes(), &salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = sha256(&client_key);
    let without_proof = format!("c={},r={server_nonce}", b64(b"n,,"));
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let signature = hmac(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(signature)
        .map(|(k, s)| k ^ s)
        .collect();
    let last = format!("{without_proof},p={}", b64(&proof));
    raw.send(&msg(Some(b'p'), last.as_bytes())).await;

    let done = raw.read().await;
    assert_eq!(done.tag, b'R', "{done:?}");
    assert_eq!(done.body[..4], 12i32.to_be_bytes(), "SASLFinal");
    let server_key = hmac(&salted, b"Server Key");
    let expected = format!("v={}", b64(&hmac(&server_key, auth_message.as_bytes())));
    assert_eq!(String::from_utf8_lossy(&done.body[4..]), expected);
    let rest = raw.until_ready().await;
    assert!(
        rest.iter()
            .any(|m| m.tag == b'R' && m.body == 0i32.to_be_bytes()),
        "AuthenticationOk: {rest:?}"
    );
    raw
}

/// The rows' first column of a simple-protocol exchange's replies.
fn first_column(replies: &[Reply]) -> Vec<Option<String>> {
    replies
        .iter()
        .filter(|m| m.tag == b'D')
        .map(|m| {
            let len = i32::from_be_bytes(m.body[2..6].try_into().unwrap());
            (len >= 0).then(|| String::from_utf8_lossy(&m.body[6..6 + len as usize]).into_owned())
        })
        .collect()
}

/// The SQLSTATEs of the ErrorResponses among `replies`.
fn codes(replies: &[Reply]) -> Vec<String> {
    replies
        .iter()
        .filter(|m| m.tag == b'E')
        .map(Reply::code)
        .collect()
}

fn tags(replies: &[Reply]) -> String {
    replies.iter().map(|m| m.tag as char).collect()
}

// ---------------------------------------------------------------------------
// Health

/// The process is running (not exited, not a zombie).
fn alive(s: &Server) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", s.pid()))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.trim_start().chars().next()
        })
        .is_some_and(|state| !matches!(state, 'Z' | 'X'))
}

/// After each burst: the process is up and never panicked, the session that
/// was open before still answers, and new logins (TLS and plaintext) work.
async fn assert_healthy(s: &Server, session: &tokio_postgres::Client, after: &str) {
    assert!(alive(s), "the server died after {after}");
    let one = |msgs: Vec<SimpleQueryMessage>| {
        msgs.into_iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            })
            .unwrap_or_default()
    };
    let answer = timeout(ANSWER, session.simple_query("SELECT 1"))
        .await
        .unwrap_or_else(|_| panic!("the open session hung after {after}"))
        .unwrap_or_else(|e| panic!("the open session failed after {after}: {e}"));
    assert_eq!(one(answer), "1", "after {after}");
    let fresh = timeout(ANSWER, s.connect(USER, &password(USER)))
        .await
        .unwrap_or_else(|_| panic!("a TLS login hung after {after}"))
        .unwrap_or_else(|e| panic!("a TLS login failed after {after}: {e}"));
    let answer = fresh.simple_query("SELECT 2").await.unwrap();
    assert_eq!(one(answer), "2", "after {after}");
    let mut raw = timeout(ANSWER, login(s.addr, USER, &password(USER)))
        .await
        .unwrap_or_else(|_| panic!("a plaintext login hung after {after}"));
    raw.send(&query("SELECT 3")).await;
    let replies = raw.until_ready().await;
    assert_eq!(
        first_column(&replies),
        [Some("3".to_owned())],
        "after {after}"
    );
    assert_no_panic(s, after);
}

fn assert_no_panic(s: &Server, after: &str) {
    let log = s.log();
    let panics: Vec<_> = log.iter().filter(|l| l.contains("panicked")).collect();
    assert!(
        panics.is_empty(),
        "the server panicked after {after}: {panics:#?}"
    );
}

async fn well_behaved(s: &Server) -> tokio_postgres::Client {
    s.connect(USER, &password(USER))
        .await
        .expect("a TLS session with tokio-postgres")
}

// ---------------------------------------------------------------------------
// Before login

#[tokio::test]
async fn garbage_before_login() {
    let s = server();
    let session = well_behaved(&s).await;
    let mut noise = Noise(0x5eed_0001);

    // Random bytes as the first thing on a connection, then EOF. Whatever
    // they look like, the server ends the connection once we do.
    for len in [1, 3, 7, 8, 9, 64, 1_000, 9_000, 70_000] {
        let mut raw = Raw::connect(s.addr).await;
        let mut bytes = noise.bytes(len);
        if len >= 8 {
            // Not an SSL/GSS/cancel request code by accident.
            bytes[4] = 0x7f;
        }
        raw.send(&bytes).await;
        raw.hang_up().await;
        let replies = raw.until_closed(ANSWER, "random bytes").await;
        assert_refused(
            &replies,
            &["08P01", "0A000"],
            &format!("{len} random bytes"),
        );
    }
    // Random bytes without EOF: refused at once unless they could still
    // be the start of a startup packet.
    for _ in 0..10 {
        let mut raw = Raw::connect(s.addr).await;
        let mut bytes = noise.bytes(16);
        bytes[0] = 0x40; // a length far over any startup packet's
        raw.send(&bytes).await;
        let replies = raw.until_closed(ANSWER, "random bytes").await;
        assert_refused(&replies, &["08P01"], "random bytes with a huge length");
    }
    assert_healthy(&s, &session, "random bytes before any SSLRequest").await;

    // Startup packets whose length field is absurd: refused at once, without
    // waiting for the bytes it announces. PostgreSQL closes silently.
    for len in [
        0x7fff_ffffu32,
        0x8000_0000,
        0xffff_ffff,
        0xffff_ff00,
        0,
        1,
        4,
        7,
    ] {
        let mut raw = Raw::connect(s.addr).await;
        let mut packet = len.to_be_bytes().to_vec();
        packet.extend_from_slice(&0x0003_0000u32.to_be_bytes());
        cstr(&mut packet, "user");
        cstr(&mut packet, USER);
        packet.push(0);
        raw.send(&packet).await;
        let replies = raw
            .until_closed(ANSWER, &format!("startup length {len:#x}"))
            .await;
        assert_refused(&replies, &["08P01"], &format!("startup length {len:#x}"));
    }
    // Unsupported protocol versions: 0A000 in PostgreSQL.
    for version in [0x0002_0000u32, 0x0004_0000, 0x1234_5678] {
        let mut raw = Raw::connect(s.addr).await;
        let mut body = version.to_be_bytes().to_vec();
        cstr(&mut body, "user");
        cstr(&mut body, USER);
        body.push(0);
        raw.send(&msg(None, &body)).await;
        let replies = raw
            .until_closed(ANSWER, &format!("protocol {version:#x}"))
            .await;
        assert_refused(
            &replies,
            &["08P01", "0A000"],
            &format!("protocol {version:#x}"),
        );
    }
    assert_healthy(&s, &session, "startup packets with absurd lengths").await;

    // A truncated startup packet, then the client hangs up.
    for cut in [1, 4, 8, 12, 20] {
        let mut raw = Raw::connect(s.addr).await;
        let packet = startup_packet(USER);
        raw.send(&packet[..cut]).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        raw.hang_up().await;
        let replies = raw.until_closed(ANSWER, "truncated startup").await;
        assert_refused(&replies, &["08P01"], &format!("startup cut at {cut}"));
    }
    // ...and one that just stays there: the others are not held up.
    let mut lingering = Raw::connect(s.addr).await;
    lingering.send(&startup_packet(USER)[..10]).await;
    assert_healthy(&s, &session, "truncated startup packets").await;
    assert!(matches!(
        lingering.read_within(Duration::from_millis(100)).await,
        Read::Silent
    ));
    drop(lingering);

    // SSLRequest accepted, then garbage instead of a TLS ClientHello: the
    // handshake fails and the connection closes (a TLS alert at most).
    for garbage in [
        noise.bytes(64),
        noise.bytes(5_000),
        startup_packet(USER),
        query("SELECT 1"),
        vec![0x16, 0x03, 0x01, 0xff, 0xff], // a record header announcing 64 KiB
    ] {
        let mut raw = Raw::connect(s.addr).await;
        raw.send(&SSL_REQUEST).await;
        let mut answer = [0u8; 1];
        raw.stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"S");
        raw.send(&garbage).await;
        raw.hang_up().await;
        let bytes = raw.drain_until_closed(ANSWER, "garbage ClientHello").await;
        assert!(
            bytes.is_empty() || bytes[0] == 0x15,
            "not a TLS alert: {bytes:?}"
        );
    }
    // Two SSLRequests in a row; an SSLRequest and an immediate hang-up; a
    // GSSENCRequest (refused with N) followed by garbage.
    let mut raw = Raw::connect(s.addr).await;
    raw.send(&SSL_REQUEST).await;
    raw.send(&SSL_REQUEST).await;
    raw.hang_up().await;
    raw.drain_until_closed(ANSWER, "two SSLRequests").await;
    let mut raw = Raw::connect(s.addr).await;
    raw.send(&SSL_REQUEST).await;
    raw.hang_up().await;
    raw.drain_until_closed(ANSWER, "SSLRequest and EOF").await;
    let mut raw = Raw::connect(s.addr).await;
    raw.send(&GSSENC_REQUEST).await;
    let mut answer = [0u8; 1];
    raw.stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"N");
    raw.send(&noise.bytes(100)).await;
    raw.hang_up().await;
    raw.drain_until_closed(ANSWER, "GSSENCRequest and garbage")
        .await;
    // A CancelRequest for a process that does not exist, and a truncated
    // one: the connection closes, nothing is cancelled.
    for cancel in [
        [
            &[0u8, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e][..],
            &[0, 0, 0, 1, 0, 0, 0, 2],
        ]
        .concat(),
        vec![0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0],
    ] {
        let mut raw = Raw::connect(s.addr).await;
        raw.send(&cancel).await;
        raw.hang_up().await;
        raw.drain_until_closed(ANSWER, "bogus CancelRequest").await;
    }
    assert_healthy(&s, &session, "garbage instead of a TLS ClientHello").await;

    // Garbage in the middle of the SCRAM exchange.
    for bad in [
        msg(Some(b'p'), &noise.bytes(40)),
        msg(Some(b'p'), b""),
        // A length under 4: pgwire's password decoder underflowed.
        vec![b'p', 0, 0, 0, 0],
        msg(Some(b'p'), b"SCRAM-SHA-256\0\xff\xff\xff\xffn,,n=,r=x"),
        msg(Some(b'p'), b"SCRAM-SHA-256\0\0\0\0\x10n,,n=,r=x"),
        msg(Some(b'Q'), b"SELECT 1\0"),
        msg(Some(b'X'), b""),
        msg(Some(b'z'), b"what"),
    ] {
        let mut raw = Raw::connect(s.addr).await;
        raw.send(&startup_packet(USER)).await;
        assert_eq!(raw.read().await.tag, b'R');
        raw.send(&bad).await;
        let replies = raw.until_closed(ANSWER, "garbage during SCRAM").await;
        assert_refused(
            &replies,
            &["08P01", "28P01"],
            &format!("{bad:?} during SCRAM"),
        );
    }
    assert_healthy(&s, &session, "garbage during the SCRAM exchange").await;
}

// ---------------------------------------------------------------------------
// After login

#[tokio::test]
async fn garbage_after_login() {
    let s = server();
    let session = well_behaved(&s).await;
    let addr = s.addr;
    let pw = password(USER);

    // Unknown message types: FATAL 08P01, as PostgreSQL ("invalid frontend
    // message type").
    for tag in [b'z', 0u8, 0xff, b'R', b'T', b'p'] {
        let mut raw = login(addr, USER, &pw).await;
        raw.send(&msg(Some(tag), b"\0\0\0\0")).await;
        let replies = raw
            .until_closed(ANSWER, &format!("message type {tag:#x}"))
            .await;
        if tag == b'p' {
            // A password message after login: PostgreSQL answers 08P01 too.
            assert!(codes(&replies).iter().all(|c| c == "08P01"), "{replies:?}");
        } else {
            assert_refused(&replies, &["08P01"], &format!("message type {tag:#x}"));
            assert_eq!(replies.len(), 1, "type {tag:#x}: an ErrorResponse first");
        }
    }
    assert_healthy(&s, &session, "messages with bogus type bytes").await;

    // A Query whose length claims more than is sent: the server waits for
    // the rest without holding up anyone else, and lets go on hang-up.
    for claimed in [100usize, 100_000, 0x3fff_0000] {
        let mut raw = login(addr, USER, &pw).await;
        let mut m = vec![b'Q'];
        m.extend_from_slice(&(claimed as i32).to_be_bytes());
        m.extend_from_slice(b"SELECT 1\0");
        raw.send(&m).await;
        assert!(matches!(
            raw.read_within(Duration::from_millis(200)).await,
            Read::Silent
        ));
        assert_healthy(&s, &session, &format!("a Query claiming {claimed} bytes")).await;
        raw.hang_up().await;
        raw.until_closed(ANSWER, "incomplete Query").await;
    }
    // Lengths no message may have: FATAL 08P01 at once.
    for claimed in [0x7fff_ffffu32, 0x8000_0000, 0xffff_ffff] {
        let mut raw = login(addr, USER, &pw).await;
        let mut m = vec![b'Q'];
        m.extend_from_slice(&claimed.to_be_bytes());
        m.extend_from_slice(b"SELECT 1\0");
        raw.send(&m).await;
        let replies = raw
            .until_closed(ANSWER, &format!("Query length {claimed:#x}"))
            .await;
        assert_refused(&replies, &["08P01"], &format!("Query length {claimed:#x}"));
        assert_eq!(replies.len(), 1);
    }
    assert_healthy(&s, &session, "Query messages with wrong lengths").await;

    // Messages that do not keep to their declared length or to the layout
    // of their type: FATAL 08P01 ("invalid message format" in PostgreSQL),
    // never a field read out of the next message, never a panic.
    for (bytes, what) in [
        (
            [&[b'Q', 0, 0, 0, 0][..], &query("SELECT 1")].concat(),
            "a Query of length 0, then a Query",
        ),
        (vec![b'S', 0, 0, 0, 3], "a Sync of length 3"),
        (vec![b'p', 0, 0, 0, 0], "a password message of length 0"),
        (msg(Some(b'Q'), b"SELECT 1"), "a Query without its NUL"),
        (
            [msg(Some(b'Q'), b"SELECT 1"), query("SELECT 2")].concat(),
            "a Query without its NUL, then a Query",
        ),
        (msg(Some(b'B'), b""), "an empty Bind"),
        (
            msg(Some(b'B'), b"\0\0\0\0\0\x01\0\0\0\x09abc\0\0"),
            "a Bind parameter longer than the message",
        ),
        (msg(Some(b'P'), b"s\0"), "a Parse without its query"),
        (msg(Some(b'E'), b"\0"), "an Execute without its row limit"),
        (msg(Some(b'D'), b""), "an empty Describe"),
        (msg(Some(b'S'), b"junk"), "a Sync with a body"),
    ] {
        let mut raw = login(addr, USER, &pw).await;
        raw.send(&bytes).await;
        let replies = raw.until_closed(ANSWER, what).await;
        assert_refused(&replies, &["08P01"], what);
        assert_eq!(replies.len(), 1, "{what}: an ErrorResponse first");
    }
    assert_healthy(&s, &session, "messages that break their own layout").await;

    // Well-formed messages out of place: a startup packet, an SSLRequest
    // and a SASL response on a logged-in session.
    for bytes in [startup_packet(USER), SSL_REQUEST.to_vec()] {
        let mut raw = login(addr, USER, &pw).await;
        raw.send(&bytes).await;
        raw.hang_up().await;
        let replies = raw.until_closed(ANSWER, "startup after login").await;
        assert!(codes(&replies).iter().all(|c| c == "08P01"), "{replies:?}");
    }
    assert_healthy(&s, &session, "startup packets after login").await;
}

#[tokio::test]
async fn extended_protocol_errors_leave_the_session_usable() {
    let s = server();
    let session = well_behaved(&s).await;
    let mut raw = login(s.addr, USER, &password(USER)).await;

    // Bind with more parameters than the statement has, and with fewer:
    // PostgreSQL refuses with 08P01 ("bind message supplies 3 parameters,
    // but prepared statement "s1" requires 1"), an ERROR: the session
    // goes on after Sync.
    raw.send(&parse("s1", "SELECT $1::int4 + 1", &[23])).await;
    raw.send(&sync()).await;
    let replies = raw.until_ready().await;
    assert_eq!(tags(&replies), "1Z", "{replies:?}");
    for params in [&[Some("1"), Some("2"), Some("3")][..], &[]] {
        raw.send(&bind("", "s1", params)).await;
        raw.send(&execute("", 0)).await;
        raw.send(&sync()).await;
        let replies = raw.until_ready().await;
        let errors: Vec<_> = replies.iter().filter(|m| m.tag == b'E').collect();
        assert_eq!(errors.len(), 1, "{} parameters: {replies:?}", params.len());
        assert_eq!(errors[0].severity(), "ERROR", "{replies:?}");
        assert!(!replies.iter().any(|m| m.tag == b'D'), "{replies:?}");
    }
    raw.send(&bind("", "s1", &[Some("41")])).await;
    raw.send(&execute("", 0)).await;
    raw.send(&sync()).await;
    let replies = raw.until_ready().await;
    assert_eq!(
        first_column(&replies),
        [Some("42".to_owned())],
        "{replies:?}"
    );

    // Execute of a portal that does not exist, Describe and Bind of a
    // statement that does not exist: ERRORs, then the session goes on.
    for (what, bytes, postgres) in [
        ("Execute of an unknown portal", execute("nope", 0), "34000"),
        (
            "Describe of an unknown statement",
            describe(b'S', "nope"),
            "26000",
        ),
        (
            "Describe of an unknown portal",
            describe(b'P', "nope"),
            "34000",
        ),
        (
            "Bind to an unknown statement",
            bind("", "nope", &[]),
            "26000",
        ),
    ] {
        raw.send(&bytes).await;
        raw.send(&sync()).await;
        let replies = raw.until_ready().await;
        let errors: Vec<_> = replies.iter().filter(|m| m.tag == b'E').collect();
        assert_eq!(errors.len(), 1, "{what}: {replies:?}");
        assert_eq!(errors[0].severity(), "ERROR", "{what}: {replies:?}");
        // The SQLSTATE where it is PostgreSQL's; see
        // `unknown_portals_are_34000_as_in_postgresql` for the others.
        if postgres == "26000" {
            assert_eq!(errors[0].code(), postgres, "{what}");
        }
    }
    // Closing what does not exist is not an error (CloseComplete).
    raw.send(&close(b'S', "nope")).await;
    raw.send(&close(b'P', "nope")).await;
    raw.send(&sync()).await;
    assert_eq!(tags(&raw.until_ready().await), "33Z");

    // Messages after an error are skipped until Sync, which answers
    // ReadyForQuery once.
    raw.send(&execute("nope", 0)).await;
    raw.send(&parse("", "SELECT 1", &[])).await;
    raw.send(&bind("", "", &[])).await;
    raw.send(&execute("", 0)).await;
    raw.send(&sync()).await;
    let replies = raw.until_ready().await;
    assert_eq!(tags(&replies), "EZ", "{replies:?}");

    // Parse with 65,535 parameter types (the most the count can say).
    // PostgreSQL prepares it; the statement then needs 65,535 parameters.
    raw.send(&parse("wide", "SELECT 1", &[23; 65_535])).await;
    raw.send(&sync()).await;
    let replies = raw.until_ready().await;
    assert!(
        tags(&replies) == "1Z" || tags(&replies) == "EZ",
        "{replies:?}"
    );
    if tags(&replies) == "1Z" {
        raw.send(&describe(b'S', "wide")).await;
        raw.send(&bind("", "wide", &[Some("1")])).await;
        raw.send(&sync()).await;
        let replies = raw.until_ready().await;
        assert!(matches!(replies.last(), Some(r) if r.tag == b'Z'));
    }
    raw.send(&query("SELECT 5")).await;
    let replies = raw.until_ready().await;
    assert_eq!(
        first_column(&replies),
        [Some("5".to_owned())],
        "{replies:?}"
    );
    assert_healthy(&s, &session, "extended-protocol errors").await;
}

/// PostgreSQL answers 34000 (invalid_cursor_name) for a portal that does
/// not exist; pgwire's PortalNotFound maps to 26000.
#[tokio::test]
async fn unknown_portals_are_34000_as_in_postgresql() {
    let s = server();
    let mut raw = login(s.addr, USER, &password(USER)).await;
    for (what, bytes) in [
        ("Execute of an unknown portal", execute("nope", 0)),
        ("Describe of an unknown portal", describe(b'P', "nope")),
    ] {
        raw.send(&bytes).await;
        raw.send(&sync()).await;
        let replies = raw.until_ready().await;
        assert_eq!(codes(&replies), ["34000"], "{what}: {replies:?}");
    }
}

// ---------------------------------------------------------------------------
// Everything at once

/// One kind of abuse, on its own connection.
async fn abuse(addr: SocketAddr, kind: u64, noise: &mut Noise) {
    let pw = password(USER);
    match kind {
        0 => {
            let mut raw = Raw::connect(addr).await;
            let len = 1 + noise.below(300) as usize;
            raw.send(&noise.bytes(len)).await;
            raw.hang_up().await;
            raw.drain_until_closed(ANSWER, "noise").await;
        }
        1 => {
            let mut raw = Raw::connect(addr).await;
            raw.send(&SSL_REQUEST).await;
            let _ = raw.read_within(Duration::from_secs(2)).await;
            raw.send(&noise.bytes(200)).await;
            raw.hang_up().await;
            raw.drain_until_closed(ANSWER, "TLS garbage").await;
        }
        2 => {
            let mut raw = Raw::connect(addr).await;
            raw.send(&startup_packet(USER)[..9]).await;
            raw.hang_up().await;
            raw.drain_until_closed(ANSWER, "truncated startup").await;
        }
        3 => {
            let mut raw = login(addr, USER, &pw).await;
            raw.send(&msg(Some(b'z'), &noise.bytes(8))).await;
            raw.until_closed(ANSWER, "bogus type").await;
        }
        4 => {
            let mut raw = login(addr, USER, &pw).await;
            let mut m = vec![b'Q', 0, 1, 0, 0];
            m.extend_from_slice(b"SELECT 1");
            raw.send(&m).await;
            raw.hang_up().await;
            raw.drain_until_closed(ANSWER, "short Query").await;
        }
        5 => {
            let mut raw = login(addr, USER, &pw).await;
            raw.send(&execute("nope", 0)).await;
            raw.send(&describe(b'S', "nope")).await;
            raw.send(&sync()).await;
            raw.send(&parse("p", "SELECT $1::int4", &[23])).await;
            raw.send(&bind("", "p", &[Some("1"), Some("2")])).await;
            raw.send(&execute("", 0)).await;
            raw.send(&sync()).await;
            raw.until_ready().await;
            raw.until_ready().await;
            raw.send(&query("SELECT 1")).await;
            let replies = raw.until_ready().await;
            assert_eq!(first_column(&replies), [Some("1".to_owned())]);
        }
        _ => {
            let mut raw = login(addr, USER, &pw).await;
            raw.send(&parse("wide", "SELECT 1", &[23; 65_535])).await;
            raw.send(&sync()).await;
            raw.until_ready().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_garbage() {
    let s = server();
    let session = well_behaved(&s).await;
    let addr = s.addr;
    for round in 0..3u64 {
        let mut tasks = Vec::new();
        for worker in 0..8u64 {
            tasks.push(tokio::spawn(async move {
                let mut noise = Noise(0x1000 + round * 64 + worker);
                for _ in 0..4 {
                    let kind = noise.below(7);
                    abuse(addr, kind, &mut noise).await;
                }
            }));
        }
        // The well-behaved session keeps answering while the others rage.
        for i in 0..10 {
            let rows = session
                .simple_query(&format!("SELECT {i} + 1"))
                .await
                .expect("the open session answers during the garbage");
            assert!(rows.iter().any(|m| matches!(m, SimpleQueryMessage::Row(r)
                if r.get(0) == Some((i + 1).to_string().as_str()))));
        }
        for t in tasks {
            t.await.expect("an abusive client ran to the end");
        }
        assert_healthy(
            &s,
            &session,
            &format!("round {round} of interleaved garbage"),
        )
        .await;
    }
}
