//! One line per action on stderr. Nothing logged here carries a secret: messages are built from
//! ids, names and error texts that the clients already redact.

pub fn log(message: &str) {
    eprintln!("mdr-sync: {message}");
}
