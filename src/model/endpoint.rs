//! Endpoints: `CreateEndpoint`, `Join` and the external-connectivity calls, with the
//! port lists dockerd sends under its own option keys already decoded.

use super::{DriverOptions, EndpointId, ExposedPort, MacAddress, NetworkId, PortBinding};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The body of Leave, DeleteEndpoint, EndpointOperInfo and RevokeExternalConnectivity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRef {
    pub network_id: NetworkId,
    pub endpoint_id: EndpointId,
}

/// `CreateEndpoint`, checked: addresses are of their family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    pub network_id: NetworkId,
    pub endpoint_id: EndpointId,
    pub address: Option<IpNet>,
    pub address_ipv6: Option<IpNet>,
    /// The MAC Docker chose (`--mac-address`, or because IPAM requires one).
    pub mac: Option<MacAddress>,
    pub exposed_ports: Vec<ExposedPort>,
    pub port_bindings: Vec<PortBinding>,
    /// Engine ≥ 28 `com.docker.network.endpoint.ifname`: a name the user asked for.
    pub ifname: Option<String>,
    /// `--driver-opt` entries, Docker's keys removed.
    pub options: DriverOptions,
}

/// The reply to `CreateEndpoint`: fields Docker left empty and the driver filled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointReply {
    pub mac: Option<MacAddress>,
}

/// `Join`, checked: the sandbox key is an absolute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinSpec {
    pub network_id: NetworkId,
    pub endpoint_id: EndpointId,
    pub sandbox_key: String,
    pub exposed_ports: Vec<ExposedPort>,
    pub port_bindings: Vec<PortBinding>,
}

impl JoinSpec {
    pub fn endpoint(&self) -> EndpointRef {
        EndpointRef {
            network_id: self.network_id.clone(),
            endpoint_id: self.endpoint_id.clone(),
        }
    }
}

/// A route Join asks Docker to install in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub destination: IpNet,
    /// `None`: on-link (connected); `Some`: via that next hop.
    pub next_hop: Option<IpAddr>,
}

/// The reply to `Join`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinReply {
    /// The interface in the host namespace Docker moves into the container.
    pub src_name: String,
    /// Docker names it this prefix plus the lowest free number.
    pub dst_prefix: String,
    pub gateway: Option<IpAddr>,
    pub gateway_ipv6: Option<IpAddr>,
    pub static_routes: Vec<StaticRoute>,
    /// Keep Docker from adding a `docker_gwbridge` interface for this endpoint.
    pub disable_gateway_service: bool,
}

/// `ProgramExternalConnectivity`: the container's exposed and published ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connectivity {
    pub network_id: NetworkId,
    pub endpoint_id: EndpointId,
    pub exposed_ports: Vec<ExposedPort>,
    pub port_bindings: Vec<PortBinding>,
}

impl Connectivity {
    pub fn endpoint(&self) -> EndpointRef {
        EndpointRef {
            network_id: self.network_id.clone(),
            endpoint_id: self.endpoint_id.clone(),
        }
    }
}

/// The reply to `EndpointOperInfo`: free-form facts for `docker network inspect`-like
/// tools (Docker itself reads nothing from a remote driver's reply).
pub type OperInfo = BTreeMap<String, String>;
