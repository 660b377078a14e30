//! Nested (VM) mode: the containers of a Nova VM each get their own Neutron port,
//! reached through the VM's own port. With macvlan, the container port's addresses
//! and MAC become allowed-address pairs of the VM port; with VLAN, the container
//! port becomes a subport of the VM port's trunk. The host side (a macvlan or VLAN
//! link on `[binding] link_iface`) is `binding`'s; this file only talks to Neutron.
//!
//! Everything here is a read-modify-write of the one VM port, so it runs under one
//! lock, and from a cached copy of that port: an update is sent with the copy's
//! revision (`If-Match`), and a 412 (someone else changed the port) or a 409 (a
//! VLAN id taken meanwhile) re-reads it and tries again. Nothing is kept that
//! Neutron does not hold: after a restart the VM port is found again and its pairs
//! and subports read back from it.

use std::collections::BTreeSet;
use std::net::IpAddr;

use tokio::sync::Mutex;

use crate::Error;
use crate::config::{NestedDriver, Nesting};
use crate::neutron::{AddressPair, NeutronError, Port, PortUpdate, Query, SubPort};

use super::NeutronDriver;

/// Attempts of one read-modify-write before giving up on a VM port that keeps
/// changing under us.
const ATTEMPTS: usize = 8;
/// 802.1Q ids a subport may use.
const VLAN_IDS: std::ops::RangeInclusive<u32> = 1..=4094;

pub(super) struct Nested {
    pub settings: Nesting,
    /// The VM port as last read or written; `None` until first needed, and after a
    /// conflict. Its lock serialises every change of the VM port in this process.
    vm_port: Mutex<Option<Port>>,
    /// The VM port's id once found: it does not change while the VM lives.
    known_id: std::sync::OnceLock<String>,
}

impl Nested {
    pub fn new(settings: Nesting) -> Nested {
        Nested {
            settings,
            vm_port: Mutex::new(None),
            known_id: std::sync::OnceLock::new(),
        }
    }

    /// Makes `port` reachable through the VM port; returns the VLAN id in VLAN mode.
    /// Idempotent: a pair or subport already there is kept as it is.
    pub async fn attach(&self, d: &NeutronDriver, port: &Port) -> Result<Option<u16>, Error> {
        match self.settings.driver {
            NestedDriver::Macvlan => {
                let wanted = pairs_of(port);
                self.change_pairs(d, |pairs| {
                    let missing: Vec<_> = wanted
                        .iter()
                        .filter(|p| !pairs.contains(p))
                        .cloned()
                        .collect();
                    (!missing.is_empty()).then(|| [pairs, &missing[..]].concat())
                })
                .await?;
                Ok(None)
            }
            NestedDriver::Vlan => self.add_subport(d, &port.id).await.map(Some),
        }
    }

    /// Undoes [`Nested::attach`] for port `port_id` with these addresses and MAC;
    /// what is not there any more is success, and nothing else on the VM port moves.
    pub async fn detach(
        &self,
        d: &NeutronDriver,
        port_id: &str,
        ips: &[IpAddr],
        mac: &str,
    ) -> Result<(), Error> {
        match self.settings.driver {
            NestedDriver::Macvlan => {
                let ours = |p: &AddressPair| {
                    p.mac_address
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(mac))
                        && ips.iter().any(|ip| pair_ip(p) == Some(*ip))
                };
                self.change_pairs(d, |pairs| {
                    pairs
                        .iter()
                        .any(ours)
                        .then(|| pairs.iter().filter(|p| !ours(p)).cloned().collect())
                })
                .await
            }
            NestedDriver::Vlan => self.remove_subport(d, port_id).await,
        }
    }

    /// One read-modify-write of the VM port's allowed-address pairs: `change` gets
    /// the current pairs and returns the new list, or `None` when nothing is to do.
    async fn change_pairs(
        &self,
        d: &NeutronDriver,
        change: impl Fn(&[AddressPair]) -> Option<Vec<AddressPair>>,
    ) -> Result<(), Error> {
        let mut cached = self.vm_port.lock().await;
        for _ in 0..ATTEMPTS {
            let vm = self.current(d, &mut cached).await?;
            let Some(pairs) = change(&vm.allowed_address_pairs) else {
                return Ok(());
            };
            let update = PortUpdate {
                allowed_address_pairs: Some(pairs),
                ..PortUpdate::default()
            };
            match d
                .client
                .update_port_if_unchanged(&vm.id, vm.revision_number, &update)
                .await
            {
                Ok(updated) => {
                    *cached = Some(updated);
                    return Ok(());
                }
                Err(e) if stale(&e) => *cached = None,
                Err(e) => {
                    *cached = None;
                    return Err(pairs_error(&vm, e));
                }
            }
        }
        Err(busy(&self.settings, "allowed-address pairs"))
    }

    async fn add_subport(&self, d: &NeutronDriver, port_id: &str) -> Result<u16, Error> {
        let mut cached = self.vm_port.lock().await;
        for _ in 0..ATTEMPTS {
            let vm = self.current(d, &mut cached).await?;
            let trunk = vm.trunk_details.clone().ok_or_else(|| no_trunk(&vm))?;
            if let Some(sub) = trunk.sub_ports.iter().find(|s| s.port_id == port_id) {
                return vlan_id(sub.segmentation_id);
            }
            let used: BTreeSet<u32> = trunk.sub_ports.iter().map(|s| s.segmentation_id).collect();
            let id = free_vlan(port_id, &used).ok_or_else(|| {
                Error::Unsupported(format!(
                    "trunk {} of VM port {} has no free VLAN id left",
                    trunk.trunk_id, vm.id
                ))
            })?;
            let sub = SubPort {
                port_id: port_id.to_string(),
                segmentation_type: "vlan".into(),
                segmentation_id: id,
            };
            match d
                .client
                .add_subports(&trunk.trunk_id, std::slice::from_ref(&sub))
                .await
            {
                Ok(()) => {
                    if let Some(t) = cached.as_mut().and_then(|vm| vm.trunk_details.as_mut()) {
                        t.sub_ports.push(sub);
                    }
                    return vlan_id(id);
                }
                // The id (or the port) was taken since the VM port was read.
                Err(e) if e.is_conflict() => *cached = None,
                Err(e) => {
                    *cached = None;
                    return Err(e.into());
                }
            }
        }
        Err(busy(&self.settings, "trunk subports"))
    }

    async fn remove_subport(&self, d: &NeutronDriver, port_id: &str) -> Result<(), Error> {
        let mut cached = self.vm_port.lock().await;
        // A fresh read: the cache may predate a subport added by another process.
        *cached = None;
        let vm = self.current(d, &mut cached).await?;
        let Some(trunk) = vm.trunk_details.clone() else {
            return Ok(());
        };
        if !trunk.sub_ports.iter().any(|s| s.port_id == port_id) {
            return Ok(());
        }
        let removed = d.client.remove_subports(&trunk.trunk_id, &[port_id]).await;
        *cached = None;
        removed.map_err(Error::from)
    }

    /// The cached VM port, or a fresh read of it (found by id, name, or the MAC of
    /// `link_iface` the first time).
    async fn current(&self, d: &NeutronDriver, cached: &mut Option<Port>) -> Result<Port, Error> {
        if let Some(vm) = cached.as_ref() {
            return Ok(vm.clone());
        }
        let vm = match self.known_id.get() {
            Some(id) => d.client.get::<Port>(id).await?,
            None => self.find(d).await?,
        };
        let _ = self.known_id.set(vm.id.clone());
        *cached = Some(vm.clone());
        Ok(vm)
    }

    async fn find(&self, d: &NeutronDriver) -> Result<Port, Error> {
        let (query, what) = match &self.settings.vm_port {
            Some(wanted) => match d.client.get::<Port>(wanted).await {
                Ok(port) => return Ok(port),
                Err(e) if e.is_not_found() => (
                    Query::new().eq("name", wanted),
                    format!("[binding] vm_port {wanted:?}"),
                ),
                Err(e) => return Err(e.into()),
            },
            None => {
                let mac = d.binder.link_mac().await?.ok_or_else(|| {
                    Error::Unsupported(format!(
                        "nested mode: no MAC for [binding] link_iface {:?}",
                        self.settings.link_iface
                    ))
                })?;
                (
                    Query::new().eq("mac_address", &mac),
                    format!(
                        "the MAC {mac} of [binding] link_iface {:?}",
                        self.settings.link_iface
                    ),
                )
            }
        };
        let mut found = d.client.list::<Port>(&query).await?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Error::Unsupported(format!(
                "nested mode: no Neutron port matches {what}; is this a VM on that \
                 cloud? Set [binding] vm_port to the VM's port id"
            ))),
            n => Err(Error::Unsupported(format!(
                "nested mode: {n} Neutron ports match {what} ({}); set [binding] vm_port",
                found
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// The pairs a container port needs: each of its addresses with its MAC.
fn pairs_of(port: &Port) -> Vec<AddressPair> {
    port.fixed_ips
        .iter()
        .map(|f| AddressPair {
            ip_address: f.ip_address.clone(),
            mac_address: Some(port.mac_address.to_ascii_lowercase()),
        })
        .collect()
}

/// A pair's address; Neutron also accepts a CIDR there, which is never ours.
fn pair_ip(p: &AddressPair) -> Option<IpAddr> {
    p.ip_address.parse().ok()
}

fn stale(e: &NeutronError) -> bool {
    e.status() == Some(412)
}

/// The limit of pairs per port (`max_allowed_address_pair`, 10 by default) and
/// port security being off are the VM's configuration, not ours: say which.
fn pairs_error(vm: &Port, e: NeutronError) -> Error {
    let text = e.to_string().to_ascii_lowercase();
    // Neutron 29: "The number of allowed address pair exceeds the maximum 10."
    if text.contains("allowed address pair exceeds the maximum")
        || text.contains("allowedaddresspairexhausted")
    {
        return Error::Unsupported(format!(
            "VM port {} already has {} allowed-address pairs, Neutron's limit \
             (max_allowed_address_pair in neutron.conf, 10 by default): no more \
             containers fit on it in macvlan nested mode ({e})",
            vm.id,
            vm.allowed_address_pairs.len()
        ));
    }
    if vm.port_security_enabled == Some(false) || text.contains("port security") {
        return Error::Unsupported(format!(
            "VM port {} has port security disabled, and Neutron keeps allowed-address \
             pairs only with it on ({e})",
            vm.id
        ));
    }
    e.into()
}

fn no_trunk(vm: &Port) -> Error {
    Error::Unsupported(format!(
        "VM port {} is not the parent of a trunk: nested VLAN mode needs one \
         (openstack network trunk create --parent-port {} ...)",
        vm.id, vm.id
    ))
}

fn busy(settings: &Nesting, what: &str) -> Error {
    Error::Unsupported(format!(
        "the VM port's {what} kept changing under kuryr ({ATTEMPTS} attempts); \
         is another agent managing the port of [binding] link_iface {:?}?",
        settings.link_iface
    ))
}

fn vlan_id(id: u32) -> Result<u16, Error> {
    u16::try_from(id)
        .ok()
        .filter(|id| VLAN_IDS.contains(&u32::from(*id)))
        .ok_or_else(|| Error::Unsupported(format!("VLAN id {id} is outside 1-4094")))
}

/// A free VLAN id, starting from one derived from the port id so that two
/// endpoints made at once (here or by another kuryr) seldom try the same one.
pub(super) fn free_vlan(port_id: &str, used: &BTreeSet<u32>) -> Option<u32> {
    let span = VLAN_IDS.end() - VLAN_IDS.start() + 1;
    let start = port_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % span;
    (0..span)
        .map(|i| VLAN_IDS.start() + (start + i) % span)
        .find(|id| !used.contains(id))
}
