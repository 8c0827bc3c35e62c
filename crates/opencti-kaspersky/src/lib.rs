//! An OpenCTI internal-enrichment connector for Kaspersky Threat Intelligence (TIP and OpenTIP), a
//! drop-in replacement for the Python `kaspersky-enrichment` connector: the same configuration keys,
//! the same STIX output with the same deterministic identifiers, and both of OpenCTI's transports
//! (RabbitMQ, or the HTTP callback with `stixBundlePush`).
//!
//! - [`config`]: where settings come from (env var, then `config.yml`, then the default) and the
//!   platform-side settings (`OPENCTI_*`, `CONNECTOR_*`, `MQ_*`).
//! - [`kaspersky`]: the `KASPERSKY_*` settings.
//! - [`stix`]: deterministic STIX identifiers and object builders.
//! - [`enrich`]: one enrichment (TLP and scope checks, TIP lookup, STIX objects).
//! - [`platform`]: the OpenCTI side (GraphQL, RabbitMQ, HTTP callback, work reporting).

pub mod config;
pub mod enrich;
pub mod kaspersky;
pub mod platform;
pub mod stix;
