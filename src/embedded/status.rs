//! `/Kuryr.Status` for the embedded backend: its state as an operator reads it. The
//! same function serves the running plugin and `kuryr status` reading a stopped
//! plugin's store, so the two cannot disagree.

use ipnet::IpNet;

use crate::model::{EndpointStatus, NetworkStatus, PoolStatus, Status};
use crate::store::Snapshot;

use super::state::State;

pub(super) fn of(state: &State) -> Status {
    let mut networks: Vec<NetworkStatus> = state
        .networks
        .values()
        .map(|n| NetworkStatus {
            network_id: n.network_id.clone(),
            backing: n.bridge.clone(),
            subnets: n.ipv4.iter().chain(&n.ipv6).map(|s| s.pool).collect(),
            ready_ports: None,
        })
        .collect();
    networks.sort_by(|a, b| a.network_id.cmp(&b.network_id));
    let mut pools: Vec<PoolStatus> = state
        .ipam
        .pool_ids()
        .filter_map(|id| {
            let pool = state.ipam.get(id)?;
            Some(PoolStatus {
                pool_id: id.to_string(),
                address_space: state.ipam.space_of(id).unwrap_or_default().to_string(),
                cidr: pool.cidr(),
                size: pool.usable_count(),
                used: pool.allocated_count(),
                free: Some(pool.free_count()),
            })
        })
        .collect();
    pools.sort_by(|a, b| a.pool_id.cmp(&b.pool_id));
    let mut endpoints: Vec<EndpointStatus> = state
        .endpoints
        .values()
        .map(|e| EndpointStatus {
            endpoint_id: e.endpoint_id.clone(),
            network_id: e.network_id.clone(),
            addresses: [e.address, e.address_ipv6]
                .into_iter()
                .flatten()
                .collect::<Vec<IpNet>>(),
            interface: e.host_ifname.clone(),
        })
        .collect();
    endpoints.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
    Status {
        backend: "embedded",
        networks,
        pools,
        endpoints,
        backlog: Default::default(),
    }
}

/// The status a stopped plugin left in its store (`kuryr status` without a plugin).
pub fn from_snapshot(snapshot: Snapshot) -> Status {
    of(&State::from_snapshot(snapshot, Vec::new()))
}
