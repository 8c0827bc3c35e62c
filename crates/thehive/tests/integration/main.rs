//! Every integration suite of thehive in one test binary: the client against the TheHive stand-in
//! over loopback HTTP.

mod client;
mod deadline;
