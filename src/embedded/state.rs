//! The embedded backend's in-memory state, rebuilt from the store at start-up: the
//! allocator, and the network and endpoint records by Docker id.

use crate::ipam::{DefaultPool, Ipam, Pool, from_u128};
use crate::store::{EndpointRecord, NetworkRecord, Snapshot};
use std::collections::HashMap;

pub(super) struct State {
    pub(super) ipam: Ipam,
    pub(super) networks: HashMap<String, NetworkRecord>,
    pub(super) endpoints: HashMap<String, EndpointRecord>,
}

impl State {
    pub(super) fn from_snapshot(snapshot: Snapshot, defaults: Vec<DefaultPool>) -> State {
        let mut ipam = Ipam::new(defaults);
        for (id, record) in snapshot.pools {
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
        }
    }
}
