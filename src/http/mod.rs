//! What the REST API ([`crate::routes`]) and the dashboard ([`crate::dashboard`]) share, so
//! neither imports the other: the error type, extractors, credentials, the sign-in session,
//! input checks, the HTML page frame, and the reads and actions both render from.

pub mod actions;
pub mod auth;
pub mod error;
pub mod extract;
pub mod page;
pub mod reads;
pub mod session;
pub mod validate;
