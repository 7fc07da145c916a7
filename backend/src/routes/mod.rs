//! Route families; each exposes a `router()` that [`crate::app`] assembles.
//! `extract` holds what several families share: state and extractors.

pub mod auth;
pub mod demo;
pub mod extract;
mod forwarded;
pub mod ops;
pub mod proxy;
pub mod session_events;
pub mod token;
pub mod user;
