//! RequestPool and ReleasePool: Docker pools onto Neutron subnet pools.
//!
//! A `--subnet` becomes (or reuses) `kuryrPool-<cidr>`, in the address scope named
//! after a non-default Docker address space. A pool named with `neutron.pool.*` is the
//! user's and is never deleted. Without `--subnet` a free CIDR of the pool's default
//! prefix length is carved from `default_subnetpool_v4/_v6` (B4: kuryr-libnetwork
//! fails there); the subnet is later allocated from that pool, so Neutron keeps hosts
//! from carving the same CIDR twice.

use ipnet::IpNet;

use crate::Error;
use crate::model::{PoolGrant, PoolId, PoolRequest};
use crate::neutron::{
    AddressScope, AddressScopeCreate, Kind, Query, Subnet, SubnetPool, SubnetPoolCreate,
};

use super::NeutronDriver;
use super::lookup::{PoolRef, one, prefixes};
use super::names;
use super::options::{Named, NeutronOptions};
use super::state::PoolInfo;
use super::teardown::{COLLISION_WAIT, Job, Step};
use super::undo::Marker;

pub async fn request(d: &NeutronDriver, req: PoolRequest) -> Result<PoolGrant, Error> {
    let options = NeutronOptions::parse(req.options.as_map())?;
    let space = req.space.to_string();
    let Some(cidr) = req.sub_pool.or(req.pool) else {
        return carve_default(d, req.v6, &space).await;
    };
    if cidr.trunc() != cidr {
        return Err(Error::InvalidOption(format!(
            "{cidr} has host bits set; did you mean {}?",
            cidr.trunc()
        )));
    }
    if matches!(cidr, IpNet::V6(_)) != req.v6 {
        return Err(Error::InvalidOption(format!(
            "{cidr} is not an IPv{} prefix",
            if req.v6 { 6 } else { 4 }
        )));
    }
    let _guard = d.locks.lock(&format!("pool:{space}:{cidr}")).await;
    let family = options.family(req.v6);
    if let Some(named) = &family.pool
        && let Some(pool_id) = user_pool(d, named, cidr, &options).await?
    {
        return remember(d, &space, pool_id, cidr);
    }
    let subnet_id = match &family.subnet {
        Some(named) => Some(user_subnet_id(d, named).await?),
        None => None,
    };
    let scope = if d.settings.is_default_space(&space) {
        None
    } else {
        Some(address_scope(d, &space, req.v6).await?)
    };
    let pool = kuryr_pool(d, cidr, subnet_id, scope, options.shared).await?;
    remember(d, &space, pool, cidr)
}

/// Caches a granted pool and builds the answer.
fn remember(
    d: &NeutronDriver,
    space: &str,
    info: (String, PoolInfo),
    cidr: IpNet,
) -> Result<PoolGrant, Error> {
    let (pool_id, pool) = info;
    let granted = PoolId::parse("PoolID", &pool_id)?;
    let mut cache = d.cache();
    cache.pools.insert(pool_id.clone(), pool);
    cache
        .pool_ids
        .insert((space.to_string(), cidr), pool_id.clone());
    Ok(PoolGrant {
        pool_id: granted,
        pool: cidr,
        gateway: None,
    })
}

/// A pool the user named: used as is when it holds `cidr` (and then marked
/// `kuryr.subnetpool.existing`, so kuryr-libnetwork will not delete it either);
/// `None` when it does not, and a kuryr pool is made instead, as kuryr-libnetwork does.
async fn user_pool(
    d: &NeutronDriver,
    named: &Named,
    cidr: IpNet,
    options: &NeutronOptions,
) -> Result<Option<(String, PoolInfo)>, Error> {
    let query = match named {
        Named::Id(id) => Query::new().eq("id", id),
        Named::Name(name) => Query::new().eq("name", name),
    };
    let query = d.in_own_project(query).await?;
    let found: Vec<SubnetPool> = d.client.list(&query).await?;
    let what = format!("subnet pool {}", named.describe());
    let sp = one(found, &what)?
        .ok_or_else(|| Error::InvalidOption(format!("the {what} does not exist")))?;
    let held = prefixes(&sp);
    if !held.contains(&cidr) {
        return Ok(None);
    }
    if sp.shared != options.shared {
        return Err(Error::InvalidOption(format!(
            "the {what} has shared = {}, but neutron.net.shared asks for {}",
            sp.shared, options.shared
        )));
    }
    if !sp.tags.iter().any(|t| t == names::POOL_EXISTING) {
        d.client
            .add_tag(Kind::SubnetPools, &sp.id, names::POOL_EXISTING)
            .await?;
    }
    // With several prefixes the PoolID must say which one; that form is also never
    // deleted by ReleasePool.
    let which = (held.len() > 1).then_some(cidr);
    Ok(Some((
        PoolRef::id(&sp.id, which),
        PoolInfo {
            subnetpool_id: sp.id,
            cidr,
            deletable: false,
            subnet: None,
        },
    )))
}

async fn user_subnet_id(d: &NeutronDriver, named: &Named) -> Result<String, Error> {
    match named {
        Named::Id(id) => Ok(id.clone()),
        Named::Name(name) => {
            let query = d.in_own_project(Query::new().eq("name", name)).await?;
            let found: Vec<Subnet> = d.client.list(&query).await?;
            let what = format!("subnet named {name:?}");
            one(found, &what)?
                .map(|s| s.id)
                .ok_or_else(|| Error::InvalidOption(format!("no {what} exists in Neutron")))
        }
    }
}

/// The address scope named after a Docker address space, created when missing, so
/// pools of one space cannot overlap.
async fn address_scope(d: &NeutronDriver, space: &str, v6: bool) -> Result<String, Error> {
    let version: u8 = if v6 { 6 } else { 4 };
    let key = format!("scope:{space}:{version}");
    let _guard = d.locks.lock(&key).await;
    if let Some(id) = d.cache().scopes.get(&key) {
        return Ok(id.clone());
    }
    let found: Vec<AddressScope> = d
        .client
        .list(
            &Query::new()
                .eq("name", space)
                .eq("ip_version", &version.to_string()),
        )
        .await?;
    let id = match one(found, &format!("address scope {space:?}"))? {
        Some(scope) => scope.id,
        None => {
            let made: AddressScope = d
                .client
                .create(&AddressScopeCreate {
                    name: space.to_string(),
                    ip_version: version,
                    shared: None,
                })
                .await?;
            made.id
        }
    };
    d.cache().scopes.insert(key, id.clone());
    Ok(id)
}

/// Finds or creates `kuryrPool-<cidr>` (tagged with the user's subnet id when one
/// was named, so overlapping user subnets get separate pools). Reusing is what lets
/// every host of a swarm request the same pool.
async fn kuryr_pool(
    d: &NeutronDriver,
    cidr: IpNet,
    subnet_id: Option<String>,
    scope: Option<String>,
    shared: bool,
) -> Result<(String, PoolInfo), Error> {
    let name = names::pool_name(&d.settings.pool_prefix, &cidr.to_string());
    let mut query = Query::new().eq("name", &name);
    if let Some(sid) = &subnet_id {
        query = query.tags(&[sid]);
    }
    let found = live_pools(d, &query).await?;
    // A pool shadowing a user's subnet carries that subnet's id as a tag; a plain
    // request must not pick it up, nor a pool from another address space.
    let candidates: Vec<SubnetPool> = found
        .into_iter()
        .filter(|p| p.address_scope_id == scope)
        .filter(|p| subnet_id.is_some() || p.tags.iter().all(|t| !looks_like_uuid(t)))
        .collect();
    let sp = match one(candidates, &format!("subnet pool {name:?}"))? {
        Some(sp) => sp,
        None => {
            let tags: Vec<String> = subnet_id.into_iter().collect();
            let marker = Marker::new();
            let made = d
                .client
                .create::<SubnetPool, _>(&SubnetPoolCreate {
                    description: marker.description(),
                    name: name.clone(),
                    prefixes: vec![cidr.to_string()],
                    default_prefixlen: Some(cidr.prefix_len()),
                    shared: Some(shared),
                    address_scope_id: scope,
                })
                .await;
            let made = match made {
                Ok(made) => made,
                Err(e) => {
                    d.undo_marked(Kind::SubnetPools, marker.as_str(), &marker, &e)
                        .await;
                    return Err(e.into());
                }
            };
            // Untagged, it would pass for the plain pool of this CIDR: undo it.
            if let Err(e) = d.tag_new(Kind::SubnetPools, &made.id, &tags).await {
                d.undo(made.id.as_str(), Step::Pool(made.id.clone())).await;
                return Err(e);
            }
            made
        }
    };
    let deletable = d.is_deletable(&sp, cidr);
    Ok((
        sp.id.clone(),
        PoolInfo {
            subnetpool_id: sp.id,
            cidr,
            deletable,
            subnet: None,
        },
    ))
}

/// The subnet pools `query` finds, once none of them is being deleted. The same CIDR
/// just released (`network rm` then `network create`) waits for that pool's delete and
/// looks again; a pool kept because another host uses it is then still there.
async fn live_pools(d: &NeutronDriver, query: &Query) -> Result<Vec<SubnetPool>, Error> {
    let found: Vec<SubnetPool> = d.client.list(query).await?;
    let deleting: Vec<&SubnetPool> = found
        .iter()
        .filter(|p| d.teardown.is_pending(&p.id))
        .collect();
    if deleting.is_empty() {
        return Ok(found);
    }
    for p in deleting {
        d.teardown.wait_gone(&p.id, COLLISION_WAIT).await?;
    }
    Ok(d.client.list(query).await?)
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// No `--subnet`: carve the first free CIDR of the default pool's default prefix
/// length. Neutron refuses a second subnet on the same CIDR of one pool, so a race
/// with another host fails cleanly at CreateNetwork instead of overlapping.
async fn carve_default(d: &NeutronDriver, v6: bool, space: &str) -> Result<PoolGrant, Error> {
    let name = if v6 {
        d.settings.default_pool_v6.clone()
    } else {
        d.settings.default_pool_v4.clone()
    };
    let _guard = d.locks.lock(&format!("default:{name}")).await;
    let found: Vec<SubnetPool> = d.client.list(&Query::new().eq("name", &name)).await?;
    let sp = one(found, &format!("subnet pool {name:?}"))?.ok_or_else(|| {
        Error::InvalidOption(format!(
            "no --subnet given and the default subnet pool {name:?} does not exist; \
             create it (openstack subnet pool create --pool-prefix <cidr> \
             --default-prefix-length <n> {name}) or pass --subnet"
        ))
    })?;
    let length = prefix_len(&sp.default_prefixlen).unwrap_or(if v6 { 64 } else { 24 });
    let used: Vec<Subnet> = d
        .client
        .list(&Query::new().eq("subnetpool_id", &sp.id).fields(&["cidr"]))
        .await?;
    let mut taken: Vec<IpNet> = used.iter().filter_map(|s| s.cidr.parse().ok()).collect();
    taken.extend(
        d.cache()
            .pools
            .values()
            .filter(|p| p.subnetpool_id == sp.id)
            .map(|p| p.cidr),
    );
    let cidr = prefixes(&sp)
        .into_iter()
        .filter_map(|prefix| prefix.subnets(length).ok())
        .flatten()
        .find(|c| !taken.iter().any(|t| overlaps(t, c)))
        .ok_or_else(|| {
            Error::InvalidOption(format!(
                "the default subnet pool {name:?} has no free /{length} left"
            ))
        })?;
    let pool_id = PoolRef::id(&sp.id, Some(cidr));
    let info = PoolInfo {
        subnetpool_id: sp.id,
        cidr,
        deletable: false,
        subnet: None,
    };
    remember(d, space, (pool_id, info), cidr)
}

/// Neutron sends `default_prefixlen` as a string in subnet pools, a number elsewhere.
fn prefix_len(value: &serde_json::Value) -> Option<u8> {
    match value {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
        _ => None,
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// ReleasePool: deletes the kuryr subnet serving the pool (Docker releases the pool
/// before it deletes the network), unlinks a user's subnet, and deletes the subnet
/// pool if it is kuryr's. Already gone is success (B12); a pool still used elsewhere
/// (409) is kept.
pub async fn release(d: &NeutronDriver, pool_id: &str) -> Result<(), Error> {
    let _guard = d.locks.lock(&format!("release:{pool_id}")).await;
    let Some(pool) = d.pool(pool_id).await? else {
        forget(d, pool_id, None);
        return Ok(());
    };
    if let Some(subnet) = &pool.subnet
        && subnet.kuryr_owned
    {
        let mut cache = d.cache();
        let alive = cache
            .networks
            .values()
            .any(|n| !n.existing && n.neutron_id == subnet.network_id);
        if alive {
            // Deleting the network deletes this subnet too: one request instead of two.
            cache.released.insert(pool_id.to_string(), pool.clone());
            return Ok(());
        }
    }
    let mut errors = Vec::new();
    // Deletes go through the teardown runner, in the lane of the subnet's network, so
    // they queue behind a DeleteNetwork that came first (the other order).
    let mut steps = Vec::new();
    let mut lane = pool.subnetpool_id.clone();
    if let Some(subnet) = &pool.subnet {
        lane = subnet.network_id.clone();
        if subnet.kuryr_owned {
            steps.push(Step::Subnet(subnet.id.clone()));
        } else if !pool_id.contains('/')
            && let Err(e) = d
                .client
                .remove_tag(Kind::Subnets, &subnet.id, pool_id)
                .await
        {
            errors.push(e.into());
        }
    }
    if pool.deletable {
        steps.push(Step::Pool(pool.subnetpool_id.clone()));
    }
    if let Err(e) = d.teardown.submit(Job::new(lane, steps)).await {
        errors.push(e);
    }
    forget(d, pool_id, pool.subnet.as_ref().map(|s| s.id.as_str()));
    Error::from_all(errors)
}

fn forget(d: &NeutronDriver, pool_id: &str, subnet_id: Option<&str>) {
    let mut cache = d.cache();
    cache.pools.remove(pool_id);
    cache.pool_ids.retain(|_, id| id != pool_id);
    if let Some(sid) = subnet_id {
        for net in cache.networks.values_mut() {
            net.subnets.retain(|s| s.id != sid);
        }
        cache.addresses.retain(|(s, _), _| s != sid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_lengths_come_as_strings_or_numbers() {
        assert_eq!(prefix_len(&serde_json::json!("24")), Some(24));
        assert_eq!(prefix_len(&serde_json::json!(64)), Some(64));
        assert_eq!(prefix_len(&serde_json::Value::Null), None);
    }

    #[test]
    fn overlap_is_symmetric() {
        let a: IpNet = "10.0.0.0/16".parse().unwrap();
        let b: IpNet = "10.0.5.0/24".parse().unwrap();
        let c: IpNet = "10.1.0.0/24".parse().unwrap();
        assert!(overlaps(&a, &b) && overlaps(&b, &a));
        assert!(!overlaps(&a, &c));
    }
}
