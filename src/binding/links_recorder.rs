//! [`RecordingLinks`], an in-memory [`NestedLinks`] for testing nested mode
//! without root: it records every call, models the links that exist (NICs the
//! test adds, with a MAC and MTU, and the macvlan and VLAN children made on
//! them) under the kernel's rules that matter to the binder (a child's MTU
//! is at most its parent's, one VLAN id per parent, children go with their
//! parent, reuse only of a matching link), and fails the next call of a
//! given kind on request, with the error shape of a kernel refusal.

use nix::errno::Errno;

use crate::hostnet::recorder::{Fake, FakeState, Recorded, netlink_error};
use crate::hostnet::{
    HostNetError, LinkOutcome, MacvlanSpec, VlanSpec, mac_string, validate_ifname,
};

use super::NestedLinks;

/// One call made on the [`RecordingLinks`], with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCall {
    LinkMac(String),
    LinkMtu(String),
    CreateMacvlan(MacvlanSpec),
    CreateVlan(VlanSpec),
    DeleteLink(String),
}

/// The method a [`LinkCall`] is for, used to pick which call to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LinkCallKind {
    LinkMac,
    LinkMtu,
    CreateMacvlan,
    CreateVlan,
    DeleteLink,
}

impl LinkCall {
    pub fn kind(&self) -> LinkCallKind {
        match self {
            LinkCall::LinkMac(_) => LinkCallKind::LinkMac,
            LinkCall::LinkMtu(_) => LinkCallKind::LinkMtu,
            LinkCall::CreateMacvlan(_) => LinkCallKind::CreateMacvlan,
            LinkCall::CreateVlan(_) => LinkCallKind::CreateVlan,
            LinkCall::DeleteLink(_) => LinkCallKind::DeleteLink,
        }
    }
}

/// What the model knows about an existing link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLink {
    pub kind: FakeKind,
    /// The link it sits on (children only).
    pub parent: Option<String>,
    pub mac: [u8; 6],
    pub mtu: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeKind {
    /// A link added by the test, such as the VM's NIC.
    Nic,
    Macvlan,
    Vlan(u16),
}

impl FakeKind {
    /// As the kernel names the kind ("plain" for a NIC without rtnl ops).
    fn name(self) -> &'static str {
        match self {
            FakeKind::Nic => "plain",
            FakeKind::Macvlan => "macvlan",
            FakeKind::Vlan(_) => "vlan",
        }
    }
}

impl Recorded for LinkCall {
    type Kind = LinkCallKind;
    fn kind(&self) -> LinkCallKind {
        LinkCall::kind(self)
    }
}

/// The [`NestedLinks`] fake; the calls, links and injected failures are
/// [`Fake`]'s.
pub type RecordingLinks = Fake<LinkCall, FakeLink>;

impl RecordingLinks {
    /// Makes a NIC exist (such as the VM's `eth0`) with this MAC and MTU.
    pub fn add_nic(&self, name: impl Into<String>, mac: [u8; 6], mtu: u32) {
        let link = FakeLink {
            kind: FakeKind::Nic,
            parent: None,
            mac,
            mtu,
        };
        self.lock().links.insert(name.into(), link);
    }

    /// Makes a link of this kind exist on `parent`, as an earlier run left it.
    pub fn add_child(&self, name: impl Into<String>, parent: &str, kind: FakeKind, mac: [u8; 6]) {
        let mut state = self.lock();
        let mtu = state.links.get(parent).map_or(1500, |p| p.mtu);
        let link = FakeLink {
            kind,
            parent: Some(parent.to_owned()),
            mac,
            mtu,
        };
        state.links.insert(name.into(), link);
    }
}

impl FakeState<LinkCall, FakeLink> {
    /// Adds the child `name` of `kind` on `parent` unless a matching one
    /// exists, as `hostnet::Netlink` does.
    fn create_child(
        &mut self,
        op: &'static str,
        name: &str,
        parent: &str,
        kind: FakeKind,
        mac: [u8; 6],
        mtu: Option<u32>,
    ) -> Result<LinkOutcome, HostNetError> {
        for ifname in [name, parent] {
            validate_ifname(ifname)?;
        }
        let parent_mtu = match self.links.get(parent) {
            Some(link) => link.mtu,
            None => {
                return Err(HostNetError::Unusable {
                    ifname: parent.to_owned(),
                    reason: format!("does not exist (wanted as the parent of {name})"),
                });
            }
        };
        if let Some(link) = self.links.get(name) {
            return reuse(name, link, parent, kind, mac);
        }
        let clash = self.links.values().any(|l| {
            kind != FakeKind::Macvlan && l.kind == kind && l.parent.as_deref() == Some(parent)
        });
        if clash {
            return Err(netlink_error(op, name, Errno::EEXIST));
        }
        if mtu.is_some_and(|mtu| mtu > parent_mtu) {
            return Err(netlink_error(op, name, Errno::EINVAL));
        }
        let link = FakeLink {
            kind,
            parent: Some(parent.to_owned()),
            mac,
            mtu: mtu.unwrap_or(parent_mtu),
        };
        self.links.insert(name.to_owned(), link);
        Ok(LinkOutcome::Created)
    }
}

/// The checks `hostnet::Netlink` makes before reusing a link, with its errors.
fn reuse(
    name: &str,
    link: &FakeLink,
    parent: &str,
    kind: FakeKind,
    mac: [u8; 6],
) -> Result<LinkOutcome, HostNetError> {
    if link.kind.name() != kind.name() {
        return Err(HostNetError::WrongKind {
            ifname: name.to_owned(),
            expected: kind.name(),
            found: link.kind.name().to_owned(),
        });
    }
    let reason = if link.parent.as_deref() != Some(parent) {
        format!("is not on {parent}")
    } else if link.mac != mac {
        format!("has MAC {}, not {}", mac_string(link.mac), mac_string(mac))
    } else if let (FakeKind::Vlan(found), FakeKind::Vlan(wanted)) = (link.kind, kind) {
        if found == wanted {
            return Ok(LinkOutcome::Reused);
        }
        format!("has VLAN {found}, not VLAN {wanted}")
    } else {
        return Ok(LinkOutcome::Reused);
    };
    Err(HostNetError::Unusable {
        ifname: name.to_owned(),
        reason: format!("exists but {reason}"),
    })
}

#[async_trait::async_trait]
impl NestedLinks for RecordingLinks {
    async fn link_mac(&self, name: &str) -> Result<Option<[u8; 6]>, HostNetError> {
        let (state, injected) = self.begin(LinkCall::LinkMac(name.to_owned()), "get link", name);
        injected?;
        validate_ifname(name)?;
        Ok(state.links.get(name).map(|l| l.mac))
    }

    async fn link_mtu(&self, name: &str) -> Result<Option<u32>, HostNetError> {
        let (state, injected) = self.begin(LinkCall::LinkMtu(name.to_owned()), "get link", name);
        injected?;
        validate_ifname(name)?;
        Ok(state.links.get(name).map(|l| l.mtu))
    }

    async fn create_macvlan(&self, spec: &MacvlanSpec) -> Result<LinkOutcome, HostNetError> {
        let op = "create macvlan";
        let call = LinkCall::CreateMacvlan(spec.clone());
        let (mut state, injected) = self.begin(call, op, &spec.name);
        // An injected failure models one the kernel rolled back: nothing is
        // left behind.
        injected?;
        let kind = FakeKind::Macvlan;
        state.create_child(op, &spec.name, &spec.parent, kind, spec.mac, Some(spec.mtu))
    }

    async fn create_vlan(&self, spec: &VlanSpec) -> Result<LinkOutcome, HostNetError> {
        let op = "create vlan";
        let (mut state, injected) = self.begin(LinkCall::CreateVlan(spec.clone()), op, &spec.name);
        injected?;
        let kind = FakeKind::Vlan(spec.id);
        state.create_child(op, &spec.name, &spec.parent, kind, spec.mac, None)
    }

    async fn delete_link(&self, name: &str) -> Result<(), HostNetError> {
        let (mut state, injected) =
            self.begin(LinkCall::DeleteLink(name.to_owned()), "delete link", name);
        injected?;
        validate_ifname(name)?;
        // As in the kernel: the children go with their parent, and a missing
        // link is fine.
        state.links.remove(name);
        state
            .links
            .retain(|_, link| link.parent.as_deref() != Some(name));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0, 0, 1];
    const NIC_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0, 0, 0xee];

    fn macvlan(name: &str, mtu: u32) -> MacvlanSpec {
        MacvlanSpec {
            parent: "eth0".into(),
            name: name.into(),
            mac: MAC,
            mtu,
        }
    }

    fn vlan(name: &str, id: u16) -> VlanSpec {
        VlanSpec {
            parent: "eth0".into(),
            name: name.into(),
            id,
            mac: MAC,
        }
    }

    #[tokio::test]
    async fn models_children_of_a_nic_like_the_kernel() {
        let r = RecordingLinks::new();
        r.add_nic("eth0", NIC_MAC, 1500);
        assert_eq!(r.link_mac("eth0").await.unwrap(), Some(NIC_MAC));
        assert_eq!(r.link_mtu("eth0").await.unwrap(), Some(1500));
        assert_eq!(r.link_mtu("eth9").await.unwrap(), None);

        let made = r.create_macvlan(&macvlan("t_ca", 1450)).await.unwrap();
        assert_eq!(made, LinkOutcome::Created);
        let again = r.create_macvlan(&macvlan("t_ca", 1450)).await.unwrap();
        assert_eq!(again, LinkOutcome::Reused);
        assert_eq!(r.link("t_ca").unwrap().mtu, 1450);

        // The kernel refuses a child MTU above the parent's.
        let err = r.create_macvlan(&macvlan("t_cb", 9000)).await.unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EINVAL as i32));

        // A VLAN takes the parent's MTU; one link per VLAN id and parent.
        r.create_vlan(&vlan("t_cv", 100)).await.unwrap();
        assert_eq!(r.link("t_cv").unwrap().mtu, 1500);
        let err = r.create_vlan(&vlan("t_cw", 100)).await.unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EEXIST as i32));
        let err = r.create_vlan(&vlan("t_cv", 101)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "interface t_cv exists but has VLAN 100, not VLAN 101"
        );
        let err = r.create_vlan(&vlan("t_ca", 100)).await.unwrap_err();
        assert!(matches!(err, HostNetError::WrongKind { .. }), "{err}");

        // Children go with their parent; a missing link deletes fine.
        r.delete_link("eth0").await.unwrap();
        r.delete_link("eth0").await.unwrap();
        assert!(r.links().is_empty(), "{:?}", r.links());
    }

    #[tokio::test]
    async fn injected_failures_hit_the_next_call_of_that_kind_only() {
        let r = RecordingLinks::new();
        r.add_nic("eth0", NIC_MAC, 1500);
        r.fail_next_with(LinkCallKind::CreateMacvlan, Errno::ENOMEM);
        assert!(r.link_mtu("eth0").await.is_ok());
        let err = r.create_macvlan(&macvlan("t_ca", 1500)).await.unwrap_err();
        assert_eq!(err.errno(), Some(Errno::ENOMEM as i32));
        assert_eq!(r.links(), ["eth0"], "a failed create leaves nothing");
        r.create_macvlan(&macvlan("t_ca", 1500)).await.unwrap();
        let kinds: Vec<_> = r.take_calls().iter().map(LinkCall::kind).collect();
        assert_eq!(
            kinds,
            [
                LinkCallKind::LinkMtu,
                LinkCallKind::CreateMacvlan,
                LinkCallKind::CreateMacvlan
            ]
        );
        assert!(r.calls().is_empty());
    }
}
