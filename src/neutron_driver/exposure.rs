//! Program/RevokeExternalConnectivity: Docker's exposed ports (`--expose`, `-p`)
//! onto a security group `<port id>-exposed_ports` attached to the endpoint's port.
//! The port is found by the endpoint's tags, so this works in tag mode, where
//! kuryr-libnetwork looks it up by a name it never gave the port (B3). A repeated
//! Program reuses the port's one group (kuryr-libnetwork makes a new one per call).

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

/// One ingress rule as kuryr writes it: protocol, port range, ethertype.
type RuleKey = (String, Option<u32>, Option<u32>, String);

fn rule_key(rule: &SecurityGroupRuleCreate) -> RuleKey {
    (
        rule.protocol.clone().unwrap_or_default(),
        rule.port_range_min,
        rule.port_range_max,
        rule.ethertype.clone().unwrap_or_default(),
    )
}

fn existing_key(rule: &SecurityGroupRule) -> RuleKey {
    (
        rule.protocol.clone().unwrap_or_default(),
        rule.port_range_min,
        rule.port_range_max,
        rule.ethertype.clone().unwrap_or_default(),
    )
}

/// The ingress rules for `wanted`, one per protocol, port range and ethertype.
fn wanted_rules(
    wanted: &BTreeMap<&'static str, Vec<u32>>,
    ethertypes: &[&str],
    group_id: &str,
) -> Vec<SecurityGroupRuleCreate> {
    let mut rules = Vec::new();
    for (proto, ports) in wanted {
        for ethertype in ethertypes {
            let icmp = *proto == "icmp";
            let spans = if icmp { vec![(0, 0)] } else { ranges(ports) };
            for (lo, hi) in spans {
                rules.push(SecurityGroupRuleCreate {
                    security_group_id: group_id.to_string(),
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
    rules
}

/// The port's exposed-ports groups: the cached ids, or those Neutron has under the
/// name (after a restart, or made by kuryr-libnetwork).
async fn exposed_groups(
    d: &NeutronDriver,
    port_id: &str,
    cached: Option<&Vec<String>>,
) -> Result<Vec<SecurityGroup>, Error> {
    let name = names::security_group_name(port_id);
    let found: Vec<SecurityGroup> = match cached {
        Some(ids) if ids.is_empty() => Vec::new(),
        Some(ids) => {
            let mut groups = Vec::new();
            for id in ids {
                match d.client.get::<SecurityGroup>(id).await {
                    Ok(g) => groups.push(g),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            groups
        }
        None => d.client.list(&Query::new().eq("name", &name)).await?,
    };
    Ok(found.into_iter().filter(|g| g.name == name).collect())
}

/// ProgramExternalConnectivity. Idempotent (review R3): the port has at most one
/// group `<port id>-exposed_ports`; a repeated call reuses it, adds the rules that
/// are missing and deletes those no longer exposed, and removes any extra group of
/// that name (an older plugin's repeated calls made one per call).
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
    let mut found = exposed_groups(d, &info.port_id, info.exposed_groups.as_ref()).await?;
    // Prefer a group already on the port, so the port needs no update.
    found.sort_by_key(|g| !info.security_groups.contains(&g.id));
    let mut extras = found.split_off(found.len().min(1));
    let (group, made) = match found.pop() {
        Some(group) => (group, false),
        None => {
            let group: SecurityGroup = d
                .client
                .create(&SecurityGroupCreate {
                    name: names::security_group_name(&info.port_id),
                    description: Some(names::SG_DESCRIPTION.to_string()),
                })
                .await?;
            (group, true)
        }
    };
    let rules = wanted_rules(&wanted, &ethertypes, &group.id);
    let keys: Vec<RuleKey> = rules.iter().map(rule_key).collect();
    let have: Vec<RuleKey> = group
        .security_group_rules
        .iter()
        .filter(|r| r.direction == "ingress")
        .map(existing_key)
        .collect();
    let missing: Vec<SecurityGroupRuleCreate> = rules
        .into_iter()
        .filter(|r| !have.contains(&rule_key(r)))
        .collect();
    let stale: Vec<String> = group
        .security_group_rules
        .iter()
        .filter(|r| r.direction == "ingress" && !keys.contains(&existing_key(r)))
        .map(|r| r.id.clone())
        .collect();
    let extra_ids: Vec<String> = extras.drain(..).map(|g| g.id).collect();
    let mut groups: Vec<String> = info
        .security_groups
        .iter()
        .filter(|g| !extra_ids.contains(g))
        .cloned()
        .collect();
    if !groups.contains(&group.id) {
        groups.insert(0, group.id.clone());
    }
    let attached = async {
        if !missing.is_empty() {
            d.client
                .create_many::<SecurityGroupRule, _>(&missing)
                .await?;
        }
        for id in &stale {
            d.client.delete(Kind::SecurityGroupRules, id).await?;
        }
        if groups != info.security_groups {
            d.client
                .update::<Port, _>(
                    &info.port_id,
                    &PortUpdate {
                        security_groups: Some(groups.clone()),
                        ..PortUpdate::default()
                    },
                )
                .await?;
        }
        Ok::<(), crate::neutron::NeutronError>(())
    }
    .await;
    if let Err(e) = attached {
        if made && let Err(error) = d.client.delete(Kind::SecurityGroups, &group.id).await {
            tracing::warn!(group = %group.id, %error, "rollback of exposed ports failed");
        }
        return Err(e.into());
    }
    // Detached above, so Neutron lets them go; a failure only leaves a named group
    // that the next call or Revoke finds and removes.
    for id in &extra_ids {
        if let Err(error) = d.client.delete(Kind::SecurityGroups, id).await {
            tracing::warn!(group = %id, %error, "deleting an extra exposed-ports group failed");
        }
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
