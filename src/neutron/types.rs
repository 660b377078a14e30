//! serde types for the Neutron resources kuryr reads and the bodies it sends. Reads
//! are lenient: unknown fields are ignored and `null` reads as the default, since
//! Neutron versions and plugins differ. Create/update bodies send only what is set.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::request::Kind;

/// A resource that can be listed, fetched, created and updated generically.
pub trait Resource: serde::de::DeserializeOwned {
    const KIND: Kind;
}

/// `null` → `T::default()`.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Network {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    /// When Neutron made it (RFC 3339); `kuryr gc` skips what is too young to judge.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub shared: bool,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct HostRoute {
    pub destination: String,
    pub nexthop: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Subnet {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub network_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub cidr: String,
    #[serde(default)]
    pub ip_version: u8,
    #[serde(default)]
    pub gateway_ip: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub host_routes: Vec<HostRoute>,
    #[serde(default)]
    pub subnetpool_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub enable_dhcp: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct SubnetPool {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    /// When Neutron made it (RFC 3339); `kuryr gc` skips what is too young to judge.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub prefixes: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub shared: bool,
    /// Kept raw: older Neutrons send it as a string.
    #[serde(default)]
    pub default_prefixlen: Value,
    #[serde(default)]
    pub address_scope_id: Option<String>,
    #[serde(default)]
    pub ip_version: Option<u8>,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct AddressScope {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub ip_version: Option<u8>,
    #[serde(default, deserialize_with = "nullable")]
    pub shared: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct AddressPair {
    pub ip_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Port {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    /// When Neutron made it (RFC 3339); `kuryr gc` skips what is too young to judge.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    #[serde(default, deserialize_with = "nullable")]
    pub network_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub mac_address: String,
    #[serde(default, deserialize_with = "nullable")]
    pub fixed_ips: Vec<FixedIp>,
    #[serde(default, deserialize_with = "nullable")]
    pub device_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub device_owner: String,
    #[serde(default, deserialize_with = "nullable")]
    pub admin_state_up: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub security_groups: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub allowed_address_pairs: Vec<AddressPair>,
    #[serde(rename = "binding:host_id", default, deserialize_with = "nullable")]
    pub binding_host_id: String,
    #[serde(rename = "binding:vif_type", default, deserialize_with = "nullable")]
    pub binding_vif_type: String,
    #[serde(rename = "binding:vnic_type", default, deserialize_with = "nullable")]
    pub binding_vnic_type: String,
    #[serde(rename = "binding:vif_details", default)]
    pub binding_vif_details: Value,
    #[serde(rename = "binding:profile", default)]
    pub binding_profile: Value,
    #[serde(default)]
    pub project_id: Option<String>,
    /// Set when the port is a trunk's parent (the `trunk-details` extension).
    #[serde(default)]
    pub trunk_details: Option<TrunkDetails>,
    /// Bumped by Neutron on every change; an update sent with
    /// `If-Match: revision_number=N` fails with 412 once it moved.
    #[serde(default)]
    pub revision_number: u64,
    #[serde(default)]
    pub port_security_enabled: Option<bool>,
}

/// A parent port's trunk and its subports.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct TrunkDetails {
    pub trunk_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub sub_ports: Vec<SubPort>,
}

/// One subport of a trunk, as Neutron lists it and as `add_subports` takes it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct SubPort {
    pub port_id: String,
    pub segmentation_type: String,
    pub segmentation_id: u32,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct SecurityGroupRule {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub security_group_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub direction: String,
    #[serde(default)]
    pub ethertype: Option<String>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port_range_min: Option<u32>,
    #[serde(default)]
    pub port_range_max: Option<u32>,
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct SecurityGroup {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    /// When Neutron made it (RFC 3339); `kuryr gc` skips what is too young to judge.
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: String,
    #[serde(default, deserialize_with = "nullable")]
    pub security_group_rules: Vec<SecurityGroupRule>,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<String>,
}

/// A Neutron agent (`GET /v2.0/agents`): which hosts Neutron knows.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Agent {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub host: String,
    #[serde(default, deserialize_with = "nullable")]
    pub agent_type: String,
    #[serde(default)]
    pub alive: bool,
}

impl Resource for Agent {
    const KIND: Kind = Kind::Agents;
}

impl Resource for Network {
    const KIND: Kind = Kind::Networks;
}
impl Resource for Subnet {
    const KIND: Kind = Kind::Subnets;
}
impl Resource for SubnetPool {
    const KIND: Kind = Kind::SubnetPools;
}
impl Resource for AddressScope {
    const KIND: Kind = Kind::AddressScopes;
}
impl Resource for Port {
    const KIND: Kind = Kind::Ports;
}
impl Resource for SecurityGroup {
    const KIND: Kind = Kind::SecurityGroups;
}
impl Resource for SecurityGroupRule {
    const KIND: Kind = Kind::SecurityGroupRules;
}

/// A resource with Neutron's standard `description` attribute, which kuryr uses to
/// find what a create made when its answer was lost.
pub trait Described: Resource {
    fn id(&self) -> &str;
    fn description(&self) -> &str;
}

macro_rules! described {
    ($($t:ty),*) => {$(
        impl Described for $t {
            fn id(&self) -> &str { &self.id }
            fn description(&self) -> &str { &self.description }
        }
    )*};
}
described!(Network, Subnet, SubnetPool, Port);

/// `{"port": {...}}`.
#[derive(Clone, Debug, Deserialize)]
pub struct PortEnvelope {
    pub port: Port,
}

/// `{"ports": [...], "ports_links": [...]}`.
#[derive(Clone, Debug, Deserialize)]
pub struct PortsEnvelope {
    pub ports: Vec<Port>,
    #[serde(default)]
    pub ports_links: Vec<Value>,
}

/// A create or update body, sent as `{"<singular>": body}`.
pub trait Body: Serialize {
    const KIND: Kind;
}

macro_rules! body {
    ($(#[$m:meta])* $name:ident, $kind:expr, { $($field:tt)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, Default, Serialize, PartialEq)]
        pub struct $name { $($field)* }
        impl Body for $name { const KIND: Kind = $kind; }
    };
}

body!(NetworkCreate, Kind::Networks, {
    #[serde(skip_serializing_if = "Option::is_none")] pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub admin_state_up: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")] pub shared: Option<bool>,
});
body!(NetworkUpdate, Kind::Networks, {
    #[serde(skip_serializing_if = "Option::is_none")] pub name: Option<String>,
});
body!(SubnetCreate, Kind::Subnets, {
    #[serde(skip_serializing_if = "Option::is_none")] pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub name: Option<String>,
    pub network_id: String,
    pub ip_version: u8,
    #[serde(skip_serializing_if = "Option::is_none")] pub cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub enable_dhcp: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")] pub subnetpool_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub gateway_ip: Option<String>,
});
body!(SubnetPoolCreate, Kind::SubnetPools, {
    #[serde(skip_serializing_if = "Option::is_none")] pub description: Option<String>,
    pub name: String,
    pub prefixes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub default_prefixlen: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")] pub shared: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")] pub address_scope_id: Option<String>,
});
body!(AddressScopeCreate, Kind::AddressScopes, {
    pub name: String,
    pub ip_version: u8,
    #[serde(skip_serializing_if = "Option::is_none")] pub shared: Option<bool>,
});
body!(PortCreate, Kind::Ports, {
    #[serde(skip_serializing_if = "Option::is_none")] pub description: Option<String>,
    pub network_id: String,
    #[serde(skip_serializing_if = "Option::is_none")] pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub admin_state_up: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")] pub fixed_ips: Option<Vec<FixedIpRequest>>,
    #[serde(skip_serializing_if = "Option::is_none")] pub mac_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub device_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub device_owner: Option<String>,
    #[serde(rename = "binding:host_id", skip_serializing_if = "Option::is_none")] pub binding_host_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub security_groups: Option<Vec<String>>,
    /// Kept by Neutron only with `tag-ports-during-bulk-creation`; dropped otherwise.
    #[serde(skip_serializing_if = "Option::is_none")] pub tags: Option<Vec<String>>,
});
body!(PortUpdate, Kind::Ports, {
    #[serde(skip_serializing_if = "Option::is_none")] pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub admin_state_up: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")] pub mac_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub device_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub device_owner: Option<String>,
    #[serde(rename = "binding:host_id", skip_serializing_if = "Option::is_none")] pub binding_host_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub security_groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")] pub allowed_address_pairs: Option<Vec<AddressPair>>,
    #[serde(skip_serializing_if = "Option::is_none")] pub fixed_ips: Option<Vec<FixedIpRequest>>,
});
body!(SecurityGroupCreate, Kind::SecurityGroups, {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")] pub description: Option<String>,
});
body!(SecurityGroupRuleCreate, Kind::SecurityGroupRules, {
    pub security_group_id: String,
    pub direction: String,
    #[serde(skip_serializing_if = "Option::is_none")] pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub port_range_min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")] pub port_range_max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")] pub ethertype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")] pub remote_ip_prefix: Option<String>,
});

/// One `fixed_ips` item of a port request: a subnet, optionally a specific address.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct FixedIpRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}
