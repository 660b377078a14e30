//! IP address management core: address pools, their allocations, overlap
//! checks between pools and the choice of default subnets.
//!
//! It only decides. It does no I/O, no async, reads no clock, draws no random
//! number and logs nothing: the store persists pools and allocations, the
//! plugin handlers log and reply to Docker, and state is rebuilt at startup
//! through [`Ipam::insert`] and [`Pool::restore`].

mod addr;
mod defaults;
mod free_set;
mod overlap;
mod pool;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;

pub use addr::{from_u128, to_u128};
pub use defaults::DefaultPool;
pub use free_set::FreeSet;
pub use pool::{Pool, RestoreOutcome};

use overlap::PoolIndex;

/// Why a pool or address request was refused. Messages reach Docker users
/// verbatim, so each names the pool or address at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("address {addr} is not in pool {pool}")]
    NotInPool { addr: IpAddr, pool: IpNet },
    #[error("address {addr} is already in use in pool {pool}")]
    InUse { addr: IpAddr, pool: IpNet },
    #[error("address {addr} is the network or broadcast address of pool {pool}")]
    Reserved { addr: IpAddr, pool: IpNet },
    #[error("no free address left in {range}")]
    Exhausted { range: IpNet },
    #[error("pool {pool} overlaps pool {existing} already in use in address space {space:?}")]
    Overlap {
        pool: IpNet,
        existing: IpNet,
        space: String,
    },
    #[error("ip range {range} is not inside pool {pool}")]
    RangeOutsidePool { range: IpNet, pool: IpNet },
    #[error("ip range {range} is not of the same address family as pool {pool}")]
    FamilyMismatch { range: IpNet, pool: IpNet },
    #[error("no free {family} pool left in the default address pools")]
    NoDefaultPool { family: &'static str },
    #[error("default address pool {base} cannot be split into /{size} subnets")]
    InvalidDefaultPool { base: IpNet, size: u8 },
    #[error("unknown pool {0}")]
    UnknownPool(String),
    #[error("pool id {0} is already in use")]
    DuplicatePoolId(String),
}

#[derive(Debug, Clone)]
struct HeldPool {
    space: String,
    pool: Pool,
}

/// Every pool, keyed by a pool id the caller chooses, each in an address space.
#[derive(Debug, Clone, Default)]
pub struct Ipam {
    defaults: Vec<DefaultPool>,
    pools: BTreeMap<String, HeldPool>,
    /// Held CIDRs of every space, for choosing default subnets.
    all: PoolIndex,
    /// Held CIDRs per address space, for explicit-pool overlap checks.
    by_space: HashMap<String, PoolIndex>,
}

impl Ipam {
    pub fn new(defaults: Vec<DefaultPool>) -> Ipam {
        Ipam {
            defaults,
            ..Ipam::default()
        }
    }

    pub fn defaults(&self) -> &[DefaultPool] {
        &self.defaults
    }

    /// Validates an explicit `--subnet`/`--ip-range` request: the range inside
    /// the pool and of its family, and no overlap with a pool of the same
    /// address space (other spaces may overlap). Inserts nothing.
    pub fn check_explicit(
        &self,
        space: &str,
        cidr: IpNet,
        range: Option<IpNet>,
    ) -> Result<(), AllocError> {
        pool::validate_range(cidr, range)?;
        let cidr = cidr.trunc();
        let existing = self
            .by_space
            .get(space)
            .and_then(|index| index.find_overlap(cidr));
        match existing {
            Some(existing) => Err(AllocError::Overlap {
                pool: cidr,
                existing,
                space: space.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// First default subnet of the family overlapping no pool held in any
    /// space. Inserts nothing; while earlier results are held, later calls
    /// return other subnets.
    pub fn choose_default(&self, v6: bool) -> Result<IpNet, AllocError> {
        defaults::choose(&self.defaults, v6, &self.all)
    }

    /// Holds a pool. Overlap is not checked here, so a store is restored as it
    /// was found; new requests go through `check_explicit` or
    /// `choose_default` first.
    pub fn insert(&mut self, id: String, space: String, pool: Pool) -> Result<(), AllocError> {
        if self.pools.contains_key(&id) {
            return Err(AllocError::DuplicatePoolId(id));
        }
        let cidr = pool.cidr();
        self.all.add(cidr);
        self.by_space.entry(space.clone()).or_default().add(cidr);
        self.pools.insert(id, HeldPool { space, pool });
        Ok(())
    }

    /// Drops a pool; `None` if there was none. Idempotent.
    pub fn remove(&mut self, id: &str) -> Option<Pool> {
        let held = self.pools.remove(id)?;
        let cidr = held.pool.cidr();
        self.all.remove(cidr);
        if let Some(index) = self.by_space.get_mut(&held.space) {
            index.remove(cidr);
            if index.is_empty() {
                self.by_space.remove(&held.space);
            }
        }
        Some(held.pool)
    }

    pub fn get(&self, id: &str) -> Option<&Pool> {
        self.pools.get(id).map(|h| &h.pool)
    }

    /// The pool's CIDR cannot change through this, so the overlap indexes
    /// stay true.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Pool> {
        self.pools.get_mut(id).map(|h| &mut h.pool)
    }

    /// [`Ipam::get_mut`] with the error Docker should see for a stale id.
    pub fn pool_mut(&mut self, id: &str) -> Result<&mut Pool, AllocError> {
        self.get_mut(id)
            .ok_or_else(|| AllocError::UnknownPool(id.to_owned()))
    }

    pub fn space_of(&self, id: &str) -> Option<&str> {
        self.pools.get(id).map(|h| h.space.as_str())
    }

    /// Pool ids in ascending order.
    pub fn pool_ids(&self) -> impl Iterator<Item = &str> {
        self.pools.keys().map(String::as_str)
    }

    /// Every pool with its id, in ascending id order.
    pub fn pools(&self) -> impl Iterator<Item = (&str, &Pool)> {
        self.pools
            .iter()
            .map(|(id, held)| (id.as_str(), &held.pool))
    }

    pub fn len(&self) -> usize {
        self.pools.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }
}
