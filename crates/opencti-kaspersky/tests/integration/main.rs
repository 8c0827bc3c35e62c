//! Integration tests of the connector: each suite is a module of this one binary.

// Engineer A: the Kaspersky side.
mod enrich;
mod golden;
mod tip_standin;

// Engineer B: the platform side.
mod deploy;
mod transport_amqp;
mod transport_api;
mod transport_api_behaviour;
mod transport_common;
