//! Privileged tests of the real `binding::HostBinder` against the kernel, for
//! the vif_types that need no Open vSwitch ("tap", "bridge", scripts, and the
//! refused ones): each test runs in its own network namespace (see
//! `netns/mod.rs`) and checks the result with `ip -d -j`. OVS plugging is in
//! `binding_ovs.rs`. They need root: ignored without `--features
//! privileged-tests`, and failing loudly without root with it.

mod netns;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kuryr::binding::{
    BindError, Binder, BindingSettings, HostBinder, Vif, container_ifname, host_ifname,
    linuxbridge_name,
};
use netns::{Ns, in_fresh_ns, is_up};
use serde_json::json;

const PORT: &str = "40889633-1612-4b47-8d68-f0d3b2c1a9e7";
const PORT2: &str = "5b1c0e2d-77aa-4f00-9a3b-0123456789ab";
const NET: &str = "9e3a1c2b-5d4f-4a6b-8c7d-e0f1a2b3c4d5";
const EP: &str = "70141a672af932c43b2003eed93789c18685b7a34998da4aafb7b984297a4901";

fn vif(port: &str, vif_type: &str) -> Vif {
    Vif {
        port_id: port.into(),
        endpoint_id: EP.into(),
        network_id: NET.into(),
        project_id: "b4d7e1f0a9c84e2b9d3f6a5c7e8b1d20".into(),
        // Neutron may send any case; the kernel and scripts get lowercase.
        mac: "FA:16:3E:AA:00:01".into(),
        mtu: Some(1450),
        vif_type: vif_type.into(),
        vif_details: json!({"port_filter": true}),
        vlan: None,
    }
}

fn binder(bindir: &Path) -> HostBinder {
    HostBinder::new(BindingSettings {
        bindir: bindir.to_owned(),
        ..BindingSettings::default()
    })
    .expect("HostBinder::new")
}

/// A binder whose bindir is empty.
fn plain_binder() -> (HostBinder, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (binder(dir.path()), dir)
}

/// No link of the port (either veth end) exists.
fn assert_no_veth(ns: &Ns, port: &str) {
    for name in [host_ifname(port), container_ifname(port)] {
        assert!(
            !ns.has_link(&name),
            "{name} left behind: {:?}",
            ns.link_names()
        );
    }
}

// ---------------------------------------------------------------- tap

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn tap_bind_makes_the_pair_and_unbind_removes_it() {
    in_fresh_ns(|ns| async move {
        let (b, _dir) = plain_binder();
        let v = vif(PORT, "tap");
        b.bind(&v).await.unwrap();

        let host = ns.link("tap40889633-16").expect("host end");
        assert_eq!(host["linkinfo"]["info_kind"], "veth");
        assert!(is_up(&host), "{host}");
        assert_eq!(host["mtu"], 1450);
        assert!(host.get("master").is_none(), "tap is on no bridge: {host}");

        let cont = ns.link("t_c40889633-16").expect("container end");
        assert_eq!(cont["address"], "fa:16:3e:aa:00:01");
        assert_eq!(cont["mtu"], 1450);
        assert!(!is_up(&cont), "container end stays down: {cont}");

        b.unbind(&v).await.unwrap();
        assert_no_veth(&ns, PORT);
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn network_without_mtu_gets_1500_like_kuryr_lib() {
    in_fresh_ns(|ns| async move {
        let (b, _dir) = plain_binder();
        // Something other than 1500 first, so a kept value would show.
        b.bind(&vif(PORT2, "tap")).await.unwrap();
        b.bind(&Vif {
            mtu: None,
            ..vif(PORT, "tap")
        })
        .await
        .unwrap();
        assert_eq!(ns.link(&container_ifname(PORT)).unwrap()["mtu"], 1500);
        assert_eq!(ns.link(&host_ifname(PORT)).unwrap()["mtu"], 1500);
        assert_eq!(ns.link(&container_ifname(PORT2)).unwrap()["mtu"], 1450);
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn rebind_reuses_the_pair() {
    in_fresh_ns(|ns| async move {
        let (b, _dir) = plain_binder();
        let v = vif(PORT, "tap");
        b.bind(&v).await.unwrap();
        let index = ns.link("tap40889633-16").unwrap()["ifindex"].clone();
        b.bind(&v).await.unwrap();
        assert_eq!(
            ns.link("tap40889633-16").unwrap()["ifindex"],
            index,
            "same pair, not recreated"
        );

        // A pair left by kuryr-libnetwork or a crash (host end down) is
        // adopted and its host end brought up.
        ns.ip(&[
            "link",
            "add",
            &host_ifname(PORT2),
            "type",
            "veth",
            "peer",
            "name",
            &container_ifname(PORT2),
        ]);
        b.bind(&vif(PORT2, "tap")).await.unwrap();
        assert!(is_up(&ns.link(&host_ifname(PORT2)).unwrap()));
        let taps: Vec<String> = ns
            .link_names()
            .into_iter()
            .filter(|n| n.starts_with("tap") || n.starts_with("t_c"))
            .collect();
        assert_eq!(taps.len(), 4, "{taps:?}");
    });
}

// ---------------------------------------------------------------- bridge

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn bridge_bind_puts_the_tap_on_the_networks_brq() {
    in_fresh_ns(|ns| async move {
        let (b, _dir) = plain_binder();
        let brq = linuxbridge_name(NET);
        assert_eq!(brq, "brq9e3a1c2b-5d");
        b.bind(&vif(PORT, "bridge")).await.unwrap();

        let bridge = ns.link(&brq).expect("brq created");
        assert_eq!(bridge["linkinfo"]["info_kind"], "bridge");
        assert_eq!(bridge["linkinfo"]["info_data"]["forward_delay"], 0);
        assert_eq!(bridge["linkinfo"]["info_data"]["stp_state"], 0);
        assert!(is_up(&bridge), "{bridge}");
        let tap = ns.link(&host_ifname(PORT)).unwrap();
        assert_eq!(tap["master"], brq.as_str());
        assert!(is_up(&tap));
        assert!(!is_up(&ns.link(&container_ifname(PORT)).unwrap()));

        // A second port of the network joins the same bridge; re-binding the
        // first is fine.
        b.bind(&vif(PORT2, "bridge")).await.unwrap();
        b.bind(&vif(PORT, "bridge")).await.unwrap();
        assert_eq!(
            ns.link(&host_ifname(PORT2)).unwrap()["master"],
            brq.as_str()
        );
        let bridges = ns
            .link_names()
            .into_iter()
            .filter(|n| n.starts_with("brq"))
            .count();
        assert_eq!(bridges, 1);

        // Unbind deletes the veth and keeps the bridge, as kuryr does.
        b.unbind(&vif(PORT, "bridge")).await.unwrap();
        assert_no_veth(&ns, PORT);
        assert!(ns.has_link(&brq));
        assert!(ns.has_link(&host_ifname(PORT2)));
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn an_existing_brq_is_reused_and_brought_up() {
    in_fresh_ns(|ns| async move {
        let (b, _dir) = plain_binder();
        let brq = linuxbridge_name(NET);
        // As the linuxbridge agent might have made it: down, default timers.
        ns.ip(&["link", "add", &brq, "type", "bridge"]);
        b.bind(&vif(PORT, "bridge")).await.unwrap();
        let bridge = ns.link(&brq).unwrap();
        assert!(is_up(&bridge));
        assert_eq!(ns.link(&host_ifname(PORT)).unwrap()["master"], brq.as_str());
    });
}

// ---------------------------------------------------------------- unbind

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn unbind_of_a_missing_pair_is_ok() {
    in_fresh_ns(|ns| async move {
        let (b, _dir) = plain_binder();
        for vif_type in [
            "tap",
            "bridge",
            "unbound",
            "binding_failed",
            "vhostuser",
            "",
        ] {
            b.unbind(&vif(PORT, vif_type))
                .await
                .unwrap_or_else(|e| panic!("{vif_type:?}: {e}"));
        }
        // Twice after a real bind.
        b.bind(&vif(PORT, "tap")).await.unwrap();
        b.unbind(&vif(PORT, "tap")).await.unwrap();
        b.unbind(&vif(PORT, "tap")).await.unwrap();
        assert_no_veth(&ns, PORT);
    });
}

// ---------------------------------------------------------------- refusals and roll-back

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn unpluggable_ports_leave_nothing_behind() {
    in_fresh_ns(|ns| async move {
        let (b, dir) = plain_binder();
        let before = ns.link_names();

        // An executable named after an unknown vif_type is never run.
        recording_script(dir.path(), "vhostuser");
        let err = b.bind(&vif(PORT, "vhostuser")).await.unwrap_err();
        assert!(matches!(err, BindError::Unsupported { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("vif_type vhostuser is not supported")
                && text.contains("scripts run only for midonet, iovisor"),
            "{text}"
        );
        assert!(take_log(dir.path()).is_empty());

        // A known script with an argument a shell would misread is refused
        // before anything is made.
        recording_script(dir.path(), "midonet");
        let err = b
            .bind(&Vif {
                endpoint_id: "e1;reboot".into(),
                ..vif(PORT, "midonet")
            })
            .await
            .unwrap_err();
        assert!(matches!(err, BindError::BadVif { .. }), "{err:?}");
        assert!(take_log(dir.path()).is_empty());

        let err = b.bind(&vif(PORT, "binding_failed")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "vif_type binding_failed is not supported: Neutron could not bind port {PORT} \
                 to this host (check [DEFAULT] host / the agent)"
            )
        );
        let err = b.bind(&vif(PORT, "unbound")).await.unwrap_err();
        assert!(err.to_string().contains("[DEFAULT] host"), "{err}");

        // Ill-formed MAC, and a port id that cannot name an interface.
        let err = b
            .bind(&Vif {
                mac: "fa:16:3e:zz:00:01".into(),
                ..vif(PORT, "tap")
            })
            .await
            .unwrap_err();
        assert!(matches!(err, BindError::BadVif { .. }), "{err:?}");
        let err = b.bind(&vif("a/b", "tap")).await.unwrap_err();
        assert!(matches!(err, BindError::BadVif { .. }), "{err:?}");

        // An MTU the kernel refuses: the single create request fails whole.
        let err = b
            .bind(&Vif {
                mtu: Some(70_000),
                ..vif(PORT, "tap")
            })
            .await
            .unwrap_err();
        assert!(matches!(err, BindError::HostNet { .. }), "{err:?}");

        assert_eq!(ns.link_names(), before, "nothing created");
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn a_failed_plug_removes_the_pair_it_made() {
    in_fresh_ns(|ns| async move {
        let (b, _dir) = plain_binder();
        // The network's bridge name is taken by a veth: the pair gets made,
        // plugging fails, the pair goes again.
        let brq = linuxbridge_name(NET);
        ns.ip(&[
            "link", "add", &brq, "type", "veth", "peer", "name", "brq-peer",
        ]);
        let err = b.bind(&vif(PORT, "bridge")).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&brq) && text.contains("is a veth link, not a bridge"),
            "{text}"
        );
        assert_no_veth(&ns, PORT);

        // The container name alone taken by something else: refused, and
        // the other link is left alone.
        ns.ip(&["link", "add", &container_ifname(PORT2), "type", "bridge"]);
        let err = b.bind(&vif(PORT2, "tap")).await.unwrap_err();
        assert!(matches!(err, BindError::HostNet { .. }), "{err:?}");
        assert!(!ns.has_link(&host_ifname(PORT2)));
        assert!(ns.has_link(&container_ifname(PORT2)));
    });
}

// ---------------------------------------------------------------- scripts

/// A kuryr-lib style script that appends its argv (one line per argument,
/// then "--") to `argv.log`, notes whether the tap existed when it ran, and
/// fails with a message on stderr when `fail` exists in its directory.
fn recording_script(dir: &Path, vif_type: &str) {
    let log = dir.join("argv.log");
    let fail = dir.join("fail");
    let text = format!(
        "#!/bin/sh\n\
         for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> '{log}'\n\
         echo -- >> '{log}'\n\
         if ip link show \"$3\" >/dev/null 2>&1; then echo tap-present >> '{log}'; fi\n\
         if [ -e '{fail}' ]; then echo \"script says no to $1\" >&2; exit 3; fi\n\
         exit 0\n",
        log = log.display(),
        fail = fail.display(),
    );
    let path = dir.join(vif_type);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn take_log(dir: &Path) -> Vec<String> {
    let path = dir.join("argv.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    text.lines().map(str::to_owned).collect()
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn script_vif_types_run_the_script_with_kuryr_libs_argv() {
    in_fresh_ns(|ns| async move {
        let dir = tempfile::tempdir().unwrap();
        recording_script(dir.path(), "midonet");
        let b = binder(dir.path());
        let v = vif(PORT, "midonet");

        b.bind(&v).await.unwrap();
        let tap = host_ifname(PORT);
        let mut expected_bind: Vec<String> = [
            "bind",
            PORT,
            &tap,
            EP,
            "fa:16:3e:aa:00:01",
            NET,
            "b4d7e1f0a9c84e2b9d3f6a5c7e8b1d20",
            "\"{'port_filter': True}\"",
            "--",
            "tap-present",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(take_log(dir.path()), expected_bind);
        assert!(ns.has_link(&tap));

        b.unbind(&v).await.unwrap();
        let expected_unbind: Vec<String> = [
            "unbind",
            PORT,
            &tap,
            EP,
            "fa:16:3e:aa:00:01",
            "\"{'port_filter': True}\"",
            NET,
            "--",
            "tap-present",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            take_log(dir.path()),
            expected_unbind,
            "script runs before the veth goes"
        );
        assert_no_veth(&ns, PORT);

        // Empty details are the literal None.
        b.bind(&Vif {
            vif_details: json!({}),
            vlan: None,
            ..v.clone()
        })
        .await
        .unwrap();
        expected_bind[7] = "None".into();
        assert_eq!(take_log(dir.path()), expected_bind);
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn a_failing_script_reports_its_stderr_and_rolls_back() {
    in_fresh_ns(|ns| async move {
        let dir = tempfile::tempdir().unwrap();
        recording_script(dir.path(), "iovisor");
        std::fs::write(dir.path().join("fail"), "").unwrap();
        let b = binder(dir.path());
        let v = vif(PORT, "iovisor");

        let err = b.bind(&v).await.unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, BindError::Command { .. }) && text.contains("script says no to bind"),
            "{text}"
        );
        assert_no_veth(&ns, PORT);

        // A pair that existed before the call is not this call's to remove.
        ns.ip(&[
            "link",
            "add",
            &host_ifname(PORT),
            "type",
            "veth",
            "peer",
            "name",
            &container_ifname(PORT),
        ]);
        b.bind(&v).await.unwrap_err();
        assert!(ns.has_link(&host_ifname(PORT)));

        // Unbind tries every step: the script fails, the veth still goes,
        // and the error carries the script's message.
        let err = b.unbind(&v).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("unbinding port {PORT}: "))
                && text.contains("script says no to unbind"),
            "{text}"
        );
        assert_no_veth(&ns, PORT);
    });
}
