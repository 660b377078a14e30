//! IpamDriver calls of the embedded backend: pools and addresses.

use super::Embedded;
use super::options;
use crate::Error;
use crate::api::{Empty, MacAddress, ipam as wire, keys};
use crate::ipam::{AllocError, Pool, to_u128};
use crate::store::{Op, PoolRecord};
use ipnet::IpNet;
use std::collections::BTreeMap;

pub(super) async fn request_pool(
    backend: &Embedded,
    req: wire::RequestPoolRequest,
) -> Result<wire::RequestPoolResponse, Error> {
    options::ipam_options(&req.options)?;
    let range = req.sub_pool.map(|range| range.trunc());
    if let Some(pool) = req.pool {
        check_family("Pool", pool, req.v6)?;
    }
    if let Some(range) = range {
        check_family("SubPool", range, req.v6)?;
        if req.pool.is_none() {
            return Err(Error::BadRequest("SubPool is set but Pool is empty".into()));
        }
    }
    let space = req.address_space;

    let (id, cidr, pending) = {
        let mut state = backend.lock();
        let cidr = match req.pool {
            Some(pool) => {
                let cidr = pool.trunc();
                state.ipam.check_explicit(&space, cidr, range)?;
                cidr
            }
            None => state.ipam.choose_default(req.v6)?,
        };
        let id = pool_id(&space, cidr);
        state
            .ipam
            .insert(id.clone(), space.clone(), Pool::new(cidr, range)?)?;
        let record = PoolRecord {
            space,
            cidr,
            range,
            options: req.options,
        };
        let pending = backend.store.submit(vec![Op::PutPool {
            id: id.clone(),
            record,
        }]);
        (id, cidr, pending)
    };
    if let Err(error) = pending.wait().await {
        backend.lock().ipam.remove(&id);
        return Err(error.into());
    }
    Ok(wire::RequestPoolResponse {
        pool_id: id,
        pool: cidr,
        data: BTreeMap::new(),
    })
}

pub(super) async fn release_pool(
    backend: &Embedded,
    req: wire::ReleasePoolRequest,
) -> Result<Empty, Error> {
    let pending = {
        let mut state = backend.lock();
        state.ipam.remove(&req.pool_id).map(|_| {
            backend
                .store
                .submit(vec![Op::DeletePool { id: req.pool_id }])
        })
    };
    if let Some(pending) = pending {
        pending.wait().await?;
    }
    Ok(Empty {})
}

pub(super) async fn request_address(
    backend: &Embedded,
    req: wire::RequestAddressRequest,
) -> Result<wire::RequestAddressResponse, Error> {
    if let Some(mac) = req.options.get(keys::MAC_ADDRESS) {
        // Accepted for compatibility (RequiresMACAddress plugins get it); the network
        // driver applies the MAC, so it only has to be well-formed here.
        mac.parse::<MacAddress>()
            .map_err(|error| Error::BadRequest(format!("option {}: {error}", keys::MAC_ADDRESS)))?;
    }
    let gateway = req
        .options
        .get(keys::REQUEST_ADDRESS_TYPE)
        .map(String::as_str)
        == Some(keys::GATEWAY_TYPE);

    let (address, with_prefix, pending) = {
        let mut state = backend.lock();
        let pool = state
            .ipam
            .get_mut(&req.pool_id)
            .ok_or_else(|| AllocError::UnknownPool(req.pool_id.clone()))?;
        let address = match req.address {
            Some(address) => {
                pool.allocate_specific(address)?;
                address
            }
            None if gateway => pool.allocate_first()?,
            None => pool.allocate_next()?,
        };
        let with_prefix = pool.with_prefix(address);
        let pending = backend.store.submit(vec![Op::AddAddress {
            pool_id: req.pool_id.clone(),
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
    Ok(wire::RequestAddressResponse {
        address: with_prefix,
        data: BTreeMap::new(),
    })
}

pub(super) async fn release_address(
    backend: &Embedded,
    req: wire::ReleaseAddressRequest,
) -> Result<Empty, Error> {
    // dockerd releases addresses the plugin never gave (a driver-supplied address has
    // an empty pool id) and releases after state loss: all of that is success.
    let Some(address) = req.address else {
        return Ok(Empty {});
    };
    let pending = {
        let mut state = backend.lock();
        let released = state
            .ipam
            .get_mut(&req.pool_id)
            .is_some_and(|pool| pool.release(address));
        released.then(|| {
            backend.store.submit(vec![Op::RemoveAddress {
                pool_id: req.pool_id.clone(),
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
    Ok(Empty {})
}

/// Self-describing, so a log line or `kuryr state` says what a pool is.
fn pool_id(space: &str, cidr: IpNet) -> String {
    format!("{space}/{cidr}")
}

fn check_family(field: &str, net: IpNet, v6: bool) -> Result<(), Error> {
    if net.addr().is_ipv6() == v6 {
        Ok(())
    } else {
        let family = if v6 { "IPv6" } else { "IPv4" };
        Err(Error::BadRequest(format!(
            "{field} {net} is not an {family} network (V6 is {v6})"
        )))
    }
}
