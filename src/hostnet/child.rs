//! Child links of a parent NIC for [`Netlink`], used by nested mode (containers
//! in a Nova VM, where the VM's NIC is the only way out): a macvlan in bridge
//! mode ([`Netlink::create_macvlan`]) or an 802.1Q VLAN link
//! ([`Netlink::create_vlan`]). Each is made in one RTM_NEWLINK carrying name,
//! parent, MAC and MTU, so the kernel either makes it complete or not at all
//! and there is nothing to roll back. The link stays down in this namespace:
//! dockerd moves it into the container, addresses it and brings it up there.

use nix::errno::Errno;
use rtnetlink::packet_route::link::{InfoData, InfoMacVlan, InfoVlan, LinkMessage, MacVlanMode};
use rtnetlink::{LinkMacVlan, LinkVlan};

use super::netlink::{
    Netlink, info_data, is_errno, link_address, link_parent, nl_err, require_kind,
};
use super::{HostNetError, LinkOutcome, MacvlanSpec, VlanSpec, mac_string, validate_ifname};

/// What is being created, for the shared create-or-reuse path.
struct Child<'a> {
    name: &'a str,
    parent: &'a str,
    mac: [u8; 6],
    /// What an existing link must also have to be reused.
    detail: Detail,
    /// rtnl_link_ops kind, as `require_kind` and the messages spell it.
    kind: &'static str,
    /// The kernel module providing `kind`.
    module: &'static str,
    /// For errors: "create macvlan", ...
    op: &'static str,
}

/// The kind-specific setting that makes a child link the one wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Detail {
    Mode(MacVlanMode),
    VlanId(u16),
}

impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detail::Mode(mode) => write!(f, "mode {mode:?}"),
            Detail::VlanId(id) => write!(f, "VLAN {id}"),
        }
    }
}

/// A macvlan's mode or a VLAN link's id, as the kernel reports it.
fn detail(link: &LinkMessage) -> Option<Detail> {
    match info_data(link)? {
        InfoData::MacVlan(infos) => infos.iter().find_map(|i| match i {
            InfoMacVlan::Mode(mode) => Some(Detail::Mode(*mode)),
            _ => None,
        }),
        InfoData::Vlan(infos) => infos.iter().find_map(|i| match i {
            InfoVlan::Id(id) => Some(Detail::VlanId(*id)),
            _ => None,
        }),
        _ => None,
    }
}

impl Netlink {
    /// Creates the macvlan `spec.name` on `spec.parent` in bridge mode (so
    /// the containers of one VM reach each other without leaving it), with
    /// the MAC and MTU, down. An existing bridge-mode macvlan of that name and
    /// MAC on that parent is reused as it is (an earlier bind made it and
    /// dockerd has not moved it yet); any other link of that name is an
    /// error. Says which of the two happened.
    pub async fn create_macvlan(&self, spec: &MacvlanSpec) -> Result<LinkOutcome, HostNetError> {
        let child = Child {
            name: &spec.name,
            parent: &spec.parent,
            mac: spec.mac,
            detail: Detail::Mode(MacVlanMode::Bridge),
            kind: "macvlan",
            module: "macvlan",
            op: "create macvlan",
        };
        let request = |parent| {
            LinkMacVlan::new(&spec.name, parent, MacVlanMode::Bridge)
                .address(spec.mac.to_vec())
                .mtu(spec.mtu)
                .build()
        };
        create_child(self, &child, request).await
    }

    /// Creates the VLAN link `spec.name` for VLAN `spec.id` on `spec.parent`
    /// with the MAC, down; it takes the parent's MTU. Reuse is as for
    /// [`create_macvlan`](Self::create_macvlan), and needs the same VLAN id.
    /// A kernel without the 8021q module refuses with
    /// [`HostNetError::NoKernelSupport`].
    pub async fn create_vlan(&self, spec: &VlanSpec) -> Result<LinkOutcome, HostNetError> {
        let child = Child {
            name: &spec.name,
            parent: &spec.parent,
            mac: spec.mac,
            detail: Detail::VlanId(spec.id),
            kind: "vlan",
            module: "8021q",
            op: "create vlan",
        };
        let request = |parent| {
            LinkVlan::new(&spec.name, parent, spec.id)
                .address(spec.mac.to_vec())
                .build()
        };
        create_child(self, &child, request).await
    }
}

/// Creates the child, or reuses an existing one of the right kind, parent,
/// MAC and detail.
async fn create_child(
    nl: &Netlink,
    child: &Child<'_>,
    request: impl FnOnce(u32) -> LinkMessage,
) -> Result<LinkOutcome, HostNetError> {
    for name in [child.name, child.parent] {
        validate_ifname(name)?;
    }
    let parent = nl
        .find_link(child.parent)
        .await?
        .ok_or_else(|| HostNetError::Unusable {
            ifname: child.parent.to_owned(),
            reason: format!("does not exist (wanted as the parent of {})", child.name),
        })?
        .header
        .index;
    let exists = match nl.handle.link().add(request(parent)).execute().await {
        Ok(()) => return Ok(LinkOutcome::Created),
        Err(e) if is_errno(&e, Errno::EEXIST) => e,
        // rtnl_newlink's "Unknown device type": no driver for the kind, even
        // after its request_module.
        Err(e) if is_errno(&e, Errno::EOPNOTSUPP) => {
            return Err(HostNetError::NoKernelSupport {
                ifname: child.name.to_owned(),
                kind: child.kind,
                module: child.module,
            });
        }
        Err(e) => return Err(nl_err(child.op, child.name)(e)),
    };
    let Some(link) = nl.find_link(child.name).await? else {
        // The name is free, so the parent refused a second child like this
        // one (a VLAN id already in use there, say): the kernel's answer.
        return Err(nl_err(child.op, child.name)(exists));
    };
    require_kind(&link, child.name, child.kind)?;
    let unusable = |reason| HostNetError::Unusable {
        ifname: child.name.to_owned(),
        reason: format!("exists but {reason}"),
    };
    if link_parent(&link) != Some(parent) {
        return Err(unusable(format!("is not on {}", child.parent)));
    }
    // Another MAC means another port's link (ids sharing their first 11
    // characters) or a stale one: Neutron's port security would drop the
    // container's traffic.
    let mac = link_address(&link);
    if mac != Some(child.mac) {
        let shown = mac.map_or_else(|| "none".to_owned(), mac_string);
        let wanted = mac_string(child.mac);
        return Err(unusable(format!("has MAC {shown}, not {wanted}")));
    }
    match detail(&link) {
        Some(found) if found == child.detail => {}
        Some(found) => return Err(unusable(format!("has {found}, not {}", child.detail))),
        None => {
            return Err(unusable(format!(
                "reports no mode or VLAN id, not {}",
                child.detail
            )));
        }
    }
    Ok(LinkOutcome::Reused)
}
