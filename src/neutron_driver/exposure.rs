//! Program/RevokeExternalConnectivity: Docker's exposed ports (`--expose`, `-p`)
//! onto a security group `<port id>-exposed_ports` attached to the endpoint's port.
//! The port is found by the endpoint's tags, so this works in tag mode, where
//! kuryr-libnetwork looks it up by a name it never gave the port (B3).

use std::collections::BTreeMap;

use crate::Error;
use crate::model::{Connectivity, ExposedPort};
use crate::neutron::{
    Kind, Port, PortUpdate, Query, SecurityGroup, SecurityGroupCreate, SecurityGroupRule,
    SecurityGroupRuleCreate,
};

use super::NeutronDriver;
use super::endpoints::endpoint;
use super::names;

/// Docker's exposed ports → protocol name → sorted, distinct ports.
fn exposed(ports: &[ExposedPort]) -> BTreeMap<&'static str, Vec<u32>> {
    let mut by_proto: BTreeMap<&'static str, Vec<u32>> = BTreeMap::new();
    for port in ports {
        by_proto
            .entry(port.proto.as_str())
            .or_default()
            .push(u32::from(port.port));
    }
    for ports in by_proto.values_mut() {
        ports.sort_unstable();
        ports.dedup();
    }
    by_proto
}

/// Consecutive ports merged into ranges (bug 1627922: one rule per range).
fn ranges(ports: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &p in ports {
        match out.last_mut() {
            Some((_, hi)) if *hi + 1 == p => *hi = p,
            _ => out.push((p, p)),
        }
    }
    out
}

pub async fn program(d: &NeutronDriver, req: Connectivity) -> Result<(), Error> {
    let wanted = exposed(&req.exposed_ports);
    if wanted.is_empty() {
        return Ok(());
    }
    let _guard = d.locks.lock(&format!("ep:{}", req.endpoint_id)).await;
    let info = endpoint(d, &req.network_id, &req.endpoint_id).await?;
    let mut ethertypes: Vec<&str> = Vec::new();
    for s in &info.subnets {
        let e = if s.cidr.addr().is_ipv6() {
            "IPv6"
        } else {
            "IPv4"
        };
        if !ethertypes.contains(&e) {
            ethertypes.push(e);
        }
    }
    if ethertypes.is_empty() {
        ethertypes.push("IPv4");
    }
    let group: SecurityGroup = d
        .client
        .create(&SecurityGroupCreate {
            name: names::security_group_name(&info.port_id),
            description: Some(names::SG_DESCRIPTION.to_string()),
        })
        .await?;
    let mut rules = Vec::new();
    for (proto, ports) in &wanted {
        for ethertype in &ethertypes {
            let icmp = *proto == "icmp";
            let spans = if icmp { vec![(0, 0)] } else { ranges(ports) };
            for (lo, hi) in spans {
                rules.push(SecurityGroupRuleCreate {
                    security_group_id: group.id.clone(),
                    direction: "ingress".into(),
                    protocol: Some(proto.to_string()),
                    port_range_min: (!icmp).then_some(lo),
                    port_range_max: (!icmp).then_some(hi),
                    ethertype: Some(ethertype.to_string()),
                    remote_ip_prefix: None,
                });
            }
        }
    }
    let mut groups = vec![group.id.clone()];
    groups.extend(info.security_groups.iter().cloned());
    let attached = async {
        d.client.create_many::<SecurityGroupRule, _>(&rules).await?;
        d.client
            .update::<Port, _>(
                &info.port_id,
                &PortUpdate {
                    security_groups: Some(groups.clone()),
                    ..PortUpdate::default()
                },
            )
            .await
    }
    .await;
    if let Err(e) = attached {
        if let Err(error) = d.client.delete(Kind::SecurityGroups, &group.id).await {
            tracing::warn!(group = %group.id, %error, "rollback of exposed ports failed");
        }
        return Err(e.into());
    }
    if let Some(cached) = d.cache().endpoints.get_mut(req.endpoint_id.as_str()) {
        cached.security_groups = groups;
        cached.exposed_groups = Some(vec![group.id]);
    }
    Ok(())
}

/// Detaches and deletes the exposed-ports groups; tries every step.
pub async fn revoke(d: &NeutronDriver, nid: &str, eid: &str) -> Result<(), Error> {
    let _guard = d.locks.lock(&format!("ep:{eid}")).await;
    let info = match endpoint(d, nid, eid).await {
        Ok(info) => info,
        Err(Error::UnknownEndpoint(_) | Error::UnknownNetwork(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let groups = match &info.exposed_groups {
        Some(groups) => groups.clone(),
        None => {
            let found: Vec<SecurityGroup> = d
                .client
                .list(&Query::new().eq("name", &names::security_group_name(&info.port_id)))
                .await?;
            found.into_iter().map(|g| g.id).collect()
        }
    };
    if groups.is_empty() {
        return Ok(());
    }
    let mut errors: Vec<Error> = Vec::new();
    let kept: Vec<String> = info
        .security_groups
        .iter()
        .filter(|g| !groups.contains(g))
        .cloned()
        .collect();
    if kept.len() != info.security_groups.len()
        && let Err(e) = d
            .client
            .update::<Port, _>(
                &info.port_id,
                &PortUpdate {
                    security_groups: Some(kept.clone()),
                    ..PortUpdate::default()
                },
            )
            .await
    {
        errors.push(e.into());
    }
    for g in &groups {
        if let Err(e) = d.client.delete(Kind::SecurityGroups, g).await {
            errors.push(e.into());
        }
    }
    if let Some(cached) = d.cache().endpoints.get_mut(eid) {
        cached.security_groups = kept;
        cached.exposed_groups = Some(Vec::new());
    }
    Error::from_all(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_ports_merge() {
        assert_eq!(
            ranges(&[80, 81, 83, 90, 91, 92]),
            vec![(80, 81), (83, 83), (90, 92)]
        );
        assert!(ranges(&[]).is_empty());
    }

    #[test]
    fn protocols_are_named_and_ports_sorted() {
        use crate::model::Protocol;
        let port = |proto, port| ExposedPort { proto, port };
        let e = exposed(&[
            port(Protocol::Tcp, 81),
            port(Protocol::Tcp, 80),
            port(Protocol::Udp, 53),
            port(Protocol::Tcp, 80),
        ]);
        assert_eq!(e["tcp"], vec![80, 81]);
        assert_eq!(e["udp"], vec![53]);
    }
}
