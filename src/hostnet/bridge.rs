//! Linux bridges for [`Netlink`]. `ensure_bridge` (embedded backend):
//! create-or-reuse a bridge, pin its MAC and MTU, add the gateway addresses
//! and bring it up. [`Netlink::ensure_port_bridge`] and
//! [`Netlink::attach_to_bridge`] (Neutron binding): an address-less bridge the
//! way Neutron's agents make them, and enslaving a port to it. Convergent
//! rather than transactional: every step checks or overwrites, so a repeat
//! call after a partial failure finishes the job. Addresses the spec no
//! longer lists are left alone; removing them is the backend's decision.

use std::collections::HashSet;

use futures::TryStreamExt;
use nix::errno::Errno;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags};
use rtnetlink::packet_route::link::{BridgeStpState, LinkMessage};
use rtnetlink::{LinkBridge, LinkUnspec};

use super::netlink::{Netlink, is_errno, nl_err, require_kind};
use super::{BridgeSpec, HostNetError, LinkOutcome, validate_ifname};

pub(super) async fn ensure_bridge(nl: &Netlink, spec: &BridgeSpec) -> Result<(), HostNetError> {
    let name = spec.name.as_str();
    validate_ifname(name)?;
    let link = match nl.find_link(name).await? {
        Some(link) => link,
        None if spec.foreign => return Err(HostNetError::BridgeMissing(name.to_owned())),
        None => create(nl, spec).await?,
    };
    require_kind(&link, name, "bridge")?;
    let index = link.header.index;
    if spec.foreign {
        return add_missing_addresses(nl, index, spec).await;
    }

    // MAC, MTU and up in one RTM_SETLINK, on every call, so a reused bridge
    // converges too.
    // Quirk: the MTU must go here and not into the RTM_NEWLINK. An IFLA_MTU
    // at creation is stored without calling the bridge's ndo_change_mtu, so
    // the bridge does not record it as user-set and silently re-adjusts it to
    // the smallest port MTU as soon as a port is added. Only a SETLINK that
    // actually changes the value marks it user-set (equal values are skipped
    // by dev_set_mtu; then the bridge keeps following its ports, which get the
    // same MTU from the backend anyway).
    // Quirk: the MAC must be set explicitly (NET_ADDR_SET); a bridge with a
    // random MAC takes over the lowest MAC among its ports and changes it as
    // ports come and go, which makes neighbours' ARP entries stale.
    let mut settings = LinkUnspec::new_with_index(index)
        .address(spec.mac.to_vec())
        .up();
    if let Some(mtu) = spec.mtu {
        settings = settings.mtu(mtu);
    }
    nl.handle
        .link()
        .set(settings.build())
        .execute()
        .await
        .map_err(nl_err("configure bridge", name))?;

    add_missing_addresses(nl, index, spec).await
}

impl Netlink {
    /// Makes sure a bridge called `name` exists and is up, creating it with
    /// forwarding delay 0 and STP off (as Neutron's linuxbridge agent and
    /// kuryr's scripts do, so a new port forwards at once). An existing
    /// bridge is reused as it is, apart from being brought up; any other kind
    /// of link with that name is refused. Says whether it was created, so a
    /// caller rolling back deletes only what it made.
    pub async fn ensure_port_bridge(&self, name: &str) -> Result<LinkOutcome, HostNetError> {
        validate_ifname(name)?;
        if let Some(link) = self.find_link(name).await? {
            require_kind(&link, name, "bridge")?;
            self.set_up_index(link.header.index, name).await?;
            return Ok(LinkOutcome::Reused);
        }
        let message = LinkBridge::new(name)
            .forward_delay(0)
            .stp_state(BridgeStpState::Disabled)
            .build();
        match self.handle.link().add(message).execute().await {
            Ok(()) => Ok(LinkOutcome::Created),
            // A concurrent creator won: reuse whatever now has the name.
            Err(e) if is_errno(&e, Errno::EEXIST) => {
                let link = self
                    .find_link(name)
                    .await?
                    .ok_or_else(|| HostNetError::BridgeMissing(name.to_owned()))?;
                require_kind(&link, name, "bridge")?;
                self.set_up_index(link.header.index, name).await?;
                Ok(LinkOutcome::Reused)
            }
            Err(e) => Err(nl_err("create bridge", name)(e)),
        }
    }

    /// Enslaves `port` to the existing bridge `bridge` and brings the port up,
    /// in one request. A port already on that bridge is left there.
    pub async fn attach_to_bridge(&self, port: &str, bridge: &str) -> Result<(), HostNetError> {
        validate_ifname(port)?;
        validate_ifname(bridge)?;
        let link = self
            .find_link(bridge)
            .await?
            .ok_or_else(|| HostNetError::BridgeMissing(bridge.to_owned()))?;
        require_kind(&link, bridge, "bridge")?;
        // By name: RTM_SETLINK with index 0 looks the port up by IFLA_IFNAME,
        // so a missing port is one ENODEV rather than a lookup race.
        let settings = LinkUnspec::new_with_name(port)
            .controller(link.header.index)
            .up()
            .build();
        self.handle
            .link()
            .set(settings)
            .execute()
            .await
            .map_err(nl_err("attach to bridge", port))
    }
}

/// Creates the bridge and returns the kernel's view of it. A concurrent
/// creator winning the race (EEXIST) is fine: the caller checks the kind of
/// whatever now carries the name.
async fn create(nl: &Netlink, spec: &BridgeSpec) -> Result<LinkMessage, HostNetError> {
    let name = spec.name.as_str();
    // The MAC goes in at creation too, so the bridge never shows a random one.
    let message = LinkBridge::new(name).address(spec.mac.to_vec()).build();
    match nl.handle.link().add(message).execute().await {
        Ok(()) => {}
        Err(e) if is_errno(&e, Errno::EEXIST) => {}
        Err(e) => return Err(nl_err("create bridge", name)(e)),
    }
    // Deleted again between our create and this lookup: report it rather
    // than loop.
    nl.find_link(name)
        .await?
        .ok_or_else(|| HostNetError::BridgeMissing(name.to_owned()))
}

/// Removes `addresses` (exact address and prefix length) from `name`; a missing link
/// or address is success. Only the addresses kuryr added are named, so an address
/// the bridge's owner put there stays.
pub(super) async fn remove_addresses(
    nl: &Netlink,
    name: &str,
    addresses: &[ipnet::IpNet],
) -> Result<(), HostNetError> {
    validate_ifname(name)?;
    let Some(link) = nl.find_link(name).await? else {
        return Ok(());
    };
    let mut dump = nl
        .handle
        .address()
        .get()
        .set_link_index_filter(link.header.index)
        .execute();
    let mut doomed = Vec::new();
    while let Some(msg) = dump
        .try_next()
        .await
        .map_err(nl_err("list addresses", name))?
    {
        let matches = msg.attributes.iter().any(|attr| match attr {
            AddressAttribute::Local(ip) | AddressAttribute::Address(ip) => addresses
                .iter()
                .any(|net| net.addr() == *ip && net.prefix_len() == msg.header.prefix_len),
            _ => false,
        });
        if matches {
            doomed.push(msg);
        }
    }
    for msg in doomed {
        match nl.handle.address().del(msg).execute().await {
            Ok(()) => {}
            Err(e) if is_errno(&e, Errno::EADDRNOTAVAIL) || is_errno(&e, Errno::ENODEV) => {}
            Err(e) => return Err(nl_err("remove address", name)(e)),
        }
    }
    Ok(())
}

async fn add_missing_addresses(
    nl: &Netlink,
    index: u32,
    spec: &BridgeSpec,
) -> Result<(), HostNetError> {
    let mut present = HashSet::new();
    let mut dump = nl
        .handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    while let Some(msg) = dump
        .try_next()
        .await
        .map_err(nl_err("list addresses", &spec.name))?
    {
        // IPv4 reports the interface's own address as IFA_LOCAL (IFA_ADDRESS
        // is the peer on point-to-point links), IPv6 only as IFA_ADDRESS.
        for attr in &msg.attributes {
            if let AddressAttribute::Local(ip) | AddressAttribute::Address(ip) = attr {
                present.insert((*ip, msg.header.prefix_len));
            }
        }
    }

    for net in &spec.addresses {
        let (ip, prefix) = (net.addr(), net.prefix_len());
        if present.contains(&(ip, prefix)) {
            continue;
        }
        let mut request = nl.handle.address().add(index, ip, prefix);
        if ip.is_ipv6() {
            // Without NODAD the gateway is "tentative" (DAD) for a second or
            // more after creation, longer on kernels where a port-less
            // bridge has no carrier, and answers no neighbour solicitation
            // meanwhile: the first container's first packets go nowhere.
            // The flag is set both in the header (u8, what older kernels
            // read) and as IFA_FLAGS (u32, what newer ones prefer).
            let message = request.message_mut();
            message.header.flags |= AddressHeaderFlags::Nodad;
            message
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match request.execute().await {
            Ok(()) => {}
            // Quirk: IPv6 refuses a second copy of an address even with a
            // different prefix length (IPv4 would accept it), so EEXIST here
            // can mean "present as fd00::1/48"; that is left as it is rather
            // than deleting an address someone put there.
            Err(e) if is_errno(&e, Errno::EEXIST) => {
                tracing::warn!(
                    bridge = %spec.name,
                    address = %net,
                    "address already present (possibly with another prefix length)"
                );
            }
            Err(source) => {
                return Err(HostNetError::Address {
                    ifname: spec.name.clone(),
                    address: *net,
                    source,
                });
            }
        }
    }
    Ok(())
}
