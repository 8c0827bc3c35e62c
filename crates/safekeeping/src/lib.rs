//! Keeping credentials out of output and files whole, for every crate of the workspace: [`Secret`]
//! (never printed), [`redact`] (URL passwords and JWT-shaped text removed from messages), and
//! [`write_atomically`] (a file replaced whole or not at all; a private one never readable by others).

mod atomic;
pub mod redact;
mod secret;

pub use atomic::{FileMode, private_mode, write_atomically};
pub use secret::Secret;
