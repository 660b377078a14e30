//! `create_veth` for [`Netlink`]: one veth pair per endpoint, host end on the
//! bridge and up, container end configured but down. Moving the container end
//! into the container, renaming it and bringing it up is dockerd's job.

use nix::errno::Errno;
use rtnetlink::packet_route::link::{InfoData, InfoVeth};
use rtnetlink::{LinkUnspec, LinkVeth};

use super::netlink::{Netlink, is_errno, nl_err, require_kind};
use super::{HostNetError, VethSpec, validate_ifname};

pub(super) async fn create_veth(nl: &Netlink, spec: &VethSpec) -> Result<(), HostNetError> {
    for name in [&spec.host, &spec.container, &spec.bridge] {
        validate_ifname(name)?;
    }
    let bridge = nl
        .find_link(&spec.bridge)
        .await?
        .ok_or_else(|| HostNetError::BridgeMissing(spec.bridge.clone()))?;
    require_kind(&bridge, &spec.bridge, "bridge")?;
    let bridge_index = bridge.header.index;

    // Both ends, their MACs and MTUs, the host end's master and its up flag
    // all go into one RTM_NEWLINK. The kernel applies IFLA_MASTER and the
    // flags after registering the pair and unregisters both ends if either
    // fails, so the roll-back the contract asks for is done by the kernel,
    // atomically: there is no moment at which a half-configured pair exists
    // and no second request that could fail after creation.
    let mut peer = LinkUnspec::new_with_name(&spec.container);
    if let Some(mac) = spec.container_mac {
        peer = peer.address(mac.to_vec());
    }
    let mut host = LinkVeth::new(&spec.host, &spec.container)
        .controller(bridge_index)
        .up();
    if let Some(mtu) = spec.mtu {
        peer = peer.mtu(mtu);
        host = host.mtu(mtu);
    }
    // Replaces the name-only peer that LinkVeth::new put in.
    let host = host.set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));

    match nl.handle.link().add(host.build()).execute().await {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, Errno::EEXIST) => reuse(nl, spec, bridge_index, e).await,
        Err(e) => Err(nl_err("create veth", &spec.host)(e)),
    }
}

/// The pair (or something with one of its names) already exists. If the host
/// end is a veth, it is ours from an earlier attempt: make sure it sits on
/// the bridge and is up, and leave the container end alone (it may already
/// be inside the container). Nothing is rolled back here: we did not create it.
async fn reuse(
    nl: &Netlink,
    spec: &VethSpec,
    bridge_index: u32,
    exists: rtnetlink::Error,
) -> Result<(), HostNetError> {
    let Some(host) = nl.find_link(&spec.host).await? else {
        // Only the container name is taken (by an unrelated link, since a
        // veth end never outlives its peer): report the original EEXIST.
        return Err(nl_err("create veth", &spec.container)(exists));
    };
    require_kind(&host, &spec.host, "veth")?;
    let settings = LinkUnspec::new_with_index(host.header.index)
        .controller(bridge_index)
        .up()
        .build();
    nl.handle
        .link()
        .set(settings)
        .execute()
        .await
        .map_err(nl_err("attach existing veth", &spec.host))
}
