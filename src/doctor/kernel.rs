//! The kernel's link types and nftables, probed where nothing can be disturbed: a
//! network namespace this thread alone enters, which disappears with the probe. A
//! module that is missing shows as the kernel refusing the link (modprobe runs on
//! demand, so "not loaded" is not "missing"). Then whether the host forwards, which
//! the embedded backend's egress and published ports need and kuryr never sets.

use std::time::Duration;

use crate::config::{BackendKind, Config, NestedDriver};
use crate::hostnet::{MacvlanSpec, Netlink, VethPair, VlanSpec};

use super::Finding;

/// What each feature is for, and whether this configuration needs it.
struct Feature {
    check: &'static str,
    needed: bool,
    used_by: &'static str,
}

pub(super) fn check(config: Option<&Config>) -> Vec<Finding> {
    let embedded = config.is_some_and(|c| c.backend == BackendKind::Embedded);
    let nested = config.and_then(|c| c.nesting.as_ref().map(|n| n.driver));
    let veth_mode = config.is_some_and(|c| c.nesting.is_none());
    let features = [
        Feature {
            check: "kernel: bridge",
            needed: embedded,
            used_by: "the embedded backend's networks",
        },
        Feature {
            check: "kernel: veth",
            needed: veth_mode,
            used_by: "every container interface outside nested mode",
        },
        Feature {
            check: "kernel: macvlan",
            needed: nested == Some(NestedDriver::Macvlan),
            used_by: "nested mode's macvlan driver",
        },
        Feature {
            check: "kernel: 8021q",
            needed: nested == Some(NestedDriver::Vlan),
            used_by: "nested mode's vlan driver",
        },
        Feature {
            check: "kernel: nftables",
            needed: embedded,
            used_by: "the embedded backend's isolation, egress NAT and published ports",
        },
    ];
    let mut out = Vec::new();
    match probe() {
        Err(why) => out.push(Finding::warn(
            "kernel",
            format!("not probed: {why}"),
            "run kuryr doctor as root",
        )),
        Ok(results) => {
            for (feature, result) in features.iter().zip(results) {
                out.push(match result {
                    Ok(()) => Finding::ok(feature.check, "available"),
                    Err(why) if feature.needed => Finding::fail(
                        feature.check,
                        format!("missing ({why}); {} need it", feature.used_by),
                        "use a kernel with the module (or load it), or another driver",
                    ),
                    Err(why) => Finding::warn(
                        feature.check,
                        format!("missing ({why}); {} would need it", feature.used_by),
                        "nothing to do unless you configure that",
                    ),
                });
            }
        }
    }
    out.push(forwarding(embedded));
    out
}

fn forwarding(embedded: bool) -> Finding {
    match crate::hostnet::ipv4_forwarding(None) {
        Ok(true) => Finding::ok("forwarding", "net.ipv4.ip_forward = 1"),
        Ok(false) if embedded => Finding::warn(
            "forwarding",
            "net.ipv4.ip_forward = 0: containers cannot reach beyond this host, and published ports answer only from it",
            "sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d); kuryr never changes it",
        ),
        Ok(false) => Finding::ok(
            "forwarding",
            "net.ipv4.ip_forward = 0 (Neutron routes containers)",
        ),
        Err(why) => Finding::warn("forwarding", why, "check /proc is mounted"),
    }
}

/// Bridge, veth, macvlan, VLAN and an nft table, each made in a private namespace;
/// `Err` when no namespace could be made (not root).
fn probe() -> Result<Vec<Result<(), String>>, String> {
    std::thread::spawn(|| {
        // This thread only: the rest of the process stays where it is.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("cannot make a network namespace to probe in ({e})"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut results = runtime.block_on(links())?;
        results.push(runtime.block_on(nft()));
        Ok(results)
    })
    .join()
    .map_err(|_| "the probe thread failed".to_string())?
}

/// A table in the probe's namespace: a child forked by this thread starts in it.
async fn nft() -> Result<(), String> {
    let args = ["add", "table", "inet", "kuryr_doctor"];
    match crate::process::run("nft".as_ref(), &args, None, Duration::from_secs(10)).await {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(e) => Err(format!("nft: {e}")),
    }
}

async fn links() -> Result<Vec<Result<(), String>>, String> {
    let nl = Netlink::connect().map_err(|e| e.to_string())?;
    let shown =
        |r: Result<_, crate::hostnet::HostNetError>| r.map(|_| ()).map_err(|e| e.to_string());
    let bridge = shown(nl.ensure_port_bridge("kd-br0").await);
    let veth = shown(
        nl.create_veth_pair(&VethPair {
            host: "kd-v0".into(),
            container: "kd-v1".into(),
            container_mac: None,
            mtu: None,
        })
        .await,
    );
    // Children need a parent: the veth end, when there is one.
    let parent_missing = || Err("not probed: no veth to put it on".to_string());
    let macvlan = if veth.is_ok() {
        shown(
            nl.create_macvlan(&MacvlanSpec {
                parent: "kd-v0".into(),
                name: "kd-mv0".into(),
                mac: [0x02, 0, 0, 0, 0, 1],
                mtu: 1500,
            })
            .await,
        )
    } else {
        parent_missing()
    };
    let vlan = if veth.is_ok() {
        shown(
            nl.create_vlan(&VlanSpec {
                parent: "kd-v0".into(),
                name: "kd-vl0".into(),
                id: 10,
                mac: [0x02, 0, 0, 0, 0, 2],
            })
            .await,
        )
    } else {
        parent_missing()
    };
    Ok(vec![bridge, veth, macvlan, vlan])
}
