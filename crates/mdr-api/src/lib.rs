//! The Kaspersky MDR REST API: a blocking client ([`client`]) with its models, the keyset listing of
//! changed incidents ([`listing`]), and the token store that rotates the single-use refresh tokens
//! ([`token`]). It knows no Cortex and no TheHive: the responders and `mdr-sync` both build on it.

pub mod client;
pub mod listing;
pub mod settings;
pub mod token;

pub use client::{MdrClient, MdrError};
pub use settings::MdrSettings;
