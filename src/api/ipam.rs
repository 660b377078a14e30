//! `IpamDriver.*` request and reply bodies (spec §4).

use super::text::{empty_as_none, ip_lenient, null_as_default};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

pub type StringMap = BTreeMap<String, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CapabilitiesResponse {
    #[serde(rename = "RequiresMACAddress")]
    pub requires_mac_address: bool,
    #[serde(rename = "RequiresRequestReplay")]
    pub requires_request_replay: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefaultAddressSpacesResponse {
    #[serde(rename = "LocalDefaultAddressSpace")]
    pub local: String,
    #[serde(rename = "GlobalDefaultAddressSpace")]
    pub global: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RequestPoolRequest {
    #[serde(rename = "AddressSpace")]
    pub address_space: String,
    /// `--subnet`, or `None` when the driver should choose.
    #[serde(rename = "Pool", deserialize_with = "empty_as_none")]
    pub pool: Option<IpNet>,
    /// `--ip-range`: dynamic addresses come from here.
    #[serde(rename = "SubPool", deserialize_with = "empty_as_none")]
    pub sub_pool: Option<IpNet>,
    /// `--ipam-opt`, the same map for every pool of the network.
    #[serde(rename = "Options", deserialize_with = "null_as_default")]
    pub options: StringMap,
    #[serde(rename = "V6")]
    pub v6: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestPoolResponse {
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    #[serde(rename = "Pool")]
    pub pool: IpNet,
    #[serde(rename = "Data")]
    pub data: StringMap,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReleasePoolRequest {
    #[serde(rename = "PoolID")]
    pub pool_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RequestAddressRequest {
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    /// A specific address (`--ip`, `--gateway`, `--aux-address`), or `None` for any.
    #[serde(rename = "Address", deserialize_with = "empty_as_none")]
    pub address: Option<IpAddr>,
    #[serde(rename = "Options", deserialize_with = "null_as_default")]
    pub options: StringMap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestAddressResponse {
    /// CIDR form with the pool's prefix length; Docker configures exactly this.
    #[serde(rename = "Address")]
    pub address: IpNet,
    #[serde(rename = "Data")]
    pub data: StringMap,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReleaseAddressRequest {
    /// Empty when a network driver supplied the address itself (spec §3.5).
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    #[serde(rename = "Address", deserialize_with = "ip_lenient")]
    pub address: Option<IpAddr>,
}
