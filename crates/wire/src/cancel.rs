//! CancelRequest handling. Each connection registers its (pid, secret) and
//! a slot holding the token of its running statement; a cancel request on a
//! separate connection fires that token, which the row stream watches, so a
//! query is stopped whether it is still planning or already streaming rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use tokio_util::sync::CancellationToken;

/// The running statement's token of one connection.
#[derive(Debug, Default)]
pub struct CancelSlot {
    current: Mutex<CancellationToken>,
}

impl CancelSlot {
    /// A fresh token for a statement that starts now; a cancel that arrived
    /// while the connection was idle does not carry over.
    pub fn start(&self) -> CancellationToken {
        let token = CancellationToken::new();
        *self.current.lock().expect("cancel slot") = token.clone();
        token
    }

    fn cancel(&self) {
        self.current.lock().expect("cancel slot").cancel();
    }
}

/// A connection's identity in cancel requests: (pid, secret key bytes).
type CancelKey = (i32, Vec<u8>);

/// Every connection that can be cancelled.
#[derive(Debug, Default)]
pub struct CancelRegistry {
    slots: Mutex<HashMap<CancelKey, Arc<CancelSlot>>>,
}

/// Unregisters a connection when dropped.
#[derive(Debug)]
pub struct Registration {
    key: CancelKey,
    registry: Arc<CancelRegistry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry
            .slots
            .lock()
            .expect("cancel registry")
            .remove(&self.key);
    }
}

impl CancelRegistry {
    pub fn register(
        self: &Arc<Self>,
        pid: i32,
        secret: Vec<u8>,
        slot: Arc<CancelSlot>,
    ) -> Registration {
        let key = (pid, secret);
        self.slots
            .lock()
            .expect("cancel registry")
            .insert(key.clone(), slot);
        Registration {
            key,
            registry: Arc::clone(self),
        }
    }

    /// Fires the running statement of the matching connection, if any.
    /// A wrong secret does nothing, and says nothing.
    pub fn cancel(&self, pid: i32, secret: &[u8]) -> bool {
        let slot = self
            .slots
            .lock()
            .expect("cancel registry")
            .get(&(pid, secret.to_vec()))
            .cloned();
        if let Some(slot) = slot {
            slot.cancel();
            true
        } else {
            false
        }
    }
}

/// pgwire's hook for CancelRequest messages.
#[derive(Debug)]
pub struct Canceller(pub Arc<CancelRegistry>);

#[async_trait]
impl CancelHandler for Canceller {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let hit = self.0.cancel(request.pid, &request.secret_key.to_bytes());
        tracing::debug!(pid = request.pid, matched = hit, "cancel request");
    }
}
