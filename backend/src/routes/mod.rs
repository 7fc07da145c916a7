//! Route families; each exposes a `router()` that [`crate::app`] assembles.

pub mod auth;
pub mod ops;
pub mod token;
pub mod user;
