//! Every integration suite of mdr-core in one test binary: the library driven in process, against
//! the MDR stand-in where it talks to MDR.

mod support;

mod client_faults;
mod reliability_fuzz;
