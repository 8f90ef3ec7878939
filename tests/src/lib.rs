//! Shared helpers for unstuck's conformance, property and simulation suites.
//!
//! - [`drive`]: run a core machine until it waits, collecting what it sent and the events.
//! - [`machine`]: the calls the four core machines share, as traits.
//! - [`sim`]: a seeded in-memory network between a client and a server core, on a virtual clock.
//! - [`vectors`]: the reader of `spec/vectors/*.vec`.

pub mod conformance;
pub mod drive;
pub mod machine;
pub mod sim;
pub mod vectors;
