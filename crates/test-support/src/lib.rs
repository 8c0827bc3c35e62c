//! Test support for the whole workspace (a dev-dependency only): the Cortex harness ([`cortex`]),
//! the HTTP/TLS listener every stand-in runs on, the TheHive stand-in ([`thehive`]), and, at the
//! root of this crate, a local, stateful, in-memory stand-in of the Kaspersky MDR REST API (as
//! docs/mdr-api.md describes it), for integration tests and the demo.
//!
//! It serves `POST /api/v1/{client_id}/{entity}/{action}` on 127.0.0.1 over HTTP or HTTPS
//! (generated CA), mints and checks JWT-shaped tokens, keeps incidents/comments/attachments/
//! responses/assets in memory, journals every request and can inject faults.
//!
//! Choices where the API is undocumented: a list request without `page_size` gets pages of 10
//! (MDR documents no default, so clients must page explicitly); an unknown client id answers 404
//! `{"message": "unknown client id"}`; closing a closed incident and deciding a response that
//! is not pending (not `New`, `Pending`, `InProgress` or `Created`) answer 409; items created through the API have
//! `origin: "Client"` and `author_name` = the connection name; `markdown_to_html: true` on
//! `comments/create` stores minimal HTML (paragraphs and `>` block quotes only), reads ignore it.
//!
//! [`TheHiveSandbox`] is a smaller stand-in of TheHive's API (the calls the responders make to
//! download attachments, resolve cases and list observables), on the same listener.
//!
//! Beside the stand-ins, two things other tests build on: the HTTP/TLS core ([`Listener`],
//! [`Handler`], [`Request`], [`Response`]) for a stand-in of another service, and [`cortex`], the
//! harness that runs a worker binary as Cortex does and judges its report.
//!
//! Request handling order: route (404) → method (405) → injected fault → client id (404) →
//! `session/confirm` or bearer (403) → body validation (400) → ids (404) → state (409).

mod api;
pub mod cortex;
pub mod dockerfile;
mod http;
mod ids;
mod journal;
mod listener;
mod markdown;
mod multipart;
pub mod opencti;
mod seed;
mod server;
mod store;
mod thehive;
mod tls;
mod tokens;

pub use http::{Request, Response};
pub use journal::{Fault, JournalEntry};
pub use listener::{Handler, Listener};
pub use seed::{Seed, SeedError};
pub use server::{Sandbox, SandboxOptions};
pub use thehive::{TheHiveOptions, TheHiveSandbox, TheHiveVersion};
pub use tls::TlsCert;
pub use tokens::{BearerState, TokenPair};
