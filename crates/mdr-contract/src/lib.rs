//! What the MDR responders and `mdr-sync` share beyond the two APIs: the conventions both write and
//! read in TheHive and MDR ([`contract`]), the MDR Integration Utility's `config.yml`
//! ([`utility_config`]), and how MDR's untrusted text is written into TheHive's markdown ([`inert`]),
//! so that the two halves of the integration cannot disagree.

pub mod contract;
pub mod inert;
pub mod utility_config;
