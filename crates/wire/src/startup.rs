//! Login: TLS requirement, then one of
//! - a verified client certificate naming the account (`cert_subject`):
//!   no password is asked for;
//! - SCRAM-SHA-256(-PLUS) against the account's stored verifier;
//! - over TLS, when `[auth.token]` is configured, OAUTHBEARER with a JWT
//!   whose `sub` is the account's `token_subject` (see `token.rs`);
//! - over TLS, with `[auth.token] as_password`, instead of SASL: a password
//!   sent whole, which is either such a JWT or the account's password;
//!
//! then the account checks (active, not locked out, web-service only, holds
//! a SQL API role, access policies).
//!
//! Every password or token failure, including an unknown account, answers
//! the same 28P01 after the same exchange; only someone who proved the
//! credential learns why an account may not connect (28000). A certificate that does
//! not name the requested account is refused with 28000, as PostgreSQL's
//! `cert` method does: its holder already proved possession of a key the
//! client CA vouches for, and falling back to a password silently would hide
//! a misconfigured client.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, METADATA_USER, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::{Authentication, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion};
use tracing::{info, warn};

use crate::cert;
use crate::conn::{Auth, Conn};
use crate::errors::fatal;
use crate::params::ServerParameters;
use crate::sasl;
use crate::scram::{self, Offer, ScramError, Verifier};
use crate::token::{self, Initial};
use sqlgate_audit::{Event, LoginMethod, Outcome};

pub(crate) struct Startup {
    conn: Arc<Conn>,
}

impl Startup {
    pub fn new(conn: Arc<Conn>) -> Startup {
        Startup { conn }
    }

    fn offer<'a, C: ClientInfo>(&'a self, client: &C) -> Offer<'a> {
        Offer {
            binding: match (&self.conn.shared.tls, client.is_secure()) {
                (Some(tls), true) => Some(tls.binding.as_slice()),
                _ => None,
            },
        }
    }

    /// A failed credential: 28P01, the same for every cause.
    fn failed(
        &self,
        user: &str,
        method: LoginMethod,
        reason: &str,
        kind: &'static str,
    ) -> PgWireError {
        warn!(peer = %self.conn.peer, user, reason, "login failed");
        self.record_failure(user, method, reason, kind);
        fatal(
            "28P01",
            format!("password authentication failed for user \"{user}\""),
        )
    }

    /// Counts and audits a refused login.
    fn record_failure(&self, user: &str, method: LoginMethod, reason: &str, kind: &'static str) {
        let shared = &self.conn.shared;
        shared.metrics.login("failure");
        shared.metrics.deny(kind);
        shared.audit(Event::Login {
            account: user.to_owned(),
            peer: self.conn.peer.to_string(),
            method,
            outcome: Outcome::Failure,
            reason: Some(reason.to_owned()),
        });
    }

    /// A connection blocked before or after authentication.
    fn blocked(&self, account: Option<&str>, reason: String, kind: &'static str) {
        warn!(peer = %self.conn.peer, account, reason = %reason, "connection blocked");
        self.conn.shared.metrics.deny(kind);
        self.conn.shared.audit(Event::AccessBlocked {
            account: account.map(str::to_owned),
            peer: self.conn.peer.to_string(),
            reason,
        });
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut auth = self.conn.auth.lock().await;
        match (message, &*auth) {
            (PgWireFrontendMessage::Startup(startup), Auth::Start) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                // Before any credential work: the address alone.
                let ip = self.conn.peer.ip();
                if let Err(retry) = self.conn.shared.limits.attempt(ip) {
                    self.blocked(
                        None,
                        "connection attempts over the limit".into(),
                        "attempts",
                    );
                    return Err(fatal(
                        "53400",
                        format!(
                            "too many connection attempts from {ip}; try again after {}",
                            rfc3339(retry)
                        ),
                    ));
                }
                if let Err(why) = self.conn.shared.engine.policy().address_admitted(ip) {
                    self.blocked(None, why, "access_policy");
                    return Err(fatal(
                        "28000",
                        format!("connections from {ip} are not allowed by the access policies"),
                    ));
                }
                if !client.is_secure() && !self.conn.shared.config.allow_plaintext {
                    let user = client
                        .metadata()
                        .get(METADATA_USER)
                        .cloned()
                        .unwrap_or_default();
                    self.record_failure(
                        &user,
                        LoginMethod::Scram,
                        "plaintext connection refused",
                        "plaintext",
                    );
                    return Err(fatal(
                        "28000",
                        "connections without TLS are not allowed (use sslmode=require or stronger)",
                    ));
                }
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .ok_or_else(|| fatal("28000", "no user name given in the startup packet"))?;
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                // A certificate is only ever here when a client CA is
                // configured and it chained to that CA.
                let identities = client
                    .client_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| cert::identities(leaf.as_ref()));
                if let Some(identities) = identities {
                    self.certificate_login(client, &user, &identities).await?;
                    *auth = Auth::Done;
                    return Ok(());
                }
                if self.whole_password_asked(client) {
                    client
                        .send(PgWireBackendMessage::Authentication(
                            Authentication::CleartextPassword,
                        ))
                        .await?;
                    *auth = Auth::PasswordAsked { user };
                    return Ok(());
                }
                let mut mechanisms = self.offer(client).mechanisms();
                if self.token_offered(client) {
                    mechanisms.push(token::MECHANISM.to_owned());
                }
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                        mechanisms,
                    )))
                    .await?;
                *auth = Auth::Offered { user };
            }
            (PgWireFrontendMessage::PasswordMessageFamily(msg), Auth::Offered { user }) => {
                let user = user.clone();
                let initial = sasl::initial_response(msg)?;
                let data = initial.data.unwrap_or_default();
                if initial.auth_method == token::MECHANISM && self.token_offered(client) {
                    *auth = self.token_login(client, &user, &data).await?;
                    return Ok(());
                }
                let policy = self.conn.shared.engine.policy();
                let verifier = policy
                    .account(&user)
                    .and_then(|a| a.scram.as_deref())
                    .and_then(Verifier::parse)
                    .unwrap_or_else(|| Verifier::decoy(&self.conn.shared.decoy_secret, &user));
                let offer = self.offer(client);
                let state = match scram::client_first(&offer, &initial.auth_method, &data, verifier)
                {
                    Ok(state) => state,
                    Err(e) => return Err(self.scram_error(&user, e)),
                };
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::SASLContinue(
                            state.message().to_owned().into_bytes().into(),
                        ),
                    ))
                    .await?;
                *auth = Auth::Challenged {
                    user,
                    state: Box::new(state),
                };
            }
            (
                PgWireFrontendMessage::PasswordMessageFamily(msg),
                Auth::Challenged { user, state },
            ) => {
                let user = user.clone();
                let response = sasl::response(msg)?;
                let server_final = match scram::client_final(state, &response.data) {
                    Ok(f) => f,
                    Err(e) => {
                        if e == ScramError::BadProof && self.conn.shared.limits.failed(&user) {
                            warn!(peer = %self.conn.peer, user, "too many failed logins: name locked");
                            self.blocked(
                                Some(&user),
                                "locked after repeated failed logins".into(),
                                "lockout",
                            );
                        }
                        return Err(self.scram_error(&user, e));
                    }
                };
                // A locked name answers like a wrong password, even with
                // the right one: nothing tells a locked account apart.
                if self.conn.shared.limits.locked(&user) {
                    return Err(self.failed(
                        &user,
                        LoginMethod::Scram,
                        "locked out after repeated failures",
                        "lockout",
                    ));
                }
                self.conn.shared.limits.succeeded(&user);
                // The proof is right; a decoy verifier can never get here.
                self.admit(&user, LoginMethod::Scram)?;
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::SASLFinal(server_final.into_bytes().into()),
                    ))
                    .await?;
                *auth = Auth::Done;
                self.complete(client, &user, LoginMethod::Scram).await?;
            }
            (PgWireFrontendMessage::PasswordMessageFamily(msg), Auth::PasswordAsked { user }) => {
                let user = user.clone();
                let password = sasl::password(msg)?;
                self.whole_password_login(client, &user, &password).await?;
                *auth = Auth::Done;
            }
            (
                PgWireFrontendMessage::PasswordMessageFamily(_),
                Auth::TokenRefused { user, reason },
            ) => {
                // The client acknowledged the error challenge; whatever it
                // sent, the login has failed.
                let (reason, kind) = match reason {
                    Some((reason, kind)) => (reason.as_str(), *kind),
                    None => ("no bearer token presented", "credentials"),
                };
                return Err(self.failed(user, LoginMethod::Token, reason, kind));
            }
            (other, _) => {
                warn!(peer = %self.conn.peer, message = ?std::mem::discriminant(&other), "unexpected message during startup");
                return Err(fatal("08P01", "unexpected message during authentication"));
            }
        }
        Ok(())
    }
}

/// A wall-clock time as RFC 3339, for messages.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Startup {
    /// OAUTHBEARER is offered only over TLS: a bearer token, unlike a SCRAM
    /// proof, is replayable by whoever reads it.
    fn token_offered<C: ClientInfo>(&self, client: &C) -> bool {
        self.conn.shared.config.token.is_some() && client.is_secure()
    }

    /// With `[auth.token] as_password`, TLS logins send the password whole,
    /// so a token fits where a password goes. Never over plaintext.
    fn whole_password_asked<C: ClientInfo>(&self, client: &C) -> bool {
        let config = &self.conn.shared.config;
        config.token_as_password && config.token.is_some() && client.is_secure()
    }

    /// A password sent whole: a JWT (three base64url parts) is checked as a
    /// bearer token, anything else against the account's stored verifier
    /// (a decoy for an unknown account, so both cost the same). Every
    /// failure is the same 28P01 and counts toward the lockout.
    async fn whole_password_login<C>(
        &self,
        client: &mut C,
        user: &str,
        password: &str,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let policy = self.conn.shared.engine.policy();
        let account = policy.account(user);
        let (method, refusal) = if token::looks_like_jwt(password) {
            let verifier = self.conn.shared.config.token.clone();
            let subject = account.and_then(|a| a.token_subject.clone());
            let refusal = match verifier.map(|v| v.verify(password)) {
                Some(Ok(sub)) if subject.as_deref() == Some(sub.as_str()) => None,
                Some(Ok(_)) => Some("token subject is not the account's token_subject".to_owned()),
                Some(Err(e)) => Some(e.to_string()),
                None => Some("no token verifier".to_owned()),
            };
            (LoginMethod::Token, refusal)
        } else {
            let verifier = account
                .and_then(|a| a.scram.as_deref())
                .and_then(Verifier::parse)
                .unwrap_or_else(|| Verifier::decoy(&self.conn.shared.decoy_secret, user));
            let refusal = (!verifier.matches_password(password))
                .then(|| "wrong password or unknown account".to_owned());
            (LoginMethod::Scram, refusal)
        };
        if let Some(reason) = refusal {
            if self.conn.shared.limits.failed(user) {
                warn!(peer = %self.conn.peer, user, "too many failed logins: name locked");
                self.blocked(
                    Some(user),
                    "locked after repeated failed logins".into(),
                    "lockout",
                );
            }
            return Err(self.failed(user, method, &reason, "credentials"));
        }
        if self.conn.shared.limits.locked(user) {
            return Err(self.failed(
                user,
                method,
                "locked out after repeated failures",
                "lockout",
            ));
        }
        self.conn.shared.limits.succeeded(user);
        self.admit(user, method)?;
        self.complete(client, user, method).await
    }

    /// The OAUTHBEARER client initial response. A good token for the
    /// requested account logs in at once (AuthenticationOk, no
    /// AuthenticationSASLFinal, as PostgreSQL does); otherwise the RFC 7628
    /// error challenge goes out and the login fails on the client's answer.
    async fn token_login<C>(&self, client: &mut C, user: &str, data: &[u8]) -> PgWireResult<Auth>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        const METHOD: LoginMethod = LoginMethod::Token;
        let Some(verifier) = self.conn.shared.config.token.clone() else {
            return Err(fatal("08P01", "OAUTHBEARER was not offered"));
        };
        let reason = match token::parse_initial(data) {
            Err(m) => {
                warn!(peer = %self.conn.peer, user, reason = %m, "malformed OAUTHBEARER exchange");
                self.record_failure(
                    user,
                    METHOD,
                    &format!("malformed OAUTHBEARER message: {m}"),
                    "credentials",
                );
                return Err(fatal(
                    "08P01",
                    format!("malformed OAUTHBEARER message: {m}"),
                ));
            }
            // The client asks where to get a token (libpq does this before
            // its first login): not a failed guess, so no lockout count.
            Ok(Initial::Discovery) => None,
            Ok(Initial::Bearer(bearer)) => {
                let subject = self
                    .conn
                    .shared
                    .engine
                    .policy()
                    .account(user)
                    .and_then(|a| a.token_subject.clone());
                match verifier.verify(&bearer) {
                    // As for a password: a locked name answers like a bad
                    // credential, even with a good one, after the same
                    // exchange.
                    Ok(sub) if subject.as_deref() == Some(sub.as_str()) => {
                        if self.conn.shared.limits.locked(user) {
                            Some(("locked out after repeated failures".to_owned(), "lockout"))
                        } else {
                            self.conn.shared.limits.succeeded(user);
                            self.admit(user, METHOD)?;
                            self.complete(client, user, METHOD).await?;
                            return Ok(Auth::Done);
                        }
                    }
                    Ok(_) => Some((
                        "token subject is not the account's token_subject".to_owned(),
                        "credentials",
                    )),
                    Err(e) => Some((e.to_string(), "credentials")),
                }
            }
        };
        if matches!(reason, Some((_, "credentials"))) && self.conn.shared.limits.failed(user) {
            warn!(peer = %self.conn.peer, user, "too many failed logins: name locked");
            self.blocked(
                Some(user),
                "locked after repeated failed logins".into(),
                "lockout",
            );
        }
        client
            .send(PgWireBackendMessage::Authentication(
                Authentication::SASLContinue(verifier.error_challenge().into_bytes().into()),
            ))
            .await?;
        Ok(Auth::TokenRefused {
            user: user.to_owned(),
            reason,
        })
    }

    /// Logs in with a verified client certificate: no password exchange,
    /// AuthenticationOk straight away, when the certificate names the
    /// requested account; 28000 otherwise (no fallback to a password).
    async fn certificate_login<C>(
        &self,
        client: &mut C,
        user: &str,
        identities: &[String],
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        const METHOD: LoginMethod = LoginMethod::Certificate;
        let refused = || {
            fatal(
                "28000",
                format!("certificate authentication failed for user \"{user}\""),
            )
        };
        let subject = self
            .conn
            .shared
            .engine
            .policy()
            .account(user)
            .and_then(|a| a.cert_subject.clone());
        if !cert::matches(identities, subject.as_deref()) {
            // The names are not secret (the CA signed them into a
            // certificate the client showed), and they are what an operator
            // needs to fix a mapping.
            warn!(peer = %self.conn.peer, user, certificate = ?identities, "client certificate does not name the account");
            self.record_failure(
                user,
                METHOD,
                "client certificate does not match the account's cert_subject",
                "credentials",
            );
            return Err(refused());
        }
        // Lockout is about guessed passwords, but a locked name stays
        // locked whatever the credential: the lock is the operator's
        // signal that something is wrong with the account.
        if self.conn.shared.limits.locked(user) {
            warn!(peer = %self.conn.peer, user, "certificate login of a locked name");
            self.record_failure(
                user,
                METHOD,
                "locked out after repeated failures",
                "lockout",
            );
            return Err(refused());
        }
        self.conn.shared.limits.succeeded(user);
        self.admit(user, METHOD)?;
        self.complete(client, user, METHOD).await
    }

    /// After the credential and the account checks passed: the cancel key,
    /// AuthenticationOk and the server parameters, and the audit record.
    async fn complete<C>(&self, client: &mut C, user: &str, method: LoginMethod) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.register_cancel(client);
        let params = ServerParameters {
            server_version: self.conn.shared.engine.options().server_version.clone(),
        };
        finish_authentication(client, &params).await?;
        info!(peer = %self.conn.peer, user, method = ?method, "login");
        self.conn.shared.metrics.login("success");
        self.conn.shared.audit(Event::Login {
            account: user.to_owned(),
            peer: self.conn.peer.to_string(),
            method,
            outcome: Outcome::Success,
            reason: None,
        });
        Ok(())
    }

    fn scram_error(&self, user: &str, e: ScramError) -> PgWireError {
        match e {
            ScramError::BadProof => self.failed(
                user,
                LoginMethod::Scram,
                "wrong password or unknown account",
                "credentials",
            ),
            ScramError::ChannelBinding(m) => {
                warn!(peer = %self.conn.peer, user, reason = %m, "SCRAM channel binding refused");
                self.record_failure(
                    user,
                    LoginMethod::Scram,
                    &format!("channel binding refused: {m}"),
                    "credentials",
                );
                fatal(
                    "08P01",
                    format!("SCRAM channel binding negotiation error: {m}"),
                )
            }
            ScramError::Protocol(m) => {
                warn!(peer = %self.conn.peer, user, reason = %m, "malformed SCRAM exchange");
                self.record_failure(
                    user,
                    LoginMethod::Scram,
                    &format!("malformed SCRAM exchange: {m}"),
                    "credentials",
                );
                fatal("08P01", format!("malformed SCRAM message: {m}"))
            }
        }
    }

    /// The account checks after a correct credential, then the session.
    fn admit(&self, user: &str, method: LoginMethod) -> PgWireResult<()> {
        let engine = &self.conn.shared.engine;
        let policy = engine.policy();
        let (Some(account), Some(principal)) = (policy.account(user), policy.principal(user))
        else {
            return Err(self.failed(user, method, "account vanished during login", "credentials"));
        };
        if let Err(refusal) = policy.connect_check(account, &principal) {
            warn!(peer = %self.conn.peer, user, reason = %refusal, "login refused");
            self.record_failure(user, method, &refusal.to_string(), "login");
            return Err(fatal(
                "28000",
                format!("account \"{user}\" may not connect: {refusal}"),
            ));
        }
        if let Err(why) = policy.access_admitted(self.conn.peer.ip(), &principal) {
            self.blocked(Some(user), why, "access_policy");
            return Err(fatal(
                "28000",
                format!(
                    "account \"{user}\" may not connect from {}: not allowed by the access policies",
                    self.conn.peer.ip()
                ),
            ));
        }
        let session = engine.open_session(user).map_err(crate::errors::engine)?;
        if let Some(timeout) = self.conn.shared.config.statement_timeout {
            let _ = session
                .vars()
                .set_default("statement_timeout", &format!("{}ms", timeout.as_millis()));
        }
        // The session slot is free: login happens once per connection.
        *self
            .conn
            .session
            .try_lock()
            .expect("no statement runs during login") = Some(session);
        Ok(())
    }

    fn register_cancel<C: ClientInfo>(&self, client: &mut C) {
        use ring::rand::SecureRandom;
        let pid = self.conn.shared.next_pid.fetch_add(1, Ordering::Relaxed);
        let rng = ring::rand::SystemRandom::new();
        let secret = match client.protocol_version() {
            ProtocolVersion::PROTOCOL3_0 => {
                let mut b = [0u8; 4];
                rng.fill(&mut b).expect("system random source");
                SecretKey::I32(i32::from_be_bytes(b))
            }
            _ => {
                let mut b = vec![0u8; 32];
                rng.fill(&mut b).expect("system random source");
                SecretKey::Bytes(b.into())
            }
        };
        let registration = self.conn.shared.cancels.register(
            pid,
            secret.to_bytes().to_vec(),
            Arc::clone(&self.conn.cancel),
        );
        client.set_pid_and_secret_key(pid, secret);
        *self.conn.registration.lock().expect("registration") = Some(registration);
    }
}
