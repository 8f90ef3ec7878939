//! smol runtime for unstuck (filled in by its own issue).
