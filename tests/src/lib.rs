//! Shared helpers for unstuck's conformance, property and simulation suites.
