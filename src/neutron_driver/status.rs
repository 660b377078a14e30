//! `/Kuryr.Status` for the Neutron backend: what this plugin knows, from its cache
//! (filled as calls arrive, and after a restart as they find things again), the
//! deletes it still owes Neutron, and its port pools. Neutron holds the rest; an
//! address count here is this host's, so a pool's free addresses are not given.

use std::time::Duration;

use ipnet::IpNet;

use crate::model::{Backlog, EndpointStatus, NetworkStatus, PoolStatus, PoolUsage, Status};

use super::NeutronDriver;
use super::state::Cache;

impl NeutronDriver {
    /// Every pool this plugin knows, for the metrics (see [`pool_usage`]).
    pub(super) fn pool_usage_now(&self) -> Vec<PoolUsage> {
        pool_usage(&self.cache())
    }

    pub(super) async fn status_now(&self) -> Status {
        let left = self.drain(Duration::ZERO).await;
        let ready = self.ready_pool_ports();
        let pooled = self.pools.is_some();
        let cache = self.cache();
        let mut networks: Vec<NetworkStatus> = cache
            .networks
            .iter()
            .map(|(id, n)| NetworkStatus {
                network_id: id.clone(),
                backing: n.neutron_id.clone(),
                subnets: n.subnets.iter().map(|s| s.cidr).collect(),
                ready_ports: pooled
                    .then(|| n.subnets.iter().filter_map(|s| ready.get(&s.id)).sum()),
            })
            .collect();
        networks.sort_by(|a, b| a.network_id.cmp(&b.network_id));
        let space_of = |pool_id: &str| {
            cache
                .pool_ids
                .iter()
                .find(|(_, id)| id.as_str() == pool_id)
                .map(|((space, _), _)| space.clone())
                .unwrap_or_default()
        };
        let mut pools: Vec<PoolStatus> = pool_usage(&cache)
            .into_iter()
            .map(|usage| PoolStatus {
                address_space: space_of(&usage.pool_id),
                pool_id: usage.pool_id,
                cidr: usage.cidr,
                size: usage.size,
                used: usage.used,
                free: None,
            })
            .collect();
        pools.sort_by(|a, b| a.pool_id.cmp(&b.pool_id));
        let mut endpoints: Vec<EndpointStatus> = cache
            .endpoints
            .iter()
            .map(|(eid, e)| {
                let network_id = cache
                    .networks
                    .iter()
                    .find(|(_, n)| {
                        e.subnets
                            .iter()
                            .any(|s| n.subnets.iter().any(|m| m.id == s.id))
                    })
                    .map(|(id, _)| id.clone())
                    .unwrap_or_default();
                let addresses = e
                    .ips
                    .iter()
                    .map(|ip| {
                        let len = e
                            .subnets
                            .iter()
                            .find(|s| s.contains(*ip))
                            .map_or(if ip.is_ipv4() { 32 } else { 128 }, |s| s.cidr.prefix_len());
                        IpNet::new(*ip, len).unwrap_or_else(|_| IpNet::from(*ip))
                    })
                    .collect();
                EndpointStatus {
                    endpoint_id: eid.clone(),
                    network_id,
                    addresses,
                    interface: e.port_id.clone(),
                }
            })
            .collect();
        endpoints.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
        Status {
            backend: "neutron",
            networks,
            pools,
            endpoints,
            backlog: Backlog {
                pending: left.pending,
                errors: left.errors,
            },
        }
    }
}

/// Each pool in the cache: its size from its CIDR, and as used the addresses this
/// host's endpoints and pending requests hold in its subnet. Neutron's other
/// holders (other hosts, DHCP, VMs) are not counted: asking Neutron at each scrape
/// would put a request on every scrape of every host.
fn pool_usage(cache: &Cache) -> Vec<PoolUsage> {
    cache
        .pools
        .iter()
        .map(|(id, pool)| {
            let subnet = pool.subnet.as_ref().map(|subnet| subnet.id.as_str());
            PoolUsage {
                pool_id: id.clone(),
                cidr: pool.cidr,
                size: crate::ipam::Pool::new(pool.cidr, None)
                    .map(|pool| pool.usable_count())
                    .unwrap_or(0),
                used: cache
                    .addresses
                    .keys()
                    .filter(|(subnet_id, _)| Some(subnet_id.as_str()) == subnet)
                    .count() as u128,
            }
        })
        .collect()
}
