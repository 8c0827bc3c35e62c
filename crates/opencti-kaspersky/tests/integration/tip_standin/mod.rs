//! The TIP/OpenTIP stand-in of the kaspersky-tip (Cortex analyzer) tests, compiled here from its
//! own files rather than copied: the connector is tested against the same service double.

#![allow(dead_code, unused_imports, unreachable_pub)]

#[path = "../../../../kaspersky-tip/tests/integration/common/standin.rs"]
pub mod standin;
#[path = "../../../../kaspersky-tip/tests/integration/common/tls.rs"]
pub mod tls;

pub use standin::{OPENTIP_KEY, StandIn, TIP_TOKEN};
