//! The names and tags kuryr-libnetwork writes into Neutron (its inventory §3), kept
//! byte-for-byte so either implementation recognises the other's objects. Pure: no I/O.

/// Tag prefix for the lower and upper halves of a Docker id (network or endpoint).
const LH: &str = "kuryr.net.uuid.lh:";
const UH: &str = "kuryr.net.uuid.uh:";
/// On a user's network adopted by a Docker network (per Docker network, bug 1695682).
const NET_EXISTING: &str = "kuryr.net.existing:";
/// On a user's subnet pool named by `neutron.pool.*`: never delete it.
pub const POOL_EXISTING: &str = "kuryr.subnetpool.existing";
/// On a port created by kuryr's IPAM: delete it on release.
pub const PORT_OWNED: &str = "compute:kuryr";
/// On a user's port reused by kuryr's IPAM: reset it on release, never delete it.
pub const PORT_EXISTING: &str = "kuryr.port.existing";
/// `device_owner` of every port kuryr binds.
pub const DEVICE_OWNER: &str = "compute:kuryr";
/// Name of a port pre-created by RequestAddress.
pub const UNBOUND_PORT: &str = "kuryr-unbound-port";
/// On a port a port pool made ahead of time (new in the Rust plugin; `port_pool.rs`):
/// no container's yet. kuryr-libnetwork deletes on release only ports tagged
/// `compute:kuryr` or named `<device_id>-port`, so it leaves these alone.
pub const POOL_PORT_TAG: &str = "kuryr.port.pool";
/// Name of a pool port; it keeps it once handed out (then it is kuryr's, like
/// `kuryr-unbound-port`).
pub const POOL_PORT: &str = "kuryr-pool-port";
pub const SUBNET_PREFIX: &str = "kuryr-subnet-";
pub const SG_DESCRIPTION: &str = "Docker exposed ports created by Kuryr.";

/// `LH(id)` and, for ids longer than 32 characters, `UH(id)`: a 25-character swarm
/// id gets only the lower half, as in kuryr-libnetwork.
pub fn id_tags(docker_id: &str) -> Vec<String> {
    let (lo, hi) = split(docker_id, 32);
    let mut tags = vec![format!("{LH}{lo}")];
    if !hi.is_empty() {
        tags.push(format!("{UH}{}", split(hi, 32).0));
    }
    tags
}

/// The tag marking a user's network adopted by Docker network `docker_id`.
pub fn net_existing_tag(docker_id: &str) -> String {
    format!("{NET_EXISTING}{}", split(docker_id, 12).0)
}

/// The Docker id the LH/UH tags among `tags` name (a network's or an endpoint's).
pub fn docker_id_of(tags: &[String]) -> Option<String> {
    let lo = tags.iter().find_map(|t| t.strip_prefix(LH))?;
    let hi = tags.iter().find_map(|t| t.strip_prefix(UH)).unwrap_or("");
    Some(format!("{lo}{hi}"))
}

/// Whether `tag` is one kuryr puts on a network for a Docker network.
pub fn is_network_tag(tag: &str) -> bool {
    tag.starts_with(LH) || tag.starts_with(UH) || tag.starts_with(NET_EXISTING)
}

/// `kuryr-net-<NID[:8]>`, the name of a network kuryr creates (tag mode).
pub fn network_name(docker_id: &str) -> String {
    format!("kuryr-net-{}", split(docker_id, 8).0)
}

/// `kuryr-subnet-<cidr as Docker sent it>`.
pub fn subnet_name(cidr: &str) -> String {
    format!("{SUBNET_PREFIX}{cidr}")
}

/// `<prefix>-<cidr>`, e.g. `kuryrPool-10.0.0.0/24`.
pub fn pool_name(prefix: &str, cidr: &str) -> String {
    format!("{prefix}-{cidr}")
}

/// `<EID>-port`, the name of a port CreateEndpoint makes itself.
pub fn endpoint_port_name(endpoint_id: &str) -> String {
    format!("{endpoint_id}-port")
}

/// `<port id>-exposed_ports`.
pub fn security_group_name(port_id: &str) -> String {
    format!("{port_id}-exposed_ports")
}

/// Whether a port was made by kuryr (this one or kuryr-libnetwork) for a container and
/// so may be deleted on release: tagged `compute:kuryr`, named `kuryr-unbound-port` (an
/// IPAM port whose tag call never happened, B10) or `kuryr-pool-port` without the pool
/// tag (handed out), or untagged and named `<device_id>-port`. A port still in a pool
/// (perhaps another host's) is not one.
pub fn is_kuryr_port(name: &str, device_id: &str, tags: &[String]) -> bool {
    if tags.iter().any(|t| t == PORT_EXISTING) || is_pool_port(tags) {
        return false;
    }
    tags.iter().any(|t| t == PORT_OWNED)
        || name == UNBOUND_PORT
        || name == POOL_PORT
        || (!device_id.is_empty() && name == endpoint_port_name(device_id))
}

/// Whether a port is in a port pool (tagged `kuryr.port.pool`).
pub fn is_pool_port(tags: &[String]) -> bool {
    tags.iter().any(|t| t == POOL_PORT_TAG)
}

/// Whether a port is attached to a Docker endpoint: it has a device, or the endpoint
/// tags (kuryr leaves the device id of ports it pre-bound empty).
pub fn is_attached(device_id: &str, tags: &[String]) -> bool {
    !device_id.is_empty() || tags.iter().any(|t| t.starts_with(LH))
}

/// Whether a port on a network being deleted is kuryr's own leftover on `host`: made
/// by kuryr for a container (`is_kuryr_port`) or for a pool, and bound to this host or
/// to none. Another host's kuryr port is a live container or that host's pool, and is
/// never one.
pub fn is_leftover_port(port: &crate::neutron::Port, host: &str) -> bool {
    (is_kuryr_port(&port.name, &port.device_id, &port.tags) || is_pool_port(&port.tags))
        && (port.binding_host_id.is_empty() || port.binding_host_id == host)
}

/// Whether Neutron owns the port and removes it with its network (DHCP).
pub fn is_network_owned(device_owner: &str) -> bool {
    device_owner == "network:dhcp"
}

fn split(s: &str, at: usize) -> (&str, &str) {
    match s.char_indices().nth(at) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ids_get_two_tags_and_swarm_ids_one() {
        let id = format!("{}{}", "a".repeat(32), "b".repeat(32));
        assert_eq!(
            id_tags(&id),
            vec![
                format!("kuryr.net.uuid.lh:{}", "a".repeat(32)),
                format!("kuryr.net.uuid.uh:{}", "b".repeat(32)),
            ]
        );
        assert_eq!(
            id_tags("abcdefghijklmnopqrstuvwxy"),
            vec!["kuryr.net.uuid.lh:abcdefghijklmnopqrstuvwxy".to_string()]
        );
    }

    #[test]
    fn docker_ids_come_back_from_their_tags() {
        let id = format!("{}{}", "a".repeat(32), "b".repeat(32));
        assert_eq!(docker_id_of(&id_tags(&id)), Some(id));
        let swarm = "abcdefghijklmnopqrstuvwxy";
        assert_eq!(docker_id_of(&id_tags(swarm)), Some(swarm.to_string()));
        assert_eq!(docker_id_of(&[PORT_OWNED.to_string()]), None);
    }

    #[test]
    fn names_match_kuryr_libnetwork() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(network_name(&id), "kuryr-net-01234567");
        assert_eq!(net_existing_tag(&id), "kuryr.net.existing:0123456789ab");
        assert_eq!(subnet_name("10.0.0.0/24"), "kuryr-subnet-10.0.0.0/24");
        assert_eq!(
            pool_name("kuryrPool", "10.0.0.0/24"),
            "kuryrPool-10.0.0.0/24"
        );
        assert_eq!(security_group_name("p"), "p-exposed_ports");
    }

    #[test]
    fn kuryr_ports_are_recognised_and_user_ports_are_not() {
        let owned = vec![PORT_OWNED.to_string()];
        let existing = vec![PORT_EXISTING.to_string()];
        assert!(is_kuryr_port("x", "", &owned));
        assert!(is_kuryr_port(UNBOUND_PORT, "", &[]));
        assert!(is_kuryr_port("e1-port", "e1", &[]));
        assert!(!is_kuryr_port("vm-port", "e1", &[]));
        assert!(!is_kuryr_port(UNBOUND_PORT, "", &existing));
    }

    #[test]
    fn pool_ports_are_kuryrs_only_once_handed_out_and_leftovers_only_here() {
        let pooled = vec![POOL_PORT_TAG.to_string()];
        assert!(!is_kuryr_port(POOL_PORT, "", &pooled), "still in a pool");
        assert!(is_kuryr_port(POOL_PORT, "", &[]), "handed out");
        let mut port = crate::neutron::Port {
            name: POOL_PORT.into(),
            tags: pooled,
            binding_host_id: "here".into(),
            ..Default::default()
        };
        assert!(is_leftover_port(&port, "here"));
        port.binding_host_id = "there".into();
        assert!(!is_leftover_port(&port, "here"), "another host's pool");
    }
}
