//! What kuryr's packet filter must hold, derived from the state alone (so a restart
//! rebuilds exactly the same rules): each network's bridge; its IPv4 subnets for egress
//! NAT unless it is internal or has `enable_ip_masquerade=false`; whether it is
//! internal; with `enable_icc=false`, its endpoints' veth host ends; and its
//! endpoints' published ports (`ports::forwards`). Plus the
//! warning that egress NAT is of no use while the host does not forward IPv4.

use super::options::stored_network_options;
use super::ports;
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
            let mut published: Vec<_> = state
                .endpoints
                .values()
                .filter(|endpoint| endpoint.network_id == network.network_id)
                .flat_map(ports::forwards)
                .collect();
            published.sort();
            NetworkRules {
                bridge: network.bridge.clone(),
                masquerade,
                internal: network.internal,
                isolated_ports,
                published,
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

/// Warns when the host does not forward IPv4: at start-up (`bridge` None) if
/// `net.ipv4.ip_forward` is 0, and for a new network with egress NAT if its bridge
/// does not forward (`net.ipv4.conf.<bridge>.forwarding`, which `ip_forward` sets).
/// kuryr never changes either sysctl itself.
pub(super) fn warn_without_forwarding(bridge: Option<&str>) {
    let (sysctl, context) = match bridge {
        Some(name) => (
            format!("net.ipv4.conf.{name}.forwarding"),
            format!("the network on bridge {name}"),
        ),
        None => (
            "net.ipv4.ip_forward".to_owned(),
            "kuryr networks".to_owned(),
        ),
    };
    match ipv4_forwarding(bridge) {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "this host does not forward IPv4 ({sysctl} = 0): containers on {context} reach \
             the host but nothing beyond it, egress NAT or not; kuryr does not change this: \
             set net.ipv4.ip_forward=1 (sysctl -w, and a file in /etc/sysctl.d)"
        ),
        Err(error) => tracing::warn!(
            %error,
            "cannot tell whether this host forwards IPv4, which egress NAT of {context} needs"
        ),
    }
}
