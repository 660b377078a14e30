//! Privileged tests of the real `binding::NestedBinder` against the kernel:
//! each test runs in its own network namespace (see `netns/mod.rs`) with a
//! veth end `eth0` standing in for the VM's NIC (this kernel has no dummy
//! module), and checks the result with `ip -d -j`. VLAN mode is checked
//! against what this kernel can do: `ip` is asked first, and the binder must
//! agree (made the link, or named the missing 8021q module). They need root:
//! ignored without `--features privileged-tests`, and failing loudly without
//! root with it.

mod netns;

use std::process::Command;

use kuryr::binding::{
    BindError, Binder, NestedBinder, NestedMode, NestedSettings, Vif, container_ifname,
};
use netns::{Ns, in_fresh_ns, is_up};
use serde_json::Value;

const PORT: &str = "40889633-1612-4b47-8d68-f0d3b2c1a9e7";
const CHILD: &str = "t_c40889633-16";
const NIC_MAC: &str = "fa:16:3e:0b:0c:ee";

fn vif(mtu: Option<u32>, vlan: Option<u16>) -> Vif {
    Vif {
        port_id: PORT.into(),
        endpoint_id: "70141a672af932c43b2003eed93789c18685b7a34998da4aafb7b984297a4901".into(),
        network_id: "9e3a1c2b-5d4f-4a6b-8c7d-e0f1a2b3c4d5".into(),
        project_id: "b4d7e1f0a9c84e2b9d3f6a5c7e8b1d20".into(),
        mac: "FA:16:3E:AA:00:01".into(),
        mtu,
        vif_type: "unbound".into(),
        vif_details: Value::Null,
        vlan,
    }
}

/// The VM's NIC: `eth0` with a known MAC and MTU 1500, and a binder on it.
fn nic_and_binder(ns: &Ns, mode: NestedMode) -> NestedBinder {
    ns.add_plain_veth("eth0", "eth0peer");
    ns.ip(&["link", "set", "eth0", "address", NIC_MAC, "mtu", "1500"]);
    NestedBinder::new(NestedSettings {
        link_iface: "eth0".into(),
        mode,
    })
    .expect("NestedBinder::new")
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn macvlan_child_is_made_reused_and_removed() {
    in_fresh_ns(|ns| async move {
        let b = nic_and_binder(&ns, NestedMode::Macvlan);
        assert_eq!(b.link_mac().await.unwrap(), NIC_MAC);
        let as_binder: &dyn Binder = &b;
        assert_eq!(
            as_binder.link_mac().await.unwrap().as_deref(),
            Some(NIC_MAC)
        );
        assert_eq!(container_ifname(PORT), CHILD);

        let v = vif(Some(1450), None);
        b.bind(&v).await.unwrap();
        let link = ns.link(CHILD).expect("the macvlan");
        assert_eq!(link["linkinfo"]["info_kind"], "macvlan", "{link}");
        assert_eq!(link["linkinfo"]["info_data"]["mode"], "bridge", "{link}");
        assert_eq!(link["link"], "eth0", "parent: {link}");
        assert_eq!(link["address"], "fa:16:3e:aa:00:01");
        assert_eq!(link["mtu"], 1450);
        assert!(!is_up(&link), "dockerd brings it up, not us: {link}");

        b.bind(&v).await.unwrap();
        let again = ns.link(CHILD).expect("the macvlan");
        assert_eq!(again["ifindex"], link["ifindex"], "reused, not recreated");

        b.unbind(&v).await.unwrap();
        assert!(!ns.has_link(CHILD), "{:?}", ns.link_names());
        b.unbind(&v).await.unwrap();
        assert!(ns.has_link("eth0"), "the NIC stays");

        // No network MTU is kuryr-lib's 1500: as much as eth0 carries.
        b.bind(&vif(None, None)).await.unwrap();
        assert_eq!(ns.link(CHILD).unwrap()["mtu"], 1500);
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn a_network_mtu_above_the_nics_is_refused_and_nothing_is_made() {
    in_fresh_ns(|ns| async move {
        let b = nic_and_binder(&ns, NestedMode::Macvlan);
        let err = b.bind(&vif(Some(9000), None)).await.unwrap_err();
        assert!(matches!(err, BindError::LinkIface { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("9000") && text.contains("1500") && text.contains("eth0"),
            "{text}"
        );
        assert!(!ns.has_link(CHILD), "{:?}", ns.link_names());
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn links_that_are_not_the_ports_child_are_refused_and_kept() {
    in_fresh_ns(|ns| async move {
        let b = nic_and_binder(&ns, NestedMode::Macvlan);
        let v = vif(Some(1500), None);

        // Another kind of link under the name.
        ns.add_plain_veth(CHILD, "otherpeer");
        let err = b.bind(&v).await.unwrap_err();
        assert!(
            err.to_string()
                .ends_with("exists but is a veth link, not a macvlan"),
            "{err}"
        );
        assert_eq!(ns.link(CHILD).unwrap()["linkinfo"]["info_kind"], "veth");
        ns.ip(&["link", "del", CHILD]);

        // A macvlan on another parent, with another MAC, or in another mode.
        ns.add_plain_veth("eth1", "eth1peer");
        let port_mac = "fa:16:3e:aa:00:01";
        for (parent, mac, mode, why) in [
            ("eth1", port_mac, "bridge", "is not on eth0"),
            (
                "eth0",
                "fa:16:3e:aa:00:02",
                "bridge",
                "has MAC fa:16:3e:aa:00:02, not fa:16:3e:aa:00:01",
            ),
            ("eth0", port_mac, "vepa", "has mode Vepa, not mode Bridge"),
        ] {
            ns.ip(&[
                "link", "add", "link", parent, "name", CHILD, "address", mac, "type", "macvlan",
                "mode", mode,
            ]);
            let err = b.bind(&v).await.unwrap_err();
            assert!(err.to_string().ends_with(why), "{err}");
            assert!(ns.has_link(CHILD), "not ours to delete");
            ns.ip(&["link", "del", CHILD]);
        }
    });
}

/// Whether this kernel makes VLAN links at all, as `ip` finds out.
fn kernel_has_vlan(ns: &Ns) -> bool {
    let made = Command::new("ip")
        .args(["-n", &ns.0, "link", "add", "link", "eth0", "name", "vprobe"])
        .args(["type", "vlan", "id", "4000"])
        .output()
        .expect("run ip")
        .status
        .success();
    if made {
        ns.ip(&["link", "del", "vprobe"]);
    }
    made
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn vlan_child_is_made_or_the_missing_8021q_module_is_named() {
    in_fresh_ns(|ns| async move {
        let b = nic_and_binder(&ns, NestedMode::Vlan);
        let v = vif(Some(1500), Some(101));
        let bound = b.bind(&v).await;
        if kernel_has_vlan(&ns) {
            bound.unwrap();
            let link = ns.link(CHILD).expect("the VLAN link");
            assert_eq!(link["linkinfo"]["info_kind"], "vlan", "{link}");
            assert_eq!(link["linkinfo"]["info_data"]["id"], 101, "{link}");
            assert_eq!(link["link"], "eth0", "{link}");
            assert_eq!(link["address"], "fa:16:3e:aa:00:01");
            assert!(!is_up(&link), "{link}");
            b.unbind(&v).await.unwrap();
        } else {
            let err = bound.unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("needs the 8021q module (modprobe 8021q)") && text.contains(CHILD),
                "{text}"
            );
        }
        assert!(!ns.has_link(CHILD), "{:?}", ns.link_names());
        // A network MTU above the NIC's is refused in VLAN mode too.
        let err = b.bind(&vif(Some(9000), Some(101))).await.unwrap_err();
        assert!(matches!(err, BindError::LinkIface { .. }), "{err:?}");
    });
}
