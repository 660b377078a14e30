//! IPAM requests and replies: pools and addresses.

use super::{AddressSpace, DriverOptions, MacAddress, PoolId};
use ipnet::IpNet;
use std::net::IpAddr;

/// `GetDefaultAddressSpaces`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSpaces {
    pub local: String,
    pub global: String,
}

/// `RequestPool`, checked: `pool` and `sub_pool` are of the family `v6` says, host bits
/// cleared, and `sub_pool` lies inside `pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRequest {
    pub space: AddressSpace,
    /// `--subnet`, or `None` when the driver chooses.
    pub pool: Option<IpNet>,
    /// `--ip-range`; only with `pool`.
    pub sub_pool: Option<IpNet>,
    /// `--ipam-opt`, Docker's own `com.docker.*` keys removed.
    pub options: DriverOptions,
    pub v6: bool,
}

/// The reply to `RequestPool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolGrant {
    pub pool_id: PoolId,
    pub pool: IpNet,
    /// A gateway the driver chose (`com.docker.network.gateway` in `Data`).
    pub gateway: Option<IpNet>,
}

/// What a `RequestAddress` is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// The network's gateway (`RequestAddressType: com.docker.network.gateway`).
    Gateway,
    /// An endpoint's or an aux address.
    Endpoint,
}

/// `RequestAddress`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRequest {
    pub pool_id: PoolId,
    /// A specific address, or `None` for any free one.
    pub address: Option<IpAddr>,
    pub kind: AddressKind,
    /// The endpoint's MAC, sent when the driver declared `RequiresMACAddress`.
    pub mac: Option<MacAddress>,
    /// `--ipam-opt` entries a swarm manager forwards, Docker's keys removed.
    pub options: DriverOptions,
}

/// `ReleaseAddress`. `pool_id` is `None` when a network driver supplied the address
/// itself (Docker then sends an empty PoolID); there is nothing to release then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRelease {
    pub pool_id: Option<PoolId>,
    pub address: IpAddr,
}
