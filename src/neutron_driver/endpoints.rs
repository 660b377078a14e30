//! CreateEndpoint, DeleteEndpoint, Join and EndpointOperInfo: Docker endpoints onto
//! the ports RequestAddress made, bound to this host and plugged by `binding`.
//!
//! CreateEndpoint binds the pre-created port in one update (host and owner together,
//! bug 1802163) and tags it with the endpoint id, also for dual stack, where the two
//! per-family ports become one (B2). A bind or plug failure puts the port back (B9).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::Error;
use crate::binding::{Vif, container_ifname};
use crate::model::{EndpointReply, EndpointSpec, JoinReply, OperInfo, StaticRoute};
use crate::neutron::{FixedIpRequest, Kind, Port, PortCreate, PortUpdate, Query};

use super::NeutronDriver;
use super::activation::{self, ACTIVE};
use super::lookup::holds;
use super::names;
use super::state::{EndpointInfo, NetInfo, SubnetInfo};
use super::teardown::Step;
use super::undo::Marker;

/// How long a port status that is not ACTIVE is served from the cache.
const STATUS_TTL: Duration = Duration::from_secs(1);

pub async fn create(d: &NeutronDriver, req: EndpointSpec) -> Result<EndpointReply, Error> {
    if !req.options.is_empty() {
        let keys: Vec<&str> = req.options.keys().collect();
        return Err(Error::InvalidOption(format!(
            "unknown endpoint option {}: the neutron backend takes no endpoint options",
            keys.join(", ")
        )));
    }
    let eid = req.endpoint_id.to_string();
    let _guard = d.locks.lock(&format!("ep:{eid}")).await;
    let mut net = d
        .network(&req.network_id)
        .await?
        .ok_or_else(|| Error::UnknownNetwork(req.network_id.to_string()))?;
    let ips: Vec<IpAddr> = [req.address, req.address_ipv6]
        .into_iter()
        .flatten()
        .map(|n| n.addr())
        .collect();
    if ips.is_empty() {
        return Err(Error::BadRequest(
            "the endpoint has no IPv4 or IPv6 address (is kuryr also the IPAM driver?)".into(),
        ));
    }
    if ips
        .iter()
        .any(|ip| !net.subnets.iter().any(|s| s.contains(*ip)))
    {
        net.subnets = d.network_subnets(&net.neutron_id).await?;
    }
    let mut wanted: Vec<(SubnetInfo, IpAddr)> = Vec::new();
    for ip in &ips {
        let s = net
            .subnets
            .iter()
            .find(|s| s.contains(*ip))
            .ok_or_else(|| {
                Error::InvalidOption(format!(
                    "no subnet of Neutron network {} holds {ip}",
                    net.neutron_id
                ))
            })?;
        wanted.push((s.clone(), *ip));
    }
    let docker_mac = req.mac.map(|m| m.to_string());
    let (ports, existing) = held_ports(d, &net, &eid, &wanted).await?;
    let (before, port, existing, vif) = match ports.len() {
        0 => {
            let port = make_port(d, &net, &eid, &wanted, docker_mac.as_deref()).await?;
            let vif = vif_of(&port, &eid, net.mtu);
            if let Err(e) = plug(d, &vif, &port).await {
                undo(d, &port, None, &vif).await;
                return Err(e);
            }
            (None, port, false, vif)
        }
        _ => {
            let (keep, existing) = merge(d, ports, existing).await?;
            let (port, vif) =
                attach(d, &keep, &eid, &wanted, docker_mac.as_deref(), net.mtu).await?;
            (Some(keep), port, existing, vif)
        }
    };
    let port = match activation::wait_active(d, port).await {
        Ok(port) => port,
        Err((port, e)) => {
            undo(d, &port, before.as_ref(), &vif).await;
            if let Err(error) = unplug(d, &vif, &ips_of(&port)).await {
                tracing::warn!(%error, "unplugging after a failed CreateEndpoint");
            }
            return Err(e);
        }
    };
    if let Some(pools) = &d.pools {
        // A pool port's tag is replaced by the endpoint's now (attach).
        pools.settle(&port.id);
    }
    let reply_mac = match req.mac {
        Some(_) => None,
        None => port.mac_address.parse().ok(),
    };
    let subnets: Vec<SubnetInfo> = wanted.iter().map(|(s, _)| s.clone()).collect();
    let info = EndpointInfo {
        port_id: port.id.clone(),
        existing,
        status: port.status.clone(),
        status_at: Instant::now(),
        tags: port.tags.clone(),
        security_groups: port.security_groups.clone(),
        exposed_groups: Some(Vec::new()),
        vif,
        ips: ips_of(&port),
        subnets,
        network_subnets: net.subnets.clone(),
    };
    {
        let mut cache = d.cache();
        for (s, ip) in &wanted {
            if let Some(a) = cache.addresses.get_mut(&(s.id.clone(), *ip)) {
                a.port = port.clone();
                a.existing = existing;
            }
        }
        cache.networks.insert(req.network_id.to_string(), net);
        cache.endpoints.insert(eid, info);
    }
    Ok(EndpointReply { mac: reply_mac })
}

/// The ports holding the endpoint's addresses, from RequestAddress's cache or Neutron,
/// and whether each is a user's.
async fn held_ports(
    d: &NeutronDriver,
    net: &NetInfo,
    eid: &str,
    wanted: &[(SubnetInfo, IpAddr)],
) -> Result<(Vec<Port>, Vec<bool>), Error> {
    let cached: Vec<Option<(Port, bool)>> = {
        let cache = d.cache();
        wanted
            .iter()
            .map(|(s, ip)| {
                cache
                    .addresses
                    .get(&(s.id.clone(), *ip))
                    .map(|a| (a.port.clone(), a.existing))
            })
            .collect()
    };
    let mut found: Vec<(Port, bool)> = Vec::new();
    if cached.iter().all(Option::is_some) {
        found = cached.into_iter().flatten().collect();
    } else {
        let mut query = Query::new().eq("network_id", &net.neutron_id);
        for (_, ip) in wanted {
            query = query.fixed_ip_address(&ip.to_string());
        }
        let ports: Vec<Port> = d.client.list(&query).await?;
        for port in ports.into_iter().map(|p| d.normalized(p)) {
            if wanted.iter().any(|(s, ip)| holds(&port, &s.id, *ip)) {
                refuse_foreign(&port, eid)?;
                let existing = port.tags.iter().any(|t| t == names::PORT_EXISTING);
                found.push((port, existing));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|(p, _)| seen.insert(p.id.clone()));
    Ok(found.into_iter().unzip())
}

/// Review I7: a port found holding the endpoint's address is taken over only if
/// kuryr made it (its tag, `kuryr-unbound-port`, `<EID>-port`), adopted it
/// (`kuryr.port.existing`, set by RequestAddress after its own "nothing bound" check)
/// or already gave it to this endpoint (a retried CreateEndpoint). Any other port
/// with a device, an owner or a binding host belongs to something else (a VM, a
/// DHCP agent, a router), and rebinding it here would cut that off. This is the
/// check RequestAddress makes, for the endpoints whose address came from another
/// IPAM driver.
fn refuse_foreign(port: &Port, eid: &str) -> Result<(), Error> {
    let adopted = port.tags.iter().any(|t| t == names::PORT_EXISTING);
    let this_endpoint = names::id_tags(eid).iter().all(|t| port.tags.contains(t));
    let kuryrs = names::is_kuryr_port(&port.name, &port.device_id, &port.tags);
    let bound = !port.device_id.is_empty()
        || !port.device_owner.is_empty()
        || !port.binding_host_id.is_empty();
    if adopted || this_endpoint || kuryrs || !bound {
        return Ok(());
    }
    let ips: Vec<&str> = port
        .fixed_ips
        .iter()
        .map(|f| f.ip_address.as_str())
        .collect();
    Err(Error::InvalidOption(format!(
        "the endpoint's address {} is held by Neutron port {}, which belongs to \
         something else (device_owner {:?}, device_id {:?}, binding:host_id {:?}); \
         kuryr never takes over a bound port: pick another address, or unbind the port",
        ips.join(", "),
        port.id,
        port.device_owner,
        port.device_id,
        port.binding_host_id
    )))
}

/// Dual stack: RequestAddress made one port per family. Keep one (a user's if there
/// is one), delete the other kuryr ports, and return the kept one with their addresses
/// added, so the endpoint is one port carrying both addresses.
async fn merge(
    d: &NeutronDriver,
    ports: Vec<Port>,
    existing: Vec<bool>,
) -> Result<(Port, bool), Error> {
    let keep_at = existing.iter().position(|e| *e).unwrap_or(0);
    let mut keep = ports[keep_at].clone();
    for (i, port) in ports.iter().enumerate() {
        if i == keep_at {
            continue;
        }
        if existing[i] || !names::is_kuryr_port(&port.name, &port.device_id, &port.tags) {
            return Err(Error::InvalidOption(format!(
                "the endpoint's addresses are held by two different user ports, {} and {}",
                keep.id, port.id
            )));
        }
        d.client.delete(Kind::Ports, &port.id).await?;
        if let Some(pools) = &d.pools {
            pools.settle(&port.id);
        }
        keep.fixed_ips.extend(port.fixed_ips.iter().cloned());
    }
    Ok((keep, existing[keep_at]))
}

fn fixed_ips(wanted: &[(SubnetInfo, IpAddr)]) -> Vec<FixedIpRequest> {
    wanted
        .iter()
        .map(|(s, ip)| FixedIpRequest {
            subnet_id: Some(s.id.clone()),
            ip_address: Some(ip.to_string()),
        })
        .collect()
}

/// No port holds the addresses (RequestAddress was answered by someone else): make
/// one, bound and tagged (kuryr-libnetwork leaves it untagged, B2).
async fn make_port(
    d: &NeutronDriver,
    net: &NetInfo,
    eid: &str,
    wanted: &[(SubnetInfo, IpAddr)],
    mac: Option<&str>,
) -> Result<Port, Error> {
    let mut tags = names::id_tags(eid);
    tags.push(names::PORT_OWNED.to_string());
    let in_body = d.features().port_tags_on_create;
    let marker = Marker::new();
    let made = d
        .client
        .create::<Port, _>(&PortCreate {
            description: marker.description(),
            network_id: net.neutron_id.clone(),
            name: Some(names::endpoint_port_name(eid)),
            admin_state_up: Some(true),
            fixed_ips: Some(fixed_ips(wanted)),
            mac_address: mac.map(str::to_string),
            device_id: Some(eid.to_string()),
            device_owner: Some(names::DEVICE_OWNER.to_string()),
            binding_host_id: Some(d.settings.host.clone()),
            tags: in_body.then(|| tags.clone()),
            ..PortCreate::default()
        })
        .await;
    let port = match made {
        Ok(port) => port,
        Err(e) => {
            d.undo_marked(Kind::Ports, &net.neutron_id, &marker, &e)
                .await;
            return Err(e.into());
        }
    };
    if in_body {
        return Ok(port);
    }
    if let Err(e) = d.tag_new(Kind::Ports, &port.id, &tags).await {
        d.undo(&net.neutron_id, Step::Port(port.id.clone())).await;
        return Err(e);
    }
    Ok(Port { tags, ..port })
}

/// What CreateEndpoint must change on `port`: only what differs. Host and owner go
/// together (bug 1802163). The device id (the endpoint id, as kuryr-libnetwork sets
/// it) rides along only when the port needs an update anyway: on a port that
/// RequestAddress already bound here it would cost a ~250 ms update by itself, and the
/// endpoint is identified by its tags, which is how both implementations look it up.
fn port_update(
    port: &Port,
    host: Option<&str>,
    eid: &str,
    wanted: &[(SubnetInfo, IpAddr)],
    mac: Option<&str>,
) -> PortUpdate {
    let mut update = PortUpdate::default();
    if let Some(host) = host
        && port.binding_host_id != host
    {
        update.binding_host_id = Some(host.to_string());
        update.device_owner = Some(names::DEVICE_OWNER.to_string());
    }
    if !port.admin_state_up {
        update.admin_state_up = Some(true);
    }
    if let Some(mac) = mac
        && !port.mac_address.eq_ignore_ascii_case(mac)
    {
        update.mac_address = Some(mac.to_string());
    }
    if wanted.iter().any(|(s, ip)| !holds(port, &s.id, *ip)) {
        let mut all = fixed_ips(wanted);
        for f in &port.fixed_ips {
            if !wanted
                .iter()
                .any(|(s, ip)| f.subnet_id == s.id && f.ip_address == ip.to_string())
            {
                all.push(FixedIpRequest {
                    subnet_id: Some(f.subnet_id.clone()),
                    ip_address: Some(f.ip_address.clone()),
                });
            }
        }
        update.fixed_ips = Some(all);
    }
    // Not in nested mode: Neutron refuses (409 PortInUse) to make a port with a
    // device id a trunk subport, and nested ports are found by their tags anyway.
    if update != PortUpdate::default() && port.device_id.is_empty() && host.is_some() {
        update.device_id = Some(eid.to_string());
    }
    update
}

/// The port's tags plus the endpoint's, and `compute:kuryr` on kuryr's own ports
/// (RequestAddress leaves that to this single tag request).
fn endpoint_tags(port: &Port, eid: &str) -> Vec<String> {
    let mut tags = port.tags.clone();
    let mut wanted = names::id_tags(eid);
    if names::is_kuryr_port(&port.name, &port.device_id, &port.tags) {
        wanted.push(names::PORT_OWNED.to_string());
    }
    for tag in wanted {
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// Binds `port` to endpoint `eid` and plugs it. When RequestAddress already bound it
/// to this host (the usual case), the port update, the tag request and the plug are
/// independent and run at once; otherwise the update must come first, since its
/// answer says how to plug (`binding:vif_type`). Any failure undoes all three (B9).
async fn attach(
    d: &NeutronDriver,
    port: &Port,
    eid: &str,
    wanted: &[(SubnetInfo, IpAddr)],
    mac: Option<&str>,
    mtu: Option<u32>,
) -> Result<(Port, Vif), Error> {
    // Nested ports are never bound: the VM's port carries their traffic.
    let host = d.nested.is_none().then_some(d.settings.host.as_str());
    let mut update = port_update(port, host, eid, wanted, mac);
    if update.mac_address.is_some() && is_bound(port) {
        // Neutron refuses a new MAC on a bound port (PortBound): a pool port, or one
        // made without Docker's MAC, given a --mac-address. Unbind, then rebind below.
        let unbind = PortUpdate {
            binding_host_id: Some(String::new()),
            ..PortUpdate::default()
        };
        d.client.update::<Port, _>(&port.id, &unbind).await?;
        update.binding_host_id = host.map(str::to_string);
        update.device_owner = host.map(|_| names::DEVICE_OWNER.to_string());
    }
    let tags = endpoint_tags(port, eid);
    let rebinds = update.binding_host_id.is_some()
        || update.mac_address.is_some()
        || update.fixed_ips.is_some()
        || !pluggable(&port.binding_vif_type);
    let send_update = async {
        if update == PortUpdate::default() {
            Ok(port.clone())
        } else {
            d.client.update::<Port, _>(&port.id, &update).await
        }
    };
    let send_tags = async {
        if tags == port.tags {
            Ok(())
        } else {
            d.client.set_tags(Kind::Ports, &port.id, &tags).await
        }
    };
    if rebinds {
        let (updated, tagged) = tokio::join!(send_update, send_tags);
        let mut bound = match updated {
            Ok(bound) => bound,
            Err(e) => {
                undo(d, port, Some(port), &vif_of(port, eid, mtu)).await;
                return Err(e.into());
            }
        };
        let vif = vif_of(&bound, eid, mtu);
        if let Err(e) = tagged {
            undo(d, &bound, Some(port), &vif).await;
            return Err(e.into());
        }
        if let Err(e) = plug(d, &vif, &bound).await {
            undo(d, &bound, Some(port), &vif).await;
            return Err(e);
        }
        bound.tags = tags;
        return Ok((bound, vif));
    }
    let vif = vif_of(port, eid, mtu);
    let (updated, tagged, plugged) = tokio::join!(send_update, send_tags, plug(d, &vif, port));
    let mut errors: Vec<Error> = Vec::new();
    let bound = updated.map_err(|e| errors.push(e.into())).ok();
    if let Err(e) = tagged {
        errors.push(e.into());
    }
    let plugged = plugged.map_err(|e| errors.push(e)).is_ok();
    match bound {
        Some(mut bound) if errors.is_empty() => {
            bound.tags = tags;
            Ok((bound, vif))
        }
        _ => {
            if plugged && let Err(error) = unplug(d, &vif, &ips_of(port)).await {
                tracing::warn!(%error, "unplugging after a failed CreateEndpoint");
            }
            undo(d, port, Some(port), &vif).await;
            Err(Error::all(errors))
        }
    }
}

/// Whether Neutron has bound the port (then its MAC cannot change).
fn is_bound(port: &Port) -> bool {
    !port.binding_host_id.is_empty()
        && !matches!(
            port.binding_vif_type.as_str(),
            "" | "unbound" | "binding_failed"
        )
}

fn pluggable(vif_type: &str) -> bool {
    !matches!(vif_type, "" | "unbound" | "binding_failed")
}

fn vif_of(port: &Port, eid: &str, mtu: Option<u32>) -> Vif {
    Vif {
        port_id: port.id.clone(),
        endpoint_id: eid.to_string(),
        network_id: port.network_id.clone(),
        project_id: port.project_id.clone().unwrap_or_default(),
        mac: port.mac_address.to_ascii_lowercase(),
        mtu,
        vif_type: port.binding_vif_type.clone(),
        vif_details: port.binding_vif_details.clone(),
        vlan: None,
    }
}

/// Plugs the host side, refusing ports Neutron could not bind (B14: wrong host name).
/// In nested mode the port is first made reachable through the VM's port, and that
/// is undone if the plug fails.
async fn plug(d: &NeutronDriver, vif: &Vif, port: &Port) -> Result<(), Error> {
    if let Some(nested) = &d.nested {
        let vlan = nested.attach(d, port).await?;
        let vif = Vif {
            vlan,
            ..vif.clone()
        };
        let Err(e) = d.binder.bind(&vif).await else {
            return Ok(());
        };
        let mut errors = vec![Error::from(e)];
        if let Err(undo) = nested.detach(d, &port.id, &ips_of(port), &vif.mac).await {
            errors.push(undo);
        }
        return Err(Error::all(errors));
    }
    if !pluggable(&vif.vif_type) {
        return Err(Error::Unsupported(format!(
            "Neutron did not bind port {} to host {:?} (binding:vif_type {:?}); \
             check that an L2 agent runs there, or set [neutron] binding_host",
            vif.port_id,
            d.settings.host,
            if vif.vif_type.is_empty() {
                "unbound"
            } else {
                &vif.vif_type
            }
        )));
    }
    d.binder.bind(vif).await.map_err(Error::from)
}

/// Undoes [`plug`]: the host side, then in nested mode the VM port's pair or
/// subport. Both are tried; every error is reported.
async fn unplug(d: &NeutronDriver, vif: &Vif, ips: &[IpAddr]) -> Result<(), Error> {
    let mut errors: Vec<Error> = Vec::new();
    if let Err(e) = d.binder.unbind(vif).await {
        errors.push(e.into());
    }
    if let Some(nested) = &d.nested
        && let Err(e) = nested.detach(d, &vif.port_id, ips, &vif.mac).await
    {
        errors.push(e);
    }
    Error::from_all(errors)
}

fn ips_of(port: &Port) -> Vec<IpAddr> {
    port.fixed_ips
        .iter()
        .filter_map(|f| f.ip_address.parse().ok())
        .collect()
}

/// Rollback of CreateEndpoint: a port it made is deleted, a port it bound gets its
/// binding, owner, device and tags back.
async fn undo(d: &NeutronDriver, port: &Port, before: Option<&Port>, vif: &Vif) {
    let result = match before {
        None => d.client.delete(Kind::Ports, &port.id).await,
        Some(b) => {
            let restore = PortUpdate {
                binding_host_id: Some(b.binding_host_id.clone()),
                device_owner: Some(b.device_owner.clone()),
                device_id: Some(b.device_id.clone()),
                ..PortUpdate::default()
            };
            match d.client.update::<Port, _>(&port.id, &restore).await {
                Ok(_) => d.client.set_tags(Kind::Ports, &port.id, &b.tags).await,
                Err(e) => Err(e),
            }
        }
    };
    if let Err(error) = result {
        tracing::warn!(port = %vif.port_id, %error, "rollback of CreateEndpoint failed");
    }
}

/// The endpoint from the cache, or rebuilt from Neutron after a restart.
pub(super) async fn endpoint(
    d: &NeutronDriver,
    nid: &str,
    eid: &str,
) -> Result<EndpointInfo, Error> {
    if let Some(info) = d.cache().endpoints.get(eid) {
        return Ok(info.clone());
    }
    let net = d
        .network(nid)
        .await?
        .ok_or_else(|| Error::UnknownNetwork(nid.to_string()))?;
    let port = d
        .endpoint_port(eid)
        .await?
        .ok_or_else(|| Error::UnknownEndpoint(eid.to_string()))?;
    let subnets: Vec<SubnetInfo> = net
        .subnets
        .iter()
        .filter(|s| port.fixed_ips.iter().any(|f| f.subnet_id == s.id))
        .cloned()
        .collect();
    let info = EndpointInfo {
        port_id: port.id.clone(),
        existing: port.tags.iter().any(|t| t == names::PORT_EXISTING),
        status: port.status.clone(),
        status_at: Instant::now(),
        tags: port.tags.clone(),
        security_groups: port.security_groups.clone(),
        exposed_groups: None,
        vif: vif_of(&port, eid, net.mtu),
        ips: ips_of(&port),
        subnets,
        network_subnets: net.subnets.clone(),
    };
    d.cache().endpoints.insert(eid.to_string(), info.clone());
    Ok(info)
}

/// DeleteEndpoint: unplugs the host side. A kuryr port stays until ReleaseAddress
/// deletes it; a user's port loses the endpoint tags now. Unknown is success.
pub async fn delete(d: &NeutronDriver, nid: &str, eid: &str) -> Result<(), Error> {
    let _guard = d.locks.lock(&format!("ep:{eid}")).await;
    let info = match endpoint(d, nid, eid).await {
        Ok(info) => info,
        Err(Error::UnknownEndpoint(_) | Error::UnknownNetwork(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut errors: Vec<Error> = Vec::new();
    if let Err(e) = unplug(d, &info.vif, &info.ips).await {
        errors.push(e);
    }
    if info.existing {
        let ours = names::id_tags(eid);
        let kept: Vec<String> = info
            .tags
            .iter()
            .filter(|t| !ours.contains(t))
            .cloned()
            .collect();
        if kept.len() != info.tags.len()
            && let Err(e) = d.client.set_tags(Kind::Ports, &info.port_id, &kept).await
        {
            errors.push(e.into());
        }
    }
    d.cache().endpoints.remove(eid);
    Error::from_all(errors)
}

pub async fn join(d: &NeutronDriver, nid: &str, eid: &str) -> Result<JoinReply, Error> {
    let info = endpoint(d, nid, eid).await?;
    let gateway = |v6: bool| {
        info.subnets
            .iter()
            .find(|s| s.cidr.addr().is_ipv6() == v6)
            .and_then(|s| s.gateway)
    };
    // kuryr-libnetwork gathers the host routes of every subnet of the network.
    let static_routes = info
        .network_subnets
        .iter()
        .flat_map(|s| &s.host_routes)
        .filter_map(|r| {
            Some(StaticRoute {
                destination: r.destination.parse().ok()?,
                next_hop: Some(r.nexthop.parse().ok()?),
            })
        })
        .collect();
    Ok(JoinReply {
        src_name: container_ifname(&info.port_id),
        dst_prefix: d.settings.veth_dst_prefix.clone(),
        gateway: gateway(false),
        gateway_ipv6: gateway(true),
        static_routes,
        disable_gateway_service: true,
    })
}

/// `{"status": <port status>}`; a status other than ACTIVE is re-read at most once a
/// second, so dockerd's back-to-back calls cost one request at most.
pub async fn oper_info(d: &NeutronDriver, nid: &str, eid: &str) -> Result<OperInfo, Error> {
    let mut info = match endpoint(d, nid, eid).await {
        Ok(info) => info,
        Err(Error::UnknownEndpoint(_) | Error::UnknownNetwork(_)) => {
            return Ok(OperInfo::new());
        }
        Err(e) => return Err(e),
    };
    if info.status != ACTIVE && info.status_at.elapsed() >= STATUS_TTL {
        let port: Port = d.client.get(&info.port_id).await?;
        info.status = port.status;
        info.status_at = Instant::now();
        if let Some(cached) = d.cache().endpoints.get_mut(eid) {
            cached.status = info.status.clone();
            cached.status_at = info.status_at;
        }
    }
    let mut value = OperInfo::new();
    value.insert("status".to_string(), info.status);
    Ok(value)
}
