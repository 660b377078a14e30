//! vif_type "ovs": plugging the tap into the OVS integration bridge with
//! ovs-vsctl, with exactly the external_ids kuryr-libnetwork's `ovs` script
//! sets (so the OVS agent or OVN controller recognise the port, and either
//! implementation can unplug the other's), and the hybrid plug
//! (`ovs_hybrid_plug: true`: tap → `qbr…` Linux bridge → `qvb…`/`qvo…` veth →
//! OVS) that iptables-based security groups need. It never creates or
//! configures the OVS bridge itself; that belongs to the agent.

use std::ffi::OsStr;
use std::time::Duration;

use crate::hostnet::{HostNet, LinkOutcome, Netlink, VethPair};

use super::names::hybrid_names;
use super::{BindError, BindingSettings, Vif, exec};

/// ovs-vsctl's own limit (its --timeout) for reaching the database and for
/// ovs-vswitchd to apply the change; without it a stopped ovs-vswitchd makes
/// ovs-vsctl wait forever.
const VSCTL_TIMEOUT_SECS: u64 = 10;
/// Our limit on top, in case ovs-vsctl itself hangs.
const VSCTL_KILL_AFTER: Duration = Duration::from_secs(30);

/// Whether the port asks for the hybrid plug. kuryr's script greps the
/// details' repr for `'ovs_hybrid_plug': True`, i.e. a JSON `true`.
pub(super) fn is_hybrid(vif: &Vif) -> bool {
    vif.vif_details.get("ovs_hybrid_plug") == Some(&serde_json::Value::Bool(true))
}

/// The start of every ovs-vsctl argv: the database if configured, the limit.
fn base_args(settings: &BindingSettings) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(db) = &settings.ovsdb {
        args.push(format!("--db={db}"));
    }
    args.push(format!("--timeout={VSCTL_TIMEOUT_SECS}"));
    args
}

/// `… -- --may-exist add-port <bridge> <iface> -- set interface <iface>
/// external_ids:…`. `endpoint_key` is `vm-uuid` for the plain plug and
/// `vm-id` for the hybrid one, as in kuryr's script.
pub(super) fn add_port_args(
    settings: &BindingSettings,
    vif: &Vif,
    iface: &str,
    mac: &str,
    endpoint_key: &str,
) -> Vec<String> {
    let mut args = base_args(settings);
    args.extend(
        [
            "--",
            "--may-exist",
            "add-port",
            &settings.ovs_bridge,
            iface,
            "--",
            "set",
            "interface",
            iface,
        ]
        .map(str::to_owned),
    );
    args.extend([
        format!("external_ids:attached-mac={mac}"),
        format!("external_ids:iface-id={}", vif.port_id),
        format!("external_ids:{endpoint_key}={}", vif.endpoint_id),
        "external_ids:iface-status=active".to_owned(),
        "external_ids:owner=kuryr".to_owned(),
    ]);
    args
}

/// `… -- --if-exists del-port <iface> …` for each interface, in one
/// transaction. No bridge is named: the port is removed from whichever bridge
/// holds it, so an unbind still works after `ovs_bridge` was changed.
pub(super) fn del_ports_args(settings: &BindingSettings, ifaces: &[&str]) -> Vec<String> {
    let mut args = base_args(settings);
    for iface in ifaces {
        args.extend(["--", "--if-exists", "del-port", iface].map(str::to_owned));
    }
    args
}

async fn vsctl(args: &[String]) -> Result<(), BindError> {
    exec::run(OsStr::new("ovs-vsctl"), args, VSCTL_KILL_AFTER)
        .await
        .map(drop)
}

/// Refuses ids that OVSDB's unquoted-atom syntax would misread (the argv
/// stays byte-for-byte kuryr's, which passes them unquoted). Neutron and
/// Docker ids are UUIDs and hex, which always pass.
fn check_atoms(vif: &Vif) -> Result<(), BindError> {
    for (what, value) in [("port id", &vif.port_id), ("endpoint id", &vif.endpoint_id)] {
        let plain = !value.is_empty()
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !plain {
            return Err(BindError::BadVif {
                port_id: vif.port_id.clone(),
                reason: format!(
                    "{what} {value:?} cannot be written to OVSDB (only letters, digits, '-', '_', '.')"
                ),
            });
        }
    }
    Ok(())
}

/// Plain plug: the tap itself becomes the OVS port.
pub(super) async fn plug(
    settings: &BindingSettings,
    vif: &Vif,
    tap: &str,
    mac: &str,
) -> Result<(), BindError> {
    check_atoms(vif)?;
    vsctl(&add_port_args(settings, vif, tap, mac, "vm-uuid")).await
}

/// Hybrid plug, as kuryr's script: `qbr…` bridge (forward delay 0, STP off),
/// tap on it, `qvb…`/`qvo…` veth with `qvb…` on the bridge and `qvo…` in OVS,
/// everything up. On failure, removes the links this call created (links
/// that already existed are an earlier attempt's and stay for the retry).
pub(super) async fn plug_hybrid(
    nl: &Netlink,
    settings: &BindingSettings,
    vif: &Vif,
    tap: &str,
    mac: &str,
) -> Result<(), BindError> {
    check_atoms(vif)?;
    let mut made = Vec::new();
    let result = plug_hybrid_steps(nl, settings, vif, tap, mac, &mut made).await;
    let Err(error) = result else {
        return Ok(());
    };
    // Deleting qvb takes qvo with it; qbr goes last, after its ports left.
    let mut cleanup = Vec::new();
    for name in made.iter().rev() {
        if let Err(e) = nl.delete_link(name).await {
            cleanup.push(BindError::host(format!("roll back {name}"))(e));
        }
    }
    Err(error.with_cleanup(BindError::all(cleanup)))
}

async fn plug_hybrid_steps(
    nl: &Netlink,
    settings: &BindingSettings,
    vif: &Vif,
    tap: &str,
    mac: &str,
    made: &mut Vec<String>,
) -> Result<(), BindError> {
    let (qbr, qvb, qvo) = hybrid_names(&vif.port_id);
    let step = |what: &str| BindError::host(format!("hybrid plug of port {}: {what}", vif.port_id));
    if nl
        .ensure_port_bridge(&qbr)
        .await
        .map_err(step("create bridge"))?
        == LinkOutcome::Created
    {
        made.push(qbr.clone());
    }
    nl.attach_to_bridge(tap, &qbr)
        .await
        .map_err(step("attach tap"))?;
    let pair = VethPair {
        host: qvb.clone(),
        container: qvo.clone(),
        container_mac: None,
        mtu: Some(vif.mtu.unwrap_or(super::DEFAULT_MTU)),
    };
    if nl
        .create_veth_pair(&pair)
        .await
        .map_err(step("create qvb/qvo veth"))?
        == LinkOutcome::Created
    {
        made.push(qvb.clone());
    }
    nl.attach_to_bridge(&qvb, &qbr)
        .await
        .map_err(step("attach qvb"))?;
    nl.set_up(&qvo).await.map_err(step("bring qvo up"))?;
    vsctl(&add_port_args(settings, vif, &qvo, mac, "vm-id")).await
}

/// Removes the tap and (whether or not the port was hybrid: the details may
/// have changed since the bind) the hybrid plug's OVS port and links. Every
/// step runs; missing ports and links are success. The tap veth itself is
/// the caller's.
pub(super) async fn unplug(
    nl: &Netlink,
    settings: &BindingSettings,
    vif: &Vif,
    tap: &str,
    errors: &mut Vec<BindError>,
) {
    let (qbr, qvb, qvo) = hybrid_names(&vif.port_id);
    if let Err(e) = vsctl(&del_ports_args(settings, &[tap, &qvo])).await {
        errors.push(e);
    }
    // qvb takes qvo with it; the bridge releases the tap when deleted.
    for name in [&qvb, &qbr] {
        if let Err(e) = nl.delete_link(name).await {
            errors.push(BindError::host(format!("delete {name}"))(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vif() -> Vif {
        Vif {
            port_id: "40889633-1612-4b47-8d68-f0d3b2c1a9e7".into(),
            endpoint_id: "70141a672af9".into(),
            network_id: "n1".into(),
            project_id: "t1".into(),
            mac: "fa:16:3e:00:00:01".into(),
            mtu: None,
            vif_type: "ovs".into(),
            vif_details: json!({"port_filter": true}),
            vlan: None,
        }
    }

    #[test]
    fn add_port_is_kuryrs_script_line() {
        let settings = BindingSettings::default();
        let args = add_port_args(
            &settings,
            &vif(),
            "tap40889633-16",
            "fa:16:3e:00:00:01",
            "vm-uuid",
        );
        assert_eq!(
            args.join(" "),
            "--timeout=10 -- --may-exist add-port br-int tap40889633-16 -- set interface \
             tap40889633-16 external_ids:attached-mac=fa:16:3e:00:00:01 \
             external_ids:iface-id=40889633-1612-4b47-8d68-f0d3b2c1a9e7 \
             external_ids:vm-uuid=70141a672af9 external_ids:iface-status=active \
             external_ids:owner=kuryr"
        );
    }

    #[test]
    fn db_and_bridge_come_from_the_settings() {
        let settings = BindingSettings {
            ovs_bridge: "br-test".into(),
            ovsdb: Some("unix:/tmp/x/db.sock".into()),
            ..BindingSettings::default()
        };
        let args = add_port_args(&settings, &vif(), "qvo1", "fa:16:3e:00:00:01", "vm-id");
        assert_eq!(args[..2], ["--db=unix:/tmp/x/db.sock", "--timeout=10"]);
        assert!(args.contains(&"br-test".to_owned()));
        assert!(args.contains(&"external_ids:vm-id=70141a672af9".to_owned()));
        assert_eq!(
            del_ports_args(&settings, &["tap1", "qvo1"]).join(" "),
            "--db=unix:/tmp/x/db.sock --timeout=10 -- --if-exists del-port tap1 \
             -- --if-exists del-port qvo1"
        );
    }

    #[test]
    fn hybrid_only_for_a_json_true() {
        let with = |details| Vif {
            vif_details: details,
            ..vif()
        };
        assert!(is_hybrid(&with(
            json!({"ovs_hybrid_plug": true, "port_filter": true})
        )));
        for no in [
            json!({"ovs_hybrid_plug": false}),
            json!({"ovs_hybrid_plug": "True"}),
            json!({}),
            json!(null),
        ] {
            assert!(!is_hybrid(&with(no.clone())), "{no}");
        }
    }

    #[test]
    fn ids_that_ovsdb_would_misparse_are_refused() {
        check_atoms(&vif()).unwrap();
        for bad in ["", "a b", "a,b", "a=b", "a\"b", "x}"] {
            let v = Vif {
                endpoint_id: bad.into(),
                ..vif()
            };
            let err = check_atoms(&v).unwrap_err();
            assert!(err.to_string().contains("endpoint id"), "{err}");
        }
    }
}
