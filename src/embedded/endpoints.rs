//! NetworkDriver endpoint calls of the embedded backend: a veth pair per endpoint, the
//! host end on the network's bridge, the container end handed to dockerd at Join.

use super::Embedded;
use super::{firewall, options};
use crate::Error;
use crate::hostnet::{VethSpec, names};
use crate::model::{
    EndpointRef, EndpointReply, EndpointSpec, JoinReply, JoinSpec, MacAddress, OperInfo,
};
use crate::store::{EndpointRecord, Op, SubnetRecord};
use ipnet::IpNet;
use std::net::IpAddr;

pub(super) async fn create_endpoint(
    backend: &Embedded,
    spec: EndpointSpec,
) -> Result<EndpointReply, Error> {
    options::endpoint_options(&spec.options)?;
    if spec.ifname.is_some() {
        // Docker names the interface from DstPrefix; the requested name is for a
        // future dockerd that honours DstName (spec §3.8). Say so rather than pretend.
        tracing::info!(endpoint_id = %spec.endpoint_id, "endpoint.ifname is left to dockerd");
    }
    let docker_mac = spec.mac;
    let network = {
        let state = backend.lock();
        if let Some(existing) = state.endpoints.get(spec.endpoint_id.as_str()) {
            // A repeated CreateEndpoint (a retried request) gets the same answer.
            return Ok(reply(docker_mac, existing.mac));
        }
        state
            .networks
            .get(spec.network_id.as_str())
            .cloned()
            .ok_or_else(|| Error::UnknownNetwork(spec.network_id.to_string()))?
    };
    // Docker checks static addresses against the network's pools before it calls us,
    // but a request sent straight to the socket may not have been.
    for address in [spec.address, spec.address_ipv6].into_iter().flatten() {
        let pools = if address.addr().is_ipv4() {
            &network.ipv4
        } else {
            &network.ipv6
        };
        if !pools
            .iter()
            .any(|subnet| subnet.pool.contains(&address.addr()))
        {
            return Err(Error::InvalidOption(format!(
                "Interface address {address} is not in a pool of network {}",
                spec.network_id
            )));
        }
    }

    let mac = docker_mac.map_or_else(|| names::endpoint_mac(&spec.endpoint_id), |mac| mac.0);
    let record = EndpointRecord {
        endpoint_id: spec.endpoint_id.to_string(),
        network_id: spec.network_id.to_string(),
        host_ifname: names::veth_host_name(&spec.endpoint_id),
        container_ifname: names::veth_container_name(&spec.endpoint_id),
        mac,
        address: spec.address,
        address_ipv6: spec.address_ipv6,
        published: Vec::new(),
    };
    backend
        .host
        .create_veth(&VethSpec {
            host: record.host_ifname.clone(),
            container: record.container_ifname.clone(),
            bridge: network.bridge.clone(),
            container_mac: Some(mac),
            mtu: network.mtu,
        })
        .await?;

    let pending = {
        let mut state = backend.lock();
        state
            .endpoints
            .insert(record.endpoint_id.clone(), record.clone());
        backend.store.submit(vec![Op::PutEndpoint(record.clone())])
    };
    if let Err(error) = pending.wait().await {
        backend.lock().endpoints.remove(&record.endpoint_id);
        return Err(delete_veth(backend, &record, error.into()).await);
    }
    // With enable_icc=false the new port joins the drop rule before dockerd gets the
    // veth (its container end is down until then), so no frame passes unfiltered.
    if firewall::tracks_endpoints(&network) {
        let endpoint_id = record.endpoint_id.clone();
        let synced = backend
            .sync_firewall_or_undo(|state| {
                state.endpoints.remove(&endpoint_id);
                vec![Op::DeleteEndpoint { endpoint_id }]
            })
            .await;
        if let Err(error) = synced {
            return Err(delete_veth(backend, &record, error).await);
        }
    }
    Ok(reply(docker_mac, mac))
}

/// Rolls a new endpoint's veth back after `cause`.
async fn delete_veth(backend: &Embedded, record: &EndpointRecord, cause: Error) -> Error {
    match backend.host.delete_link(&record.host_ifname).await {
        Ok(()) => cause,
        Err(undo) => Error::List(vec![cause, undo.into()]),
    }
}

/// dockerd refuses a reply that sets a field it already has, even to the same value, so
/// the MAC is only returned when dockerd left it empty.
fn reply(docker_mac: Option<MacAddress>, mac: [u8; 6]) -> EndpointReply {
    EndpointReply {
        mac: docker_mac.is_none().then_some(MacAddress(mac)),
    }
}

pub(super) async fn delete_endpoint(backend: &Embedded, ep: EndpointRef) -> Result<(), Error> {
    let (host_ifname, pending, resync) = {
        let mut state = backend.lock();
        match state.endpoints.remove(ep.endpoint_id.as_str()) {
            Some(record) => (
                record.host_ifname,
                Some(backend.store.submit(vec![Op::DeleteEndpoint {
                    endpoint_id: ep.endpoint_id.to_string(),
                }])),
                // Published ports go with the endpoint, Revoke or not.
                !record.published.is_empty()
                    || state
                        .networks
                        .get(&record.network_id)
                        .is_some_and(firewall::tracks_endpoints),
            ),
            // Unknown endpoint: still remove the veth its id would have had. The id is
            // a whole Docker id (checked at the edge), so the name cannot alias a live
            // endpoint's veth the way a 12-character prefix could.
            None => (names::veth_host_name(&ep.endpoint_id), None, false),
        }
    };
    let mut errors = Vec::new();
    // Deleting one end of a veth deletes both, wherever the other end lives.
    if let Err(error) = backend.host.delete_link(&host_ifname).await {
        errors.push(error.into());
    }
    if let Some(pending) = pending {
        if let Err(error) = pending.wait().await {
            errors.push(error.into());
        }
    }
    if resync {
        if let Err(error) = backend.sync_firewall().await {
            errors.push(error);
        }
    }
    Error::from_all(errors)
}

pub(super) fn join(backend: &Embedded, req: &JoinSpec) -> Result<JoinReply, Error> {
    let state = backend.lock();
    let endpoint = state
        .endpoints
        .get(req.endpoint_id.as_str())
        .ok_or_else(|| Error::UnknownEndpoint(req.endpoint_id.to_string()))?;
    let network = state
        .networks
        .get(&endpoint.network_id)
        .ok_or_else(|| Error::UnknownNetwork(endpoint.network_id.clone()))?;
    // An internal network must have no external connectivity: no gateway at all, so
    // dockerd installs no default route through it.
    let (gateway, gateway_ipv6) = if network.internal {
        (None, None)
    } else {
        (
            gateway_for(endpoint.address, &network.ipv4),
            gateway_for(endpoint.address_ipv6, &network.ipv6),
        )
    };
    Ok(JoinReply {
        src_name: endpoint.container_ifname.clone(),
        dst_prefix: backend.settings.veth_dst_prefix.clone(),
        gateway,
        gateway_ipv6,
        static_routes: Vec::new(),
        disable_gateway_service: false,
    })
}

/// The gateway of the subnet holding `address`, if the endpoint has one in that family.
fn gateway_for(address: Option<IpNet>, subnets: &[SubnetRecord]) -> Option<IpAddr> {
    let address = address?.addr();
    subnets
        .iter()
        .find(|subnet| subnet.pool.contains(&address))
        .or_else(|| subnets.first())
        .and_then(|subnet| subnet.gateway)
        .map(|gateway| gateway.addr())
}

pub(super) fn oper_info(backend: &Embedded, ep: &EndpointRef) -> OperInfo {
    let state = backend.lock();
    let mut value = OperInfo::new();
    if let Some(endpoint) = state.endpoints.get(ep.endpoint_id.as_str()) {
        value.insert("host_interface".into(), endpoint.host_ifname.clone());
        value.insert("mac_address".into(), MacAddress(endpoint.mac).to_string());
        if let Some(network) = state.networks.get(&endpoint.network_id) {
            value.insert("bridge".into(), network.bridge.clone());
        }
    }
    value
}
