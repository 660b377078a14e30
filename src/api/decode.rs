//! The one decode step: wire requests into `model` values, checked. Everything a
//! backend relies on is established here, before any backend runs, so a bad request
//! is refused with a 400 that names the field and nothing is created on the way:
//! ids have Docker's shape, pools and addresses are of the family their slot says,
//! sub-pools, gateways and aux addresses lie inside their pool, and Docker's own
//! option keys are read into typed fields (the backends never see `com.docker.*`).

use super::ipam as wire_ipam;
use super::keys;
use super::network as wire;
use crate::model::{
    AddressKind, AddressRelease, AddressRequest, AddressSpace, Connectivity, Discovery,
    DriverOptions, EndpointId, EndpointRef, EndpointSpec, ExposedPort, GwAllocCheck, Invalid,
    JoinSpec, MacAddress, NetworkAllocation, NetworkId, NetworkSpec, PoolId, PoolRequest,
    PortBinding, Protocol, Subnet,
};
use ipnet::IpNet;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Longest sandbox key we accept (a path under dockerd's exec root).
const SANDBOX_KEY_MAX: usize = 4096;
/// More ports than any container has; bounds the work a body can ask for.
const PORTS_MAX: usize = 65_536;

/// Docker's own keys in option maps: `com.docker.*` belongs to dockerd (swarm managers
/// forward `com.docker.network.ipam.serial`, endpoints carry DNS servers and sysctls),
/// so they never count as the user's driver options.
fn is_docker_key(key: &str) -> bool {
    key.starts_with("com.docker.")
}

fn user_options(field: &str, map: BTreeMap<String, String>) -> Result<DriverOptions, Invalid> {
    let user = map
        .into_iter()
        .filter(|(key, _)| !is_docker_key(key))
        .collect();
    DriverOptions::new(field, user)
}

fn family(net: &IpNet) -> &'static str {
    if net.addr().is_ipv4() { "IPv4" } else { "IPv6" }
}

fn check_family(field: &str, net: IpNet, v6: bool) -> Result<(), Invalid> {
    if net.addr().is_ipv6() == v6 {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!(
                "{net} is an {} network, but this slot is {}",
                family(&net),
                if v6 { "IPv6" } else { "IPv4" }
            ),
        ))
    }
}

impl TryFrom<wire_ipam::RequestPoolRequest> for PoolRequest {
    type Error = Invalid;

    fn try_from(req: wire_ipam::RequestPoolRequest) -> Result<PoolRequest, Invalid> {
        let space = AddressSpace::parse("AddressSpace", &req.address_space)?;
        if space.is_empty() {
            return Err(Invalid::new(
                "AddressSpace",
                "empty; use one GetDefaultAddressSpaces returned",
            ));
        }
        let pool = req.pool.map(|pool| pool.trunc());
        let sub_pool = req.sub_pool.map(|range| range.trunc());
        if let Some(pool) = pool {
            check_family("Pool", pool, req.v6)
                .map_err(|e| Invalid::new(e.field, format!("{} (V6 is {})", e.reason, req.v6)))?;
        }
        match (pool, sub_pool) {
            (None, Some(_)) => return Err(Invalid::new("SubPool", "set while Pool is empty")),
            (Some(pool), Some(range)) if !pool.contains(&range) => {
                return Err(Invalid::new(
                    "SubPool",
                    format!("{range} is not inside Pool {pool}"),
                ));
            }
            _ => {}
        }
        Ok(PoolRequest {
            space,
            pool,
            sub_pool,
            options: user_options("Options", req.options)?,
            v6: req.v6,
        })
    }
}

impl TryFrom<wire_ipam::ReleasePoolRequest> for PoolId {
    type Error = Invalid;

    fn try_from(req: wire_ipam::ReleasePoolRequest) -> Result<PoolId, Invalid> {
        PoolId::parse("PoolID", &req.pool_id)
    }
}

impl TryFrom<wire_ipam::RequestAddressRequest> for AddressRequest {
    type Error = Invalid;

    fn try_from(mut req: wire_ipam::RequestAddressRequest) -> Result<AddressRequest, Invalid> {
        let pool_id = PoolId::parse("PoolID", &req.pool_id)?;
        let kind = match req.options.remove(keys::REQUEST_ADDRESS_TYPE).as_deref() {
            None => AddressKind::Endpoint,
            Some(keys::GATEWAY_TYPE) => AddressKind::Gateway,
            Some(other) => {
                return Err(Invalid::new(
                    format!("Options[{}]", keys::REQUEST_ADDRESS_TYPE),
                    format!(
                        "{} is not a request type (the only one is {})",
                        crate::model::quote_value(other),
                        keys::GATEWAY_TYPE
                    ),
                ));
            }
        };
        let mac = match req.options.remove(keys::MAC_ADDRESS) {
            None => None,
            Some(text) if text.is_empty() => None,
            Some(text) => Some(mac(&format!("Options[{}]", keys::MAC_ADDRESS), &text)?),
        };
        Ok(AddressRequest {
            pool_id,
            address: req.address,
            kind,
            mac,
            options: user_options("Options", req.options)?,
        })
    }
}

fn mac(field: &str, text: &str) -> Result<MacAddress, Invalid> {
    let mac: MacAddress = text
        .parse()
        .map_err(|e: crate::model::MacParseError| Invalid::new(field, e.to_string()))?;
    unicast(field, mac)
}

/// A multicast or all-zero MAC cannot be an interface's address; the kernel would
/// refuse it later, after other objects were made.
fn unicast(field: &str, mac: MacAddress) -> Result<MacAddress, Invalid> {
    if mac.0[0] & 1 == 1 || mac.0 == [0; 6] {
        Err(Invalid::new(
            field,
            format!("{mac} is not a unicast address"),
        ))
    } else {
        Ok(mac)
    }
}

impl TryFrom<wire_ipam::ReleaseAddressRequest> for AddressRelease {
    type Error = Invalid;

    fn try_from(req: wire_ipam::ReleaseAddressRequest) -> Result<AddressRelease, Invalid> {
        // An empty PoolID is Docker's "a network driver supplied this address" (spec §3.5).
        let pool_id = if req.pool_id.is_empty() {
            None
        } else {
            Some(PoolId::parse("PoolID", &req.pool_id)?)
        };
        let address = req
            .address
            .ok_or_else(|| Invalid::new("Address", "empty; name the address to release"))?;
        Ok(AddressRelease { pool_id, address })
    }
}

fn subnets(field: &str, data: Vec<wire::IpamData>, v6: bool) -> Result<Vec<Subnet>, Invalid> {
    data.into_iter()
        .enumerate()
        .map(|(index, item)| subnet(&format!("{field}[{index}]"), item, v6))
        .collect()
}

fn subnet(field: &str, item: wire::IpamData, v6: bool) -> Result<Subnet, Invalid> {
    let space = AddressSpace::parse(&format!("{field}.AddressSpace"), &item.address_space)?;
    check_family(&format!("{field}.Pool"), item.pool, v6)?;
    let pool = item.pool.trunc();
    let inside = |name: &str, net: IpNet| -> Result<(), Invalid> {
        if pool.contains(&net.addr()) {
            Ok(())
        } else {
            Err(Invalid::new(
                format!("{field}.{name}"),
                format!("{} is not inside Pool {pool}", net.addr()),
            ))
        }
    };
    if let Some(gateway) = item.gateway {
        inside("Gateway", gateway)?;
    }
    let mut aux_addresses = Vec::with_capacity(item.aux_addresses.len());
    for (name, address) in item.aux_addresses {
        inside(
            &format!("AuxAddresses[{}]", crate::model::quote_value(&name)),
            address,
        )?;
        aux_addresses.push((name, address.addr()));
    }
    Ok(Subnet {
        space,
        pool,
        gateway: item.gateway,
        aux_addresses,
    })
}

impl TryFrom<wire::CreateNetworkRequest> for NetworkSpec {
    type Error = Invalid;

    fn try_from(req: wire::CreateNetworkRequest) -> Result<NetworkSpec, Invalid> {
        let id = NetworkId::parse("NetworkID", &req.network_id)?;
        let ipv4_enabled = req.options.enable_ipv4.unwrap_or(true);
        let ipv6_enabled = req.options.enable_ipv6;
        let ipv4 = subnets("IPv4Data", req.ipv4_data, false)?;
        let ipv6 = subnets("IPv6Data", req.ipv6_data, true)?;
        if !ipv4_enabled && !ipv4.is_empty() {
            return Err(Invalid::new(
                "IPv4Data",
                format!("{} pools while {} is false", ipv4.len(), keys::ENABLE_IPV4),
            ));
        }
        if !ipv6_enabled && !ipv6.is_empty() {
            return Err(Invalid::new(
                "IPv6Data",
                format!("{} pools while {} is false", ipv6.len(), keys::ENABLE_IPV6),
            ));
        }
        Ok(NetworkSpec {
            id,
            ipv4,
            ipv6,
            ipv4_enabled,
            ipv6_enabled,
            internal: req.options.internal,
            options: DriverOptions::new(
                &format!("Options[{}]", keys::GENERIC),
                req.options.generic,
            )?,
        })
    }
}

impl TryFrom<wire::NetworkRequest> for NetworkId {
    type Error = Invalid;

    fn try_from(req: wire::NetworkRequest) -> Result<NetworkId, Invalid> {
        NetworkId::parse("NetworkID", &req.network_id)
    }
}

impl TryFrom<wire::AllocateNetworkRequest> for NetworkAllocation {
    type Error = Invalid;

    fn try_from(req: wire::AllocateNetworkRequest) -> Result<NetworkAllocation, Invalid> {
        Ok(NetworkAllocation {
            id: NetworkId::parse("NetworkID", &req.network_id)?,
            ipv4: subnets("IPv4Data", req.ipv4_data, false)?,
            ipv6: subnets("IPv6Data", req.ipv6_data, true)?,
            // Swarm passes the network's driver options as they are: none of Docker's.
            options: DriverOptions::new("Options", req.options)?,
        })
    }
}

impl TryFrom<wire::GwAllocCheckRequest> for GwAllocCheck {
    type Error = Invalid;

    fn try_from(req: wire::GwAllocCheckRequest) -> Result<GwAllocCheck, Invalid> {
        Ok(GwAllocCheck {
            ipv4_enabled: req.options.enable_ipv4.unwrap_or(true),
            ipv6_enabled: req.options.enable_ipv6,
            internal: req.options.internal,
            options: DriverOptions::new(
                &format!("Options[{}]", keys::GENERIC),
                req.options.generic,
            )?,
        })
    }
}

impl TryFrom<wire::DiscoveryRequest> for Discovery {
    type Error = Invalid;

    fn try_from(req: wire::DiscoveryRequest) -> Result<Discovery, Invalid> {
        // Docker forwards node discovery (type 1) only; the encryption-key types never
        // reach a remote driver.
        if req.discovery_type != 1 {
            return Err(Invalid::new(
                "DiscoveryType",
                format!("{} is not node discovery (1)", req.discovery_type),
            ));
        }
        Ok(Discovery {
            address: req.discovery_data.address,
            is_self: req.discovery_data.is_self,
        })
    }
}

fn endpoint_ref(network_id: &str, endpoint_id: &str) -> Result<EndpointRef, Invalid> {
    Ok(EndpointRef {
        network_id: NetworkId::parse("NetworkID", network_id)?,
        endpoint_id: EndpointId::parse("EndpointID", endpoint_id)?,
    })
}

impl TryFrom<wire::EndpointRequest> for EndpointRef {
    type Error = Invalid;

    fn try_from(req: wire::EndpointRequest) -> Result<EndpointRef, Invalid> {
        endpoint_ref(&req.network_id, &req.endpoint_id)
    }
}

/// The ports in a sandbox or endpoint option map, and what is left of it.
struct Ports {
    exposed: Vec<ExposedPort>,
    bindings: Vec<PortBinding>,
}

fn ports(options: &BTreeMap<String, Value>) -> Result<Ports, Invalid> {
    let exposed = match options.get(keys::EXPOSED_PORTS) {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => port_list(keys::EXPOSED_PORTS, value, exposed_port)?,
    };
    let bindings = match options.get(keys::PORT_MAP) {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => port_list(keys::PORT_MAP, value, port_binding)?,
    };
    Ok(Ports { exposed, bindings })
}

fn port_list<T>(
    key: &str,
    value: &Value,
    item: fn(&str, &serde_json::Map<String, Value>) -> Result<T, Invalid>,
) -> Result<Vec<T>, Invalid> {
    let field = format!("Options[{key}]");
    let Value::Array(items) = value else {
        return Err(Invalid::new(field, "expected a list"));
    };
    if items.len() > PORTS_MAX {
        return Err(Invalid::new(
            field,
            format!("more than {PORTS_MAX} entries"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let field = format!("{field}[{index}]");
            match entry {
                Value::Object(object) => item(&field, object),
                _ => Err(Invalid::new(field, "expected an object")),
            }
        })
        .collect()
}

fn number(field: &str, object: &serde_json::Map<String, Value>, key: &str) -> Result<u64, Invalid> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(value) => value
            .as_u64()
            .ok_or_else(|| Invalid::new(format!("{field}.{key}"), "expected a number")),
    }
}

fn proto(field: &str, object: &serde_json::Map<String, Value>) -> Result<Protocol, Invalid> {
    let value = number(field, object, "Proto")?;
    Protocol::from_number(value).ok_or_else(|| {
        Invalid::new(
            format!("{field}.Proto"),
            format!("{value} is not tcp (6), udp (17) or sctp (132)"),
        )
    })
}

fn port(field: &str, object: &serde_json::Map<String, Value>, key: &str) -> Result<u16, Invalid> {
    let value = number(field, object, key)?;
    u16::try_from(value)
        .map_err(|_| Invalid::new(format!("{field}.{key}"), format!("{value} is not a port")))
}

fn exposed_port(
    field: &str,
    object: &serde_json::Map<String, Value>,
) -> Result<ExposedPort, Invalid> {
    let port = port(field, object, "Port")?;
    if port == 0 {
        return Err(Invalid::new(format!("{field}.Port"), "0 is not a port"));
    }
    Ok(ExposedPort {
        proto: proto(field, object)?,
        port,
    })
}

fn port_binding(
    field: &str,
    object: &serde_json::Map<String, Value>,
) -> Result<PortBinding, Invalid> {
    let exposed = exposed_port(field, object)?;
    let host_ip = match object.get("HostIP") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.is_empty() => None,
        Some(Value::String(text)) => Some(text.parse::<IpAddr>().map_err(|_| {
            Invalid::new(
                format!("{field}.HostIP"),
                format!("{} is not an IP address", crate::model::quote_value(text)),
            )
        })?),
        Some(_) => return Err(Invalid::new(format!("{field}.HostIP"), "expected a string")),
    };
    let host_port = port(field, object, "HostPort")?;
    let host_port_end = port(field, object, "HostPortEnd")?;
    if host_port_end != 0 && host_port_end < host_port {
        return Err(Invalid::new(
            format!("{field}.HostPortEnd"),
            format!("{host_port_end} is below HostPort {host_port}"),
        ));
    }
    Ok(PortBinding {
        proto: exposed.proto,
        port: exposed.port,
        host_ip,
        host_port,
        host_port_end,
    })
}

/// `--driver-opt` entries: string values only; Docker's own keys were taken out.
fn endpoint_options(options: &BTreeMap<String, Value>) -> Result<DriverOptions, Invalid> {
    let mut user = BTreeMap::new();
    for (key, value) in options.iter().filter(|(key, _)| !is_docker_key(key)) {
        match value {
            Value::String(text) => {
                user.insert(key.clone(), text.clone());
            }
            _ => {
                return Err(Invalid::new(
                    format!("Options[{}]", crate::model::quote_value(key)),
                    "driver options are strings",
                ));
            }
        }
    }
    DriverOptions::new("Options", user)
}

fn address(field: &str, net: Option<IpNet>, v6: bool) -> Result<Option<IpNet>, Invalid> {
    if let Some(net) = net {
        check_family(field, net, v6)?;
    }
    Ok(net)
}

impl TryFrom<wire::CreateEndpointRequest> for EndpointSpec {
    type Error = Invalid;

    fn try_from(req: wire::CreateEndpointRequest) -> Result<EndpointSpec, Invalid> {
        let ep = endpoint_ref(&req.network_id, &req.endpoint_id)?;
        let ports = ports(&req.options)?;
        let ifname = match req.options.get(keys::IFNAME) {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) if name.is_empty() => None,
            Some(Value::String(name)) => Some(ifname(name)?),
            Some(_) => {
                return Err(Invalid::new(
                    format!("Options[{}]", keys::IFNAME),
                    "expected a string",
                ));
            }
        };
        let mac = match req.interface.mac_address {
            Some(found) => Some(unicast("Interface.MacAddress", found)?),
            None => None,
        };
        Ok(EndpointSpec {
            network_id: ep.network_id,
            endpoint_id: ep.endpoint_id,
            address: address("Interface.Address", req.interface.address, false)?,
            address_ipv6: address("Interface.AddressIPv6", req.interface.address_ipv6, true)?,
            mac,
            exposed_ports: ports.exposed,
            port_bindings: ports.bindings,
            ifname,
            options: endpoint_options(&req.options)?,
        })
    }
}

/// An interface name as Linux takes it: 1 to 15 characters, and only the ones that
/// are safe in every place a name goes (nft scripts, argv, sysfs paths).
fn ifname(name: &str) -> Result<String, Invalid> {
    let ok = (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && name != "."
        && name != "..";
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Invalid::new(
            format!("Options[{}]", keys::IFNAME),
            format!(
                "{} is not an interface name (1 to 15 of [A-Za-z0-9_.-])",
                crate::model::quote_value(name)
            ),
        ))
    }
}

impl TryFrom<wire::JoinRequest> for JoinSpec {
    type Error = Invalid;

    fn try_from(req: wire::JoinRequest) -> Result<JoinSpec, Invalid> {
        let ep = endpoint_ref(&req.network_id, &req.endpoint_id)?;
        let key = &req.sandbox_key;
        if !key.starts_with('/') || key.len() > SANDBOX_KEY_MAX || key.chars().any(char::is_control)
        {
            return Err(Invalid::new(
                "SandboxKey",
                format!(
                    "{} is not the path of a network namespace",
                    crate::model::quote_value(key)
                ),
            ));
        }
        let ports = ports(&req.options)?;
        Ok(JoinSpec {
            network_id: ep.network_id,
            endpoint_id: ep.endpoint_id,
            sandbox_key: req.sandbox_key,
            exposed_ports: ports.exposed,
            port_bindings: ports.bindings,
        })
    }
}

impl TryFrom<wire::ProgramExternalConnectivityRequest> for Connectivity {
    type Error = Invalid;

    fn try_from(req: wire::ProgramExternalConnectivityRequest) -> Result<Connectivity, Invalid> {
        let ep = endpoint_ref(&req.network_id, &req.endpoint_id)?;
        let ports = ports(&req.options)?;
        Ok(Connectivity {
            network_id: ep.network_id,
            endpoint_id: ep.endpoint_id,
            exposed_ports: ports.exposed,
            port_bindings: ports.bindings,
        })
    }
}
