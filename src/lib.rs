//! kuryr: a Docker libnetwork network driver and IPAM driver on one socket, the
//! successor of OpenStack's kuryr-libnetwork.
//!
//! The major parts (see ARCHITECTURE.md for the map and its invariants):
//! * `api`: the libnetwork wire types, and nothing else.
//! * `server`: HTTP on the plugin socket; turns calls into `Driver` calls and errors
//!   into `{"Err": ...}`.
//! * `model`: validated Docker requests and replies, the vocabulary of `driver`.
//! * `driver`: the `Driver` trait every backend implements.
//! * `embedded`: the local backend: `ipam` + `store` + `hostnet`.
//! * `ipam`: the pure allocator; no I/O.
//! * `store`: durable state in redb with group commit.
//! * `hostnet`: Linux bridges and veth pairs over rtnetlink.
//! * `neutron`: a Neutron + Keystone client that knows nothing of Docker.
//! * `neutron_driver`: the Neutron backend: Docker objects onto Neutron's.
//! * `binding`: the host side of Neutron ports: veth pairs, OVS, Linux bridges.
//! * `config`: `kuryr.conf`, compatible with kuryr-libnetwork's.
//! * `daemon`: wires a configuration into a running server.
//! * `metrics`: the Prometheus series `server` serves on `/metrics`.
//! * `process`: running child programs with a timeout, in their own process group,
//!   without `OS_*` secrets, output capped.

pub mod api;
pub mod binding;
pub mod config;
pub mod control;
pub mod daemon;
pub mod doctor;
pub mod driver;
pub mod embedded;
pub mod error;
pub mod gc;
pub mod hostnet;
pub mod ipam;
pub mod metrics;
pub mod model;
pub mod neutron;
pub mod neutron_driver;
pub mod process;
pub mod server;
pub mod status;
pub mod store;

pub use error::Error;
