//! [`NestedBinder`], the [`Binder`] of nested mode: the containers run in a
//! Nova VM, so no Neutron agent plugs anything here and the VM's NIC
//! (`[binding] link_iface`) is the only way out. Each container port gets a
//! child link `t_c…` of that NIC, a macvlan in bridge mode (the port's
//! address is allowed on the VM port) or a VLAN link on the port's trunk
//! segmentation id, carrying the port MAC; ipvlan is not offered, as
//! kuryr-libnetwork bans it. Like the veth binding it leaves the link down
//! for dockerd to move, address and bring up. A network MTU above the NIC's
//! is refused before anything exists: the container would send frames the
//! VM cannot (kuryr-kubernetes bug 1863212).

use std::sync::Arc;

use crate::hostnet::{LinkOutcome, MacvlanSpec, Netlink, VlanSpec, validate_ifname};

use super::names::{check_names, container_ifname, mac_string, parse_mac};
use super::{BindError, Binder, DEFAULT_MTU, NestedLinks, Vif};

/// Which child link a container port gets on `[binding] link_iface`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NestedMode {
    Macvlan,
    Vlan,
}

/// Host-side settings of nested mode, from `kuryr.conf`.
#[derive(Clone, Debug)]
pub struct NestedSettings {
    /// `[binding] link_iface`: the VM's NIC, parent of every child link.
    pub link_iface: String,
    pub mode: NestedMode,
}

pub struct NestedBinder {
    links: Arc<dyn NestedLinks>,
    settings: NestedSettings,
}

/// The one link a bind makes, decided before anything is created.
enum Child {
    Macvlan(MacvlanSpec),
    Vlan(VlanSpec),
}

impl NestedBinder {
    /// Connects to rtnetlink in the calling thread's network namespace (the
    /// VM's), like [`HostBinder::new`](super::HostBinder::new); must be
    /// called inside a tokio runtime.
    pub fn new(settings: NestedSettings) -> Result<NestedBinder, BindError> {
        let nl = Netlink::connect().map_err(BindError::host("binding: rtnetlink"))?;
        Ok(NestedBinder::with_links(settings, Arc::new(nl)))
    }

    /// A binder over any [`NestedLinks`], e.g. [`RecordingLinks`](super::RecordingLinks).
    pub fn with_links(settings: NestedSettings, links: Arc<dyn NestedLinks>) -> NestedBinder {
        NestedBinder { links, settings }
    }

    pub fn settings(&self) -> &NestedSettings {
        &self.settings
    }

    /// The MAC of `[binding] link_iface`, lowercase ("fa:16:3e:…"): how the
    /// VM's own Neutron port is found.
    pub async fn link_mac(&self) -> Result<String, BindError> {
        let iface = self.link_iface()?;
        let mac = self.links.link_mac(iface).await;
        match mac.map_err(BindError::host(format!("[binding] link_iface {iface}")))? {
            Some(mac) => Ok(mac_string(mac)),
            None => Err(self.missing()),
        }
    }

    /// `[binding] link_iface`, if it can name a link.
    fn link_iface(&self) -> Result<&str, BindError> {
        let iface = &self.settings.link_iface;
        if iface.is_empty() {
            return Err(self.iface_error("is not set; nested mode needs the VM's NIC".into()));
        }
        validate_ifname(iface).map_err(|e| self.iface_error(e.to_string()))?;
        Ok(iface)
    }

    fn iface_error(&self, reason: String) -> BindError {
        BindError::LinkIface {
            ifname: self.settings.link_iface.clone(),
            reason,
        }
    }

    fn missing(&self) -> BindError {
        self.iface_error("does not exist in this network namespace".into())
    }

    /// Validates the port and the NIC and says what to create.
    async fn plan(&self, vif: &Vif) -> Result<Child, BindError> {
        let bad = |reason: String| BindError::BadVif {
            port_id: vif.port_id.clone(),
            reason,
        };
        let name = container_ifname(&vif.port_id);
        check_names(vif, std::slice::from_ref(&name))?;
        let mac = parse_mac(vif)?;
        let vlan = match (self.settings.mode, vif.vlan) {
            (NestedMode::Vlan, None) => {
                return Err(bad(
                    "has no VLAN (trunk segmentation) id, which nested VLAN mode needs".into(),
                ));
            }
            (NestedMode::Vlan, Some(id)) if !(1..=4094).contains(&id) => {
                return Err(bad(format!("VLAN id {id} is outside 1-4094")));
            }
            (NestedMode::Macvlan, Some(id)) => {
                return Err(bad(format!(
                    "has VLAN id {id}, but the nested binding is macvlan"
                )));
            }
            (_, vlan) => vlan,
        };
        let iface = self.link_iface()?;
        let step = BindError::host(format!("[binding] link_iface {iface}"));
        let link_mtu = self.links.link_mtu(iface).await.map_err(step)?;
        let link_mtu = link_mtu.ok_or_else(|| self.missing())?;
        // A VLAN link has its parent's MTU whatever the network says, so the
        // check holds for both modes.
        let mtu = vif.mtu.unwrap_or(DEFAULT_MTU);
        if mtu > link_mtu {
            return Err(self.iface_error(format!(
                "its MTU {link_mtu} is below the MTU {mtu} of network {} (port {}); raise \
                 the MTU of {iface} or lower the network's",
                vif.network_id, vif.port_id
            )));
        }
        let parent = iface.to_owned();
        Ok(match vlan {
            None => Child::Macvlan(MacvlanSpec {
                parent,
                name,
                mac,
                mtu,
            }),
            Some(id) => Child::Vlan(VlanSpec {
                parent,
                name,
                id,
                mac,
            }),
        })
    }
}

#[async_trait::async_trait]
impl Binder for NestedBinder {
    /// Creates (or reuses) the port's child link. Nested ports are never
    /// bound by Neutron, so vif_type is not looked at. The creation is one
    /// kernel request that leaves nothing when it fails, and nothing follows
    /// it, so a failed bind has nothing of its own to remove.
    async fn bind(&self, vif: &Vif) -> Result<(), BindError> {
        let (created, step) = match self.plan(vif).await? {
            Child::Macvlan(spec) => (self.links.create_macvlan(&spec).await, spec.name),
            Child::Vlan(spec) => (self.links.create_vlan(&spec).await, spec.name),
        };
        let step = format!(
            "port {}: {step} on {}",
            vif.port_id, self.settings.link_iface
        );
        let outcome = created.map_err(BindError::host(step))?;
        tracing::debug!(
            port = %vif.port_id,
            mode = ?self.settings.mode,
            reused = outcome == LinkOutcome::Reused,
            "bound"
        );
        Ok(())
    }

    /// Deletes the port's `t_c…` link if it is still here; once dockerd has
    /// moved it into a container it goes with the container's namespace, so
    /// a missing link is success.
    async fn unbind(&self, vif: &Vif) -> Result<(), BindError> {
        let name = container_ifname(&vif.port_id);
        // Such a port was refused by bind, which made nothing; and "t_c"
        // alone must never be deleted.
        if check_names(vif, std::slice::from_ref(&name)).is_err() {
            tracing::warn!(port = %vif.port_id, "nothing to unbind: the port id names no link");
            return Ok(());
        }
        let step = BindError::host(format!("port {}: delete {name}", vif.port_id));
        let errors = match self.links.delete_link(&name).await.map_err(step) {
            Ok(()) => Vec::new(),
            Err(e) => vec![e],
        };
        BindError::unbind_result(&vif.port_id, errors)
    }

    /// Always `Some`: nested mode has a link, and a missing one is an error.
    async fn link_mac(&self) -> Result<Option<String>, BindError> {
        NestedBinder::link_mac(self).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binding::{LinkCall, LinkCallKind, RecordingLinks};
    use crate::hostnet::HostNetError;

    const PORT: &str = "40889633-1612-4b47-8d68-f0d3b2c1a9e7";
    const CHILD: &str = "t_c40889633-16";
    const PORT_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0xaa, 0, 1];
    const NIC_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x0b, 0x0c, 0xee];

    fn vif(mtu: Option<u32>, vlan: Option<u16>) -> Vif {
        Vif {
            port_id: PORT.into(),
            endpoint_id: "ep".into(),
            network_id: "net-1".into(),
            project_id: "proj".into(),
            mac: "FA:16:3E:AA:00:01".into(),
            mtu,
            // Nested ports are never bound.
            vif_type: "unbound".into(),
            vif_details: serde_json::Value::Null,
            vlan,
        }
    }

    fn binder(mode: NestedMode) -> (NestedBinder, Arc<RecordingLinks>) {
        let links = Arc::new(RecordingLinks::new());
        links.add_nic("eth0", NIC_MAC, 1500);
        let settings = NestedSettings {
            link_iface: "eth0".into(),
            mode,
        };
        (NestedBinder::with_links(settings, links.clone()), links)
    }

    fn macvlan(mtu: u32) -> LinkCall {
        LinkCall::CreateMacvlan(MacvlanSpec {
            parent: "eth0".into(),
            name: CHILD.into(),
            mac: PORT_MAC,
            mtu,
        })
    }

    #[tokio::test]
    async fn macvlan_bind_makes_the_child_with_the_port_mac_and_network_mtu() {
        let (b, links) = binder(NestedMode::Macvlan);
        b.bind(&vif(Some(1450), None)).await.unwrap();
        assert_eq!(
            links.take_calls(),
            [LinkCall::LinkMtu("eth0".into()), macvlan(1450)]
        );
        assert_eq!(links.links(), ["eth0", CHILD]);
        // No network MTU is kuryr-lib's 1500, which eth0 carries.
        b.unbind(&vif(None, None)).await.unwrap();
        b.bind(&vif(None, None)).await.unwrap();
        assert_eq!(links.calls().last(), Some(&macvlan(1500)));
    }

    #[tokio::test]
    async fn a_network_mtu_above_the_nics_is_refused_before_anything_exists() {
        for mode in [NestedMode::Macvlan, NestedMode::Vlan] {
            let (b, links) = binder(mode);
            let vlan = (mode == NestedMode::Vlan).then_some(100);
            let err = b.bind(&vif(Some(9000), vlan)).await.unwrap_err();
            assert!(matches!(err, BindError::LinkIface { .. }), "{err:?}");
            let text = err.to_string();
            for part in [
                "[binding] link_iface \"eth0\"",
                "1500",
                "9000",
                PORT,
                "net-1",
            ] {
                assert!(text.contains(part), "{mode:?}: {part} not in {text}");
            }
            assert_eq!(links.calls(), [LinkCall::LinkMtu("eth0".into())]);
            assert_eq!(links.links(), ["eth0"]);
        }
    }

    #[tokio::test]
    async fn rebind_reuses_the_link_and_a_foreign_one_is_refused() {
        let (b, links) = binder(NestedMode::Macvlan);
        b.bind(&vif(Some(1450), None)).await.unwrap();
        b.bind(&vif(Some(1450), None)).await.unwrap();
        assert_eq!(links.links(), ["eth0", CHILD]);

        // Something else already carries the name: not ours to take over.
        let (b, links) = binder(NestedMode::Macvlan);
        links.add_child(CHILD, "eth0", crate::binding::FakeKind::Vlan(7), PORT_MAC);
        let err = b.bind(&vif(Some(1450), None)).await.unwrap_err();
        let BindError::HostNet { step, source } = &err else {
            panic!("{err:?}");
        };
        assert!(step.contains(PORT), "{err}");
        assert!(matches!(**source, HostNetError::WrongKind { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "port {PORT}: {CHILD} on eth0: interface {CHILD} exists but is a vlan link, \
                 not a macvlan"
            )
        );
        assert_eq!(
            links.link(CHILD).unwrap().kind,
            crate::binding::FakeKind::Vlan(7)
        );
    }

    #[tokio::test]
    async fn unbind_deletes_the_link_and_a_missing_one_is_success() {
        let (b, links) = binder(NestedMode::Macvlan);
        b.bind(&vif(Some(1450), None)).await.unwrap();
        links.take_calls();
        b.unbind(&vif(Some(1450), None)).await.unwrap();
        // Gone with the container's namespace, or unbound twice.
        b.unbind(&vif(Some(1450), None)).await.unwrap();
        assert_eq!(
            links.calls(),
            [
                LinkCall::DeleteLink(CHILD.into()),
                LinkCall::DeleteLink(CHILD.into())
            ]
        );
        assert_eq!(links.links(), ["eth0"]);

        // A port id that names no link is never turned into a delete of "t_c".
        let empty = Vif {
            port_id: String::new(),
            ..vif(None, None)
        };
        b.unbind(&empty).await.unwrap();
        assert_eq!(links.calls().len(), 2);
    }

    fn assert_starts(err: &BindError, prefix: &str) {
        let text = err.to_string();
        assert!(text.starts_with(prefix), "{text}");
    }

    #[tokio::test]
    async fn failures_leave_nothing_and_name_the_port() {
        let (b, links) = binder(NestedMode::Macvlan);
        // The create is one kernel request: failed, it left nothing, and
        // there is nothing of this call's to delete.
        links.fail_next(LinkCallKind::CreateMacvlan);
        let err = b.bind(&vif(Some(1450), None)).await.unwrap_err();
        assert_starts(&err, &format!("port {PORT}: {CHILD} on eth0: "));
        assert_eq!(links.links(), ["eth0"]);
        assert!(
            !links
                .calls()
                .iter()
                .any(|c| c.kind() == LinkCallKind::DeleteLink)
        );

        // Reading the NIC fails: nothing is created.
        links.fail_next(LinkCallKind::LinkMtu);
        let err = b.bind(&vif(Some(1450), None)).await.unwrap_err();
        assert!(
            err.to_string().contains("[binding] link_iface eth0"),
            "{err}"
        );
        assert_eq!(links.links(), ["eth0"]);

        // A failed delete is reported with the port, and the link stays.
        b.bind(&vif(Some(1450), None)).await.unwrap();
        links.fail_next(LinkCallKind::DeleteLink);
        let err = b.unbind(&vif(Some(1450), None)).await.unwrap_err();
        assert_starts(&err, &format!("unbinding port {PORT}: "));
        assert_eq!(links.links(), ["eth0", CHILD]);
    }

    #[tokio::test]
    async fn vlan_bind_makes_a_vlan_link_with_the_segmentation_id_and_port_mac() {
        let (b, links) = binder(NestedMode::Vlan);
        b.bind(&vif(Some(1500), Some(101))).await.unwrap();
        let spec = VlanSpec {
            parent: "eth0".into(),
            name: CHILD.into(),
            id: 101,
            mac: PORT_MAC,
        };
        assert_eq!(
            links.take_calls(),
            [LinkCall::LinkMtu("eth0".into()), LinkCall::CreateVlan(spec)]
        );
        b.unbind(&vif(Some(1500), Some(101))).await.unwrap();
        assert_eq!(links.links(), ["eth0"]);
    }

    #[tokio::test]
    async fn a_port_without_the_modes_vlan_id_is_refused_before_any_call() {
        let cases = [
            (
                NestedMode::Vlan,
                None,
                "has no VLAN (trunk segmentation) id",
            ),
            (NestedMode::Vlan, Some(0), "VLAN id 0 is outside 1-4094"),
            (
                NestedMode::Vlan,
                Some(4095),
                "VLAN id 4095 is outside 1-4094",
            ),
            (
                NestedMode::Macvlan,
                Some(5),
                "has VLAN id 5, but the nested binding is macvlan",
            ),
        ];
        for (mode, vlan, why) in cases {
            let (b, links) = binder(mode);
            let err = b.bind(&vif(Some(1500), vlan)).await.unwrap_err();
            assert!(matches!(err, BindError::BadVif { .. }), "{err:?}");
            assert!(
                err.to_string().contains(why) && err.to_string().contains(PORT),
                "{err}"
            );
            assert!(links.calls().is_empty(), "{:?}", links.calls());
        }
    }

    #[tokio::test]
    async fn link_mac_is_the_nics_lowercase_and_a_missing_nic_names_the_option() {
        let (b, _links) = binder(NestedMode::Macvlan);
        assert_eq!(b.link_mac().await.unwrap(), "fa:16:3e:0b:0c:ee");
        let through_the_trait: &dyn Binder = &b;
        assert_eq!(
            through_the_trait.link_mac().await.unwrap().as_deref(),
            Some("fa:16:3e:0b:0c:ee")
        );
        assert_eq!(b.settings().link_iface, "eth0");

        for (iface, why) in [
            ("eth9", "does not exist in this network namespace"),
            ("", "is not set"),
            ("a/b", "is invalid"),
        ] {
            let settings = NestedSettings {
                link_iface: iface.into(),
                mode: NestedMode::Macvlan,
            };
            let b = NestedBinder::with_links(settings, Arc::new(RecordingLinks::new()));
            let err = b.link_mac().await.unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("[binding] link_iface") && text.contains(why),
                "{text}"
            );
            // Bind says the same, and makes nothing.
            let err = b.bind(&vif(None, None)).await.unwrap_err();
            assert_eq!(err.to_string(), text);
        }
    }
}
