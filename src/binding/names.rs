//! Names and MACs of the binding, exactly as kuryr-lib and its scripts derive
//! them, so that links made by kuryr-libnetwork are found (and removed) by this
//! plugin and the other way round. Pure functions; no I/O. Ids are used as
//! given: they come from Neutron (UUIDs) and are checked against the kernel's
//! name rules (`check_names`), not rewritten.

use crate::hostnet::validate_ifname;

use super::{BindError, Vif};

/// kuryr-lib's `NIC_NAME_LEN`: one less than the kernel allows, like Nova.
const NIC_NAME_LEN: usize = 14;
/// How much of an id the scripts' `qbr`/`qvb`/`qvo`/`brq` names keep (`${ID:0:11}`).
const SCRIPT_ID_CHARS: usize = 11;

/// Host end of the veth: `("tap" + port_id)[:14]`, e.g. `tap40889633-16`.
pub fn host_ifname(port_id: &str) -> String {
    truncated("tap", port_id, NIC_NAME_LEN)
}

/// Container end of the veth: `("t_c" + port_id)[:14]`, e.g. `t_c40889633-16`.
pub fn container_ifname(port_id: &str) -> String {
    truncated("t_c", port_id, NIC_NAME_LEN)
}

/// The linuxbridge agent's bridge for a network: `brq` + `network_id[:11]`.
pub fn linuxbridge_name(network_id: &str) -> String {
    truncated("brq", network_id, 3 + SCRIPT_ID_CHARS)
}

/// The OVS hybrid plug's per-port Linux bridge and the veth pair joining it
/// to OVS, as kuryr's `ovs` script names them: (`qbr…`, `qvb…`, `qvo…`).
pub(super) fn hybrid_names(port_id: &str) -> (String, String, String) {
    let cut = |prefix| truncated(prefix, port_id, 3 + SCRIPT_ID_CHARS);
    (cut("qbr"), cut("qvb"), cut("qvo"))
}

/// Python's `(prefix + id)[:len]`: counted in characters, not bytes.
fn truncated(prefix: &str, id: &str, len: usize) -> String {
    prefix.chars().chain(id.chars()).take(len).collect()
}

/// The port id must give valid interface names (Neutron's UUIDs always do);
/// `names` are those derived from it that the caller will create.
pub(super) fn check_names(vif: &Vif, names: &[String]) -> Result<(), BindError> {
    let bad = |reason: String| BindError::BadVif {
        port_id: vif.port_id.clone(),
        reason,
    };
    if vif.port_id.is_empty() {
        return Err(bad("the port id is empty".into()));
    }
    for name in names {
        validate_ifname(name).map_err(|e| bad(e.to_string()))?;
    }
    Ok(())
}

/// The port MAC as bytes, refusing anything the kernel would refuse or
/// silently misuse: not six colon-separated hex pairs, multicast (which a
/// veth rejects), or all zeros.
pub(super) fn parse_mac(vif: &Vif) -> Result<[u8; 6], BindError> {
    let bad = |why: &str| BindError::BadVif {
        port_id: vif.port_id.clone(),
        reason: format!("MAC address {:?} {why}", vif.mac),
    };
    let mut mac = [0u8; 6];
    let mut parts = vif.mac.split(':');
    for byte in &mut mac {
        let part = parts
            .next()
            .filter(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad("is not of the form xx:xx:xx:xx:xx:xx"))?;
        *byte = u8::from_str_radix(part, 16)
            .map_err(|_| bad("is not of the form xx:xx:xx:xx:xx:xx"))?;
    }
    if parts.next().is_some() {
        return Err(bad("is not of the form xx:xx:xx:xx:xx:xx"));
    }
    if mac[0] & 1 == 1 {
        return Err(bad("is a multicast address"));
    }
    if mac == [0; 6] {
        return Err(bad("is all zeros"));
    }
    Ok(mac)
}

/// The MAC as kuryr passes it to OVS and the scripts: lowercase.
pub(super) use crate::hostnet::mac_string;

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: &str = "40889633-1612-4b47-8d68-f0d3b2c1a9e7";

    fn vif(mac: &str) -> Vif {
        Vif {
            port_id: PORT.into(),
            endpoint_id: "ep".into(),
            network_id: "net".into(),
            project_id: "proj".into(),
            mac: mac.into(),
            mtu: None,
            vif_type: "tap".into(),
            vif_details: serde_json::Value::Null,
            vlan: None,
        }
    }

    #[test]
    fn veth_names_are_kuryr_libs() {
        assert_eq!(host_ifname(PORT), "tap40889633-16");
        assert_eq!(container_ifname(PORT), "t_c40889633-16");
        assert_eq!(host_ifname(PORT).len(), 14);
        // Short ids are not padded, empty ones give the bare prefix.
        assert_eq!(host_ifname("abc"), "tapabc");
        assert_eq!(container_ifname(""), "t_c");
        // Python slices characters, not bytes.
        assert_eq!(host_ifname("ééééééééééééééé"), "tapééééééééééé");
    }

    #[test]
    fn bridge_names_are_the_scripts() {
        assert_eq!(
            linuxbridge_name("5a7e0c1d-9b2f-4e3a-8c6d-7f1e2d3c4b5a"),
            "brq5a7e0c1d-9b"
        );
        assert_eq!(linuxbridge_name("short"), "brqshort");
        assert_eq!(
            hybrid_names(PORT),
            (
                "qbr40889633-16".into(),
                "qvb40889633-16".into(),
                "qvo40889633-16".into()
            )
        );
    }

    #[test]
    fn macs_are_parsed_and_lowercased() {
        let mac = parse_mac(&vif("FA:16:3E:00:0a:01")).unwrap();
        assert_eq!(mac, [0xfa, 0x16, 0x3e, 0x00, 0x0a, 0x01]);
        assert_eq!(mac_string(mac), "fa:16:3e:00:0a:01");
    }

    #[test]
    fn bad_macs_are_refused_with_the_port() {
        for (mac, why) in [
            ("", "form"),
            ("fa:16:3e:00:00", "form"),
            ("fa:16:3e:00:00:01:02", "form"),
            ("fa:16:3e:00:00:1", "form"),
            ("fa-16-3e-00-00-01", "form"),
            ("fa:16:3e:00:00:+1", "form"),
            ("fa:16:3e:00:00:0g", "form"),
            ("01:00:5e:00:00:01", "multicast"),
            ("00:00:00:00:00:00", "zeros"),
        ] {
            let err = parse_mac(&vif(mac)).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(why) && text.contains(PORT), "{mac:?}: {text}");
        }
    }
}
