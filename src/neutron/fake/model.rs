//! The fake's model of Neutron's core resources, as the real Neutron 29 of
//! `scripts/neutron-up.sh` answered (ML2, its agentless `loopback_tap` mechanism
//! driver, `auth_strategy = noauth`): what a create fills in, what it refuses, and
//! what a delete refuses or takes along.
//!
//! - Networks: ACTIVE, MTU 1500, their `subnets` listed.
//! - Subnets: a gateway (the first address for IPv4, the subnet-router address for
//!   IPv6) unless `gateway_ip` says otherwise, allocation pools around it, no overlap
//!   within a network; from a subnet pool with a `cidr` (which must be free there) or
//!   a `prefixlen` (Neutron's best fit: the smallest free block that holds it).
//! - Subnet pools: Neutron's prefix lengths, as strings, as Neutron sends them.
//! - Ports: `fixed_ips` from their subnets (a requested address when free, else 409
//!   `IpAddressAlreadyAllocated`), a `fa:16:3e` MAC unless given (unique per network),
//!   the project's default security group, and when bound to a host `binding:vif_type`
//!   [`State::vif_type`] and status ACTIVE (the rig's driver binds at once), else
//!   `unbound` and DOWN; a bound port's MAC does not change (409 `PortBound`). Tags in
//!   a port's POST body are kept only with `tag-ports-during-bulk-creation`; in any
//!   other POST body they are refused.
//! - Deletes: a network with ports other than DHCP's (409 `NetworkInUse`), a subnet
//!   with addresses (409 `SubnetInUse`) and a pool with subnets (400
//!   `SubnetPoolDeleteError`) are refused; a network takes its subnets along.
//!
//! Where it differs from that Neutron, on purpose (each is pinned by a test in
//! `tests_model.rs` or named here):
//! - addresses and subnets are handed out lowest first; Neutron picks addresses at
//!   random (subnets it picks as here);
//! - ids are UUID-shaped serials (`00000004-0000-4000-8000-00000000002a`: kind 4,
//!   port, the 42nd item made), never reused; Neutron's are random UUIDs, and it
//!   refuses an id that is not a UUID with 400 where the fake answers 404;
//! - `revision_number` counts the changes the fake sees; Neutron's also counts its
//!   own internal steps (a port bound at create is at revision 4 there);
//! - `GET extensions/<missing>` is a JSON 404; Neutron's is an HTML page (both 404);
//! - the default security group has no rules, and rules are stored, not enforced;
//! - no quotas, no policy, no DHCP or router ports of its own, no `created_at`.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Map, Value, json};

use super::State;
use super::refusal::{Outcome, invalid, not_found, refuse};

/// The project of everything made without one, as on the noauth rig.
pub const PROJECT: &str = "fake_project_id";

/// What the rig's `loopback_tap` driver puts in a bound port's `binding:vif_details`.
fn vif_details(vif_type: &str) -> Value {
    match vif_type {
        "ovs" => json!({"port_filter": true, "ovs_hybrid_plug": false, "bridge_name": "br-int"}),
        _ => json!({"port_filter": false, "bound_drivers": {"0": "loopback_tap"}}),
    }
}

fn text(item: &Value, key: &str) -> String {
    item[key].as_str().unwrap_or_default().to_string()
}

/// `item[key] = value` where the body left it out.
fn default(item: &mut Map<String, Value>, key: &str, value: Value) {
    item.entry(key).or_insert(value);
}

fn table<'a>(st: &'a State, coll: &str) -> impl Iterator<Item = &'a Value> {
    st.items.get(coll).into_iter().flat_map(BTreeMap::values)
}

fn exists(st: &State, coll: &str, id: &str) -> bool {
    st.items.get(coll).is_some_and(|t| t.contains_key(id))
}

fn cidr_of(subnet: &Value) -> Option<IpNet> {
    subnet["cidr"].as_str()?.parse().ok()
}

/// Neutron 29 refuses `tags` in the POST of everything but ports.
fn no_tags(item: &Map<String, Value>) -> Outcome<()> {
    if item.contains_key("tags") {
        return refuse(
            400,
            "HTTPBadRequest",
            "Attribute 'tags' not allowed in POST".into(),
        );
    }
    Ok(())
}

/// Fills in and checks a new item of `coll`: what `POST v2.0/<coll>` stores.
pub fn create(st: &mut State, coll: &str, item: Value) -> Outcome<Value> {
    let Value::Object(mut item) = item else {
        return refuse(400, "HTTPBadRequest", format!("{item} is not an object"));
    };
    let id = st.new_id(coll);
    item.insert("id".into(), json!(id));
    default(&mut item, "project_id", json!(PROJECT));
    let project = item["project_id"].clone();
    default(&mut item, "tenant_id", project);
    default(&mut item, "description", json!(""));
    match coll {
        "networks" => network(&mut item)?,
        "subnets" => subnet(st, &mut item)?,
        "subnetpools" => subnetpool(&mut item)?,
        "ports" => port(st, &mut item)?,
        _ => {}
    }
    default(&mut item, "tags", json!([]));
    default(&mut item, "revision_number", json!(1));
    Ok(Value::Object(item))
}

fn network(item: &mut Map<String, Value>) -> Outcome<()> {
    no_tags(item)?;
    default(item, "name", json!(""));
    default(item, "admin_state_up", json!(true));
    default(item, "shared", json!(false));
    default(item, "mtu", json!(1500));
    default(item, "port_security_enabled", json!(true));
    item.insert("status".into(), json!("ACTIVE"));
    Ok(())
}

fn subnetpool(item: &mut Map<String, Value>) -> Outcome<()> {
    no_tags(item)?;
    let prefixes: Vec<IpNet> = item
        .get("prefixes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str()?.parse().ok())
        .collect();
    let Some(first) = prefixes.first() else {
        return invalid("a subnet pool needs prefixes".into());
    };
    let (version, max) = match first {
        IpNet::V4(_) => (4, 32),
        IpNet::V6(_) => (6, 128),
    };
    // Neutron answers prefix lengths as strings, whatever it was sent.
    let shown = |v: Option<&Value>, or: u8| match v {
        Some(Value::Number(n)) => json!(n.to_string()),
        Some(Value::String(s)) => json!(s),
        _ => json!(or.to_string()),
    };
    let min = shown(item.get("min_prefixlen"), if version == 4 { 8 } else { 64 });
    let min_len = min.as_str().and_then(|m| m.parse().ok()).unwrap_or(8);
    let default_len = shown(item.get("default_prefixlen"), min_len);
    item.insert("min_prefixlen".into(), min);
    item.insert("default_prefixlen".into(), default_len);
    let max = shown(item.get("max_prefixlen"), max);
    item.insert("max_prefixlen".into(), max);
    item.insert("ip_version".into(), json!(version));
    item.insert(
        "prefixes".into(),
        json!(
            prefixes
                .iter()
                .map(|p| p.trunc().to_string())
                .collect::<Vec<_>>()
        ),
    );
    default(item, "shared", json!(false));
    default(item, "is_default", json!(false));
    default(item, "address_scope_id", Value::Null);
    item.insert("revision_number".into(), json!(0));
    Ok(())
}

fn subnet(st: &State, item: &mut Map<String, Value>) -> Outcome<()> {
    no_tags(item)?;
    let network_id = item.get("network_id").and_then(Value::as_str).unwrap_or("");
    if !exists(st, "networks", network_id) {
        return not_found("networks", network_id);
    }
    let version = item.get("ip_version").and_then(Value::as_u64).unwrap_or(4);
    let requested: Option<IpNet> = match item.get("cidr").and_then(Value::as_str) {
        Some(c) => Some(
            c.parse()
                .or_else(|_| invalid(format!("'{c}' is not a valid IP subnet")))?,
        ),
        None => None,
    };
    let cidr = match item.get("subnetpool_id").and_then(Value::as_str) {
        Some(pool_id) => {
            let Some(pool) = st.items.get("subnetpools").and_then(|t| t.get(pool_id)) else {
                return not_found("subnetpools", pool_id);
            };
            let prefixlen = item.get("prefixlen").and_then(Value::as_u64);
            from_pool(st, pool, version, requested, prefixlen)?
        }
        None => {
            let Some(cidr) = requested else {
                return refuse(
                    400,
                    "BadRequest",
                    "Bad subnets request: a cidr must be specified in the absence of a subnet pool."
                        .into(),
                );
            };
            cidr
        }
    };
    if u64::from(family(cidr)) != version {
        return invalid(format!(
            "Cannot use IPv{} subnet {cidr} with ip_version {version}",
            family(cidr)
        ));
    }
    let overlapping = table(st, "subnets")
        .filter(|s| s["network_id"] == json!(network_id))
        .filter_map(cidr_of)
        .any(|c| c.contains(&cidr.network()) || cidr.contains(&c.network()));
    if overlapping {
        return invalid(format!(
            "Requested subnet with cidr: {cidr} for network: {network_id} overlaps with another subnet"
        ));
    }
    let gateway = match item.get("gateway_ip") {
        Some(Value::Null) => None,
        Some(Value::String(g)) => Some(
            g.parse::<IpAddr>()
                .ok()
                .filter(|g| cidr.contains(g))
                .map_or_else(
                    || invalid(format!("Gateway IP {g} is not in subnet {cidr}")),
                    Ok,
                )?,
        ),
        // IPv4: the first address; IPv6: the subnet-router anycast address.
        _ => Some(match cidr {
            IpNet::V4(_) => nth(cidr, 1),
            IpNet::V6(_) => cidr.network(),
        }),
    };
    item.insert("cidr".into(), json!(cidr.to_string()));
    item.insert("ip_version".into(), json!(family(cidr)));
    item.insert("gateway_ip".into(), json!(gateway.map(|g| g.to_string())));
    item.insert(
        "allocation_pools".into(),
        json!(allocation_pools(cidr, gateway)),
    );
    item.remove("prefixlen");
    default(item, "subnetpool_id", Value::Null);
    default(item, "name", json!(""));
    default(item, "enable_dhcp", json!(true));
    default(item, "host_routes", json!([]));
    default(item, "dns_nameservers", json!([]));
    item.insert("revision_number".into(), json!(0));
    Ok(())
}

fn family(cidr: IpNet) -> u8 {
    match cidr {
        IpNet::V4(_) => 4,
        IpNet::V6(_) => 6,
    }
}

fn to_int(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The `n`th address of `cidr` (0 is the network address).
fn nth(cidr: IpNet, n: u128) -> IpAddr {
    let at = to_int(cidr.network()).saturating_add(n);
    match cidr {
        IpNet::V4(_) => IpAddr::V4(u32::try_from(at).unwrap_or(u32::MAX).into()),
        IpNet::V6(_) => IpAddr::V6(at.into()),
    }
}

/// The addresses Neutron hands out by itself: from the first after the network
/// address to the last before the IPv4 broadcast (the last of IPv6), without the
/// gateway, as `[{start, end}]`.
fn allocation_pools(cidr: IpNet, gateway: Option<IpAddr>) -> Vec<Value> {
    let first = to_int(cidr.network()) + 1;
    let last = match cidr {
        IpNet::V4(_) => to_int(cidr.broadcast()).saturating_sub(1),
        IpNet::V6(_) => to_int(cidr.broadcast()),
    };
    let range = |a: u128, b: u128| {
        (a <= b).then(|| {
            json!({"start": nth(cidr, a - to_int(cidr.network())).to_string(),
                               "end": nth(cidr, b - to_int(cidr.network())).to_string()})
        })
    };
    match gateway.map(to_int).filter(|g| (first..=last).contains(g)) {
        Some(g) => [range(first, g.saturating_sub(1)), range(g + 1, last)]
            .into_iter()
            .flatten()
            .collect(),
        None => range(first, last).into_iter().collect(),
    }
}

fn pool_ranges(subnet: &Value) -> Vec<(u128, u128)> {
    subnet["allocation_pools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let start: IpAddr = r["start"].as_str()?.parse().ok()?;
            let end: IpAddr = r["end"].as_str()?.parse().ok()?;
            Some((to_int(start), to_int(end)))
        })
        .collect()
}

fn allocation_error<T>(message: String) -> Outcome<T> {
    refuse(
        500,
        "SubnetAllocationError",
        format!("Failed to allocate subnet: {message}"),
    )
}

/// A subnet from pool `pool`: `requested` when it is free there, else the first of
/// `prefixlen` (default the pool's) in the smallest free block that holds it, as
/// Neutron's `SubnetAllocator` picks.
fn from_pool(
    st: &State,
    pool: &Value,
    version: u64,
    requested: Option<IpNet>,
    prefixlen: Option<u64>,
) -> Outcome<IpNet> {
    let prefixes: Vec<IpNet> = pool["prefixes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str()?.parse().ok())
        .collect();
    if pool["ip_version"].as_u64() != Some(version) {
        let pool_version = pool["ip_version"].as_u64().unwrap_or(0);
        return refuse(
            400,
            "BadRequest",
            format!(
                "Bad subnets request: Cannot allocate IPv{version} subnet from IPv{pool_version} subnet pool."
            ),
        );
    }
    let used: Vec<IpNet> = table(st, "subnets")
        .filter(|s| s["subnetpool_id"] == pool["id"])
        .filter_map(cidr_of)
        .collect();
    let mut free = Vec::new();
    for prefix in &prefixes {
        free_blocks(*prefix, &used, &mut free);
    }
    if let Some(cidr) = requested {
        let cidr = cidr.trunc();
        if free.iter().any(|b| b.contains(&cidr)) {
            return Ok(cidr);
        }
        return allocation_error(
            "Cannot allocate requested subnet from the available set of prefixes.".into(),
        );
    }
    let len = prefixlen
        .or_else(|| pool["default_prefixlen"].as_str()?.parse().ok())
        .and_then(|l| u8::try_from(l).ok())
        .unwrap_or(0);
    free.sort_by_key(|b| (std::cmp::Reverse(b.prefix_len()), b.network()));
    free.iter()
        .filter(|b| b.prefix_len() <= len)
        .find_map(|b| IpNet::new(b.network(), len).ok())
        .map_or_else(
            || {
                allocation_error(format!(
                    "Insufficient prefix space to allocate subnet size /{len}."
                ))
            },
            Ok,
        )
}

/// The largest aligned blocks of `prefix` that overlap none of `used`, in address
/// order (what netaddr's `IPSet.iter_cidrs` gives Neutron).
fn free_blocks(prefix: IpNet, used: &[IpNet], out: &mut Vec<IpNet>) {
    if used.iter().any(|u| u.contains(&prefix)) {
        return;
    }
    if !used.iter().any(|u| prefix.contains(u)) {
        out.push(prefix);
        return;
    }
    if let Ok(halves) = prefix.subnets(prefix.prefix_len() + 1) {
        for half in halves {
            free_blocks(half, used, out);
        }
    }
}

/// Whether `port` is bound: a host, and a binding that worked.
pub fn is_bound(port: &Value) -> bool {
    !text(port, "binding:host_id").is_empty()
        && !matches!(
            port["binding:vif_type"].as_str().unwrap_or("unbound"),
            "unbound" | "binding_failed"
        )
}

/// Binds `port` to its `binding:host_id` as the rig's driver does (at once), or
/// unbinds it when the host is empty.
fn bind(st: &State, port: &mut Map<String, Value>) {
    let host = port
        .get("binding:host_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let (vif_type, details, status) = if host.is_empty() {
        ("unbound", json!({}), "DOWN")
    } else {
        let vif_type = st.vif_type.unwrap_or("tap");
        (vif_type, vif_details(vif_type), "ACTIVE")
    };
    port.insert("binding:host_id".into(), json!(host));
    port.insert("binding:vif_type".into(), json!(vif_type));
    port.insert("binding:vif_details".into(), details);
    port.insert("status".into(), json!(status));
}

fn port(st: &mut State, item: &mut Map<String, Value>) -> Outcome<()> {
    let network_id = text(&Value::Object(item.clone()), "network_id");
    if !exists(st, "networks", &network_id) {
        return not_found("networks", &network_id);
    }
    if !st.extensions.contains("tag-ports-during-bulk-creation") {
        // Dropped without a word, as Neutron 29 does without the extension.
        item.remove("tags");
    }
    let mac = match item.get("mac_address").and_then(Value::as_str) {
        Some(mac) => mac.to_ascii_lowercase(),
        None => st.new_mac(),
    };
    mac_free(st, &network_id, &mac, None)?;
    item.insert("mac_address".into(), json!(mac));
    let fixed_ips = allocate(st, &network_id, None, item.get("fixed_ips"))?;
    item.insert("fixed_ips".into(), json!(fixed_ips));
    let groups = match item.get("security_groups").and_then(Value::as_array) {
        Some(groups) => groups.clone(),
        None => vec![json!(st.default_security_group(&text(
            &Value::Object(item.clone()),
            "project_id"
        )))],
    };
    for group in &groups {
        let id = group.as_str().unwrap_or_default();
        if !exists(st, "security-groups", id) {
            return not_found("security-groups", id);
        }
    }
    item.insert("security_groups".into(), json!(groups));
    for (key, value) in [
        ("name", json!("")),
        ("admin_state_up", json!(true)),
        ("device_id", json!("")),
        ("device_owner", json!("")),
        ("binding:vnic_type", json!("normal")),
        ("binding:profile", json!({})),
    ] {
        default(item, key, value);
    }
    bind(st, item);
    Ok(())
}

/// Refuses `mac` when another port of the network has it.
fn mac_free(st: &State, network_id: &str, mac: &str, this: Option<&str>) -> Outcome<()> {
    let taken = table(st, "ports").any(|p| {
        p["network_id"] == json!(network_id)
            && Some(p["id"].as_str().unwrap_or_default()) != this
            && p["mac_address"]
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case(mac))
    });
    if taken {
        return refuse(
            409,
            "MacAddressInUse",
            format!(
                "Unable to complete operation for network {network_id}. The mac address {mac} is in use."
            ),
        );
    }
    Ok(())
}

/// Addresses held in each subnet by ports other than `this`.
fn taken(st: &State, this: Option<&str>) -> HashSet<(String, u128)> {
    table(st, "ports")
        .filter(|p| Some(p["id"].as_str().unwrap_or_default()) != this)
        .flat_map(|p| p["fixed_ips"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| {
            let ip: IpAddr = f["ip_address"].as_str()?.parse().ok()?;
            Some((text(&f, "subnet_id"), to_int(ip)))
        })
        .collect()
}

/// The `fixed_ips` of a port of `network_id` (`this` when it exists) from the request's
/// `fixed_ips`: each entry's subnet (or the one holding its address), its address
/// when given and free, else the lowest free one of the subnet's allocation pools.
/// No entry list: one address from the first subnet of each family.
fn allocate(
    st: &State,
    network_id: &str,
    this: Option<&str>,
    wanted: Option<&Value>,
) -> Outcome<Vec<Value>> {
    let subnets: Vec<&Value> = table(st, "subnets")
        .filter(|s| s["network_id"] == json!(network_id))
        .collect();
    let wanted: Vec<Value> = match wanted.and_then(Value::as_array) {
        Some(list) => list.clone(),
        None => [4, 6]
            .iter()
            .filter_map(|v| subnets.iter().find(|s| s["ip_version"] == json!(v)))
            .map(|s| json!({"subnet_id": s["id"]}))
            .collect(),
    };
    if !wanted.is_empty() && subnets.is_empty() {
        return invalid("IP allocation requires subnets for network".into());
    }
    let mut held = taken(st, this);
    let mut out = Vec::new();
    for entry in wanted {
        let ip: Option<IpAddr> = match entry["ip_address"].as_str() {
            Some(raw) => Some(
                raw.parse()
                    .or_else(|_| invalid(format!("'{raw}' is not a valid IP address")))?,
            ),
            None => None,
        };
        let subnet = match (entry["subnet_id"].as_str(), ip) {
            (Some(id), _) => subnets.iter().find(|s| s["id"] == json!(id)).ok_or(())
                .or_else(|()| invalid(format!(
                    "Failed to create port on network {network_id}, because fixed_ips included invalid subnet {id}"
                )))?,
            (None, Some(ip)) => subnets
                .iter()
                .find(|s| cidr_of(s).is_some_and(|c| c.contains(&ip)))
                .ok_or(())
                .or_else(|()| refuse(400, "InvalidIpForNetwork", format!(
                    "IP address {ip} is not a valid IP for any of the subnets on the specified network."
                )))?,
            (None, None) => return invalid("a fixed_ips entry needs a subnet_id or an ip_address".into()),
        };
        let subnet_id = text(subnet, "id");
        let cidr = cidr_of(subnet).unwrap_or_else(|| IpNet::from(IpAddr::from([0u8; 4])));
        let chosen = match ip {
            Some(ip) => {
                let edge =
                    ip == cidr.network() || (cidr.addr().is_ipv4() && ip == cidr.broadcast());
                if !cidr.contains(&ip) || edge {
                    return refuse(
                        400,
                        "InvalidIpForSubnet",
                        format!("IP address {ip} is not a valid IP for the specified subnet."),
                    );
                }
                if held.contains(&(subnet_id.clone(), to_int(ip))) {
                    return refuse(
                        409,
                        "IpAddressAlreadyAllocated",
                        format!("IP address {ip} already allocated in subnet {subnet_id}"),
                    );
                }
                to_int(ip)
            }
            None => pool_ranges(subnet)
                .into_iter()
                .find_map(|(a, b)| (a..=b).find(|n| !held.contains(&(subnet_id.clone(), *n))))
                .ok_or(())
                .or_else(|()| {
                    refuse(
                        409,
                        "IpAddressGenerationFailure",
                        format!("No more IP addresses available on network {network_id}."),
                    )
                })?,
        };
        held.insert((subnet_id.clone(), chosen));
        let address = nth(cidr, chosen - to_int(cidr.network()));
        out.push(json!({"subnet_id": subnet_id, "ip_address": address.to_string()}));
    }
    Ok(out)
}

/// `current` changed by the fields of a `PUT` body, checked as Neutron does.
pub fn update(
    st: &State,
    coll: &str,
    current: &Value,
    update: &Map<String, Value>,
) -> Outcome<Value> {
    let mut changed = current.clone();
    let Some(fields) = changed.as_object_mut() else {
        return Ok(changed);
    };
    for (key, value) in update {
        if !matches!(key.as_str(), "id" | "status" | "fixed_ips" | "tags") {
            fields.insert(key.clone(), value.clone());
        }
    }
    if coll != "ports" {
        return Ok(changed);
    }
    let id = text(current, "id");
    let network_id = text(current, "network_id");
    let old_mac = text(current, "mac_address");
    if let Some(mac) = update.get("mac_address").and_then(Value::as_str) {
        let mac = mac.to_ascii_lowercase();
        if mac != old_mac && is_bound(current) {
            return refuse(
                409,
                "PortBound",
                format!(
                    "Unable to complete operation on port {id}, port is already bound, port type: {}, old_mac {old_mac}, new_mac {mac}.",
                    text(current, "binding:vif_type")
                ),
            );
        }
        mac_free(st, &network_id, &mac, Some(&id))?;
        fields.insert("mac_address".into(), json!(mac));
    }
    if let Some(wanted) = update.get("fixed_ips") {
        let fixed_ips = allocate(st, &network_id, Some(&id), Some(wanted))?;
        fields.insert("fixed_ips".into(), json!(fixed_ips));
    }
    if update.contains_key("binding:host_id") {
        bind(st, fields);
    }
    Ok(changed)
}

/// Neutron's refusal to delete `coll/id`, if it refuses.
pub fn check_delete(st: &State, coll: &str, id: &str) -> Outcome<()> {
    match coll {
        "networks" => {
            let ports: Vec<String> = table(st, "ports")
                .filter(|p| {
                    p["network_id"] == json!(id) && p["device_owner"] != json!("network:dhcp")
                })
                .map(|p| text(p, "id"))
                .collect();
            if !ports.is_empty() {
                return refuse(
                    409,
                    "NetworkInUse",
                    format!(
                        "Unable to complete operation on network {id}. There are one or more ports still in use on the network, id for these ports is: {}.",
                        ports.join(",")
                    ),
                );
            }
        }
        "subnets" => {
            let in_use = table(st, "ports")
                .filter(|p| p["device_owner"] != json!("network:dhcp"))
                .flat_map(|p| p["fixed_ips"].as_array().cloned().unwrap_or_default())
                .any(|f| f["subnet_id"] == json!(id));
            if in_use {
                return refuse(
                    409,
                    "SubnetInUse",
                    format!(
                        "Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."
                    ),
                );
            }
        }
        "subnetpools" if table(st, "subnets").any(|s| s["subnetpool_id"] == json!(id)) => {
            return refuse(
                400,
                "SubnetPoolDeleteError",
                "Unable to delete subnet pool: Subnet pool has existing allocations.".into(),
            );
        }
        _ => {}
    }
    Ok(())
}

/// What goes with a deleted network: its subnets and DHCP ports.
pub fn after_delete(st: &mut State, coll: &str, id: &str) {
    if coll != "networks" {
        return;
    }
    if let Some(subnets) = st.items.get_mut("subnets") {
        subnets.retain(|_, s| s["network_id"] != json!(id));
    }
    if let Some(ports) = st.items.get_mut("ports") {
        ports.retain(|_, p| p["network_id"] != json!(id));
    }
}

/// The item as Neutron shows it: a network lists its subnets.
pub fn present(st: &State, coll: &str, item: &mut Value) {
    if coll == "networks" {
        let subnets: Vec<Value> = table(st, "subnets")
            .filter(|s| s["network_id"] == item["id"])
            .map(|s| s["id"].clone())
            .collect();
        item["subnets"] = json!(subnets);
    }
}

/// Whether `item` passes the list filters `key` = any of `values`, as Neutron reads
/// them: `tags` (all of the comma-separated tags), `tags-any`, `fixed_ips`
/// (`subnet_id=...`, `ip_address=...`: one address matching every part), MACs in any
/// case, numbers and booleans by their text.
pub fn passes(item: &Value, key: &str, values: &[&str]) -> bool {
    let tags = || -> Vec<&str> {
        item["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    };
    match key {
        "tags" => values
            .iter()
            .flat_map(|v| v.split(','))
            .all(|t| tags().contains(&t)),
        "tags-any" => values
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| tags().contains(&t)),
        "fixed_ips" => {
            let parts: Vec<(&str, &str)> =
                values.iter().filter_map(|v| v.split_once('=')).collect();
            item["fixed_ips"].as_array().into_iter().flatten().any(|f| {
                let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for (k, v) in &parts {
                    by_key.entry(k).or_default().push(v);
                }
                by_key
                    .iter()
                    .all(|(k, vs)| vs.iter().any(|v| f[*k].as_str() == Some(*v)))
            })
        }
        "mac_address" => values.iter().any(|v| {
            item[key]
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case(v))
        }),
        _ => match item.get(key) {
            Some(Value::String(s)) => values.contains(&s.as_str()),
            Some(Value::Bool(b)) => values
                .iter()
                .any(|v| v.eq_ignore_ascii_case(&b.to_string())),
            Some(Value::Number(n)) => values.contains(&n.to_string().as_str()),
            _ => false,
        },
    }
}

/// The kinds of item, numbered in their ids.
const KINDS: &[&str] = &[
    "networks",
    "subnets",
    "subnetpools",
    "ports",
    "security-groups",
    "trunks",
    "address-scopes",
    "security-group-rules",
];

impl State {
    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// A new id for an item of `coll`: UUID-shaped, its kind first, never reused.
    pub fn new_id(&mut self, coll: &str) -> String {
        let kind = KINDS.iter().position(|k| *k == coll).map_or(0, |i| i + 1);
        format!("{kind:08x}-0000-4000-8000-{:012x}", self.next_serial())
    }

    /// A new MAC in Neutron's default `base_mac`, `fa:16:3e:00:00:00`.
    fn new_mac(&mut self) -> String {
        let [.., a, b, c] = self.next_serial().to_be_bytes();
        format!("fa:16:3e:{a:02x}:{b:02x}:{c:02x}")
    }

    /// The project's `default` security group, made on first use as Neutron does.
    fn default_security_group(&mut self, project: &str) -> String {
        let found = table(self, "security-groups")
            .find(|g| g["name"] == json!("default") && g["project_id"] == json!(project))
            .map(|g| text(g, "id"));
        if let Some(id) = found {
            return id;
        }
        let id = self.new_id("security-groups");
        let group = json!({"id": id, "name": "default", "description": "Default security group",
                           "project_id": project, "tenant_id": project, "tags": [],
                           "security_group_rules": [], "revision_number": 1});
        self.insert("security-groups", group);
        id
    }
}
