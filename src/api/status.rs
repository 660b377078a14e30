//! `/Kuryr.Status`: kuryr's own call, not libnetwork's, answered by the running plugin
//! for `kuryr status`; dockerd never sends it. Its body is empty (or `{}`). The same
//! JSON is what `kuryr status --json` prints, also when it reads a stopped plugin's
//! state dir instead (`source` says which).

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub version: String,
    pub backend: String,
    /// `plugin` (answered by the running plugin) or `state_dir` (read from disk).
    pub source: String,
    /// Seconds since the plugin started; absent when read from disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_secs: Option<u64>,
    /// Where the plugin listens (filled in by `kuryr status` from the config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<String>,
    pub networks: Vec<NetworkJson>,
    pub pools: Vec<PoolJson>,
    pub endpoints: Vec<EndpointJson>,
    /// Deletes owed to Neutron and not done yet.
    pub pending_deletes: usize,
    /// The last error of each pending delete that failed (it is being retried).
    pub delete_errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkJson {
    pub network_id: String,
    /// The bridge (embedded) or the Neutron network id.
    pub backing: String,
    pub subnets: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_ports: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolJson {
    pub pool_id: String,
    pub address_space: String,
    pub cidr: IpNet,
    pub size: u128,
    pub used: u128,
    /// Absent where Neutron decides what is free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free: Option<u128>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointJson {
    pub endpoint_id: String,
    pub network_id: String,
    pub addresses: Vec<IpNet>,
    pub interface: String,
}

impl StatusResponse {
    pub fn new(status: model::Status, source: &str, uptime_secs: Option<u64>) -> StatusResponse {
        StatusResponse {
            version: env!("CARGO_PKG_VERSION").to_string(),
            backend: status.backend.to_string(),
            source: source.to_string(),
            uptime_secs,
            listener: None,
            networks: status
                .networks
                .into_iter()
                .map(|n| NetworkJson {
                    network_id: n.network_id,
                    backing: n.backing,
                    subnets: n.subnets,
                    ready_ports: n.ready_ports,
                })
                .collect(),
            pools: status
                .pools
                .into_iter()
                .map(|p| PoolJson {
                    pool_id: p.pool_id,
                    address_space: p.address_space,
                    cidr: p.cidr,
                    size: p.size,
                    used: p.used,
                    free: p.free,
                })
                .collect(),
            endpoints: status
                .endpoints
                .into_iter()
                .map(|e| EndpointJson {
                    endpoint_id: e.endpoint_id,
                    network_id: e.network_id,
                    addresses: e.addresses,
                    interface: e.interface,
                })
                .collect(),
            pending_deletes: status.backlog.pending,
            delete_errors: status.backlog.errors,
        }
    }
}
