//! libnetwork remote-plugin wire types: the JSON dockerd sends and expects.
//!
//! This is the only module that knows the plugin protocol's JSON. The types are dumb
//! data: no logic, no I/O. Field names copy dockerd's Go structs exactly (PascalCase),
//! so they can be grepped across both code bases. Parsing is lenient where dockerd is
//! sloppy (Go's `null` for empty maps and lists, `""` for "no address") and strict
//! everywhere else, so a malformed body is refused at the edge with the field named.
//! Unknown fields are ignored: newer dockerd releases add fields and calls; fields
//! dockerd always sends are required (Go's `null` for a map or list is accepted).
//! `decode` turns each request into `model` values, checked, and `encode` turns model
//! replies back into wire replies. `settle` is kuryr's own call (not dockerd's), and
//! strict.

pub mod decode;
pub mod encode;
pub mod ipam;
pub mod network;
pub mod settle;
pub mod status;
mod text;

use serde::Serialize;

pub use crate::model::MacAddress;

/// The error body dockerd understands for both interfaces (spec §1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrResponse {
    #[serde(rename = "Err")]
    pub err: String,
}

/// The `{}` reply of calls that return nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// Reply to `/Plugin.Activate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivateResponse {
    #[serde(rename = "Implements")]
    pub implements: Vec<&'static str>,
}

impl ActivateResponse {
    /// One socket serves both interfaces, so one Activate reply lists both.
    pub fn network_and_ipam() -> Self {
        ActivateResponse {
            implements: vec!["NetworkDriver", "IpamDriver"],
        }
    }
}

/// Option keys dockerd puts in requests (spec §6).
pub mod keys {
    pub const GENERIC: &str = "com.docker.network.generic";
    pub const ENABLE_IPV4: &str = "com.docker.network.enable_ipv4";
    pub const ENABLE_IPV6: &str = "com.docker.network.enable_ipv6";
    pub const INTERNAL: &str = "com.docker.network.internal";
    pub const REQUEST_ADDRESS_TYPE: &str = "RequestAddressType";
    pub const GATEWAY_TYPE: &str = "com.docker.network.gateway";
    pub const MAC_ADDRESS: &str = "com.docker.network.endpoint.macaddress";
    pub const PORT_MAP: &str = "com.docker.network.portmap";
    pub const EXPOSED_PORTS: &str = "com.docker.network.endpoint.exposedports";
    pub const IFNAME: &str = "com.docker.network.endpoint.ifname";
}
