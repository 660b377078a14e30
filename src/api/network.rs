//! `NetworkDriver.*` request and reply bodies (spec §3).

use super::text::{empty_as_none, null_as_default};
use crate::model::MacAddress;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Options whose values are arbitrary JSON (endpoint and sandbox options).
pub type ValueMap = BTreeMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilitiesResponse {
    #[serde(rename = "Scope")]
    pub scope: &'static str,
    #[serde(rename = "ConnectivityScope")]
    pub connectivity_scope: &'static str,
}

/// One pool of a network as IPAM gave it (`IPv4Data` / `IPv6Data` items).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IpamData {
    #[serde(rename = "AddressSpace")]
    pub address_space: String,
    #[serde(rename = "Pool")]
    pub pool: IpNet,
    /// Gateway in CIDR form with the pool's prefix length; absent when none was reserved.
    #[serde(rename = "Gateway", default, deserialize_with = "empty_as_none")]
    pub gateway: Option<IpNet>,
    #[serde(rename = "AuxAddresses", default, deserialize_with = "null_as_default")]
    pub aux_addresses: BTreeMap<String, IpNet>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NetworkOptions {
    /// The user's `-o key=value` options.
    #[serde(
        rename = "com.docker.network.generic",
        default,
        deserialize_with = "null_as_default"
    )]
    pub generic: BTreeMap<String, String>,
    /// Always sent by dockerd; absent only from hand-made requests, meaning off.
    #[serde(rename = "com.docker.network.enable_ipv6", default)]
    pub enable_ipv6: bool,
    /// Engine ≥ 28 only; absent means IPv4 is on.
    #[serde(rename = "com.docker.network.enable_ipv4", default)]
    pub enable_ipv4: Option<bool>,
    #[serde(rename = "com.docker.network.internal", default)]
    pub internal: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreateNetworkRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "Options", deserialize_with = "null_as_default")]
    pub options: NetworkOptions,
    #[serde(rename = "IPv4Data", deserialize_with = "null_as_default")]
    pub ipv4_data: Vec<IpamData>,
    #[serde(rename = "IPv6Data", deserialize_with = "null_as_default")]
    pub ipv6_data: Vec<IpamData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NetworkRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
}

/// `GwAllocCheck` (Engine ≥ 28): only sent when a driver announces `GwAllocChecker`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GwAllocCheckRequest {
    #[serde(rename = "Options", deserialize_with = "null_as_default")]
    pub options: NetworkOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GwAllocCheckResponse {
    #[serde(rename = "SkipIPv4")]
    pub skip_ipv4: bool,
    #[serde(rename = "SkipIPv6")]
    pub skip_ipv6: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EndpointInterface {
    #[serde(rename = "Address", default, deserialize_with = "empty_as_none")]
    pub address: Option<IpNet>,
    #[serde(rename = "AddressIPv6", default, deserialize_with = "empty_as_none")]
    pub address_ipv6: Option<IpNet>,
    #[serde(rename = "MacAddress", default, deserialize_with = "empty_as_none")]
    pub mac_address: Option<MacAddress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreateEndpointRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Old daemons may send `null`.
    #[serde(rename = "Interface", deserialize_with = "null_as_default")]
    pub interface: EndpointInterface,
    #[serde(rename = "Options", deserialize_with = "null_as_default")]
    pub options: ValueMap,
}

/// Fields the driver fills; dockerd refuses a reply that sets a field it already had,
/// even to the same value, so each is only sent when the request left it empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EndpointInterfaceReply {
    #[serde(rename = "Address", skip_serializing_if = "Option::is_none")]
    pub address: Option<IpNet>,
    #[serde(rename = "AddressIPv6", skip_serializing_if = "Option::is_none")]
    pub address_ipv6: Option<IpNet>,
    #[serde(rename = "MacAddress", skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<MacAddress>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateEndpointResponse {
    #[serde(rename = "Interface")]
    pub interface: EndpointInterfaceReply,
}

/// Body of Leave, DeleteEndpoint, EndpointOperInfo and RevokeExternalConnectivity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EndpointRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EndpointOperInfoResponse {
    #[serde(rename = "Value")]
    pub value: ValueMap,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JoinRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "SandboxKey")]
    pub sandbox_key: String,
    #[serde(rename = "Options", deserialize_with = "null_as_default")]
    pub options: ValueMap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceName {
    /// An interface in the host namespace that dockerd moves into the container.
    #[serde(rename = "SrcName")]
    pub src_name: String,
    /// dockerd names it this prefix plus the lowest free number (`eth0`, `eth1`, …).
    #[serde(rename = "DstPrefix")]
    pub dst_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaticRoute {
    #[serde(rename = "Destination")]
    pub destination: IpNet,
    /// 0: via `NextHop`; 1: connected (on-link).
    #[serde(rename = "RouteType")]
    pub route_type: u8,
    #[serde(rename = "NextHop", skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinResponse {
    #[serde(rename = "InterfaceName")]
    pub interface_name: InterfaceName,
    #[serde(rename = "Gateway", skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(rename = "GatewayIPv6", skip_serializing_if = "Option::is_none")]
    pub gateway_ipv6: Option<IpAddr>,
    #[serde(rename = "StaticRoutes", skip_serializing_if = "Vec::is_empty")]
    pub static_routes: Vec<StaticRoute>,
    #[serde(
        rename = "DisableGatewayService",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub disable_gateway_service: bool,
}

/// Body of ProgramExternalConnectivity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProgramExternalConnectivityRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "Options", deserialize_with = "null_as_default")]
    pub options: ValueMap,
}

/// Body of DiscoverNew and DiscoverDelete (swarm, global connectivity scope only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DiscoveryRequest {
    #[serde(rename = "DiscoveryType")]
    pub discovery_type: u32,
    #[serde(rename = "DiscoveryData", deserialize_with = "null_as_default")]
    pub discovery_data: DiscoveryData,
}

/// A swarm node in `DiscoveryData` (type 1, node discovery).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DiscoveryData {
    #[serde(rename = "Address", default, deserialize_with = "empty_as_none")]
    pub address: Option<IpAddr>,
    #[serde(rename = "BindAddress", default, deserialize_with = "empty_as_none")]
    pub bind_address: Option<IpAddr>,
    #[serde(rename = "Self", default)]
    pub is_self: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AllocateNetworkRequest {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// String to string, unlike CreateNetwork's options.
    #[serde(rename = "Options", deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, String>,
    #[serde(rename = "IPv4Data", deserialize_with = "null_as_default")]
    pub ipv4_data: Vec<IpamData>,
    #[serde(rename = "IPv6Data", deserialize_with = "null_as_default")]
    pub ipv6_data: Vec<IpamData>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AllocateNetworkResponse {
    /// Replaces the driver options every node gets; echo the input or they are lost.
    #[serde(rename = "Options")]
    pub options: BTreeMap<String, String>,
}
