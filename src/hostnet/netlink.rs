//! The real [`HostNet`]: an rtnetlink connection to the kernel of the network
//! namespace `Netlink::connect` was called in. This file holds the connection,
//! link lookup (including a link's MAC and MTU), bringing up, deletion and listing plus
//! the errno plumbing shared with `bridge.rs` (bridge creation and addresses), `veth.rs`
//! (veth pairs) and `child.rs` (macvlan and VLAN links).
//! Retrying, ordering and reconciliation are left to the backend.

use futures::TryStreamExt;
use nix::errno::Errno;
use rtnetlink::packet_route::link::{InfoData, InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use rtnetlink::{Handle, LinkUnspec};

use super::{BridgeSpec, HostNet, HostNetError, NetworkRules, VethSpec, validate_ifname};

pub struct Netlink {
    pub(super) handle: Handle,
}

impl Netlink {
    /// Opens the rtnetlink socket and spawns its connection task on the
    /// current tokio runtime. The socket is bound to the network namespace of
    /// the calling thread at this moment, and stays there even if the thread
    /// later moves: call this from the namespace you mean to manage.
    pub fn connect() -> Result<Netlink, HostNetError> {
        // tokio::spawn panics outside a runtime; check first to fail cleanly.
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| HostNetError::NoRuntime)?;
        let (connection, handle, _) = rtnetlink::new_connection().map_err(HostNetError::Connect)?;
        runtime.spawn(connection);
        Ok(Netlink { handle })
    }

    /// The link called `name`, or `None` if there is none.
    pub(super) async fn find_link(&self, name: &str) -> Result<Option<LinkMessage>, HostNetError> {
        let mut links = self.handle.link().get().match_name(name).execute();
        match links.try_next().await {
            Ok(link) => Ok(link),
            // A by-name RTM_GETLINK for a missing link is an ENODEV error, not
            // an empty answer.
            Err(e) if errno(&e) == Some(Errno::ENODEV as i32) => Ok(None),
            Err(e) => Err(nl_err("get link", name)(e)),
        }
    }

    /// Brings the link called `name` up (by name, in one request).
    pub async fn set_up(&self, name: &str) -> Result<(), HostNetError> {
        validate_ifname(name)?;
        let settings = LinkUnspec::new_with_name(name).up().build();
        self.handle
            .link()
            .set(settings)
            .execute()
            .await
            .map_err(nl_err("set link up", name))
    }

    /// The Ethernet MAC of the link called `name`, or `None` if there is no
    /// such link. A link without one (a tun, a tunnel) is
    /// [`HostNetError::Unusable`].
    pub async fn link_mac(&self, name: &str) -> Result<Option<[u8; 6]>, HostNetError> {
        validate_ifname(name)?;
        let Some(link) = self.find_link(name).await? else {
            return Ok(None);
        };
        link_address(&link)
            .map(Some)
            .ok_or_else(|| HostNetError::Unusable {
                ifname: name.to_owned(),
                reason: "has no Ethernet MAC address".into(),
            })
    }

    /// The MTU of the link called `name`, or `None` if there is no such link.
    pub async fn link_mtu(&self, name: &str) -> Result<Option<u32>, HostNetError> {
        validate_ifname(name)?;
        let link = self.find_link(name).await?;
        Ok(link.and_then(|link| {
            link.attributes.iter().find_map(|a| match a {
                LinkAttribute::Mtu(mtu) => Some(*mtu),
                _ => None,
            })
        }))
    }

    pub(super) async fn set_up_index(&self, index: u32, name: &str) -> Result<(), HostNetError> {
        let settings = LinkUnspec::new_with_index(index).up().build();
        self.handle
            .link()
            .set(settings)
            .execute()
            .await
            .map_err(nl_err("set link up", name))
    }
}

/// The positive errno carried by a netlink error reply (the kernel sends it
/// negated).
pub(super) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|c| c.get().abs()),
        _ => None,
    }
}

pub(super) fn is_errno(e: &rtnetlink::Error, wanted: Errno) -> bool {
    errno(e) == Some(wanted as i32)
}

/// Wraps an rtnetlink error with the operation and interface it concerned.
pub(super) fn nl_err(
    op: &'static str,
    ifname: &str,
) -> impl FnOnce(rtnetlink::Error) -> HostNetError {
    let ifname = ifname.to_owned();
    move |source| HostNetError::Netlink { op, ifname, source }
}

pub(super) fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

/// The rtnl_link_ops kind ("bridge", "veth", ...). The kernel puts
/// IFLA_LINKINFO in every RTM_NEWLINK reply for such devices, so no extra
/// request is needed; devices without ops (lo, physical NICs) have none.
pub(super) fn link_kind(link: &LinkMessage) -> Option<&InfoKind> {
    link_infos(link)?.iter().find_map(|i| match i {
        LinkInfo::Kind(kind) => Some(kind),
        _ => None,
    })
}

/// The link's Ethernet MAC, if it has a 6-byte address.
pub(super) fn link_address(link: &LinkMessage) -> Option<[u8; 6]> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(bytes) => <[u8; 6]>::try_from(bytes.as_slice()).ok(),
        _ => None,
    })
}

/// The index of the link `link` sits on (IFLA_LINK: a macvlan's or VLAN's
/// parent).
pub(super) fn link_parent(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Link(index) => Some(*index),
        _ => None,
    })
}

/// The kind-specific part of IFLA_LINKINFO (a macvlan's mode, a VLAN's id).
pub(super) fn info_data(link: &LinkMessage) -> Option<&InfoData> {
    link_infos(link)?.iter().find_map(|i| match i {
        LinkInfo::Data(data) => Some(data),
        _ => None,
    })
}

fn link_infos(link: &LinkMessage) -> Option<&[LinkInfo]> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => Some(infos.as_slice()),
        _ => None,
    })
}

/// Errors unless `link` (called `name`) is of kind `expected` ("bridge",
/// "veth"): reusing, say, a physical NIC that happens to carry one of our
/// names would be worse than failing.
pub(super) fn require_kind(
    link: &LinkMessage,
    name: &str,
    expected: &'static str,
) -> Result<(), HostNetError> {
    let found = link_kind(link).map_or_else(|| "plain".to_owned(), ToString::to_string);
    if found == expected {
        return Ok(());
    }
    Err(HostNetError::WrongKind {
        ifname: name.to_owned(),
        expected,
        found,
    })
}

#[async_trait::async_trait]
impl HostNet for Netlink {
    async fn ensure_bridge(&self, spec: &BridgeSpec) -> Result<(), HostNetError> {
        super::bridge::ensure_bridge(self, spec).await
    }

    async fn remove_addresses(
        &self,
        name: &str,
        addresses: &[ipnet::IpNet],
    ) -> Result<(), HostNetError> {
        super::bridge::remove_addresses(self, name, addresses).await
    }

    async fn delete_link(&self, name: &str) -> Result<(), HostNetError> {
        validate_ifname(name)?;
        // Delete by name in one request (RTM_DELLINK accepts IFLA_IFNAME with
        // index 0) rather than look up the index first: no window in which the
        // link can vanish or be replaced between the two.
        let by_name = LinkUnspec::new_with_name(name).build();
        match self.handle.link().del_with_message(by_name).execute().await {
            Ok(()) => Ok(()),
            Err(e) if is_errno(&e, Errno::ENODEV) => Ok(()),
            Err(e) => Err(nl_err("delete link", name)(e)),
        }
    }

    async fn create_veth(&self, spec: &VethSpec) -> Result<(), HostNetError> {
        super::veth::create_veth(self, spec).await
    }

    async fn links_with_prefix(&self, prefix: &str) -> Result<Vec<String>, HostNetError> {
        let mut dump = self.handle.link().get().execute();
        let mut names = Vec::new();
        while let Some(link) = dump
            .try_next()
            .await
            .map_err(nl_err("list links", prefix))?
        {
            if let Some(name) = link_name(&link).filter(|n| n.starts_with(prefix)) {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    async fn link_exists(&self, name: &str) -> Result<bool, HostNetError> {
        validate_ifname(name)?;
        Ok(self.find_link(name).await?.is_some())
    }

    async fn firewall(&self, networks: &[NetworkRules]) -> Result<(), HostNetError> {
        for network in networks {
            validate_ifname(&network.bridge)?;
            for port in &network.isolated_ports {
                validate_ifname(port)?;
            }
        }
        super::isolation::apply(networks).await
    }
}
