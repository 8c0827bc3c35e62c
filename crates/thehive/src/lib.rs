//! TheHive 4 and 5 as both MDR programs see them: read-only views of the objects Cortex passes and
//! the REST API answers ([`view`]), and the REST client ([`client`]). Nothing here knows MDR.

pub mod client;
pub mod view;
