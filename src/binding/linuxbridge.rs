//! vif_type "bridge" (Neutron's linuxbridge agent): the tap goes on the
//! network's `brq<network_id[:11]>` bridge, created if missing with forward
//! delay 0 and STP off, as kuryr's `bridge` script does. The bridge is shared
//! by every port of the network and is never deleted here, neither on unbind
//! (as in kuryr) nor when a bind fails after creating it (a concurrent bind on
//! the same network may already use it; the agent owns its lifetime).

use crate::hostnet::Netlink;

use super::names::linuxbridge_name;
use super::{BindError, Vif};

pub(super) async fn plug(nl: &Netlink, vif: &Vif, tap: &str) -> Result<(), BindError> {
    let bridge = linuxbridge_name(&vif.network_id);
    nl.ensure_port_bridge(&bridge)
        .await
        .map_err(BindError::host(format!(
            "port {}: bridge {bridge} of network {}",
            vif.port_id, vif.network_id
        )))?;
    nl.attach_to_bridge(tap, &bridge)
        .await
        .map_err(BindError::host(format!(
            "port {}: attach {tap} to {bridge}",
            vif.port_id
        )))
}
