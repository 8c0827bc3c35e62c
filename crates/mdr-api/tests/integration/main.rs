//! Every integration suite of mdr-api in one test binary: the client driven in process, against
//! the MDR stand-in where it talks to MDR.

mod support;

mod client_faults;
