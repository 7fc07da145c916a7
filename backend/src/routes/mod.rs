//! Route families; each exposes a `router()` that [`crate::app`] assembles.

pub mod ops;
pub mod token;
