//! CreateNetwork and DeleteNetwork: Docker networks onto Neutron networks and subnets.
//!
//! A new network and its subnets (both families in one bulk request) are made, then
//! tagged: Neutron 29 ignores tags in create bodies. A user's network named with
//! `neutron.net.*` is tagged (never renamed, B6) and its subnets adopted by CIDR.
//! A failure undoes what the call did (B9). Delete removes only what kuryr made,
//! through the teardown runner, and answers once the network's lane is done (or
//! after `DELETE_WAIT`): read-your-writes for everyone who looks at Neutron after
//! `docker network rm`.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use crate::Error;
use crate::model::{NetworkAllocation, NetworkSpec, Scope, Subnet as DockerSubnet};
use crate::neutron::{Kind, Network, NetworkCreate, Query, Subnet, SubnetCreate, SubnetPool};

use super::NeutronDriver;
use super::lookup::{PoolRef, one, prefixes};
use super::names;
use super::options::{Named, NeutronOptions};
use super::state::{NetInfo, SubnetInfo};
use super::teardown::{Job, Step};
use super::undo::Marker;

/// How long DeleteNetwork waits for its network's deletes (its ports, the network
/// with its subnets, the pools Docker released) before answering anyway. A healthy
/// Neutron needs well under a second; 20 s also covers five retries of a passing
/// failure (0.5 + 1 + 2 + 4 + 8 s of backoff, jittered down) while staying under
/// the 30 s that `docker plugin enable` gives a managed plugin's calls by default,
/// and a legacy plugin has no timeout at all, so dockerd's network operations would
/// freeze for as long as we wait. What is still pending then stays journaled and
/// retried, as it was before this wait existed.
pub const DELETE_WAIT: Duration = Duration::from_secs(20);

/// One address family of the request, resolved to its pool.
struct Family {
    v6: bool,
    cidr: IpNet,
    gateway: Option<IpAddr>,
    pool_id: String,
    subnetpool_id: String,
}

/// What a swarm manager's AllocateNetwork describes, as a network to create.
pub fn spec_of(req: &NetworkAllocation) -> NetworkSpec {
    NetworkSpec {
        id: req.id.clone(),
        ipv4: req.ipv4.clone(),
        ipv6: req.ipv6.clone(),
        ipv4_enabled: !req.ipv4.is_empty(),
        ipv6_enabled: !req.ipv6.is_empty(),
        internal: false,
        options: req.options.clone(),
    }
}

pub async fn create(d: &NeutronDriver, req: NetworkSpec) -> Result<(), Error> {
    refuse_unsupported(&req)?;
    let nid = req.id.to_string();
    let _guard = d.locks.lock(&format!("net:{nid}")).await;
    // Swarm: the manager's AllocateNetwork made it, or another node's CreateNetwork,
    // or this node's before a dockerd restart (which sends CreateNetwork again with
    // no DeleteNetwork, moby#37087). Found by its tags, it is the same network.
    // (In local scope dockerd sends CreateNetwork once; no lookup is spent there.)
    if d.settings.scope == Scope::Global && d.network(&nid).await?.is_some() {
        return Ok(());
    }
    let options = NeutronOptions::parse(req.options.as_map())?;
    let mut families = Vec::new();
    for (data, v6) in [(req.ipv4.first(), false), (req.ipv6.first(), true)] {
        if let Some(data) = data {
            families.push(resolve(d, data, v6, &options).await?);
        }
    }
    let mut id_tags = names::id_tags(&nid);

    // The network: a user's (tag it) or a new one (created tagged).
    let (net, original_tags, existing_subnets) = match &options.net {
        Some(named) => {
            let net = user_network(d, named).await?;
            if options.shared && !net.shared {
                return Err(Error::InvalidOption(format!(
                    "Neutron network {} has shared = false, but neutron.net.shared = true",
                    net.id
                )));
            }
            id_tags.push(names::net_existing_tag(&nid));
            let mut tags = net.tags.clone();
            tags.extend(id_tags.iter().filter(|t| !net.tags.contains(t)).cloned());
            d.client.set_tags(Kind::Networks, &net.id, &tags).await?;
            let subnets = d.network_subnets(&net.id).await;
            let subnets = match subnets {
                Ok(s) => s,
                Err(e) => {
                    let _ = d.client.set_tags(Kind::Networks, &net.id, &net.tags).await;
                    return Err(e);
                }
            };
            let original = net.tags.clone();
            (net, Some(original), subnets)
        }
        None => {
            let marker = Marker::new();
            let made = d
                .client
                .create::<Network, _>(&NetworkCreate {
                    description: marker.description(),
                    name: Some(names::network_name(&nid)),
                    admin_state_up: Some(true),
                    shared: Some(options.shared),
                })
                .await;
            match made {
                Ok(net) => (net, None, Vec::new()),
                Err(e) => {
                    d.undo_marked(Kind::Networks, marker.as_str(), &marker, &e)
                        .await;
                    return Err(e.into());
                }
            }
        }
    };

    // A new network is tagged while its subnets are created: the two are independent.
    let tag_new_network = async {
        match &original_tags {
            Some(_) => Ok(()),
            None => d.tag_new(Kind::Networks, &net.id, &id_tags).await,
        }
    };
    let (tagged, made) = tokio::join!(
        tag_new_network,
        subnets(
            d,
            &net,
            original_tags.is_some(),
            &families,
            &existing_subnets
        )
    );
    let made = match (tagged, made) {
        (Ok(()), made) => made,
        (Err(e), _) => Err(e),
    };
    match made {
        Ok(made) => {
            let mut all = existing_subnets;
            all.retain(|s| !made.iter().any(|m| m.id == s.id));
            all.extend(made.iter().cloned());
            if let Some(pools) = d.port_pools() {
                for s in all
                    .iter()
                    .filter(|s| families.iter().any(|f| f.cidr == s.cidr))
                {
                    pools.start(s);
                }
            }
            let mut cache = d.cache();
            for family in &families {
                if let Some(pool) = cache.pools.get_mut(&family.pool_id) {
                    pool.subnet = all.iter().find(|s| s.cidr == family.cidr).cloned();
                }
            }
            cache.networks.insert(
                nid,
                NetInfo {
                    neutron_id: net.id,
                    existing: original_tags.is_some(),
                    mtu: net.mtu,
                    subnets: all,
                },
            );
            Ok(())
        }
        Err(e) => {
            undo_network(d, &net.id, original_tags.as_deref()).await;
            Err(e)
        }
    }
}

/// What a Neutron network cannot be, refused by name rather than ignored: an
/// `--internal` network (Neutron decides reachability with routers, not the plugin),
/// and more than one pool per family (a kuryr network has one subnet per family, as in
/// kuryr-libnetwork).
fn refuse_unsupported(req: &NetworkSpec) -> Result<(), Error> {
    if req.internal {
        return Err(Error::InvalidOption(
            "--internal is not supported by the neutron backend: reachability of a \
             Neutron network is decided by its routers; create it without a router instead"
                .into(),
        ));
    }
    for (family, pools) in [("IPv4", &req.ipv4), ("IPv6", &req.ipv6)] {
        if pools.len() > 1 {
            return Err(Error::InvalidOption(format!(
                "{} {family} subnets: the neutron backend gives a network one subnet per family",
                pools.len()
            )));
        }
    }
    Ok(())
}

/// The pool serving one family: the one RequestPool granted for this CIDR, or
/// after a restart the one Neutron has under kuryr's name or the user's option.
async fn resolve(
    d: &NeutronDriver,
    data: &DockerSubnet,
    v6: bool,
    options: &NeutronOptions,
) -> Result<Family, Error> {
    let cidr = data.pool;
    let gateway = data.gateway.map(|g| g.addr());
    let cached = {
        let cache = d.cache();
        cache
            .pool_ids
            .get(&(data.space.to_string(), cidr))
            .and_then(|id| {
                cache
                    .pools
                    .get(id)
                    .map(|p| (id.clone(), p.subnetpool_id.clone()))
            })
    };
    let (pool_id, subnetpool_id) = match cached {
        Some(found) => found,
        None => find_pool(d, cidr, options.family(v6).pool.as_ref()).await?,
    };
    Ok(Family {
        v6,
        cidr,
        gateway,
        pool_id,
        subnetpool_id,
    })
}

async fn find_pool(
    d: &NeutronDriver,
    cidr: IpNet,
    named: Option<&Named>,
) -> Result<(String, String), Error> {
    let kuryr_name = names::pool_name(&d.settings.pool_prefix, &cidr.to_string());
    let query = match named {
        Some(Named::Id(id)) => d.in_own_project(Query::new().eq("id", id)).await?,
        Some(Named::Name(name)) => d.in_own_project(Query::new().eq("name", name)).await?,
        None => Query::new().eq("name", &kuryr_name),
    };
    let found: Vec<SubnetPool> = d.client.list(&query).await?;
    let holding: Vec<SubnetPool> = found
        .into_iter()
        .filter(|p| prefixes(p).iter().any(|x| x.contains(&cidr.network())))
        .collect();
    if let Some(sp) = one(holding, &format!("a subnet pool holding {cidr}"))? {
        let exact = prefixes(&sp) == vec![cidr];
        return Ok((PoolRef::id(&sp.id, (!exact).then_some(cidr)), sp.id));
    }
    // Carved from a default pool (no --subnet).
    for name in [&d.settings.default_pool_v4, &d.settings.default_pool_v6] {
        let found: Vec<SubnetPool> = d.client.list(&Query::new().eq("name", name)).await?;
        if let Some(sp) = found
            .into_iter()
            .find(|p| prefixes(p).iter().any(|x| x.contains(&cidr.network())))
        {
            return Ok((PoolRef::id(&sp.id, Some(cidr)), sp.id));
        }
    }
    Err(Error::InvalidOption(format!(
        "no Neutron subnet pool holds {cidr}: use kuryr as the IPAM driver too \
         (--ipam-driver kuryr)"
    )))
}

async fn user_network(d: &NeutronDriver, named: &Named) -> Result<Network, Error> {
    let query = match named {
        Named::Id(id) => Query::new().eq("id", id),
        Named::Name(name) => Query::new().eq("name", name),
    };
    let query = d.in_own_project(query).await?;
    let found: Vec<Network> = d.client.list(&query).await?;
    let what = format!("network {}", named.describe());
    one(found, &what)?
        .ok_or_else(|| Error::InvalidOption(format!("the Neutron {what} does not exist")))
}

/// Adopts the network's subnets that have a family's CIDR (tagging them with the
/// PoolID, the link RequestAddress follows) and creates the others in one request.
/// `users`: the network is a user's, so a rollback deletes the subnets made here
/// (on kuryr's own network they go with it).
async fn subnets(
    d: &NeutronDriver,
    net: &Network,
    users: bool,
    families: &[Family],
    existing: &[SubnetInfo],
) -> Result<Vec<SubnetInfo>, Error> {
    let mut adopted = Vec::new();
    let mut bodies = Vec::new();
    let marker = Marker::new();
    for f in families {
        let link: Vec<String> = (!f.pool_id.contains('/'))
            .then(|| f.pool_id.clone())
            .into_iter()
            .collect();
        if let Some(s) = existing.iter().find(|s| s.cidr == f.cidr) {
            for tag in &link {
                if let Err(e) = d.client.add_tag(Kind::Subnets, &s.id, tag).await {
                    untag(d, &adopted, families).await;
                    return Err(e.into());
                }
            }
            adopted.push(s.clone());
            continue;
        }
        bodies.push((
            link,
            SubnetCreate {
                description: marker.description(),
                name: Some(names::subnet_name(&f.cidr.to_string())),
                network_id: net.id.clone(),
                ip_version: if f.v6 { 6 } else { 4 },
                cidr: Some(f.cidr.to_string()),
                enable_dhcp: Some(d.settings.enable_dhcp),
                subnetpool_id: Some(f.subnetpool_id.clone()),
                gateway_ip: f.gateway.map(|g| g.to_string()),
            },
        ));
    }
    if bodies.is_empty() {
        return Ok(adopted);
    }
    let sent: Vec<SubnetCreate> = bodies.iter().map(|(_, b)| b.clone()).collect();
    let made: Vec<Subnet> = match d.client.create_many(&sent).await {
        Ok(made) => made,
        Err(e) => {
            // On kuryr's own network the subnets go with it (`undo_network`); on a
            // user's, they must be found and deleted one by one.
            if users {
                d.undo_marked(Kind::Subnets, &net.id, &marker, &e).await;
            }
            untag(d, &adopted, families).await;
            return Err(e.into());
        }
    };
    let mut out = adopted;
    for (subnet, (link, _)) in made.iter().zip(&bodies) {
        if let Err(e) = d.tag_new(Kind::Subnets, &subnet.id, link).await {
            untag(d, &out, families).await;
            if users {
                for s in &made {
                    d.undo(&net.id, Step::Subnet(s.id.clone())).await;
                }
            }
            return Err(e);
        }
        out.extend(SubnetInfo::from_neutron(subnet));
    }
    Ok(out)
}

/// Rollback helper: removes the PoolID tags put on adopted user subnets.
async fn untag(d: &NeutronDriver, adopted: &[SubnetInfo], families: &[Family]) {
    for s in adopted.iter().filter(|s| !s.kuryr_owned) {
        for f in families
            .iter()
            .filter(|f| f.cidr == s.cidr && !f.pool_id.contains('/'))
        {
            let _ = d.client.remove_tag(Kind::Subnets, &s.id, &f.pool_id).await;
        }
    }
}

/// Rollback: deletes a network this call created (its subnets go with it; journaled
/// and retried if Neutron fails now), or puts a user's network's tags back.
async fn undo_network(d: &NeutronDriver, id: &str, original_tags: Option<&[String]>) {
    match original_tags {
        None => d.undo(id, Step::Network(id.to_string())).await,
        Some(tags) => {
            if let Err(error) = d.client.set_tags(Kind::Networks, id, tags).await {
                tracing::warn!(network = id, %error, "rollback of CreateNetwork's tags failed");
            }
        }
    }
}

/// The kuryr subnet pools behind `net`'s subnets that Docker already released, to be
/// deleted after the network. After a restart nothing is known about releases, so
/// every deletable pool is included (Neutron refuses to delete one still in use, and
/// it is kept; one Docker still holds is then already gone when it releases it).
async fn released_pools(d: &NeutronDriver, net: &NetInfo) -> Result<Vec<Step>, Error> {
    let mut steps = Vec::new();
    for s in &net.subnets {
        let Some(spid) = &s.subnetpool_id else {
            continue;
        };
        let (released, known) = {
            let mut cache = d.cache();
            let released = cache
                .released
                .iter()
                .find(|(_, p)| &p.subnetpool_id == spid)
                .map(|(id, p)| (id.clone(), p.deletable));
            if let Some((id, _)) = &released {
                cache.released.remove(id);
                cache.pools.remove(id);
                cache.pool_ids.retain(|_, v| v != id);
            }
            let known = cache.pools.values().any(|p| &p.subnetpool_id == spid);
            (released, known)
        };
        let deletable = match released {
            Some((_, deletable)) => deletable,
            // Docker still holds it (the other order): ReleasePool will delete it.
            None if known => false,
            None => match d.client.get::<SubnetPool>(spid).await {
                Ok(sp) => {
                    s.cidr.to_string() == sp.prefixes.first().cloned().unwrap_or_default()
                        && d.is_deletable(&sp, s.cidr)
                }
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(e.into()),
            },
        };
        if deletable {
            steps.push(Step::Pool(spid.clone()));
        }
    }
    Ok(steps)
}

/// DeleteNetwork: deletes kuryr's network (Neutron deletes its subnets with it), or
/// for a user's network deletes only the `kuryr-subnet-*` subnets and kuryr's tags.
/// An unknown network is success.
pub async fn delete(d: &NeutronDriver, nid: &str) -> Result<(), Error> {
    let _guard = d.locks.lock(&format!("net:{nid}")).await;
    let Some(net) = d.network(nid).await? else {
        return Ok(());
    };
    let mut errors: Vec<Error> = Vec::new();
    // The port pools' ready ports go first, in the network's lane (`port_pool.rs`).
    let mut steps: Vec<Step> = match &d.pools {
        Some(pools) => {
            let subnets: Vec<String> = net.subnets.iter().map(|s| s.id.clone()).collect();
            pools
                .close(&subnets)
                .await
                .into_iter()
                .map(Step::Port)
                .collect()
        }
        None => Vec::new(),
    };
    if net.existing {
        // In the network's lane: behind the deletes of the ports still on them.
        steps.extend(
            net.subnets
                .iter()
                .filter(|s| s.kuryr_owned)
                .map(|s| Step::Subnet(s.id.clone())),
        );
        if let Err(e) = d.teardown.submit(Job::new(&net.neutron_id, steps)).await {
            errors.push(e);
        }
        let mut tags = names::id_tags(nid);
        tags.push(names::net_existing_tag(nid));
        for tag in tags {
            if let Err(e) = d
                .client
                .remove_tag(Kind::Networks, &net.neutron_id, &tag)
                .await
            {
                errors.push(e.into());
            }
        }
    } else {
        // Through the teardown runner (teardown.rs): journaled, ordered in the lane
        // behind the port deletes, retried if they fail.
        steps.push(Step::Network(net.neutron_id.clone()));
        match released_pools(d, &net).await {
            Ok(pools) => steps.extend(pools),
            Err(e) => errors.push(e),
        }
        if let Err(e) = d.teardown.submit(Job::new(&net.neutron_id, steps)).await {
            errors.push(e);
        }
    }
    // Read-your-writes: the lane holds this network's port deletes (ReleaseAddress),
    // the deletes just submitted and those of the pools Docker released before.
    if let Err(error) = d.teardown.wait_gone(&net.neutron_id, DELETE_WAIT).await {
        tracing::warn!(
            network = %net.neutron_id,
            %error,
            "answering DeleteNetwork before Neutron is clean; the deletes are journaled and retried"
        );
    }
    if errors.is_empty() {
        let mut cache = d.cache();
        cache.networks.remove(nid);
        let gone: Vec<String> = net
            .subnets
            .iter()
            .filter(|s| !net.existing || s.kuryr_owned)
            .map(|s| s.id.clone())
            .collect();
        for pool in cache.pools.values_mut() {
            if pool.subnet.as_ref().is_some_and(|s| gone.contains(&s.id)) {
                pool.subnet = None;
            }
        }
        cache.addresses.retain(|(sid, _), _| !gone.contains(sid));
    }
    Error::from_all(errors)
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::binding::RecordingBinder;
    use crate::config::{ProcessEnv, from_ini_str};
    use crate::neutron::fake::Fake;
    use crate::neutron::{AuthMethod, Client, ClientOptions, NameOrId, ProjectScope, UserRef};
    use crate::neutron_driver::Settings;

    pub(in crate::neutron_driver) fn driver(
        fake: &Fake,
        dir: &std::path::Path,
        auth: AuthMethod,
    ) -> NeutronDriver {
        let text = format!(
            "[DEFAULT]\nstate_dir = {}\n[neutron]\nauth_type = none\nendpoint = {}\n",
            dir.display(),
            fake.url("/")
        );
        let loaded = from_ini_str(&text, "test", &ProcessEnv).unwrap();
        let client = Client::new(ClientOptions::new(auth)).unwrap();
        let binder = Arc::new(RecordingBinder::new());
        NeutronDriver::new(client, Settings::from_config(&loaded.config), binder).unwrap()
    }

    /// Two networks of one name: kuryr's project's and another tenant's.
    fn two_tenants(fake: &Fake) {
        let mut st = fake.state();
        let nets = st.items.entry("networks".into()).or_default();
        for (id, project) in [("net-ours", "proj-kuryr"), ("net-theirs", "proj-other")] {
            nets.insert(
                id.into(),
                json!({"id": id, "name": "same-name", "project_id": project}),
            );
        }
    }

    fn found(r: Result<Network, Error>) -> String {
        r.map(|n| n.id).unwrap_or_else(|e| format!("error: {e}"))
    }

    /// Review I8: with a project-scoped token, `neutron.net.*` adopts only networks
    /// of that project; another tenant's is "does not exist", by id or by name.
    #[tokio::test]
    async fn adoption_sees_only_the_tokens_project() {
        let fake = Fake::start().await;
        two_tenants(&fake);
        let dir = tempfile::tempdir().unwrap();
        let d = driver(
            &fake,
            dir.path(),
            AuthMethod::Password {
                auth_url: fake.url("/v3"),
                user: UserRef::Name {
                    name: "kuryr".into(),
                    domain: NameOrId::Name("Default".into()),
                },
                password: "pw".into(),
                project: Some(ProjectScope::Id("proj-kuryr".into())),
            },
        );
        let by_name = Named::Name("same-name".into());
        assert_eq!(found(user_network(&d, &by_name).await), "net-ours");
        let theirs = found(user_network(&d, &Named::Id("net-theirs".into())).await);
        assert!(theirs.contains("does not exist"), "{theirs}");
        assert!(
            fake.state()
                .seen
                .iter()
                .filter(|s| s.path.starts_with("v2.0/networks?"))
                .all(|s| s.path.contains("project_id=proj-kuryr")),
            "every lookup filtered"
        );
    }

    /// Without Keystone (`auth_type = none`) there is no project to filter on: the
    /// lookup is as before, and two networks of one name are ambiguous.
    #[tokio::test]
    async fn without_keystone_adoption_is_unfiltered() {
        let fake = Fake::start().await;
        fake.state().no_auth = true;
        two_tenants(&fake);
        let dir = tempfile::tempdir().unwrap();
        let d = driver(
            &fake,
            dir.path(),
            AuthMethod::None {
                endpoint: fake.url("/"),
            },
        );
        let theirs = found(user_network(&d, &Named::Id("net-theirs".into())).await);
        assert_eq!(theirs, "net-theirs");
        let by_name = found(user_network(&d, &Named::Name("same-name".into())).await);
        assert!(by_name.contains("2 Neutron objects match"), "{by_name}");
    }
}
