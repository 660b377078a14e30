//! What a backend holds, for `kuryr status` (`/Kuryr.Status`): networks, pools with
//! their usage, endpoints and the work still owed after answering Docker. Built by the
//! running plugin, or from the state dir when it is stopped.

use ipnet::IpNet;

use super::Backlog;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// `embedded` or `neutron`.
    pub backend: &'static str,
    pub networks: Vec<NetworkStatus>,
    pub pools: Vec<PoolStatus>,
    pub endpoints: Vec<EndpointStatus>,
    /// Deletes promised to Docker and not done yet (Neutron backend), with the last
    /// error of each one that failed.
    pub backlog: Backlog,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkStatus {
    pub network_id: String,
    /// The bridge (embedded) or the Neutron network id.
    pub backing: String,
    /// The network's subnets.
    pub subnets: Vec<IpNet>,
    /// Ports ready in its port pools (Neutron backend with `[vif_pool]`).
    pub ready_ports: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStatus {
    pub pool_id: String,
    pub address_space: String,
    pub cidr: IpNet,
    /// Addresses that can be handed out (the CIDR less what is never handed out).
    pub size: u128,
    /// Addresses handed out (embedded), or held by this host's ports (Neutron).
    pub used: u128,
    /// What is left; `None` where another party (Neutron) decides.
    pub free: Option<u128>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStatus {
    pub endpoint_id: String,
    pub network_id: String,
    pub addresses: Vec<IpNet>,
    /// The host side: a veth name, or the Neutron port id.
    pub interface: String,
}
