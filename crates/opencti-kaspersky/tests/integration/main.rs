//! Integration tests of the connector: each suite is a module of this one binary.
