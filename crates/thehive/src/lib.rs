//! TheHive 4 and 5 as both MDR programs see them: read-only views of the objects Cortex passes and
//! the REST API answers ([`view`]), the version they speak ([`Version`]), and the one REST client
//! ([`client`], with the case/task/log calls of `mdr-sync` in [`records`]) whose errors
//! ([`TheHiveError`]) name the settings of the program that runs it ([`Naming`]). Nothing here
//! knows MDR.

pub mod client;
mod error;
pub mod records;
mod routes;
mod version;
pub mod view;

pub use error::{Naming, TheHiveError};
pub use version::{UnknownVersion, Version};
