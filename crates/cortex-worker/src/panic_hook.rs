//! Turning a panic in the responder's action into a location, without ever printing its payload.
//!
//! A panic message can contain anything the action had at hand (a token, a response body). The hook records
//! only `file:line` for the runner, which puts it in the error document. Outside an action the previous hook
//! runs, unless `run` asked for quiet mode, in which case only the location is printed.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static INSTALL: Once = Once::new();
/// Set by `run`: the process is a responder, so no panic anywhere may print its payload.
static QUIET: AtomicBool = AtomicBool::new(false);

thread_local! {
    static IN_ACTION: Cell<bool> = const { Cell::new(false) };
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook once per process; `quiet` (sticky) silences payloads on every thread.
pub(crate) fn install(quiet: bool) {
    if quiet {
        QUIET.store(true, Ordering::Relaxed);
    }
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let location = info.location().map(|at| format!("{}:{}", at.file(), at.line()));
            if IN_ACTION.with(Cell::get) {
                LAST_LOCATION.with(|last| *last.borrow_mut() = location);
            } else if QUIET.load(Ordering::Relaxed) {
                let location = location.as_deref().unwrap_or("an unknown location");
                let _ = writeln!(std::io::stderr(), "cortex-worker: panicked at {location}");
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `action`; a panic becomes `Err("<file>:<line>")`.
pub(crate) fn catch<R>(action: impl FnOnce() -> R) -> Result<R, String> {
    let outer = IN_ACTION.with(|flag| flag.replace(true));
    LAST_LOCATION.with(|last| last.borrow_mut().take());
    let result = panic::catch_unwind(AssertUnwindSafe(action));
    IN_ACTION.with(|flag| flag.set(outer));
    result.map_err(|_payload| {
        LAST_LOCATION.with(|last| last.borrow_mut().take()).unwrap_or_else(|| "an unknown location".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_returns_the_location_not_the_payload() {
        install(false);
        assert_eq!(catch(|| 5), Ok(5));
        let line = line!() + 1;
        let caught = catch(|| panic!("secret hunter2"));
        let location = caught.expect_err("the closure panics");
        assert_eq!(location, format!("{}:{line}", file!()));
        assert!(!location.contains("hunter2"));
        // The flag is reset: later panics outside `catch` go to the previous hook again.
        assert!(!IN_ACTION.with(Cell::get));
    }
}
