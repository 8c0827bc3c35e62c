//! Keeping credentials out of output and files whole, for every crate of the workspace: [`Secret`]
//! (never printed), [`redact`] (URL passwords and JWT-shaped text removed from messages),
//! [`write_atomically`] (a file replaced whole or not at all; a private one never readable by others), and
//! [`file_name::plain_file_name`] (a foreign file name that cannot act as a path or break a header).

mod atomic;
pub mod file_name;
pub mod redact;
mod secret;

pub use atomic::{FileMode, private_mode, write_atomically};
pub use secret::Secret;
