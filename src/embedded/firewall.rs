//! What kuryr's packet filter must hold, derived from the state alone (so a restart
//! rebuilds exactly the same rules): each network's bridge; its IPv4 subnets for egress
//! NAT unless it is internal or has `enable_ip_masquerade=false`; whether it is
//! internal; and, with `enable_icc=false`, its endpoints' veth host ends. Plus the
//! warning that egress NAT is of no use while the host does not forward IPv4.

use super::options::stored_network_options;
use super::state::State;
use crate::hostnet::{NetworkRules, ipv4_forwarding};
use crate::store::NetworkRecord;
use ipnet::IpNet;

pub(super) fn rules(state: &State) -> Vec<NetworkRules> {
    let mut rules: Vec<NetworkRules> = state
        .networks
        .values()
        .map(|network| {
            let options = stored_network_options(&network.network_id, &network.options);
            let masquerade = if network.internal || !options.masquerade {
                Vec::new()
            } else {
                network
                    .ipv4
                    .iter()
                    .filter_map(|subnet| match subnet.pool {
                        IpNet::V4(pool) => Some(pool),
                        IpNet::V6(_) => None,
                    })
                    .collect()
            };
            let mut isolated_ports: Vec<String> = if options.icc {
                Vec::new()
            } else {
                state
                    .endpoints
                    .values()
                    .filter(|endpoint| endpoint.network_id == network.network_id)
                    .map(|endpoint| endpoint.host_ifname.clone())
                    .collect()
            };
            isolated_ports.sort();
            NetworkRules {
                bridge: network.bridge.clone(),
                masquerade,
                internal: network.internal,
                isolated_ports,
            }
        })
        .collect();
    rules.sort_by(|a, b| a.bridge.cmp(&b.bridge));
    rules
}

/// Whether the rules depend on the network's endpoints (`enable_icc=false`), so that
/// creating or deleting one must rebuild them.
pub(super) fn tracks_endpoints(network: &NetworkRecord) -> bool {
    !stored_network_options(&network.network_id, &network.options).icc
}

/// Warns when the host does not forward IPv4: `network` (or, at start-up, none)
/// names the network that would need it. kuryr never changes the sysctl itself.
pub(super) fn warn_without_forwarding(network: Option<&str>) {
    let context = network.map_or_else(|| "kuryr networks".to_owned(), |id| format!("network {id}"));
    match ipv4_forwarding() {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "this host does not forward IPv4 (net.ipv4.ip_forward = 0): containers on {context} \
             reach the host but nothing beyond it, despite egress NAT; kuryr does not change \
             this, set it with `sysctl -w net.ipv4.ip_forward=1` (and in /etc/sysctl.d)"
        ),
        Err(error) => tracing::warn!(
            %error,
            "cannot tell whether this host forwards IPv4, which egress NAT of {context} needs"
        ),
    }
}
