//! What the driver remembers between calls. It only caches facts that cannot change
//! behind our back (ids, CIDRs, which object belongs to which Docker id) or that only
//! this plugin changes, so a hit saves a Neutron round trip. Every entry can be
//! rebuilt from Neutron's names and tags: after a restart the cache is empty and the
//! lookups in `lookup.rs` fill it again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

use ipnet::IpNet;

use crate::binding::Vif;
use crate::neutron::{HostRoute, Port, Subnet};

use super::names;

/// A Neutron subnet as the driver needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct SubnetInfo {
    pub id: String,
    pub network_id: String,
    pub cidr: IpNet,
    pub gateway: Option<IpAddr>,
    pub host_routes: Vec<HostRoute>,
    pub subnetpool_id: Option<String>,
    /// Made by kuryr (`kuryr-subnet-*`), so kuryr deletes it; otherwise a user's.
    pub kuryr_owned: bool,
}

impl SubnetInfo {
    /// `None` for a subnet whose CIDR does not parse (then it is not ours to use).
    pub fn from_neutron(subnet: &Subnet) -> Option<SubnetInfo> {
        Some(SubnetInfo {
            id: subnet.id.clone(),
            network_id: subnet.network_id.clone(),
            cidr: subnet.cidr.parse().ok()?,
            gateway: subnet.gateway_ip.as_deref().and_then(|g| g.parse().ok()),
            host_routes: subnet.host_routes.clone(),
            subnetpool_id: subnet.subnetpool_id.clone(),
            kuryr_owned: subnet.name.starts_with(names::SUBNET_PREFIX),
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.cidr.contains(&ip)
    }
}

/// A Docker pool: a Neutron subnet pool, or a CIDR carved from a default pool.
#[derive(Clone, Debug)]
pub struct PoolInfo {
    /// The Neutron subnet pool id.
    pub subnetpool_id: String,
    pub cidr: IpNet,
    /// Ours to delete on ReleasePool (`kuryrPool-*` that we created or found); never
    /// a default pool or one the user named.
    pub deletable: bool,
    /// The subnet serving this pool, once CreateNetwork made or adopted it.
    pub subnet: Option<SubnetInfo>,
}

/// A Docker network and the Neutron network behind it.
#[derive(Clone, Debug)]
pub struct NetInfo {
    pub neutron_id: String,
    /// A user's network adopted with `neutron.net.*`: untag it, never delete it.
    pub existing: bool,
    pub mtu: Option<u32>,
    pub subnets: Vec<SubnetInfo>,
}

/// A port pre-created (or adopted) by RequestAddress, as Neutron last showed it.
#[derive(Clone, Debug)]
pub struct AddressInfo {
    pub port: Port,
    /// A user's port: reset on release, never deleted.
    pub existing: bool,
}

/// An endpoint after CreateEndpoint.
#[derive(Clone, Debug)]
pub struct EndpointInfo {
    pub port_id: String,
    pub existing: bool,
    pub status: String,
    pub status_at: Instant,
    pub tags: Vec<String>,
    pub security_groups: Vec<String>,
    /// Security groups created for exposed ports; `None` when unknown (after a restart).
    pub exposed_groups: Option<Vec<String>>,
    pub vif: Vif,
    /// The port's addresses (nested mode's allowed-address pairs carry them).
    pub ips: Vec<IpAddr>,
    /// The subnets holding the port's addresses.
    pub subnets: Vec<SubnetInfo>,
    /// Every subnet of the network, for Join's static routes.
    pub network_subnets: Vec<SubnetInfo>,
}

#[derive(Default)]
pub struct Cache {
    /// Docker PoolID → pool.
    pub pools: HashMap<String, PoolInfo>,
    /// (address space, CIDR) → Docker PoolID, for CreateNetwork (which gets no PoolID).
    pub pool_ids: HashMap<(String, IpNet), String>,
    /// Docker network id → network.
    pub networks: HashMap<String, NetInfo>,
    /// (Neutron subnet id, address) → the port holding it.
    pub addresses: HashMap<(String, IpAddr), AddressInfo>,
    /// Docker endpoint id → endpoint.
    pub endpoints: HashMap<String, EndpointInfo>,
    /// PoolIDs Docker released while their network still existed (dockerd sends
    /// ReleasePool before DeleteNetwork): DeleteNetwork deletes them after the network.
    pub released: HashMap<String, PoolInfo>,
    /// Address scope ids, by `scope:<name>:<ip version>`.
    pub scopes: HashMap<String, String>,
}
