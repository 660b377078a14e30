//! The Neutron backend's settings, read from a validated `Config` (kuryr.conf names).

use std::path::PathBuf;
use std::time::Duration;

use crate::binding::BindingSettings;
use crate::config::Config;

#[derive(Clone, Debug)]
pub struct Settings {
    pub scope: crate::model::Scope,
    pub local_address_space: String,
    pub global_address_space: String,
    pub veth_dst_prefix: String,
    pub process_external_connectivity: bool,
    /// `[DEFAULT] subnetpool_name_prefix` (`kuryrPool`).
    pub pool_prefix: String,
    /// `[neutron] default_subnetpool_v4` / `_v6` (`kuryr` / `kuryr6`).
    pub default_pool_v4: String,
    pub default_pool_v6: String,
    /// `[neutron] enable_dhcp` on the subnets kuryr creates.
    pub enable_dhcp: bool,
    /// `binding:host_id` of bound ports: `[neutron] binding_host`, else the hostname (B14).
    pub host: String,
    /// `[neutron] vif_plugging_is_fatal`: wait for the port to become ACTIVE.
    pub wait_active: bool,
    /// `[neutron] vif_plugging_timeout`; `None` waits forever (0 in kuryr.conf).
    pub wait_timeout: Option<Duration>,
    pub binding: BindingSettings,
    /// `[DEFAULT] state_dir`: the teardown journal lives here.
    pub state_dir: PathBuf,
    /// Nested (VM) mode, from the port and binding drivers; `None` is veth.
    pub nesting: Option<crate::config::Nesting>,
    /// `[vif_pool]`: ports made ahead of time; `None` is off.
    pub port_pools: Option<crate::config::PortPools>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Settings {
        let n = &config.neutron;
        let get = |k: &str, default: &str| {
            n.get(k)
                .filter(|v| !v.is_empty())
                .unwrap_or(default)
                .to_string()
        };
        let flag = |k: &str, default: bool| n.get(k).map(truthy).unwrap_or(default);
        let timeout = n
            .get("vif_plugging_timeout")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let mut binding = BindingSettings {
            bindir: config.bindir.clone(),
            ..BindingSettings::default()
        };
        if let Some(bridge) = n.get("ovs_bridge").filter(|v| !v.is_empty()) {
            binding.ovs_bridge = bridge.to_string();
        }
        Settings {
            scope: config.capability_scope,
            local_address_space: config.local_default_address_space.clone(),
            global_address_space: config.global_default_address_space.clone(),
            veth_dst_prefix: config.veth_dst_prefix.clone(),
            process_external_connectivity: config.process_external_connectivity,
            pool_prefix: config.subnetpool_name_prefix.clone(),
            default_pool_v4: get("default_subnetpool_v4", "kuryr"),
            default_pool_v6: get("default_subnetpool_v6", "kuryr6"),
            enable_dhcp: flag("enable_dhcp", true),
            host: n
                .get("binding_host")
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .unwrap_or_else(hostname),
            wait_active: flag("vif_plugging_is_fatal", false),
            wait_timeout: (timeout > 0).then(|| Duration::from_secs(timeout)),
            binding,
            state_dir: config.state_dir.clone(),
            nesting: config.nesting.clone(),
            port_pools: config.port_pools,
        }
    }

    /// Whether `space` is one of the default address spaces, which map to no
    /// address scope (kuryr-libnetwork's behaviour).
    pub fn is_default_space(&self, space: &str) -> bool {
        space.is_empty() || space == self.local_address_space || space == self.global_address_space
    }
}

/// oslo's `bool_from_string`.
pub fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "t" | "true" | "on" | "y" | "yes"
    )
}

/// What Python's `socket.gethostname()` gives, as kuryr-libnetwork sends it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
