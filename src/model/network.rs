//! Networks: `CreateNetwork`'s spec, swarm's `AllocateNetwork`, `GwAllocCheck`, and
//! discovery.

use super::{AddressSpace, DriverOptions, NetworkId};
use ipnet::IpNet;
use std::net::IpAddr;

/// One pool of a network as IPAM gave it, checked: the gateway and aux addresses lie
/// inside `pool`, and all are of the family of the list it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub space: AddressSpace,
    /// Host bits cleared.
    pub pool: IpNet,
    /// In CIDR form with the pool's prefix length, as Docker sends it.
    pub gateway: Option<IpNet>,
    pub aux_addresses: Vec<(String, IpAddr)>,
}

/// `CreateNetwork`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    pub id: NetworkId,
    /// Empty when IPv4 is disabled (Engine ≥ 28 `enable_ipv4: false`).
    pub ipv4: Vec<Subnet>,
    pub ipv6: Vec<Subnet>,
    pub ipv4_enabled: bool,
    pub ipv6_enabled: bool,
    /// `--internal`: no traffic beyond the network.
    pub internal: bool,
    /// The user's `-o` options.
    pub options: DriverOptions,
}

impl NetworkSpec {
    /// Whether `address` lies in one of the network's pools of its family.
    pub fn holds(&self, address: IpAddr) -> bool {
        let pools = if address.is_ipv4() {
            &self.ipv4
        } else {
            &self.ipv6
        };
        pools.iter().any(|subnet| subnet.pool.contains(&address))
    }
}

/// `AllocateNetwork` on a swarm manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAllocation {
    pub id: NetworkId,
    pub ipv4: Vec<Subnet>,
    pub ipv6: Vec<Subnet>,
    /// The network's driver options; the reply's options replace them on every node.
    pub options: DriverOptions,
}

/// `GwAllocCheck` (Engine ≥ 28): the options `CreateNetwork` will get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GwAllocCheck {
    pub ipv4_enabled: bool,
    pub ipv6_enabled: bool,
    pub internal: bool,
    pub options: DriverOptions,
}

/// The reply to `GwAllocCheck`: which families need no gateway reserved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GwSkip {
    pub ipv4: bool,
    pub ipv6: bool,
}

/// `DiscoverNew` / `DiscoverDelete` of a swarm node (type 1, the only one forwarded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub address: Option<IpAddr>,
    pub is_self: bool,
}
