//! The fake's model of what nested mode uses, with the statuses, types and messages
//! the real Neutron 29 of `scripts/neutron-up.sh` answered (trunk service plugin and
//! its `loopback_tap` trunk driver): trunks and their VLAN subports, ports'
//! `trunk_details`, `allowed_address_pairs` with Neutron's default limit, port
//! security, `revision_number` and `If-Match: revision_number=N`.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use super::State;
use super::refusal::{Outcome, invalid, not_found, refuse};

/// Neutron's default `max_allowed_address_pair`.
pub const MAX_ADDRESS_PAIRS: usize = 10;

/// The revision `If-Match` requires; other etags are ignored, as Neutron does.
pub fn if_match(header: Option<&str>) -> Option<u64> {
    header?
        .split(',')
        .find_map(|e| e.trim().strip_prefix("revision_number=")?.parse().ok())
}

/// Refuses unless `item` is at revision `wanted` (no `If-Match`: anything goes).
pub fn check_revision(item: &Value, wanted: Option<u64>) -> Outcome<()> {
    let have = item["revision_number"].as_u64().unwrap_or(0);
    match wanted {
        Some(want) if want != have => refuse(
            412,
            "RevisionNumberConstraintFailed",
            format!("Constrained to {want}, but current revision is {have}"),
        ),
        _ => Ok(()),
    }
}

/// One more revision, for items that have one.
pub fn bump(item: &mut Value) {
    if let Some(n) = item["revision_number"].as_u64() {
        item["revision_number"] = json!(n + 1);
    }
}

/// What Neutron adds to a port it creates, where the body did not say.
pub fn port_defaults(port: &mut Value) {
    if let Some(fields) = port.as_object_mut() {
        fields
            .entry("allowed_address_pairs")
            .or_insert_with(|| json!([]));
        fields.entry("port_security_enabled").or_insert(json!(true));
    }
}

/// Neutron's checks of a port's new state; pairs without a MAC get the port's.
pub fn check_port(port: &mut Value) -> Outcome<()> {
    let mac = port["mac_address"].clone();
    let secure = port["port_security_enabled"] != json!(false);
    let Some(pairs) = port
        .get_mut("allowed_address_pairs")
        .and_then(Value::as_array_mut)
    else {
        return Ok(());
    };
    if pairs.len() > MAX_ADDRESS_PAIRS {
        return refuse(
            400,
            "AllowedAddressPairExhausted",
            format!("The number of allowed address pair exceeds the maximum {MAX_ADDRESS_PAIRS}."),
        );
    }
    // As written, then with the port's MAC where a pair has none, as Neutron checks.
    no_duplicate_pair(pairs)?;
    for pair in pairs.iter_mut() {
        if pair.get("mac_address").is_none_or(Value::is_null) && mac.is_string() {
            pair["mac_address"] = mac.clone();
        }
    }
    no_duplicate_pair(pairs)?;
    if !pairs.is_empty() && !secure {
        return refuse(
            409,
            "AddressPairAndPortSecurityRequired",
            "Port Security must be enabled in order to have allowed address pairs on a port."
                .into(),
        );
    }
    Ok(())
}

fn no_duplicate_pair(pairs: &[Value]) -> Outcome<()> {
    let shown = |v: &Value| v.as_str().unwrap_or("None").to_string();
    let mut seen = HashSet::new();
    match pairs
        .iter()
        .map(|p| (shown(&p["mac_address"]), shown(&p["ip_address"])))
        .find(|pair| !seen.insert(pair.clone()))
    {
        Some((mac, ip)) => refuse(
            400,
            "DuplicateAddressPairInRequest",
            format!("Request contains duplicate address pair: mac_address {mac} ip_address {ip}."),
        ),
        None => Ok(()),
    }
}

fn table<'a>(st: &'a State, coll: &str) -> impl Iterator<Item = &'a Value> {
    st.items.get(coll).into_iter().flat_map(BTreeMap::values)
}

fn id(item: &Value) -> &str {
    item["id"].as_str().unwrap_or_default()
}

fn subports(trunk: &Value) -> &[Value] {
    trunk["sub_ports"].as_array().map_or(&[], Vec::as_slice)
}

/// The trunk whose parent is `port`.
fn trunk_of_parent<'a>(st: &'a State, port: &str) -> Option<&'a Value> {
    table(st, "trunks").find(|t| t["port_id"] == json!(port))
}

/// The trunk that carries `port` as a subport.
fn trunk_of_subport<'a>(st: &'a State, port: &str) -> Option<&'a Value> {
    table(st, "trunks").find(|t| subports(t).iter().any(|s| s["port_id"] == json!(port)))
}

fn parent_in_use<T>(port: &str) -> Outcome<T> {
    refuse(
        409,
        "ParentPortInUse",
        format!("Port {port} is currently in use and is not eligible for use as a parent port."),
    )
}

/// The item as Neutron shows it: a trunk's parent port gets `trunk_details`, its
/// subports with their MACs.
pub fn present(st: &State, coll: &str, item: &Value) -> Value {
    let mut item = item.clone();
    let parent = item["id"].as_str().unwrap_or_default();
    let Some(trunk) = trunk_of_parent(st, parent).filter(|_| coll == "ports") else {
        return item;
    };
    let ports = st.items.get("ports");
    let sub_ports: Vec<Value> = subports(trunk)
        .iter()
        .map(|s| {
            let mut s = s.clone();
            let id = s["port_id"].as_str().unwrap_or_default();
            if let Some(port) = ports.and_then(|p| p.get(id)) {
                s["mac_address"] = port["mac_address"].clone();
            }
            s
        })
        .collect();
    item["trunk_details"] = json!({"trunk_id": trunk["id"], "sub_ports": sub_ports});
    item
}

/// Neutron refuses to delete a trunk's parent or subport.
pub fn check_port_deletion(st: &State, port: &str) -> Outcome<()> {
    let (kind, role, trunk) = if let Some(trunk) = trunk_of_subport(st, port) {
        ("PortInUseAsSubPort", "a subport", trunk)
    } else if let Some(trunk) = trunk_of_parent(st, port) {
        ("PortInUseAsTrunkParent", "a parent port", trunk)
    } else {
        return Ok(());
    };
    let message = format!("Port {port} is currently {role} for trunk {}.", id(trunk));
    refuse(409, kind, message)
}

/// The request's `sub_ports`, checked as Neutron's `validate_subports` does: objects
/// with a `port_id`, each port and each segmentation once.
fn requested(sub_ports: &Value) -> Outcome<Vec<Value>> {
    let Some(list) = sub_ports.as_array() else {
        return invalid(format!(
            "Invalid data format for subports: '{sub_ports}' is not a list"
        ));
    };
    let (mut ports, mut segments) = (HashSet::new(), HashSet::new());
    for s in list {
        let Some(port) = s["port_id"].as_str() else {
            return invalid("A valid port UUID must be specified".into());
        };
        if !ports.insert(port) {
            return invalid(format!("Non unique UUID for subport: '{port}'"));
        }
        let id = &s["segmentation_id"];
        if !id.is_null() && !segments.insert((s["segmentation_type"].to_string(), id.to_string())) {
            return invalid(format!(
                "Segmentation ID '{}' for '{port}' is not unique",
                id.as_str().map_or(id.to_string(), str::to_string)
            ));
        }
    }
    Ok(list.clone())
}

/// A subport's `(segmentation_type, segmentation_id)`, checked as the VLAN
/// validator does.
fn segmentation(s: &Value) -> Outcome<(String, u64)> {
    let kind = s["segmentation_type"].as_str();
    let id = &s["segmentation_id"];
    let number = id.as_u64().or_else(|| id.as_str()?.parse().ok());
    let (Some(kind), Some(number)) = (kind, number) else {
        return invalid(format!(
            "Invalid subport details '{s}': missing segmentation information. \
             Must specify both segmentation_id and segmentation_type"
        ));
    };
    if kind != "vlan" {
        return invalid(format!("Unknown segmentation_type '{kind}'"));
    }
    if !(1..=4094).contains(&number) {
        return invalid(format!("Segmentation ID '{number}' is not in range"));
    }
    Ok((kind.to_string(), number))
}

/// Neutron's checks, in its order, for `wanted` joining the trunk `trunk` (one
/// failure refuses them all); the subports as stored.
fn admit(st: &State, trunk: &Value, wanted: &Value) -> Outcome<Vec<Value>> {
    let parent = trunk["port_id"].as_str().unwrap_or_default();
    let mut admitted = Vec::new();
    for s in requested(wanted)? {
        let port = s["port_id"].as_str().unwrap_or_default();
        if port == parent {
            return parent_in_use(port);
        }
        let (kind, number) = segmentation(&s)?;
        if trunk_of_subport(st, port).is_some() {
            return refuse(
                409,
                "TrunkPortInUse",
                format!("Port {port} is in use by another trunk."),
            );
        }
        if trunk_of_parent(st, port).is_some() {
            return parent_in_use(port);
        }
        let Some(found) = st.items.get("ports").and_then(|p| p.get(port)) else {
            return not_found("ports", port);
        };
        let device = found["device_id"].as_str().unwrap_or_default();
        if !device.is_empty() {
            return refuse(
                409,
                "PortInUse",
                format!(
                    "Unable to complete operation on port {port} for network {}. \
                     Port already has an attached device {device}.",
                    found["network_id"].as_str().unwrap_or_default()
                ),
            );
        }
        admitted
            .push(json!({"port_id": port, "segmentation_type": kind, "segmentation_id": number}));
    }
    for s in &admitted {
        let same = |c: &Value| {
            c["segmentation_type"] == s["segmentation_type"]
                && c["segmentation_id"] == s["segmentation_id"]
        };
        if subports(trunk).iter().any(same) {
            let (kind, number) = (&s["segmentation_type"], &s["segmentation_id"]);
            let kind = kind.as_str().unwrap_or_default();
            let message = format!(
                "segmentation_type {kind} and segmentation_id {number} already in use on trunk {}.",
                id(trunk)
            );
            return refuse(409, "DuplicateSubPort", message);
        }
    }
    Ok(admitted)
}

/// The trunk's subports without `wanted`, each of which must be one of them.
fn release(trunk: &Value, wanted: &Value) -> Outcome<Vec<Value>> {
    let mut left = subports(trunk).to_vec();
    for s in requested(wanted)? {
        let port = s["port_id"].as_str().unwrap_or_default();
        let Some(at) = left.iter().position(|c| c["port_id"] == json!(port)) else {
            let message = format!("SubPort {port} on trunk {} could not be found.", id(trunk));
            return refuse(404, "SubPortNotFound", message);
        };
        left.remove(at);
    }
    Ok(left)
}

/// What the rig's trunk driver does at once after subports join: binds them to
/// the parent's host (when it is bound) as `trunk:subport`, and sets the trunk
/// ACTIVE. Stores the trunk and returns it as the request's answer had it (DOWN).
fn settle(st: &mut State, mut trunk: Value, joined: &[Value]) -> Value {
    let answer = trunk.clone();
    let parent = trunk["port_id"].as_str().unwrap_or_default().to_string();
    if let Some(ports) = st.items.get_mut("ports") {
        let host = ports.get(&parent).map(|p| p["binding:host_id"].clone());
        let host = host.filter(|h| h.as_str().is_some_and(|h| !h.is_empty()));
        for s in joined {
            let id = s["port_id"].as_str().unwrap_or_default();
            if let (Some(host), Some(port)) = (&host, ports.get_mut(id)) {
                port["binding:host_id"] = host.clone();
                port["binding:vif_type"] = json!("tap");
                port["device_owner"] = json!("trunk:subport");
                port["status"] = json!("ACTIVE");
                bump(port);
            }
        }
    }
    trunk["status"] = json!("ACTIVE");
    bump(&mut trunk);
    let key = id(&trunk).to_string();
    st.items
        .entry("trunks".into())
        .or_default()
        .insert(key, trunk);
    answer
}

/// `POST /v2.0/trunks` with `{"trunk": spec}`: the answer's trunk (DOWN, revision 0).
pub fn create_trunk(st: &mut State, spec: &Value) -> Outcome<Value> {
    let Some(parent) = spec["port_id"].as_str() else {
        return refuse(
            400,
            "HTTPBadRequest",
            "Invalid input for port_id. Reason: 'None' is not a valid UUID.".into(),
        );
    };
    let Some(port) = st.items.get("ports").and_then(|p| p.get(parent)) else {
        return not_found("ports", parent);
    };
    // A bound parent must be bound by the trunk driver's mechanism driver (a tap).
    let bound = port["binding:host_id"]
        .as_str()
        .is_some_and(|h| !h.is_empty());
    let tap = port["binding:vif_type"].as_str().is_none_or(|t| t == "tap");
    if trunk_of_subport(st, parent).is_some() {
        return refuse(
            409,
            "TrunkPortInUse",
            format!("Port {parent} is in use by another trunk."),
        );
    }
    if trunk_of_parent(st, parent).is_some() || (bound && !tap) {
        return parent_in_use(parent);
    }
    let mut trunk = spec.clone();
    trunk["id"] = json!(st.new_id("trunks"));
    for (key, value) in [
        ("name", json!("")),
        ("description", json!("")),
        ("admin_state_up", json!(true)),
        ("tags", json!([])),
    ] {
        if trunk.get(key).is_none() {
            trunk[key] = value;
        }
    }
    trunk["status"] = json!("DOWN");
    trunk["revision_number"] = json!(0);
    trunk["sub_ports"] = json!([]);
    let joined = admit(st, &trunk, spec.get("sub_ports").unwrap_or(&json!([])))?;
    trunk["sub_ports"] = json!(joined);
    Ok(settle(st, trunk, &joined))
}

/// `PUT /v2.0/trunks/<id>/{add,remove}_subports`: the trunk as Neutron answers it
/// (not wrapped in `{"trunk": …}`, status DOWN).
pub fn change_subports(st: &mut State, id: &str, action: &str, body: &Value) -> Outcome<Value> {
    let Some(mut trunk) = st.items.get("trunks").and_then(|t| t.get(id)).cloned() else {
        return not_found("trunks", id);
    };
    let wanted = &body["sub_ports"];
    let (sub_ports, joined) = if action == "add_subports" {
        let joined = admit(st, &trunk, wanted)?;
        ([subports(&trunk), &joined].concat(), joined)
    } else {
        (release(&trunk, wanted)?, Vec::new())
    };
    if trunk["admin_state_up"] == json!(false) {
        return refuse(
            409,
            "TrunkDisabled",
            format!("Trunk {id} is currently disabled."),
        );
    }
    trunk["sub_ports"] = json!(sub_ports);
    trunk["status"] = json!("DOWN");
    bump(&mut trunk);
    Ok(settle(st, trunk, &joined))
}

/// `GET /v2.0/trunks/<id>/get_subports`.
pub fn get_subports(st: &State, id: &str) -> Outcome<Value> {
    match st.items.get("trunks").and_then(|t| t.get(id)) {
        Some(trunk) => Ok(json!({"sub_ports": subports(trunk)})),
        None => not_found("trunks", id),
    }
}

/// A Nova VM's port as nested mode finds it (by MAC): bound to host `hv1` as a tap,
/// ACTIVE, port security on, no address pairs, revision 1.
pub fn vm_port(id: &str, network_id: &str, mac: &str) -> Value {
    json!({
        "id": id, "name": "", "network_id": network_id, "mac_address": mac,
        "status": "ACTIVE", "admin_state_up": true, "device_id": "vm-1",
        "device_owner": "compute:nova", "fixed_ips": [], "tags": [],
        "binding:host_id": "hv1", "binding:vif_type": "tap", "binding:vnic_type": "normal",
        "port_security_enabled": true, "allowed_address_pairs": [], "revision_number": 1,
    })
}

impl State {
    /// Stores `item` in `coll` under its `id`, as a seed.
    pub fn insert(&mut self, coll: &str, item: Value) {
        let id = item["id"]
            .as_str()
            .expect("a seeded item has an id")
            .to_string();
        self.items.entry(coll.into()).or_default().insert(id, item);
    }

    /// A trunk on port `parent` carrying `sub_ports` as `(port id, VLAN)`, stored as
    /// `POST /v2.0/trunks` leaves it (ACTIVE, subports bound to the parent's host).
    /// Its id.
    pub fn seed_trunk(&mut self, parent: &str, sub_ports: &[(&str, u16)]) -> String {
        let sub_ports: Vec<Value> = sub_ports
            .iter()
            .map(|(port, vlan)| json!({"port_id": port, "segmentation_type": "vlan", "segmentation_id": vlan}))
            .collect();
        let spec = json!({"port_id": parent, "sub_ports": sub_ports});
        let trunk = create_trunk(self, &spec).unwrap_or_else(|r| panic!("seed_trunk: {r:?}"));
        id(&trunk).to_string()
    }
}
