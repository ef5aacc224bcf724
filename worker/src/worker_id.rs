//! The id the server knows this worker by, shared by the agent's loops and its attempts.

use std::sync::RwLock;

/// The current worker id; it changes only when a registration is answered with another one.
/// A std lock: it is never held across an await.
#[derive(Debug, Default)]
pub(crate) struct WorkerId(RwLock<String>);

impl WorkerId {
    /// Starts with `id` (empty until the first registration when the config names none).
    pub(crate) fn new(id: String) -> WorkerId {
        WorkerId(RwLock::new(id))
    }

    /// The id now.
    pub(crate) fn get(&self) -> String {
        self.0.read().expect("worker id lock").clone()
    }

    /// Takes the id the server answered with.
    pub(crate) fn set(&self, id: String) {
        *self.0.write().expect("worker id lock") = id;
    }
}
