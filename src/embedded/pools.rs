//! IpamDriver calls of the embedded backend: pools and addresses.

use super::Embedded;
use super::options;
use crate::Error;
use crate::ipam::{AllocError, Pool, to_u128};
use crate::model::{
    AddressKind, AddressRelease, AddressRequest, NetworkAllocation, PoolGrant, PoolId, PoolRequest,
    Scope,
};
use crate::store::{Op, PoolRecord};
use ipnet::IpNet;

pub(super) async fn request_pool(backend: &Embedded, req: PoolRequest) -> Result<PoolGrant, Error> {
    options::ipam_options(&req.options)?;
    let space = req.space.to_string();

    let (id, cidr, pending) = {
        let mut state = backend.lock();
        let cidr = match req.pool {
            Some(cidr) => {
                match state.ipam.check_explicit(&space, cidr, req.sub_pool) {
                    Ok(()) => {}
                    // Swarm: the manager requests the pool in the global space and each
                    // node again in the local one, and kuryr names both spaces alike
                    // (`no_address_space`, as kuryr-libnetwork). The node's copy is a
                    // pool of its own, holding the addresses the manager chose; only
                    // the exact same CIDR is shared, and only in global scope.
                    Err(AllocError::Overlap { existing, .. })
                        if backend.settings.scope == Scope::Global && existing == cidr.trunc() => {}
                    Err(error) => return Err(error.into()),
                }
                cidr
            }
            None => state.ipam.choose_default(req.v6)?,
        };
        let id = free_pool_id(&state.ipam, &space, cidr)?;
        state.ipam.insert(
            id.to_string(),
            space.clone(),
            Pool::new(cidr, req.sub_pool)?,
        )?;
        let record = PoolRecord {
            space,
            cidr,
            range: req.sub_pool,
            options: req.options.into_map(),
            allocated_for: None,
        };
        state.next_request += 1;
        let order = state.next_request;
        state.requested.insert(id.to_string(), order);
        let pending = backend.store.submit(vec![Op::PutPool {
            id: id.to_string(),
            record,
        }]);
        (id, cidr, pending)
    };
    if let Err(error) = pending.wait().await {
        backend.lock().ipam.remove(&id);
        return Err(error.into());
    }
    Ok(PoolGrant {
        pool_id: id,
        pool: cidr,
        gateway: None,
    })
}

pub(super) async fn release_pool(backend: &Embedded, pool_id: PoolId) -> Result<(), Error> {
    let pending = {
        let mut state = backend.lock();
        state.allocated.remove(pool_id.as_str());
        state.requested.remove(pool_id.as_str());
        state.ipam.remove(&pool_id).map(|_| {
            backend.store.submit(vec![Op::DeletePool {
                id: pool_id.into_string(),
            }])
        })
    };
    if let Some(pending) = pending {
        pending.wait().await?;
    }
    Ok(())
}

pub(super) async fn request_address(
    backend: &Embedded,
    req: AddressRequest,
) -> Result<IpNet, Error> {
    // A MAC (sent to RequiresMACAddress plugins) was checked at the edge; the network
    // driver applies it. No --ipam-opt is ours to honour.
    options::ipam_options(&req.options)?;
    let (address, with_prefix, pending) = {
        let mut state = backend.lock();
        let pool = state
            .ipam
            .get_mut(&req.pool_id)
            .ok_or_else(|| AllocError::UnknownPool(req.pool_id.to_string()))?;
        let address = match req.address {
            Some(address) => {
                pool.allocate_specific(address)?;
                address
            }
            None if req.kind == AddressKind::Gateway => pool.allocate_first()?,
            None => pool.allocate_next()?,
        };
        let with_prefix = pool.with_prefix(address);
        let pending = backend.store.submit(vec![Op::AddAddress {
            pool_id: req.pool_id.to_string(),
            address: to_u128(address),
        }]);
        (address, with_prefix, pending)
    };
    if let Err(error) = pending.wait().await {
        if let Some(pool) = backend.lock().ipam.get_mut(&req.pool_id) {
            pool.release(address);
        }
        return Err(error.into());
    }
    Ok(with_prefix)
}

pub(super) async fn release_address(backend: &Embedded, req: AddressRelease) -> Result<(), Error> {
    // dockerd releases addresses the plugin never gave (a driver-supplied address has
    // an empty pool id) and releases after state loss: all of that is success.
    let Some(pool_id) = req.pool_id else {
        return Ok(());
    };
    let address = req.address;
    let pending = {
        let mut state = backend.lock();
        let released = state
            .ipam
            .get_mut(&pool_id)
            .is_some_and(|pool| pool.release(address));
        released.then(|| {
            backend.store.submit(vec![Op::RemoveAddress {
                pool_id: pool_id.to_string(),
                address: to_u128(address),
            }])
        })
    };
    // A release is acknowledged before its commit lands. It is already ordered before
    // any later allocation of the same address (both go through the store queue in
    // memory order), so a crash can only lose the release itself: the address then stays
    // held until its pool is released. That leak is the safe direction (an address is
    // never handed out twice) and halves the fsyncs Docker waits for per container.
    if let Some(pending) = pending {
        tokio::spawn(async move {
            if let Err(error) = pending.wait().await {
                tracing::error!(%error, "address release not persisted; it stays held");
            }
        });
    }
    Ok(())
}

/// Self-describing, so a log line or `kuryr state` says what a pool is.
/// `<space>/<cidr>`, or for a swarm's second request of the same pool
/// `<space>/<cidr>/<n>` with the first free `n` from 2.
fn free_pool_id(ipam: &crate::ipam::Ipam, space: &str, cidr: IpNet) -> Result<PoolId, Error> {
    let base = cidr.to_string();
    let mut id = PoolId::from_parts(&[space, &base])?;
    let mut n = 2u32;
    while ipam.get(&id).is_some() {
        id = PoolId::from_parts(&[space, &base, &n.to_string()])?;
        n += 1;
    }
    Ok(id)
}

/// Swarm managers only (global scope): AllocateNetwork names the pools it was given.
/// The newest pool of each of its CIDRs that no network holds becomes the network's,
/// and a pool the network held before is dropped with its addresses: after dockerd
/// restarts, its manager requests the pool, the gateway and every task address again
/// (it remembers only what raft holds), and the plugin, which persisted the old pool,
/// would otherwise keep it for ever.
pub(super) async fn allocate_network(
    backend: &Embedded,
    req: &NetworkAllocation,
) -> Result<(), Error> {
    if backend.settings.scope != Scope::Global {
        return Ok(());
    }
    let network = req.id.to_string();
    let pending = {
        let mut state = backend.lock();
        let mut ops = Vec::new();
        for subnet in req.ipv4.iter().chain(&req.ipv6) {
            // swarmkit sends AllocateNetwork's pools with an empty address space.
            let space = subnet.space.to_string();
            let of_cidr = |id: &&str| {
                (space.is_empty() || state.ipam.space_of(id) == Some(space.as_str()))
                    && state.ipam.get(id).is_some_and(|p| p.cidr() == subnet.pool)
            };
            let newest = state
                .ipam
                .pool_ids()
                .filter(of_cidr)
                .filter(|id| !state.allocated.contains_key(*id))
                .max_by_key(|id| state.requested.get(*id).copied().unwrap_or(0))
                .map(str::to_owned);
            let Some(newest) = newest else {
                continue;
            };
            let replaced: Vec<String> = state
                .ipam
                .pool_ids()
                .filter(of_cidr)
                .filter(|id| state.allocated.get(*id) == Some(&network))
                .map(str::to_owned)
                .collect();
            for old in replaced {
                tracing::info!(pool = %old, %network, "dropping the pool a restarted swarm manager replaced");
                state.ipam.remove(&old);
                state.allocated.remove(&old);
                state.requested.remove(&old);
                ops.push(Op::DeletePool { id: old });
            }
            state.allocated.insert(newest.clone(), network.clone());
            ops.push(Op::BindPool {
                id: newest,
                network: network.clone(),
            });
        }
        (!ops.is_empty()).then(|| backend.store.submit(ops))
    };
    if let Some(pending) = pending {
        pending.wait().await?;
    }
    Ok(())
}
