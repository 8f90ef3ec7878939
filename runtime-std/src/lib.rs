//! Blocking std-socket runtime for unstuck (filled in by its own issue).
