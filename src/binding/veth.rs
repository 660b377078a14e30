//! The veth pair of a port: `tap…` on the host (up) and `t_c…` for the
//! container (the port MAC and the network MTU, down), through
//! `hostnet::Netlink`. Plugging the host end is the vif_type's business, and
//! the container end is never touched once it may be in a container.

use crate::hostnet::{HostNet, LinkOutcome, Netlink, VethPair};

use super::names::{container_ifname, host_ifname};
use super::{BindError, DEFAULT_MTU, Vif};

/// Creates or reuses the pair; says which, so a failed bind removes only a
/// pair it made.
pub(super) async fn create(
    nl: &Netlink,
    vif: &Vif,
    mac: [u8; 6],
) -> Result<LinkOutcome, BindError> {
    let pair = VethPair {
        host: host_ifname(&vif.port_id),
        container: container_ifname(&vif.port_id),
        container_mac: Some(mac),
        // Both ends: the tap's MTU is what OVS or the bridge sees.
        mtu: Some(vif.mtu.unwrap_or(DEFAULT_MTU)),
    };
    nl.create_veth_pair(&pair)
        .await
        .map_err(BindError::host(format!(
            "port {}: veth {}/{}",
            vif.port_id, pair.host, pair.container
        )))
}

/// Deletes the pair through its host end (the container end goes with it,
/// wherever it is); a missing pair is success.
pub(super) async fn delete(nl: &Netlink, vif: &Vif) -> Result<(), BindError> {
    let tap = host_ifname(&vif.port_id);
    nl.delete_link(&tap).await.map_err(BindError::host(format!(
        "port {}: delete veth {tap}",
        vif.port_id
    )))
}
