//! Interface names and MAC addresses derived from Docker ids. Everything here
//! is a pure function of the id, so that after a restart the plugin finds the
//! links it created earlier without keeping a name table, and startup
//! reconciliation can recognise its own links by prefix. Which id belongs to
//! which network or endpoint is the caller's business.

use super::HostNetError;

/// Bridge: "kbr" + up to 12 characters of the Docker network id.
pub const BRIDGE_PREFIX: &str = "kbr";
/// Host end of an endpoint's veth: "kvh" + up to 12 characters of the endpoint id.
pub const VETH_HOST_PREFIX: &str = "kvh";
/// Container end of an endpoint's veth: "kvc" + up to 12 characters of the endpoint id.
pub const VETH_CONTAINER_PREFIX: &str = "kvc";

/// IFNAMSIZ is 16 including the terminating NUL.
const MAX_IFNAME: usize = 15;
/// 3-byte prefix + 12 id characters = 15 bytes, the kernel maximum.
const ID_CHARS: usize = 12;

pub fn bridge_name(network_id: &str) -> String {
    with_prefix(BRIDGE_PREFIX, network_id)
}

pub fn veth_host_name(endpoint_id: &str) -> String {
    with_prefix(VETH_HOST_PREFIX, endpoint_id)
}

pub fn veth_container_name(endpoint_id: &str) -> String {
    with_prefix(VETH_CONTAINER_PREFIX, endpoint_id)
}

/// Docker ids are 64 hex characters, but swarm ids are 25 base36 characters
/// and tests use anything: keep only [0-9a-z] (lowercased) so the name is
/// always a valid interface name, whatever the id.
fn with_prefix(prefix: &str, id: &str) -> String {
    let mut name = String::with_capacity(MAX_IFNAME);
    name.push_str(prefix);
    name.extend(
        id.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(ID_CHARS),
    );
    name
}

/// A MAC as the kernel, `ip` and Neutron print it: lowercase, colon-separated.
pub fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn bridge_mac(network_id: &str) -> [u8; 6] {
    mac_from_id(network_id)
}

pub fn endpoint_mac(endpoint_id: &str) -> [u8; 6] {
    mac_from_id(endpoint_id)
}

/// The first 12 hex digits of the id as bytes when the id starts with them
/// (so the MAC is recognisable next to `docker network ls`), otherwise a
/// stable hash of the whole id. Either way forced to locally administered
/// unicast: a multicast bit would make the kernel reject the address, and the
/// local bit keeps us out of vendor OUI space.
fn mac_from_id(id: &str) -> [u8; 6] {
    let mut mac = hex_prefix(id).unwrap_or_else(|| {
        let h = fnv1a64(id.as_bytes()).to_be_bytes();
        [h[0], h[1], h[2], h[3], h[4], h[5]]
    });
    mac[0] = (mac[0] & 0xfe) | 0x02;
    mac
}

fn hex_prefix(id: &str) -> Option<[u8; 6]> {
    // Not `u8::from_str_radix`: it accepts a leading '+'.
    let nibble = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let digits = id.as_bytes().get(..ID_CHARS)?;
    let mut mac = [0u8; 6];
    for (byte, pair) in mac.iter_mut().zip(digits.chunks_exact(2)) {
        let &[hi, lo] = pair else { return None };
        *byte = (nibble(hi)? << 4) | nibble(lo)?;
    }
    Some(mac)
}

/// FNV-1a, spelled out because std's `DefaultHasher` is not guaranteed to be
/// stable across Rust releases, and a MAC that changes after an upgrade would
/// flap every bridge on restart.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The kernel's `dev_valid_name()`: 1-15 bytes, not "." or "..", no '/',
/// ':' or whitespace. Checked before talking to the kernel so the error names
/// the problem instead of being a bare EINVAL.
pub fn validate_ifname(name: &str) -> Result<(), HostNetError> {
    let bad = name.is_empty()
        || name.len() > MAX_IFNAME
        || name == "."
        || name == ".."
        || name
            .chars()
            // '\x0b' (vertical tab) is isspace() in C but not Rust whitespace.
            .any(|c| c == '/' || c == ':' || c == '\0' || c == '\x0b' || c.is_whitespace());
    if bad {
        return Err(HostNetError::BadName(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER_ID: &str = "3f2a9c4b7d1e0f5a6b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c";
    const SWARM_ID: &str = "x1y2z3w4v5u6t7s8r9q0p1o2n";

    #[test]
    fn docker_ids_give_15_byte_names() {
        assert_eq!(bridge_name(DOCKER_ID), "kbr3f2a9c4b7d1e");
        assert_eq!(veth_host_name(DOCKER_ID), "kvh3f2a9c4b7d1e");
        assert_eq!(veth_container_name(DOCKER_ID), "kvc3f2a9c4b7d1e");
        assert_eq!(bridge_name(DOCKER_ID).len(), 15);
    }

    #[test]
    fn names_are_deterministic_and_distinct_per_role() {
        assert_eq!(bridge_name(SWARM_ID), bridge_name(SWARM_ID));
        assert_eq!(veth_host_name(DOCKER_ID), veth_host_name(DOCKER_ID));
        assert_ne!(veth_host_name(DOCKER_ID), veth_container_name(DOCKER_ID));
    }

    #[test]
    fn odd_ids_still_give_valid_names() {
        let ids = [
            "",
            "a",
            "abc",
            SWARM_ID,
            "ABCDEF012345XYZ",
            "net/with:bad chars\t and spaces",
            "ünïcödé-ïd-ünïcödé-ïd",
            "................",
            DOCKER_ID,
        ];
        for id in ids {
            for name in [bridge_name(id), veth_host_name(id), veth_container_name(id)] {
                assert!(name.len() <= 15, "{name:?} from {id:?}");
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
                    "{name:?} from {id:?}"
                );
                validate_ifname(&name).unwrap();
            }
        }
        assert_eq!(bridge_name("ABCDEF012345XYZ"), "kbrabcdef012345");
        assert_eq!(bridge_name("net/with:bad"), "kbrnetwithbad");
        assert_eq!(bridge_name(SWARM_ID), "kbrx1y2z3w4v5u6");
        assert_eq!(bridge_name("a"), "kbra");
    }

    fn assert_local_unicast(mac: [u8; 6]) {
        assert_eq!(mac[0] & 0x01, 0, "multicast bit set in {mac:02x?}");
        assert_eq!(mac[0] & 0x02, 0x02, "local bit clear in {mac:02x?}");
    }

    #[test]
    fn macs_from_hex_ids_use_the_id_bytes() {
        // 0x3f -> 0x3e (multicast cleared) -> 0x3e (local already set).
        assert_eq!(bridge_mac(DOCKER_ID), [0x3e, 0x2a, 0x9c, 0x4b, 0x7d, 0x1e]);
        // 0x01 -> 0x02.
        assert_eq!(
            endpoint_mac("0123456789ab"),
            [0x02, 0x23, 0x45, 0x67, 0x89, 0xab]
        );
        assert_local_unicast(bridge_mac(DOCKER_ID));
    }

    #[test]
    fn macs_from_odd_ids_are_stable_local_unicast() {
        for id in ["", "a", SWARM_ID, "zzzzzzzzzzzz", "0123456789a", "é"] {
            let mac = endpoint_mac(id);
            assert_local_unicast(mac);
            assert_eq!(mac, endpoint_mac(id));
            assert_eq!(mac, bridge_mac(id));
        }
        // Pinned so a change of hash (which would change MACs on upgrade) is noticed.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(
            endpoint_mac(SWARM_ID),
            endpoint_mac("x1y2z3w4v5u6t7s8r9q0p1o2m")
        );
        // A '+' is not a hex digit even though `from_str_radix` would take it.
        assert_eq!(hex_prefix("+1+2+3+4+5+6"), None);
        assert_eq!(
            hex_prefix("0123456789aB"),
            Some([1, 0x23, 0x45, 0x67, 0x89, 0xab])
        );
    }

    #[test]
    fn validate_ifname_follows_the_kernel() {
        for ok in [
            "a",
            "eth0",
            "kbr3f2a9c4b7d1e",
            "br-x.y_z",
            "123456789012345",
        ] {
            validate_ifname(ok).unwrap();
        }
        for bad in [
            "",
            ".",
            "..",
            "1234567890123456",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
            "a\x0bb",
            "a\0b",
            "ééééééééé", // 18 bytes
        ] {
            let err = validate_ifname(bad).unwrap_err();
            assert!(
                matches!(err, HostNetError::BadName(ref n) if n == bad),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate_ifname("a b").unwrap_err().to_string(),
            "interface name \"a b\" is invalid (1-15 bytes, no '/', whitespace or ':')"
        );
    }
}
