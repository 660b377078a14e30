//! What the store persists, one record type per table. These are the plugin's own
//! durable facts, independent of the wire format: a renamed JSON field in the protocol
//! must not change what is on disk.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// An IPAM pool handed to Docker. Its allocations live in the `addresses` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRecord {
    pub space: String,
    pub cidr: IpNet,
    /// `--ip-range`: where dynamic addresses come from.
    pub range: Option<IpNet>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The swarm network a manager's `AllocateNetwork` bound this pool to (global
    /// scope): a later pool bound to the same network replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_for: Option<String>,
}

/// One pool of a network, as the network driver saw it at CreateNetwork.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetRecord {
    pub pool: IpNet,
    pub gateway: Option<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub network_id: String,
    pub bridge: String,
    pub bridge_mac: [u8; 6],
    /// Whether this plugin created the bridge (and so may delete it). False when the
    /// user named an existing bridge with `-o com.docker.network.bridge.name`.
    #[serde(default = "owns_by_default")]
    pub owns_bridge: bool,
    pub mtu: Option<u32>,
    pub internal: bool,
    pub ipv4: Vec<SubnetRecord>,
    pub ipv6: Vec<SubnetRecord>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

fn owns_by_default() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub endpoint_id: String,
    pub network_id: String,
    pub host_ifname: String,
    pub container_ifname: String,
    pub mac: [u8; 6],
    pub address: Option<IpNet>,
    pub address_ipv6: Option<IpNet>,
    /// Its published ports while it is the container's gateway endpoint
    /// (ProgramExternalConnectivity until Revoke). Absent in records written before
    /// kuryr published ports, and when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<PublishedPort>,
}

/// One published port with its host port chosen: `host_ip:host_port` → `port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublishedPort {
    /// The IP protocol number (6 tcp, 17 udp, 132 sctp).
    pub proto: u8,
    /// `None`: every host address (of the families the endpoint has).
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub port: u16,
}

/// One change to durable state. A batch of ops commits atomically, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    PutPool {
        id: String,
        record: PoolRecord,
    },
    /// Sets `allocated_for` on a stored pool (nothing if it is gone).
    BindPool {
        id: String,
        network: String,
    },
    /// Also drops every address of the pool.
    DeletePool {
        id: String,
    },
    AddAddress {
        pool_id: String,
        address: u128,
    },
    RemoveAddress {
        pool_id: String,
        address: u128,
    },
    PutNetwork(NetworkRecord),
    DeleteNetwork {
        network_id: String,
    },
    PutEndpoint(EndpointRecord),
    DeleteEndpoint {
        endpoint_id: String,
    },
}

/// Everything the store holds, read at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub pools: Vec<(String, PoolRecord)>,
    /// (pool id, address as an integer; IPv4 widened from u32).
    pub addresses: Vec<(String, u128)>,
    pub networks: Vec<NetworkRecord>,
    pub endpoints: Vec<EndpointRecord>,
}
