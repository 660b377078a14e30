//! `kuryr gc` on Neutron: what kuryr made that nothing owns any more, judged by
//! kuryr-libnetwork's names and tags (`names.rs`) against what the local dockerd still
//! uses. The caller asks dockerd; this module never speaks to Docker.
//!
//! Never listed: anything younger than the minimum age (a lifecycle in flight), a
//! user's object kuryr adopted (`kuryr.net.existing`, `kuryr.port.existing`,
//! `kuryr.subnetpool.existing`, pools shadowing a user's subnet), a port bound to
//! another host, an object whose kuryr marker names another host, and a network
//! holding any port that is not a kuryr leftover here (a VM, another host's container).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::neutron::{
    Client, Kind, Network, NeutronError, Port, Query, SecurityGroup, Subnet, SubnetPool,
};

use super::names;
use super::undo::marker_host;

/// What the local dockerd uses: Docker network and endpoint ids.
#[derive(Debug, Clone, Default)]
pub struct InUse {
    pub networks: HashSet<String>,
    pub endpoints: HashSet<String>,
}

/// One object to delete, in the order the list gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    /// `port`, `network`, `subnetpool` or `security-group`.
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    /// Why it is judged a leftover.
    pub why: String,
}

pub struct Scan<'a> {
    pub client: &'a Client,
    /// This host's `binding:host_id`.
    pub host: &'a str,
    /// `[DEFAULT] subnetpool_name_prefix`.
    pub pool_prefix: &'a str,
    pub min_age: Duration,
    pub in_use: &'a InUse,
}

impl Scan<'_> {
    /// Everything this host's kuryr left behind, ports first, then networks, pools and
    /// security groups: the order they can be deleted in. `progress` is told what is
    /// being listed.
    pub async fn leftovers(&self, progress: &dyn Fn(&str)) -> Result<Vec<Leftover>, NeutronError> {
        progress("networks");
        let networks: Vec<Network> = self.client.list(&Query::new()).await?;
        progress("ports");
        let ports: Vec<Port> = self.client.list(&Query::new()).await?;
        progress("subnets");
        let subnets: Vec<Subnet> = self.client.list(&Query::new()).await?;
        progress("subnet pools");
        let pools: Vec<SubnetPool> = self.client.list(&Query::new()).await?;
        progress("security groups");
        let groups: Vec<SecurityGroup> = self.client.list(&Query::new()).await?;

        let docker_net: HashMap<&str, Option<String>> = networks
            .iter()
            .map(|n| (n.id.as_str(), names::docker_id_of(&n.tags)))
            .collect();
        let mut out = Vec::new();
        let stray_ports: Vec<&Port> = ports
            .iter()
            .filter(|p| self.stray_port(p, &docker_net))
            .collect();
        let stray_ids: HashSet<&str> = stray_ports.iter().map(|p| p.id.as_str()).collect();
        let mut gone_networks: HashSet<&str> = HashSet::new();
        for n in &networks {
            if let Some(why) = self.stray_network(n, &ports, &stray_ids) {
                gone_networks.insert(n.id.as_str());
                out.push(leftover("network", &n.id, &n.name, why));
            }
        }
        let mut port_list: Vec<Leftover> = stray_ports
            .iter()
            .map(|p| {
                let why = match docker_net.get(p.network_id.as_str()).cloned().flatten() {
                    Some(net) if !self.in_use.networks.contains(&net) => {
                        format!(
                            "on network {} that no Docker network here uses",
                            p.network_id
                        )
                    }
                    _ => "no Docker endpoint here uses it".to_string(),
                };
                leftover("port", &p.id, &p.name, why)
            })
            .collect();
        port_list.append(&mut out);
        let mut out = port_list;
        for sp in &pools {
            if let Some(why) = self.stray_pool(sp, &subnets, &gone_networks) {
                out.push(leftover("subnetpool", &sp.id, &sp.name, why));
            }
        }
        let live_ports: HashSet<&str> = ports
            .iter()
            .filter(|p| !stray_ids.contains(p.id.as_str()))
            .map(|p| p.id.as_str())
            .collect();
        for g in &groups {
            let Some(port) = g.name.strip_suffix("-exposed_ports") else {
                continue;
            };
            if g.description == names::SG_DESCRIPTION
                && !live_ports.contains(port)
                && self.old_enough(&g.created_at)
            {
                out.push(leftover(
                    "security-group",
                    &g.id,
                    &g.name,
                    format!("its port {port} is gone"),
                ));
            }
        }
        Ok(out)
    }

    /// Deletes `leftovers` in order; each one's outcome (a 404 is success).
    pub async fn remove(
        &self,
        leftovers: &[Leftover],
    ) -> Vec<(Leftover, Result<(), NeutronError>)> {
        let mut done = Vec::new();
        for l in leftovers {
            let kind = match l.kind {
                "port" => Kind::Ports,
                "network" => Kind::Networks,
                "subnetpool" => Kind::SubnetPools,
                _ => Kind::SecurityGroups,
            };
            let result = self.client.delete(kind, &l.id).await;
            done.push((l.clone(), result));
        }
        done
    }

    fn old_enough(&self, created_at: &str) -> bool {
        let Ok(made) = humantime::parse_rfc3339_weak(created_at.trim_end_matches('Z')) else {
            // Neutron always says; without a date, do not judge.
            return false;
        };
        SystemTime::now()
            .duration_since(made)
            .is_ok_and(|age| age >= self.min_age)
    }

    /// Not another host's, by marker.
    fn ours(&self, description: &str) -> bool {
        marker_host(description).is_none_or(|h| h == self.host)
    }

    /// A kuryr port of this host that no local Docker endpoint uses (a pool port only
    /// on a network no local Docker network uses).
    fn stray_port(&self, p: &Port, docker_net: &HashMap<&str, Option<String>>) -> bool {
        let pooled = names::is_pool_port(&p.tags);
        let kuryrs = names::is_kuryr_port(&p.name, &p.device_id, &p.tags) || pooled;
        let here = p.binding_host_id == self.host
            || (p.binding_host_id.is_empty() && marker_host(&p.description) == Some(self.host));
        if !kuryrs || !here || !self.ours(&p.description) || !self.old_enough(&p.created_at) {
            return false;
        }
        let network_used = docker_net
            .get(p.network_id.as_str())
            .cloned()
            .flatten()
            .is_some_and(|id| self.in_use.networks.contains(&id));
        if pooled {
            return !network_used;
        }
        match names::docker_id_of(&p.tags) {
            Some(endpoint) => !self.in_use.endpoints.contains(&endpoint),
            // An IPAM port never attached: a leftover once old enough, unless its
            // network is in use and it may still be one container's address.
            None => !network_used,
        }
    }

    fn stray_network(&self, n: &Network, ports: &[Port], stray: &HashSet<&str>) -> Option<String> {
        let docker = names::docker_id_of(&n.tags)?;
        let adopted = n
            .tags
            .iter()
            .any(|t| names::is_network_tag(t) && t.contains("existing"));
        if adopted
            || !n.name.starts_with("kuryr-net-")
            || self.in_use.networks.contains(&docker)
            || !self.ours(&n.description)
            || !self.old_enough(&n.created_at)
        {
            return None;
        }
        let blocking = ports.iter().any(|p| {
            p.network_id == n.id
                && !stray.contains(p.id.as_str())
                && !names::is_network_owned(&p.device_owner)
        });
        (!blocking).then(|| {
            format!(
                "Docker network {} is not on this host's dockerd",
                short(&docker)
            )
        })
    }

    fn stray_pool(
        &self,
        sp: &SubnetPool,
        subnets: &[Subnet],
        gone: &HashSet<&str>,
    ) -> Option<String> {
        let kuryrs = sp.name.starts_with(&format!("{}-", self.pool_prefix));
        let shadow = sp
            .tags
            .iter()
            .any(|t| t.len() == 36 && t.matches('-').count() == 4);
        let kept = sp.tags.iter().any(|t| t == names::POOL_EXISTING);
        if !kuryrs
            || shadow
            || kept
            || !self.ours(&sp.description)
            || !self.old_enough(&sp.created_at)
        {
            return None;
        }
        let used = subnets.iter().any(|s| {
            s.subnetpool_id.as_deref() == Some(sp.id.as_str())
                && !gone.contains(s.network_id.as_str())
        });
        (!used).then(|| "no subnet is allocated from it".to_string())
    }
}

fn leftover(kind: &'static str, id: &str, name: &str, why: String) -> Leftover {
    Leftover {
        kind,
        id: id.to_string(),
        name: name.to_string(),
        why,
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
