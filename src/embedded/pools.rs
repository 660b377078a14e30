//! IpamDriver calls of the embedded backend: pools and addresses.

use super::Embedded;
use super::options;
use crate::Error;
use crate::ipam::{AllocError, Pool, to_u128};
use crate::model::{AddressKind, AddressRelease, AddressRequest, PoolGrant, PoolId, PoolRequest};
use crate::store::{Op, PoolRecord};
use ipnet::IpNet;

pub(super) async fn request_pool(backend: &Embedded, req: PoolRequest) -> Result<PoolGrant, Error> {
    options::ipam_options(&req.options)?;
    let space = req.space.to_string();

    let (id, cidr, pending) = {
        let mut state = backend.lock();
        let cidr = match req.pool {
            Some(cidr) => {
                state.ipam.check_explicit(&space, cidr, req.sub_pool)?;
                cidr
            }
            None => state.ipam.choose_default(req.v6)?,
        };
        let id = pool_id(&space, cidr)?;
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
        };
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
fn pool_id(space: &str, cidr: IpNet) -> Result<PoolId, Error> {
    Ok(PoolId::from_parts(&[space, &cidr.to_string()])?)
}
