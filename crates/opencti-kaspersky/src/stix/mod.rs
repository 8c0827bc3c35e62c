//! (engineer A)
