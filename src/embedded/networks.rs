//! NetworkDriver network calls of the embedded backend: one Linux bridge per network,
//! holding the network's gateway addresses.

use super::Embedded;
use super::{firewall, options};
use crate::Error;
use crate::hostnet::{BridgeSpec, names};
use crate::model::{NetworkId, NetworkSpec, Scope, Subnet};
use crate::store::{NetworkRecord, Op, SubnetRecord};

pub(super) async fn create_network(backend: &Embedded, spec: NetworkSpec) -> Result<(), Error> {
    let parsed = options::network_options(&spec.options)?;
    warn_foreign_swarm_pools(backend, &spec);
    let subnets = |data: &[Subnet]| -> Vec<SubnetRecord> {
        data.iter()
            .map(|subnet| SubnetRecord {
                pool: subnet.pool,
                gateway: subnet.gateway,
            })
            .collect()
    };
    let record = NetworkRecord {
        network_id: spec.id.to_string(),
        bridge: parsed
            .bridge_name
            .clone()
            .unwrap_or_else(|| names::bridge_name(&spec.id)),
        bridge_mac: names::bridge_mac(&spec.id),
        owns_bridge: true,
        mtu: parsed.mtu,
        internal: spec.internal,
        ipv4: subnets(&spec.ipv4),
        ipv6: subnets(&spec.ipv6),
        options: spec.options.into_map(),
    };

    {
        let state = backend.lock();
        if let Some(existing) = state.networks.get(&record.network_id) {
            // dockerd never re-sends CreateNetwork, but a client retrying after a lost
            // reply may; the same request again is success.
            let same = NetworkRecord {
                owns_bridge: existing.owns_bridge,
                ..record.clone()
            };
            if existing == &same {
                return Ok(());
            }
            return Err(Error::InvalidOption(format!(
                "network {} already exists with different settings",
                record.network_id
            )));
        }
        if let Some(other) = state.networks.values().find(|n| n.bridge == record.bridge) {
            return Err(Error::InvalidOption(format!(
                "bridge {} is already used by network {}",
                record.bridge, other.network_id
            )));
        }
    }

    // Only a bridge this call created may be removed on rollback: a named bridge can be
    // the operator's own.
    let existed = backend.host.link_exists(&record.bridge).await?;
    let record = NetworkRecord {
        owns_bridge: !existed,
        ..record
    };
    if let Err(error) = backend.host.ensure_bridge(&bridge_spec(&record)).await {
        return Err(rollback_bridge(backend, &bridge_spec(&record), error.into()).await);
    }

    let pending = {
        let mut state = backend.lock();
        state
            .networks
            .insert(record.network_id.clone(), record.clone());
        backend.store.submit(vec![Op::PutNetwork(record.clone())])
    };
    if let Err(error) = pending.wait().await {
        backend.lock().networks.remove(&record.network_id);
        return Err(rollback_bridge(backend, &bridge_spec(&record), error.into()).await);
    }
    // The rules come after the record is in memory, so a concurrent rebuild for
    // another network includes this one too.
    let network_id = record.network_id.clone();
    let synced = backend
        .sync_firewall_or_undo(|state| {
            state.networks.remove(&network_id);
            vec![Op::DeleteNetwork { network_id }]
        })
        .await;
    if let Err(error) = synced {
        return Err(rollback_bridge(backend, &bridge_spec(&record), error).await);
    }
    if parsed.masquerade && !record.internal {
        firewall::warn_without_forwarding(Some(&record.bridge));
    }
    Ok(())
}

pub(super) async fn delete_network(backend: &Embedded, id: NetworkId) -> Result<(), Error> {
    let (record, stale_endpoints, pending) = {
        let mut state = backend.lock();
        let record = state.networks.remove(id.as_str());
        // dockerd refuses `network rm` while endpoints exist, so any left here are
        // stale records (e.g. from a crash); they go with the network.
        let stale: Vec<_> = state
            .endpoints
            .values()
            .filter(|endpoint| endpoint.network_id == id.as_str())
            .cloned()
            .collect();
        let mut ops: Vec<Op> = stale
            .iter()
            .map(|endpoint| Op::DeleteEndpoint {
                endpoint_id: endpoint.endpoint_id.clone(),
            })
            .collect();
        for endpoint in &stale {
            state.endpoints.remove(&endpoint.endpoint_id);
        }
        if record.is_some() {
            ops.push(Op::DeleteNetwork {
                network_id: id.to_string(),
            });
        }
        let pending = (!ops.is_empty()).then(|| backend.store.submit(ops));
        (record, stale, pending)
    };

    // Teardown tries every step and reports all failures.
    let mut errors = Vec::new();
    for endpoint in &stale_endpoints {
        if let Err(error) = backend.host.delete_link(&endpoint.host_ifname).await {
            errors.push(error.into());
        }
    }
    // Without a record, still remove the bridge the id would have had, so a lost
    // record cannot leave a bridge behind.
    let bridge = match &record {
        Some(record) if record.owns_bridge => Some(record.bridge.clone()),
        Some(_) => None,
        None => Some(names::bridge_name(&id)),
    };
    // Someone else's bridge gets back exactly what it had: only the gateway addresses
    // kuryr put there are taken away.
    if let Some(record) = record.as_ref().filter(|record| !record.owns_bridge) {
        let spec = bridge_spec(record);
        if let Err(error) = backend
            .host
            .remove_addresses(&spec.name, &spec.addresses)
            .await
        {
            errors.push(error.into());
        }
    }
    if let Some(bridge) = bridge {
        if let Err(error) = backend.host.delete_link(&bridge).await {
            errors.push(error.into());
        }
    }
    if let Some(pending) = pending {
        if let Err(error) = pending.wait().await {
            errors.push(error.into());
        }
    }
    if let Err(error) = backend.sync_firewall().await {
        errors.push(error);
    }
    Error::from_all(errors)
}

pub(super) fn bridge_spec(record: &NetworkRecord) -> BridgeSpec {
    BridgeSpec {
        name: record.bridge.clone(),
        addresses: record
            .ipv4
            .iter()
            .chain(&record.ipv6)
            .filter_map(|subnet| subnet.gateway)
            .collect(),
        mtu: record.mtu,
        mac: record.bridge_mac,
        foreign: !record.owns_bridge,
    }
}

async fn rollback_bridge(backend: &Embedded, spec: &BridgeSpec, cause: Error) -> Error {
    let undone = if spec.foreign {
        backend
            .host
            .remove_addresses(&spec.name, &spec.addresses)
            .await
    } else {
        backend.host.delete_link(&spec.name).await
    };
    match undone {
        Ok(()) => cause,
        Err(error) => Error::List(vec![cause, error.into()]),
    }
}

/// `--scope swarm` with a local-scope plugin: the swarm manager drops the network's
/// IPAM driver and `--subnet` (moby#33793, moby#37089), so the node gets a subnet
/// from Docker's default IPAM that kuryr never granted. It works, on an address plan
/// nobody chose; say how to get ours.
fn warn_foreign_swarm_pools(backend: &Embedded, spec: &NetworkSpec) {
    if backend.settings.scope != Scope::Local || spec.id.as_str().len() == 64 {
        return;
    }
    let state = backend.lock();
    for subnet in spec.ipv4.iter().chain(&spec.ipv6) {
        let ours = state
            .ipam
            .pool_ids()
            .any(|id| state.ipam.get(id).is_some_and(|p| p.cidr() == subnet.pool));
        if !ours {
            tracing::warn!(
                network = %spec.id,
                subnet = %subnet.pool,
                "a swarm network whose subnet did not come from kuryr's IPAM: with a local-scope \
                 plugin, `--scope swarm` loses --ipam-driver and --subnet (moby#37089); on every \
                 node run `docker network create --config-only --ipam-driver NAME --subnet ... CFG`, \
                 then `docker network create -d NAME --scope swarm --config-from CFG NET`"
            );
        }
    }
}
