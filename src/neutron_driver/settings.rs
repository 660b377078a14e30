//! The Neutron backend's settings: the parts of a validated `Config` it uses, under
//! the backend's names. `config` parsed and defaulted them.

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
    /// The backend's view of a validated `Config`: a projection, no parsing and no
    /// defaults (`config` owns both, the host name included).
    pub fn from_config(config: &Config) -> Settings {
        let n = &config.neutron;
        Settings {
            scope: config.capability_scope,
            local_address_space: config.local_default_address_space.clone(),
            global_address_space: config.global_default_address_space.clone(),
            veth_dst_prefix: config.veth_dst_prefix.clone(),
            process_external_connectivity: config.process_external_connectivity,
            pool_prefix: config.subnetpool_name_prefix.clone(),
            default_pool_v4: n.default_subnetpool_v4.clone(),
            default_pool_v6: n.default_subnetpool_v6.clone(),
            enable_dhcp: n.enable_dhcp,
            host: n.binding_host.clone(),
            wait_active: n.vif_plugging_is_fatal,
            wait_timeout: n.vif_plugging_timeout,
            binding: BindingSettings {
                ovs_bridge: n.ovs_bridge.clone(),
                ovsdb: None,
                bindir: config.bindir.clone(),
            },
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
