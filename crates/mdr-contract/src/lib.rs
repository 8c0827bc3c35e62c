//! What the MDR responders and `mdr-sync` share beyond the two APIs: the conventions both write and
//! read in TheHive and MDR ([`contract`]) and the MDR Integration Utility's `config.yml`
//! ([`utility_config`]), so that the two halves of the integration cannot disagree.

pub mod contract;
pub mod utility_config;
