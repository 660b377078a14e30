//! `[DEFAULT] default_port_driver` / `enabled_port_drivers` and `[binding]
//! default_driver` / `enabled_drivers` / `link_iface`: which host side a port gets.
//!
//! kuryr-libnetwork read the port driver before parsing its config (defect B1), so
//! every deployment of it ran veth whatever these said, and its nested drivers never
//! ran. Here they are honoured, and a combination that cannot work is refused at
//! start with the keys named, instead of failing at the first container.

use super::BackendKind;
use super::keys::BINDING_ALIASES;
use super::raw::DEFAULT_SECTION as D;
use super::validate::Checker;

const PORT_PREFIX: &str = "kuryr_libnetwork.port_driver.drivers.";
const BINDING_PREFIX: &str = "kuryr.lib.binding.drivers.";

/// How containers in a VM reach the VM's network (kuryr's nested mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NestedDriver {
    /// A macvlan on the VM's NIC; the container's address and MAC are added to the
    /// VM port's allowed-address pairs (port driver `nested`).
    Macvlan,
    /// A VLAN link on the VM's NIC; the container's port is a subport of the VM
    /// port's trunk (port driver `vlan`).
    Vlan,
}

/// Nested mode's settings; `Config::nesting` is `None` for the veth driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nesting {
    pub driver: NestedDriver,
    /// `[binding] link_iface`: the VM's NIC, whose MAC finds the VM's own port.
    pub link_iface: String,
    /// `[binding] vm_port` (new): the VM's port by Neutron id or name, when looking
    /// it up by the NIC's MAC is not wanted.
    pub vm_port: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Port {
    Veth,
    Nested,
    Vlan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binding {
    Veth,
    Macvlan,
    Vlan,
}

/// A driver value: `Ok(Some)` for one we run, `Ok(None)` for one kuryr-libnetwork
/// has but we do not (SR-IOV; it never ran there either, B1), `Err` otherwise.
fn port_driver(value: &str) -> Result<Option<Port>, String> {
    match value
        .trim()
        .strip_prefix(PORT_PREFIX)
        .unwrap_or(value.trim())
    {
        "veth" => Ok(Some(Port::Veth)),
        "nested" => Ok(Some(Port::Nested)),
        "vlan" => Ok(Some(Port::Vlan)),
        "sriov" => Ok(None),
        other => Err(format!(
            "unknown port driver {other:?}: one of veth, nested, vlan \
             (or {PORT_PREFIX}<name>)"
        )),
    }
}

fn binding_driver(value: &str) -> Result<Option<Binding>, String> {
    match value
        .trim()
        .strip_prefix(BINDING_PREFIX)
        .unwrap_or(value.trim())
    {
        "veth" => Ok(Some(Binding::Veth)),
        "macvlan" => Ok(Some(Binding::Macvlan)),
        "vlan" => Ok(Some(Binding::Vlan)),
        "hw_veb" => Ok(None),
        "ipvlan" => Err(
            "ipvlan is not supported (kuryr-libnetwork refuses it too: an \
                         ipvlan child has no MAC of its own for the container's port); \
                         use macvlan"
                .to_owned(),
        ),
        other => Err(format!(
            "unknown binding driver {other:?}: one of veth, macvlan, vlan \
             (or {BINDING_PREFIX}<name>)"
        )),
    }
}

/// The binding a port driver works with, kuryr-libnetwork's pairs.
fn binding_of(port: Port) -> Binding {
    match port {
        Port::Veth => Binding::Veth,
        Port::Nested => Binding::Macvlan,
        Port::Vlan => Binding::Vlan,
    }
}

fn port_of(binding: Binding) -> Port {
    match binding {
        Binding::Veth => Port::Veth,
        Binding::Macvlan => Port::Nested,
        Binding::Vlan => Port::Vlan,
    }
}

impl Checker<'_> {
    /// `None`: invalid (recorded). `Some(None)`: the veth driver.
    pub(super) fn nesting(&mut self, backend: Option<BackendKind>) -> Option<Option<Nesting>> {
        if self.value(D, "port_driver").is_some() {
            self.warn(
                D,
                "port_driver",
                "deprecated and never read (by kuryr-libnetwork either); use default_port_driver",
            );
        }
        let port = self.driver(D, "default_port_driver", port_driver, "sriov")?;
        let binding_key = self.binding_key();
        let binding = match binding_key {
            Some(key) => self.driver("binding", key, binding_driver, "hw_veb")?,
            None => None,
        };
        // The README recipe of kuryr-libnetwork sets only the binding driver, so
        // either one alone picks its partner.
        let (port, binding) = match (port, binding) {
            (None, None) => (Port::Veth, Binding::Veth),
            (Some(p), None) => (p, binding_of(p)),
            (None, Some(b)) => (port_of(b), b),
            (Some(p), Some(b)) => (p, b),
        };
        let binding_key = binding_key.unwrap_or("default_driver");
        if binding_of(port) != binding {
            let value = self
                .value(D, "default_port_driver")
                .unwrap_or_default()
                .to_owned();
            self.invalid(
                D,
                "default_port_driver",
                &value,
                format!(
                    "does not work with [binding] {binding_key} = {:?}: the veth port \
                     driver takes the veth binding, nested takes macvlan, vlan takes vlan",
                    self.value("binding", binding_key).unwrap_or_default()
                ),
            );
            return None;
        }
        let enabled_ok = self.enabled(D, "enabled_port_drivers", "default_port_driver", |v| {
            port_driver(v).map(|p| p == Some(port))
        }) & self.enabled("binding", "enabled_drivers", binding_key, |v| {
            binding_driver(v).map(|b| b == Some(binding))
        });
        if !enabled_ok {
            return None;
        }
        let link = self
            .value("binding", "link_iface")
            .unwrap_or_default()
            .trim()
            .to_owned();
        let driver = match binding {
            Binding::Veth => {
                if !link.is_empty() {
                    self.warn(
                        "binding",
                        "link_iface",
                        "ignored: the veth binding driver has no link",
                    );
                }
                return Some(None);
            }
            Binding::Macvlan => NestedDriver::Macvlan,
            Binding::Vlan => NestedDriver::Vlan,
        };
        let value = self
            .value("binding", binding_key)
            .unwrap_or_default()
            .to_owned();
        if backend == Some(BackendKind::Embedded) {
            self.invalid(
                "binding",
                binding_key,
                &value,
                "nested (VM) binding drivers need the neutron backend",
            );
            return None;
        }
        if let Err(e) = crate::hostnet::validate_ifname(&link) {
            let why = if link.is_empty() {
                format!("required by the {value} binding driver: the VM's network interface")
            } else {
                e.to_string()
            };
            self.invalid("binding", "link_iface", &link, why);
            return None;
        }
        let vm_port = self
            .value("binding", "vm_port")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        Some(Some(Nesting {
            driver,
            link_iface: link,
            vm_port,
        }))
    }

    /// `[binding] default_driver`, or its old name `driver` (oslo reads the new one
    /// first); the old name is reported as deprecated.
    fn binding_key(&mut self) -> Option<&'static str> {
        let mut found = None;
        for (old, new) in BINDING_ALIASES {
            if self.value("binding", old).is_some() {
                self.warn("binding", old, format!("deprecated name, use {new}"));
            }
            for key in [*new, *old] {
                if found.is_none() && self.value("binding", key).is_some() {
                    found = Some(key);
                }
            }
        }
        found
    }

    /// `None`: invalid (recorded). `Some(None)`: unset, or a driver we do not run
    /// (warned, veth is used as kuryr-libnetwork did).
    fn driver<T>(
        &mut self,
        section: &str,
        key: &str,
        parse: fn(&str) -> Result<Option<T>, String>,
        unsupported: &str,
    ) -> Option<Option<T>> {
        let Some(value) = self.value(section, key).map(str::to_owned) else {
            return Some(None);
        };
        match parse(&value) {
            Ok(Some(v)) => Some(Some(v)),
            Ok(None) => {
                self.warn(
                    section,
                    key,
                    format!("the {unsupported} driver is not implemented; {value:?} ignored"),
                );
                Some(None)
            }
            Err(message) => {
                self.invalid(section, key, &value, message);
                None
            }
        }
    }

    /// A set `enabled_*` list must name the chosen driver, as kuryr-libnetwork
    /// requires; unset, it is the chosen driver alone.
    fn enabled(
        &mut self,
        section: &str,
        key: &str,
        chosen_key: &str,
        is_chosen: impl Fn(&str) -> Result<bool, String>,
    ) -> bool {
        let Some(list) = self.value(section, key).map(str::to_owned) else {
            return true;
        };
        let mut found = false;
        for item in list.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            match is_chosen(item) {
                Ok(hit) => found |= hit,
                Err(message) => {
                    self.invalid(section, key, &list, message);
                    return false;
                }
            }
        }
        if !found {
            self.invalid(
                section,
                key,
                &list,
                format!("does not include the driver chosen by {chosen_key}"),
            );
        }
        found
    }
}
