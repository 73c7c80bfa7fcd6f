//! A raw protocol client for the streaming queries: it logs in, sends one
//! query and counts DataRow messages straight off the socket, so the time
//! measured is the server's (and the transport's), not a driver's per-row
//! parsing and allocation.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Error;

/// Where and how to log in.
#[derive(Clone)]
pub struct Login {
    pub addr: SocketAddr,
    /// TLS to this server (verified against its certificate), or none.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub user: String,
    pub password: String,
    pub database: String,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One logged-in session, idle.
pub struct RawConn {
    io: Box<dyn Stream>,
    buf: BytesMut,
}

/// How a slow reader reads: it stops for `pause` after every `every` rows.
#[derive(Debug, Clone, Copy)]
pub struct Stall {
    pub every: u64,
    pub pause: std::time::Duration,
}

/// Reads are this large: a DataRow stream fills them.
const READ_CHUNK: usize = 256 * 1024;

impl RawConn {
    pub async fn connect(login: &Login) -> Result<RawConn, Error> {
        let mut tcp = TcpStream::connect(login.addr).await?;
        tcp.set_nodelay(true)?;
        let io: Box<dyn Stream> = match &login.tls {
            Some(config) => {
                let mut out = BytesMut::new();
                frontend::ssl_request(&mut out);
                tcp.write_all(&out).await?;
                let mut answer = [0u8; 1];
                tcp.read_exact(&mut answer).await?;
                if answer[0] != b'S' {
                    return Err("the server refused TLS".into());
                }
                let name = rustls::pki_types::ServerName::from(login.addr.ip());
                let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
                Box::new(connector.connect(name, tcp).await?)
            }
            None => Box::new(tcp),
        };
        let mut conn = RawConn {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
        };
        conn.login(login).await?;
        Ok(conn)
    }

    async fn login(&mut self, login: &Login) -> Result<(), Error> {
        let mut out = BytesMut::new();
        frontend::startup_message(
            [
                ("user", login.user.as_str()),
                ("database", login.database.as_str()),
            ],
            &mut out,
        )?;
        self.send(&mut out).await?;
        let mut scram: Option<ScramSha256> = None;
        loop {
            let (tag, body) = self.message().await?;
            match tag {
                b'R' => {
                    let mut body = body;
                    match body.get_i32() {
                        0 => {}
                        10 => {
                            // The server lists its mechanisms; this client
                            // does no channel binding and says so.
                            let s = ScramSha256::new(
                                login.password.as_bytes(),
                                ChannelBinding::unsupported(),
                            );
                            frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut out)?;
                            self.send(&mut out).await?;
                            scram = Some(s);
                        }
                        11 => {
                            let s = scram.as_mut().ok_or("SASL continue before start")?;
                            s.update(&body)?;
                            frontend::sasl_response(s.message(), &mut out)?;
                            self.send(&mut out).await?;
                        }
                        12 => {
                            let s = scram.as_mut().ok_or("SASL final before start")?;
                            s.finish(&body)?;
                        }
                        3 => {
                            frontend::password_message(login.password.as_bytes(), &mut out)?;
                            self.send(&mut out).await?;
                        }
                        other => return Err(format!("authentication request {other}").into()),
                    }
                }
                b'E' => return Err(error_text(&body).into()),
                b'Z' => return Ok(()),
                _ => {}
            }
        }
    }

    /// Runs `sql` and returns the number of rows received: the simple
    /// protocol (text rows), or Parse/Bind/Execute asking for every column
    /// in binary.
    pub async fn stream(&mut self, sql: &str, binary: bool) -> Result<u64, Error> {
        self.stream_paced(sql, binary, None).await
    }

    /// Like [`RawConn::stream`], but a slow reader: after every
    /// `stall.every` rows it stops reading for `stall.pause`, so the server
    /// meets a full socket and must wait instead of buffering the result.
    pub async fn stream_stalling(
        &mut self,
        sql: &str,
        binary: bool,
        stall: Stall,
    ) -> Result<u64, Error> {
        self.stream_paced(sql, binary, Some(stall)).await
    }

    async fn stream_paced(
        &mut self,
        sql: &str,
        binary: bool,
        stall: Option<Stall>,
    ) -> Result<u64, Error> {
        let mut out = BytesMut::new();
        if binary {
            frontend::parse("", sql, [], &mut out)?;
            // Bind: unnamed portal and statement, no parameters, one
            // result format code (1, binary) for all columns.
            out.put_u8(b'B');
            out.put_i32(4 + 1 + 1 + 2 + 2 + 2 + 2);
            out.put_u8(0);
            out.put_u8(0);
            out.put_i16(0);
            out.put_i16(0);
            out.put_i16(1);
            out.put_i16(1);
            frontend::execute("", 0, &mut out)?;
            frontend::sync(&mut out);
        } else {
            frontend::query(sql, &mut out)?;
        }
        self.send(&mut out).await?;
        let mut rows = 0u64;
        let mut next_stall = stall.map_or(u64::MAX, |s| s.every);
        let mut error = None;
        loop {
            if rows >= next_stall {
                let stall = stall.expect("a stall is due only when pacing");
                tokio::time::sleep(stall.pause).await;
                next_stall += stall.every;
            }
            // Count whole DataRows in place, without copying them out.
            while self.buf.len() >= 5 {
                let len = i32::from_be_bytes(self.buf[1..5].try_into().expect("4 bytes")) as usize;
                if self.buf.len() < 1 + len {
                    break;
                }
                match self.buf[0] {
                    b'D' => rows += 1,
                    b'E' => error = Some(error_text(&self.buf[5..1 + len])),
                    b'Z' => {
                        self.buf.advance(1 + len);
                        return match error {
                            Some(e) => Err(e.into()),
                            None => Ok(rows),
                        };
                    }
                    _ => {}
                }
                self.buf.advance(1 + len);
            }
            self.fill().await?;
        }
    }

    async fn send(&mut self, out: &mut BytesMut) -> Result<(), Error> {
        self.io.write_all(out).await?;
        self.io.flush().await?;
        out.clear();
        Ok(())
    }

    async fn fill(&mut self) -> Result<(), Error> {
        self.buf.reserve(READ_CHUNK);
        if self.io.read_buf(&mut self.buf).await? == 0 {
            return Err("the server closed the connection".into());
        }
        Ok(())
    }

    /// The next whole message: its tag and body.
    async fn message(&mut self) -> Result<(u8, BytesMut), Error> {
        loop {
            if self.buf.len() >= 5 {
                let len = i32::from_be_bytes(self.buf[1..5].try_into().expect("4 bytes")) as usize;
                if self.buf.len() > len {
                    let mut msg = self.buf.split_to(1 + len);
                    let tag = msg[0];
                    msg.advance(5);
                    return Ok((tag, msg));
                }
            }
            self.fill().await?;
        }
    }
}

/// An ErrorResponse as `SQLSTATE message`.
fn error_text(body: &[u8]) -> String {
    let mut code = "";
    let mut message = "";
    for field in body.split(|b| *b == 0) {
        match field.split_first() {
            Some((b'C', v)) => code = std::str::from_utf8(v).unwrap_or(""),
            Some((b'M', v)) => message = std::str::from_utf8(v).unwrap_or(""),
            _ => {}
        }
    }
    format!("{code} {message}")
}
