//! STIX 2.1 as the Python connector writes it: deterministic identifiers computed exactly as pycti
//! and the `stix2` library do ([`id`]), the timestamp forms those identifiers and the objects use
//! ([`timestamp`]), and one builder per object the connector creates ([`objects`]).

pub mod id;
pub mod objects;
pub mod timestamp;
