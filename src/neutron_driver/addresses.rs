//! RequestAddress and ReleaseAddress: Docker addresses onto Neutron ports.
//!
//! A container address is one `POST /ports` named `kuryr-unbound-port` with the
//! Docker MAC, already bound to this host; CreateEndpoint then tags that same port
//! `compute:kuryr`. When Neutron says the address or MAC is taken (409), the holder is
//! adopted only if it is a user's port that nothing uses (B11), and tagged
//! `kuryr.port.existing` so release resets it instead of deleting it. Gateways and aux
//! addresses are the subnet's, not ports. With port pools (`port_pool.rs`) a ready
//! port is handed out instead of a POST. Release hands kuryr's port to the teardown
//! runner, so Docker does not wait for the delete.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::Error;
use crate::model::{AddressKind, AddressRequest};
use crate::neutron::{FixedIpRequest, Kind, NeutronError, Port, PortCreate, PortUpdate, Query};

use super::NeutronDriver;
use super::names;
use super::state::{AddressInfo, PoolInfo, SubnetInfo};
use super::teardown::{COLLISION_WAIT, Job, Step};
use super::undo::Marker;

pub async fn request(d: &NeutronDriver, req: AddressRequest) -> Result<IpNet, Error> {
    let pool = d.pool(&req.pool_id).await?.ok_or_else(|| {
        Error::InvalidOption(format!("pool {} does not exist in Neutron", req.pool_id))
    })?;
    let gateway = req.kind == AddressKind::Gateway;
    if let Some(ip) = req.address
        && !pool.cidr.contains(&ip)
    {
        return Err(Error::InvalidOption(format!(
            "{ip} is not in the pool {}",
            pool.cidr
        )));
    }
    let mac = req.mac.map(|m| m.to_string());
    let mut subnet = pool.subnet.clone();
    // Aux addresses come before the subnet exists and carry no MAC; a container's
    // address always has one (RequiresMACAddress), except with port pools, which do
    // without (then every address looks the subnet up).
    let container = req.address.is_none() || mac.is_some() || d.settings.port_pools.is_some();
    if subnet.is_none() && !gateway && container {
        // Another host (or kuryr-libnetwork) may have made the network since.
        subnet = d.pool_subnet(&req.pool_id, &pool).await?;
        if let Some(found) = &subnet
            && let Some(cached) = d.cache().pools.get_mut(req.pool_id.as_str())
        {
            cached.subnet = Some(found.clone());
        }
    }
    let address = match (subnet, gateway) {
        (None, true) => with_len(req.address.unwrap_or_else(|| first_host(pool.cidr)), &pool),
        // An aux address during network create: the subnet does not exist yet and
        // nothing is reserved, as in kuryr-libnetwork.
        (None, false) => match req.address {
            Some(ip) => with_len(ip, &pool),
            None => {
                return Err(Error::InvalidOption(format!(
                    "no Neutron subnet serves pool {} yet",
                    req.pool_id
                )));
            }
        },
        (Some(s), true) => gateway_of(&s, req.address, &pool)?,
        (Some(s), false) => {
            let ip = port_for(d, &s, req.address, mac).await?;
            with_len(ip, &pool)
        }
    };
    Ok(address)
}

fn with_len(ip: IpAddr, pool: &PoolInfo) -> IpNet {
    // The prefix length is at most the address width, so this cannot fail.
    IpNet::new(ip, pool.cidr.prefix_len()).unwrap_or_else(|_| IpNet::from(ip))
}

/// What Neutron picks for a subnet created without `gateway_ip`: the first address
/// after the network address. Answering it up front gives IPv6 networks without
/// `--gateway` a gateway too (B5).
fn first_host(cidr: IpNet) -> IpAddr {
    match cidr {
        IpNet::V4(n) => IpAddr::V4((u32::from(n.network()).saturating_add(1)).into()),
        IpNet::V6(n) => IpAddr::V6((u128::from(n.network()).saturating_add(1)).into()),
    }
}

/// The gateway of an existing subnet; a different requested one is a conflict.
fn gateway_of(s: &SubnetInfo, requested: Option<IpAddr>, pool: &PoolInfo) -> Result<IpNet, Error> {
    match (requested, s.gateway) {
        (None, Some(g)) => Ok(with_len(g, pool)),
        // kuryr-libnetwork's placeholder for a subnet without a gateway (bug 1881910).
        (None, None) => Ok(IpNet::new(
            match s.cidr {
                IpNet::V4(_) => IpAddr::from([0u8; 4]),
                IpNet::V6(_) => IpAddr::from([0u16; 8]),
            },
            0,
        )
        .unwrap_or(s.cidr)),
        (Some(a), Some(g)) if a == g => Ok(with_len(a, pool)),
        (Some(a), g) => Err(Error::InvalidOption(format!(
            "requested gateway {a} does not match the gateway {} of Neutron subnet {}",
            g.map_or_else(|| "(none)".to_string(), |g| g.to_string()),
            s.id
        ))),
    }
}

/// Creates the port for a container address (or takes one from the port pool), or
/// adopts the free user port that already holds it. Returns the address.
async fn port_for(
    d: &NeutronDriver,
    s: &SubnetInfo,
    address: Option<IpAddr>,
    mac: Option<String>,
) -> Result<IpAddr, Error> {
    if let Some(pools) = d.port_pools()
        && mac.is_none()
        && let Some(port) = pooled(d, pools, s, address).await
    {
        return remember(d, s, port, false, address);
    }
    // Bound to this host now, while Neutron allocates the address: binding is the
    // slow part of a port update (bug 1809306), and CreateEndpoint then only sets the
    // device id, concurrently with its tags and the plug. Only with Docker's MAC (a
    // bound port's MAC cannot change later), or with port pools, where Docker sends
    // none and CreateEndpoint unbinds first for a user's --mac-address.
    // Nested mode's ports stay unbound: the VM's port carries their traffic.
    let bind = d.nested.is_none() && (mac.is_some() || d.settings.port_pools.is_some());
    let body = PortCreate {
        network_id: s.network_id.clone(),
        name: Some(names::UNBOUND_PORT.to_string()),
        admin_state_up: Some(true),
        fixed_ips: Some(vec![FixedIpRequest {
            subnet_id: Some(s.id.clone()),
            ip_address: address.map(|a| a.to_string()),
        }]),
        mac_address: mac.clone(),
        binding_host_id: bind.then(|| d.settings.host.clone()),
        device_owner: bind.then(|| names::DEVICE_OWNER.to_string()),
        // kuryr's from birth where Neutron keeps tags in the body, as kuryr-libnetwork
        // tags it right after; elsewhere CreateEndpoint adds it with the endpoint's
        // tags (one request), and until then `kuryr-unbound-port` says whose it is.
        tags: d
            .features()
            .port_tags_on_create
            .then(|| vec![names::PORT_OWNED.to_string()]),
        ..PortCreate::default()
    };
    // Docker gives both families of an endpoint the same MAC: the second address
    // joins the port made for the first, so an endpoint is always one port.
    let sibling = mac.as_deref().and_then(|m| {
        d.cache()
            .addresses
            .values()
            .find(|a| {
                !a.existing
                    && a.port.network_id == s.network_id
                    && !names::is_attached(&a.port.device_id, &a.port.tags)
                    && a.port.mac_address.eq_ignore_ascii_case(m)
            })
            .map(|a| a.port.clone())
    });
    let created = match sibling {
        Some(port) => add_address(d, &port, s, address).await,
        None => create_port(d, &body).await,
    };
    let (port, existing) = match created {
        Ok(port) => (port, false),
        Err(e) if e.is_conflict() => adopt(d, s, address, mac.as_deref(), e).await?,
        Err(e) => return Err(e.into()),
    };
    remember(d, s, port, existing, address)
}

/// Caches `port` as the holder of the address it has (or was asked for) in `s`.
fn remember(
    d: &NeutronDriver,
    s: &SubnetInfo,
    port: Port,
    existing: bool,
    address: Option<IpAddr>,
) -> Result<IpAddr, Error> {
    let ip = address
        .or_else(|| {
            port.fixed_ips
                .iter()
                .filter(|f| f.subnet_id == s.id)
                .find_map(|f| f.ip_address.parse().ok())
        })
        .ok_or_else(|| {
            Error::Unsupported(format!(
                "Neutron port {} got no address in subnet {}",
                port.id, s.id
            ))
        })?;
    let mut cache = d.cache();
    for held in cache.addresses.values_mut() {
        if held.port.id == port.id {
            held.port = port.clone();
        }
    }
    cache
        .addresses
        .insert((s.id.clone(), ip), AddressInfo { port, existing });
    Ok(ip)
}

/// A pool port for subnet `s`, moved to `address` when Docker asked for one (a PUT,
/// cheaper than a new bound port). When that fails (the address is taken, perhaps by
/// another pool port), the port goes back and the caller makes one as without pools.
async fn pooled(
    d: &NeutronDriver,
    pools: &std::sync::Arc<super::port_pool::PortPools>,
    s: &SubnetInfo,
    address: Option<IpAddr>,
) -> Option<Port> {
    let port = pools.take(s).await?;
    let Some(ip) = address else {
        return Some(port);
    };
    let update = PortUpdate {
        fixed_ips: Some(vec![FixedIpRequest {
            subnet_id: Some(s.id.clone()),
            ip_address: Some(ip.to_string()),
        }]),
        ..PortUpdate::default()
    };
    match d.client.update::<Port, _>(&port.id, &update).await {
        Ok(mut moved) => {
            moved.tags = port.tags;
            Some(moved)
        }
        Err(error) => {
            tracing::debug!(port = %port.id, %ip, %error, "a pool port cannot take the requested address");
            pools.give_back(port);
            None
        }
    }
}

/// POST the port. A conflict while a port of this network is still being deleted
/// (a restarted container asking for its static address again) waits for that delete
/// and tries once more.
/// The port carries a fresh marker, so a lost answer is undone (`undo.rs`).
async fn create_port(d: &NeutronDriver, body: &PortCreate) -> Result<Port, NeutronError> {
    let marker = Marker::new();
    let body = &PortCreate {
        description: marker.description(),
        ..body.clone()
    };
    let result = match d.client.create::<Port, _>(body).await {
        Err(e) if e.is_conflict() && d.teardown.is_pending(&body.network_id) => {
            if d.teardown
                .wait_gone(&body.network_id, COLLISION_WAIT)
                .await
                .is_err()
            {
                return Err(e);
            }
            d.client.create(body).await
        }
        other => other,
    };
    if let Err(e) = &result {
        d.undo_marked(Kind::Ports, &body.network_id, &marker, e)
            .await;
    }
    result
}

/// Adds an address from subnet `s` to `port` (one PUT).
async fn add_address(
    d: &NeutronDriver,
    port: &Port,
    s: &SubnetInfo,
    address: Option<IpAddr>,
) -> Result<Port, NeutronError> {
    let mut ips: Vec<FixedIpRequest> = port
        .fixed_ips
        .iter()
        .map(|f| FixedIpRequest {
            subnet_id: Some(f.subnet_id.clone()),
            ip_address: Some(f.ip_address.clone()),
        })
        .collect();
    ips.push(FixedIpRequest {
        subnet_id: Some(s.id.clone()),
        ip_address: address.map(|a| a.to_string()),
    });
    d.client
        .update(
            &port.id,
            &PortUpdate {
                fixed_ips: Some(ips),
                ..PortUpdate::default()
            },
        )
        .await
}

/// The address (or MAC) is taken: adopt its port if it is free, else pass the 409 on.
async fn adopt(
    d: &NeutronDriver,
    s: &SubnetInfo,
    address: Option<IpAddr>,
    mac: Option<&str>,
    conflict: NeutronError,
) -> Result<(Port, bool), Error> {
    let by_address = match address {
        Some(ip) => d.ports_with(s, ip).await?,
        None => Vec::new(),
    };
    let port = match (by_address.into_iter().next(), mac) {
        (Some(port), _) => port,
        (None, Some(mac)) => {
            let query = Query::new()
                .eq("network_id", &s.network_id)
                .eq("mac_address", mac);
            let ports: Vec<Port> = d.client.list(&query).await?;
            let Some(port) = ports.into_iter().next() else {
                return Err(conflict.into());
            };
            // The other family's port of this endpoint (made before a restart).
            if !names::is_attached(&port.device_id, &port.tags)
                && names::is_kuryr_port(&port.name, &port.device_id, &port.tags)
                && !port.fixed_ips.iter().any(|f| f.subnet_id == s.id)
            {
                return Ok((add_address(d, &port, s, address).await?, false));
            }
            port
        }
        (None, None) => return Err(conflict.into()),
    };
    // A ready port of this host's pool holds the address asked for: it is ours to use.
    if names::is_pool_port(&port.tags)
        && port.binding_host_id == d.settings.host
        && let Some(pools) = d.port_pools()
        && pools.claim(&port.id).await
    {
        let mut port = port;
        port.tags.retain(|t| t != names::POOL_PORT_TAG);
        return Ok((port, false));
    }
    if !names::is_attached(&port.device_id, &port.tags)
        && names::is_kuryr_port(&port.name, &port.device_id, &port.tags)
        && !d.teardown.is_pending(&port.id)
    {
        // Our own pre-created port from an earlier attempt: keep owning it (unless
        // it is one we are deleting).
        return Ok((port, false));
    }
    let in_use =
        names::is_attached(&port.device_id, &port.tags) || !port.binding_host_id.is_empty();
    if in_use {
        return Err(Error::InvalidOption(format!(
            "{} is held by Neutron port {} (device_owner {:?}, device_id {:?}); \
             kuryr only reuses ports that nothing is bound to",
            address.map_or_else(|| mac.unwrap_or_default().to_string(), |a| a.to_string()),
            port.id,
            port.device_owner,
            port.device_id
        )));
    }
    let mut port = port;
    if !port.tags.iter().any(|t| t == names::PORT_EXISTING) {
        d.client
            .add_tag(Kind::Ports, &port.id, names::PORT_EXISTING)
            .await?;
        port.tags.push(names::PORT_EXISTING.to_string());
    }
    Ok((port, true))
}

/// ReleaseAddress: deletes kuryr's port for the address, resets a user's port, and
/// leaves any other port alone. Unknown pools and addresses are success (B12).
pub async fn release(d: &NeutronDriver, pool_id: &str, ip: IpAddr) -> Result<(), Error> {
    let Some(pool) = d.pool(pool_id).await? else {
        return Ok(());
    };
    let Some(subnet) = pool.subnet else {
        return Ok(());
    };
    if subnet.gateway == Some(ip) {
        return Ok(());
    }
    let cached = d.cache().addresses.remove(&(subnet.id.clone(), ip));
    let held = match cached {
        Some(info) => vec![(info.port, info.existing)],
        None => d
            .ports_with(&subnet, ip)
            .await?
            .into_iter()
            .filter_map(|p| {
                if p.tags.iter().any(|t| t == names::PORT_EXISTING) {
                    Some((p, true))
                } else if names::is_kuryr_port(&p.name, &p.device_id, &p.tags) {
                    Some((p, false))
                } else {
                    None
                }
            })
            .collect(),
    };
    let mut errors = Vec::new();
    for (port, existing) in held {
        let result = if existing {
            reset(d, &port).await
        } else {
            // Docker only logs our answer: the delete runs after it (teardown.rs).
            d.teardown
                .submit(Job::new(
                    &port.network_id,
                    vec![Step::Port(port.id.clone())],
                ))
                .await
        };
        if let Err(e) = result {
            errors.push(e);
        }
        if let Some(pools) = &d.pools {
            pools.settle(&port.id);
        }
        d.cache().addresses.retain(|_, a| a.port.id != port.id);
    }
    Error::from_all(errors)
}

/// Gives a user's port back: unbound, no kuryr tags. The device id is cleared only
/// when it is a Docker endpoint id (64 hex), which is what kuryr put there.
async fn reset(d: &NeutronDriver, port: &Port) -> Result<(), Error> {
    let docker_device =
        port.device_id.len() == 64 && port.device_id.chars().all(|c| c.is_ascii_hexdigit());
    let updated: Port = d
        .client
        .update(
            &port.id,
            &PortUpdate {
                device_owner: Some(String::new()),
                binding_host_id: Some(String::new()),
                device_id: docker_device.then(String::new),
                ..PortUpdate::default()
            },
        )
        .await?;
    let kept: Vec<String> = updated
        .tags
        .iter()
        .filter(|t| *t != names::PORT_EXISTING && !names::is_network_tag(t))
        .cloned()
        .collect();
    if kept.len() != updated.tags.len() {
        d.client.set_tags(Kind::Ports, &port.id, &kept).await?;
    }
    Ok(())
}
