//! Finding Neutron objects for Docker ids: the cache first, then Neutron by the names
//! and tags kuryr-libnetwork writes. These are the only paths that run after a restart
//! (or for objects another host or kuryr-libnetwork made), so they also fill the cache.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::Error;
use crate::neutron::{Kind, Network, Port, Query, Subnet, SubnetPool};

use super::NeutronDriver;
use super::names;
use super::state::{NetInfo, PoolInfo, SubnetInfo};

/// A Docker PoolID: a subnet pool id, or `<subnet pool id>/<cidr>` for a CIDR inside
/// a pool that is not ours to delete (a default pool, or a user's pool with several
/// prefixes). kuryr-libnetwork's PoolIDs are always the first form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolRef {
    pub subnetpool_id: String,
    pub cidr: Option<IpNet>,
}

impl PoolRef {
    pub fn parse(pool_id: &str) -> PoolRef {
        match pool_id.split_once('/') {
            Some((id, cidr)) => PoolRef {
                subnetpool_id: id.to_string(),
                cidr: cidr.parse().ok(),
            },
            None => PoolRef {
                subnetpool_id: pool_id.to_string(),
                cidr: None,
            },
        }
    }

    pub fn id(subnetpool_id: &str, cidr: Option<IpNet>) -> String {
        match cidr {
            Some(cidr) => format!("{subnetpool_id}/{cidr}"),
            None => subnetpool_id.to_string(),
        }
    }
}

/// `prefixes[i]` parsed, skipping what does not parse.
pub fn prefixes(pool: &SubnetPool) -> Vec<IpNet> {
    pool.prefixes
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Exactly one item, or a clear error naming what was looked for.
pub fn one<T>(mut items: Vec<T>, what: &str) -> Result<Option<T>, Error> {
    match items.len() {
        0 => Ok(None),
        1 => Ok(items.pop()),
        n => Err(Error::Unsupported(format!(
            "{n} Neutron objects match {what}; expected one (delete the extras)"
        ))),
    }
}

impl NeutronDriver {
    /// The pool behind a Docker PoolID; `None` if its subnet pool is gone.
    pub(super) async fn pool(&self, pool_id: &str) -> Result<Option<PoolInfo>, Error> {
        if let Some(pool) = self.cache().pools.get(pool_id) {
            return Ok(Some(pool.clone()));
        }
        let r = PoolRef::parse(pool_id);
        let sp: SubnetPool = match self.client.get(&r.subnetpool_id).await {
            Ok(sp) => sp,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(cidr) = r.cidr.or_else(|| prefixes(&sp).first().copied()) else {
            return Ok(None);
        };
        let mut pool = PoolInfo {
            subnetpool_id: sp.id.clone(),
            cidr,
            deletable: r.cidr.is_none() && self.is_deletable(&sp, cidr),
            subnet: None,
        };
        pool.subnet = self.pool_subnet(pool_id, &pool).await?;
        self.cache().pools.insert(pool_id.to_string(), pool.clone());
        Ok(Some(pool))
    }

    /// Whether ReleasePool may delete this subnet pool: a `kuryrPool-<cidr>` that no
    /// one marked as a user's, and never a default pool (B4, B8).
    pub(super) fn is_deletable(&self, sp: &SubnetPool, cidr: IpNet) -> bool {
        let s = &self.settings;
        sp.name == names::pool_name(&s.pool_prefix, &cidr.to_string())
            && !sp.tags.iter().any(|t| t == names::POOL_EXISTING)
            && sp.name != s.default_pool_v4
            && sp.name != s.default_pool_v6
    }

    /// The subnet serving a pool: one allocated from it with its CIDR, or a user's
    /// subnet that CreateNetwork tagged with the PoolID.
    pub(super) async fn pool_subnet(
        &self,
        pool_id: &str,
        pool: &PoolInfo,
    ) -> Result<Option<SubnetInfo>, Error> {
        let cidr = pool.cidr.to_string();
        let from_pool: Vec<Subnet> = self
            .client
            .list(
                &Query::new()
                    .eq("subnetpool_id", &pool.subnetpool_id)
                    .eq("cidr", &cidr),
            )
            .await?;
        if let Some(s) = from_pool.first() {
            return Ok(SubnetInfo::from_neutron(s));
        }
        if pool_id.contains('/') {
            return Ok(None);
        }
        let tagged: Vec<Subnet> = self
            .client
            .list(&Query::new().eq("cidr", &cidr).tags(&[pool_id]))
            .await?;
        Ok(tagged.first().and_then(SubnetInfo::from_neutron))
    }

    /// The Neutron network of Docker network `docker_id`, found by its LH/UH tags.
    pub(super) async fn network(&self, docker_id: &str) -> Result<Option<NetInfo>, Error> {
        if let Some(net) = self.cache().networks.get(docker_id) {
            return Ok(Some(net.clone()));
        }
        let found: Vec<Network> = self
            .client
            .list(&Query::new().tags(&names::id_tags(docker_id)))
            .await?;
        let Some(net) = one(found, &format!("Docker network {docker_id}"))? else {
            return Ok(None);
        };
        let existing_tag = names::net_existing_tag(docker_id);
        let info = NetInfo {
            existing: net.tags.contains(&existing_tag),
            mtu: net.mtu,
            subnets: self.network_subnets(&net.id).await?,
            neutron_id: net.id,
        };
        self.cache()
            .networks
            .insert(docker_id.to_string(), info.clone());
        Ok(Some(info))
    }

    pub(super) async fn network_subnets(&self, neutron_id: &str) -> Result<Vec<SubnetInfo>, Error> {
        let subnets: Vec<Subnet> = self
            .client
            .list(&Query::new().eq("network_id", neutron_id))
            .await?;
        Ok(subnets
            .iter()
            .filter_map(SubnetInfo::from_neutron)
            .collect())
    }

    /// The port of Docker endpoint `endpoint_id`, found by its LH/UH tags.
    pub(super) async fn endpoint_port(&self, endpoint_id: &str) -> Result<Option<Port>, Error> {
        let found: Vec<Port> = self
            .client
            .list(&Query::new().tags(&names::id_tags(endpoint_id)))
            .await?;
        one(found, &format!("Docker endpoint {endpoint_id}"))
    }

    /// Ports holding `ip` in `subnet`.
    pub(super) async fn ports_with(
        &self,
        subnet: &SubnetInfo,
        ip: IpAddr,
    ) -> Result<Vec<Port>, Error> {
        let ports: Vec<Port> = self
            .client
            .list(
                &Query::new()
                    .fixed_ip_subnet(&subnet.id)
                    .fixed_ip_address(&ip.to_string()),
            )
            .await?;
        Ok(ports
            .into_iter()
            .filter(|p| holds(p, &subnet.id, ip))
            .map(|p| self.normalized(p))
            .collect())
    }

    /// A port read from Neutron as the driver sees it: a handed-out pool port not yet
    /// retagged is a container's (`PortPools::normalize`).
    pub(super) fn normalized(&self, mut port: Port) -> Port {
        if let Some(pools) = &self.pools {
            pools.normalize(&mut port);
        }
        port
    }

    /// `query` limited to the project of kuryr's token (review I8): the lookups of
    /// a user's network, subnet or pool named by `neutron.net.*`, `neutron.subnet.*`
    /// or `neutron.pool.*` must not reach another tenant's object, which admin
    /// credentials would otherwise see. With `auth_type = none` there is no token
    /// and no project, and the query is unchanged: such a Neutron trusts every
    /// caller anyway.
    pub(super) async fn in_own_project(&self, query: Query) -> Result<Query, Error> {
        Ok(match self.client.project_id().await? {
            Some(project) => query.eq("project_id", &project),
            None => query,
        })
    }

    /// Tags a new object in one request. Neutron (29 included) takes no tags in a
    /// create request, whatever `tag-creation` suggests: it ignores or refuses them.
    pub(super) async fn tag_new(&self, kind: Kind, id: &str, tags: &[String]) -> Result<(), Error> {
        if !tags.is_empty() {
            self.client.set_tags(kind, id, tags).await?;
        }
        Ok(())
    }
}

/// Whether `port` has `ip` from `subnet_id`.
pub fn holds(port: &Port, subnet_id: &str, ip: IpAddr) -> bool {
    port.fixed_ips
        .iter()
        .any(|f| f.subnet_id == subnet_id && f.ip_address.parse::<IpAddr>() == Ok(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_round_trip() {
        assert_eq!(
            PoolRef::parse("abc"),
            PoolRef {
                subnetpool_id: "abc".into(),
                cidr: None
            }
        );
        let id = PoolRef::id("abc", Some("10.1.0.0/24".parse().unwrap()));
        assert_eq!(id, "abc/10.1.0.0/24");
        assert_eq!(
            PoolRef::parse(&id).cidr,
            Some("10.1.0.0/24".parse().unwrap())
        );
    }
}
