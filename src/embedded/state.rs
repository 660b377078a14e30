//! The embedded backend's in-memory state, rebuilt from the store at start-up: the
//! allocator, and the network and endpoint records by Docker id.

use crate::ipam::{DefaultPool, Ipam, Pool, from_u128};
use crate::store::{EndpointRecord, NetworkRecord, Snapshot};
use std::collections::HashMap;

pub(super) struct State {
    pub(super) ipam: Ipam,
    pub(super) networks: HashMap<String, NetworkRecord>,
    pub(super) endpoints: HashMap<String, EndpointRecord>,
    /// Swarm (global scope): pool id → the network a manager's AllocateNetwork bound
    /// it to (`pools::allocate_network`).
    pub(super) allocated: HashMap<String, String>,
    /// When each pool was requested in this process (a counter), so the newest of
    /// several copies of one CIDR can be told apart; pools restored from the store
    /// count as oldest.
    pub(super) requested: HashMap<String, u64>,
    pub(super) next_request: u64,
}

impl State {
    pub(super) fn from_snapshot(snapshot: Snapshot, defaults: Vec<DefaultPool>) -> State {
        let mut ipam = Ipam::new(defaults);
        let mut allocated = HashMap::new();
        for (id, record) in snapshot.pools {
            if let Some(network) = &record.allocated_for {
                allocated.insert(id.clone(), network.clone());
            }
            // A stored pool was valid when stored; if it no longer builds (a changed
            // rule), skip it loudly rather than refuse to start.
            match Pool::new(record.cidr, record.range) {
                Ok(pool) => {
                    if let Err(error) = ipam.insert(id.clone(), record.space, pool) {
                        tracing::error!(pool_id = %id, %error, "stored pool not restored");
                    }
                }
                Err(error) => tracing::error!(pool_id = %id, %error, "stored pool not restored"),
            }
        }
        for (pool_id, number) in snapshot.addresses {
            let Some(pool) = ipam.get_mut(&pool_id) else {
                tracing::warn!(%pool_id, "stored address of an unknown pool ignored");
                continue;
            };
            let address = from_u128(pool.cidr().addr().is_ipv6(), number);
            pool.restore(address);
        }
        State {
            ipam,
            networks: snapshot
                .networks
                .into_iter()
                .map(|network| (network.network_id.clone(), network))
                .collect(),
            endpoints: snapshot
                .endpoints
                .into_iter()
                .map(|endpoint| (endpoint.endpoint_id.clone(), endpoint))
                .collect(),
            allocated,
            requested: HashMap::new(),
            next_request: 1,
        }
    }
}
