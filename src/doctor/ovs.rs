//! Open vSwitch, for ports Neutron binds with `vif_type` ovs: its database answering
//! and the integration bridge there. Warnings only: Neutron may bind with another
//! vif_type (tap, bridge), which needs no OVS.

use std::time::Duration;

use crate::config::Config;
use crate::neutron_driver::Settings;

use super::Finding;

pub(super) async fn check(config: &Config) -> Vec<Finding> {
    let binding = Settings::from_config(config).binding;
    let mut args = vec!["--timeout=5".to_string()];
    if let Some(db) = &binding.ovsdb {
        args.push(format!("--db={db}"));
    }
    args.extend(["br-exists".to_string(), binding.ovs_bridge.clone()]);
    let out = crate::process::run("ovs-vsctl".as_ref(), &args, None, Duration::from_secs(10)).await;
    let bridge = &binding.ovs_bridge;
    let finding = match out {
        Ok(out) if out.status.success() => {
            Finding::ok("ovs", format!("OVSDB answers; bridge {bridge} exists"))
        }
        Ok(out) if out.status.code() == Some(2) => Finding::warn(
            "ovs",
            format!(
                "OVSDB answers, but has no bridge {bridge}: ports with vif_type ovs cannot be plugged"
            ),
            format!("create it (ovs-vsctl add-br {bridge}) or set [neutron] ovs_bridge"),
        ),
        Ok(out) => Finding::warn(
            "ovs",
            format!(
                "OVSDB does not answer: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            "start Open vSwitch if Neutron binds ports with vif_type ovs",
        ),
        Err(error) => Finding::warn(
            "ovs",
            format!("ovs-vsctl: {error}"),
            "install Open vSwitch if Neutron binds ports with vif_type ovs",
        ),
    };
    vec![finding]
}
