//! Kaspersky MDR for TheHive responders: where the API is and how to authenticate (`config`,
//! `token`), a blocking API client (`client`), read-only views of the TheHive objects Cortex
//! passes (`thehive`), and the responder actions that join them (`actions`). Nothing here knows
//! how a Cortex job is stored; that is `cortex-worker`'s business.

pub mod actions;
pub mod client;
pub mod config;
pub mod secret;
pub mod sync_api;
pub mod thehive;
pub mod thehive_api;
pub mod token;
pub mod token_tool;

pub use client::{MdrClient, MdrError};
pub use config::{ConfigError, MdrSettings};
pub use cortex_worker::Secret;
