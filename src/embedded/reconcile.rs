//! Start-up reconciliation of the host with the stored state: recreate bridges that a
//! reboot removed, and delete interfaces with our prefixes that no record owns (left by
//! a crash between creating an interface and committing its record), and rebuild the
//! packet filter (isolation, `--internal`, egress NAT, `enable_icc`). Failures are
//! logged, never fatal: a half-reconciled host is better than a plugin that won't start.

use super::Embedded;
use super::networks::bridge_spec;
use crate::hostnet::names;
use std::collections::HashSet;

pub(super) async fn run(backend: &Embedded) {
    let (specs, bridges, host_ends, container_ends) = {
        let state = backend.lock();
        let specs: Vec<_> = state.networks.values().map(bridge_spec).collect();
        let bridges: HashSet<String> = specs.iter().map(|spec| spec.name.clone()).collect();
        let host_ends: HashSet<String> = state
            .endpoints
            .values()
            .map(|e| e.host_ifname.clone())
            .collect();
        let container_ends: HashSet<String> = state
            .endpoints
            .values()
            .map(|e| e.container_ifname.clone())
            .collect();
        (specs, bridges, host_ends, container_ends)
    };

    for spec in &specs {
        if let Err(error) = backend.host.ensure_bridge(spec).await {
            tracing::error!(bridge = %spec.name, %error, "cannot restore bridge");
        }
    }
    if let Err(error) = backend.sync_firewall().await {
        tracing::error!(%error, "cannot restore kuryr's packet filter");
    }
    super::firewall::warn_without_forwarding(None);

    let orphans = [
        (names::BRIDGE_PREFIX, &bridges),
        (names::VETH_HOST_PREFIX, &host_ends),
        (names::VETH_CONTAINER_PREFIX, &container_ends),
    ];
    for (prefix, owned) in orphans {
        let links = match backend.host.links_with_prefix(prefix).await {
            Ok(links) => links,
            Err(error) => {
                tracing::error!(prefix, %error, "cannot list interfaces");
                continue;
            }
        };
        for link in links {
            if owned.contains(&link) || !is_derived_name(&link, prefix) {
                continue;
            }
            match backend.host.delete_link(&link).await {
                Ok(()) => tracing::info!(interface = %link, "removed orphaned interface"),
                Err(error) => tracing::error!(interface = %link, %error, "cannot remove orphan"),
            }
        }
    }
}

/// Only names we would have derived (prefix + 12 lowercase hex/base-36 characters) are
/// ours to delete; an operator's `kbr-lab` bridge is not.
fn is_derived_name(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 12
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use super::is_derived_name;

    #[test]
    fn only_derived_names_are_orphans() {
        assert!(is_derived_name("kbr0123456789ab", "kbr"));
        assert!(!is_derived_name("kbr-lab", "kbr"));
        assert!(!is_derived_name("kbr0123456789abc", "kbr"));
        assert!(!is_derived_name("kvh0123456789AB", "kvh"));
    }
}
