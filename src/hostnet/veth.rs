//! Veth pairs for [`Netlink`]: `create_veth` for the embedded backend (host end
//! on a bridge and up, container end configured but down), and
//! [`Netlink::create_veth_pair`] for callers that plug the host end themselves
//! (the Neutron binding). Moving the container end into the container,
//! renaming it and bringing it up is dockerd's job, never this file's.

use nix::errno::Errno;
use rtnetlink::packet_route::link::{InfoData, InfoVeth};
use rtnetlink::{LinkUnspec, LinkVeth};

use super::netlink::{Netlink, is_errno, nl_err, require_kind};
use super::{HostNetError, LinkOutcome, VethPair, VethSpec, validate_ifname};

pub(super) async fn create_veth(nl: &Netlink, spec: &VethSpec) -> Result<(), HostNetError> {
    for name in [&spec.host, &spec.container, &spec.bridge] {
        validate_ifname(name)?;
    }
    let bridge = nl
        .find_link(&spec.bridge)
        .await?
        .ok_or_else(|| HostNetError::BridgeMissing(spec.bridge.clone()))?;
    require_kind(&bridge, &spec.bridge, "bridge")?;
    let pair = VethPair {
        host: spec.host.clone(),
        container: spec.container.clone(),
        container_mac: spec.container_mac,
        mtu: spec.mtu,
    };
    create_pair(nl, &pair, Some(bridge.header.index))
        .await
        .map(|_| ())
}

impl Netlink {
    /// Creates the veth pair with the host end up and on no bridge, the
    /// container end with `container_mac` (if given) and the MTU, down. An
    /// existing pair of those names (the host end being a veth) is reused and
    /// its host end brought up; the container end is then left alone, as it
    /// may already be inside a container. Says which of the two happened so
    /// that a caller rolling back a failed plug deletes only what it made. A
    /// failed creation leaves nothing behind (the kernel creates both ends in
    /// one request or neither).
    pub async fn create_veth_pair(&self, pair: &VethPair) -> Result<LinkOutcome, HostNetError> {
        for name in [&pair.host, &pair.container] {
            validate_ifname(name)?;
        }
        create_pair(self, pair, None).await
    }
}

/// Both callers' pair creation; `controller` is the bridge index the host end
/// goes on, if any.
async fn create_pair(
    nl: &Netlink,
    pair: &VethPair,
    controller: Option<u32>,
) -> Result<LinkOutcome, HostNetError> {
    // Both ends, their MACs and MTUs, the host end's master and its up flag
    // all go into one RTM_NEWLINK. The kernel applies IFLA_MASTER and the
    // flags after registering the pair and unregisters both ends if either
    // fails, so the roll-back the contract asks for is done by the kernel,
    // atomically: there is no moment at which a half-configured pair exists
    // and no second request that could fail after creation.
    let mut peer = LinkUnspec::new_with_name(&pair.container);
    if let Some(mac) = pair.container_mac {
        peer = peer.address(mac.to_vec());
    }
    let mut host = LinkVeth::new(&pair.host, &pair.container).up();
    if let Some(index) = controller {
        host = host.controller(index);
    }
    if let Some(mtu) = pair.mtu {
        peer = peer.mtu(mtu);
        host = host.mtu(mtu);
    }
    // Replaces the name-only peer that LinkVeth::new put in.
    let host = host.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));

    match nl.handle.link().add(host.build()).execute().await {
        Ok(()) => Ok(LinkOutcome::Created),
        Err(e) if is_errno(&e, Errno::EEXIST) => reuse(nl, pair, controller, e).await,
        Err(e) => Err(nl_err("create veth", &pair.host)(e)),
    }
}

/// The pair (or something with one of its names) already exists. If the host
/// end is a veth, it is ours from an earlier attempt: make sure it sits on
/// the bridge (if one is wanted) and is up, and leave the container end alone
/// (it may already be inside the container). Nothing is rolled back here: we
/// did not create it.
async fn reuse(
    nl: &Netlink,
    pair: &VethPair,
    controller: Option<u32>,
    exists: rtnetlink::Error,
) -> Result<LinkOutcome, HostNetError> {
    let Some(host) = nl.find_link(&pair.host).await? else {
        // Only the container name is taken (by an unrelated link, since a
        // veth end never outlives its peer): report the original EEXIST.
        return Err(nl_err("create veth", &pair.container)(exists));
    };
    require_kind(&host, &pair.host, "veth")?;
    let mut settings = LinkUnspec::new_with_index(host.header.index).up();
    if let Some(index) = controller {
        settings = settings.controller(index);
    }
    nl.handle
        .link()
        .set(settings.build())
        .execute()
        .await
        .map_err(nl_err("attach existing veth", &pair.host))?;
    Ok(LinkOutcome::Reused)
}
