//! Shared helpers for unstuck's conformance, property and simulation suites.
//!
//! - [`sim`]: a seeded in-memory network between a client and a server core, on a virtual clock.
//! - [`vectors`]: the reader of `spec/vectors/*.vec`.

pub mod sim;
pub mod vectors;
