//! `[neutron]`: read once, here, into typed values. The section's deprecated names
//! are folded into their successors ([`keys::NEUTRON_ALIASES`]); the Neutron
//! backend's own options become a [`NeutronConfig`], and the client options (auth,
//! endpoint and catalog, TLS, timeout) are left to `auth.rs`, which completes them
//! from `clouds.yaml` and `OS_*`. No other module reads a `[neutron]` key.

use std::collections::BTreeMap;
use std::time::Duration;

use super::keys::{self, NEUTRON_ALIASES};
use super::validate::Checker;
use super::values::{parse_bool, parse_bool_string, parse_int_min};

pub const SECTION: &str = "neutron";

/// kuryr-lib's defaults.
pub const DEFAULT_SUBNETPOOL_V4: &str = "kuryr";
pub const DEFAULT_SUBNETPOOL_V6: &str = "kuryr6";
pub const DEFAULT_ENABLE_DHCP: bool = true;
/// The integration bridge `vif_type = ovs` ports are plugged into.
pub const DEFAULT_OVS_BRIDGE: &str = "br-int";
/// This node's `binding:host_id` when neither `binding_host` nor the host's name is
/// known.
pub const FALLBACK_HOSTNAME: &str = "localhost";
/// This node's `binding:host_id`, for `[neutron] binding_host`; a managed plugin may
/// not see the host's name.
pub const ENV_BINDING_HOST: &str = "KURYR_BINDING_HOST";

/// The Neutron backend's own `[neutron]` options (the client's are in
/// [`super::Backend::Neutron`]). Checked whatever the backend, so a typo fails
/// before someone switches to Neutron.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeutronConfig {
    /// `enable_dhcp` on the subnets kuryr creates (a string option in kuryr-lib,
    /// read as Neutron reads it).
    pub enable_dhcp: bool,
    /// `default_subnetpool_v4` / `_v6`: pools for networks without `--subnet`.
    pub default_subnetpool_v4: String,
    pub default_subnetpool_v6: String,
    /// `vif_plugging_is_fatal`: CreateEndpoint waits for the port to be ACTIVE.
    pub vif_plugging_is_fatal: bool,
    /// `vif_plugging_timeout`; `None` (0 in the file) waits without a limit.
    pub vif_plugging_timeout: Option<Duration>,
    /// `binding:host_id` of container ports: `binding_host`, else
    /// `KURYR_BINDING_HOST`, else the host's name (kuryr-libnetwork's B14).
    pub binding_host: String,
    /// `ovs_bridge` (new): the integration bridge for `vif_type = ovs`.
    pub ovs_bridge: String,
}

/// `[neutron]` under the current option names: deprecated names folded in, unknown
/// keys left out (they were warned about).
pub(super) struct Section(BTreeMap<&'static str, String>);

impl Section {
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The value, unless it is empty or blank (then it counts as unset).
    pub(super) fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    pub(super) fn entries(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

/// A `[neutron]` key under its current name, for an option name from the file or
/// from `clouds.yaml`; `None` for an unknown key.
pub(super) fn current_name(key: &str) -> Option<&'static str> {
    let key = keys::replacement(NEUTRON_ALIASES, key).unwrap_or(key);
    keys::NEUTRON_KEYS.iter().copied().find(|k| *k == key)
}

impl Checker<'_> {
    /// The section, with a warning per deprecated name (oslo looks the current name
    /// up first, so it wins when both are set).
    pub(super) fn neutron_section(&mut self) -> Section {
        let raw = self.raw();
        let mut section = BTreeMap::new();
        let entries = raw.section(SECTION).map_or(&[][..], |s| &s.entries[..]);
        for entry in entries {
            let Some(name) = current_name(&entry.key) else {
                continue;
            };
            if name != entry.key {
                self.warn(SECTION, &entry.key, format!("deprecated name, use {name}"));
                if raw.get(SECTION, name).is_some() {
                    continue;
                }
            }
            if name == "auth_section" {
                self.warn(
                    SECTION,
                    &entry.key,
                    "not supported, ignored; put the auth options in [neutron]",
                );
            }
            section.insert(name, entry.value.clone());
        }
        Section(section)
    }

    /// The backend's options; `None` when one is invalid (recorded). None of them
    /// has a deprecated name.
    pub(super) fn neutron_config(&mut self) -> Option<NeutronConfig> {
        let enable_dhcp = self
            .read(SECTION, "enable_dhcp", parse_bool_string)
            .map(|v| v.unwrap_or(DEFAULT_ENABLE_DHCP));
        let fatal = self
            .read(SECTION, "vif_plugging_is_fatal", parse_bool)
            .map(|v| v.unwrap_or(false));
        let timeout = self
            .read(SECTION, "vif_plugging_timeout", |v| parse_int_min(v, 0))
            .map(|v| match v.unwrap_or(0).unsigned_abs() {
                0 => None,
                secs => Some(Duration::from_secs(secs)),
            });
        let text = |c: &Self, key: &str, default: &str| {
            c.value(SECTION, key)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        let binding_host = self
            .value(SECTION, "binding_host")
            .map(str::to_owned)
            .into_iter()
            .chain(self.env().var(ENV_BINDING_HOST))
            .map(|host| host.trim().to_owned())
            .find(|host| !host.is_empty())
            .or_else(|| self.env().hostname())
            .unwrap_or_else(|| FALLBACK_HOSTNAME.to_owned());
        Some(NeutronConfig {
            enable_dhcp: enable_dhcp?,
            default_subnetpool_v4: text(self, "default_subnetpool_v4", DEFAULT_SUBNETPOOL_V4),
            default_subnetpool_v6: text(self, "default_subnetpool_v6", DEFAULT_SUBNETPOOL_V6),
            vif_plugging_is_fatal: fatal?,
            vif_plugging_timeout: timeout?,
            binding_host,
            ovs_bridge: text(self, "ovs_bridge", DEFAULT_OVS_BRIDGE),
        })
    }
}
