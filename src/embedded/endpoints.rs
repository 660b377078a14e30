//! NetworkDriver endpoint calls of the embedded backend: a veth pair per endpoint, the
//! host end on the network's bridge, the container end handed to dockerd at Join.

use super::Embedded;
use super::networks::check_docker_id;
use super::options;
use crate::Error;
use crate::api::{Empty, MacAddress, keys, network as wire};
use crate::hostnet::{VethSpec, names};
use crate::store::{EndpointRecord, Op, SubnetRecord};
use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;

pub(super) async fn create_endpoint(
    backend: &Embedded,
    req: wire::CreateEndpointRequest,
) -> Result<wire::CreateEndpointResponse, Error> {
    check_docker_id("EndpointID", &req.endpoint_id)?;
    options::endpoint_options(&req.options)?;
    let docker_mac = req.interface.mac_address;
    let network = {
        let state = backend.lock();
        if let Some(existing) = state.endpoints.get(&req.endpoint_id) {
            // A repeated CreateEndpoint (a retried request) gets the same answer.
            return Ok(reply(docker_mac, existing.mac));
        }
        state
            .networks
            .get(&req.network_id)
            .cloned()
            .ok_or_else(|| Error::UnknownNetwork(req.network_id.clone()))?
    };

    let mac = docker_mac.map_or_else(|| names::endpoint_mac(&req.endpoint_id), |mac| mac.0);
    let record = EndpointRecord {
        endpoint_id: req.endpoint_id.clone(),
        network_id: req.network_id.clone(),
        host_ifname: names::veth_host_name(&req.endpoint_id),
        container_ifname: names::veth_container_name(&req.endpoint_id),
        mac,
        address: req.interface.address,
        address_ipv6: req.interface.address_ipv6,
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
        let cause = Error::from(error);
        return Err(match backend.host.delete_link(&record.host_ifname).await {
            Ok(()) => cause,
            Err(undo) => Error::List(vec![cause, undo.into()]),
        });
    }
    Ok(reply(docker_mac, mac))
}

/// dockerd refuses a reply that sets a field it already has, even to the same value, so
/// the MAC is only returned when dockerd left it empty.
fn reply(docker_mac: Option<MacAddress>, mac: [u8; 6]) -> wire::CreateEndpointResponse {
    wire::CreateEndpointResponse {
        interface: wire::EndpointInterfaceReply {
            mac_address: docker_mac.is_none().then_some(MacAddress(mac)),
            ..Default::default()
        },
    }
}

pub(super) async fn delete_endpoint(
    backend: &Embedded,
    req: wire::EndpointRequest,
) -> Result<Empty, Error> {
    let (host_ifname, pending) = {
        let mut state = backend.lock();
        match state.endpoints.remove(&req.endpoint_id) {
            Some(record) => (
                record.host_ifname,
                Some(backend.store.submit(vec![Op::DeleteEndpoint {
                    endpoint_id: req.endpoint_id.clone(),
                }])),
            ),
            // Unknown endpoint: still remove the veth its id would have had.
            None => (names::veth_host_name(&req.endpoint_id), None),
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
    Error::from_all(errors).map(|()| Empty {})
}

pub(super) fn join(
    backend: &Embedded,
    req: &wire::JoinRequest,
) -> Result<wire::JoinResponse, Error> {
    let state = backend.lock();
    let endpoint = state
        .endpoints
        .get(&req.endpoint_id)
        .ok_or_else(|| Error::UnknownEndpoint(req.endpoint_id.clone()))?;
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
    Ok(wire::JoinResponse {
        interface_name: wire::InterfaceName {
            src_name: endpoint.container_ifname.clone(),
            dst_prefix: backend.settings.veth_dst_prefix.clone(),
        },
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

pub(super) fn oper_info(
    backend: &Embedded,
    req: &wire::EndpointRequest,
) -> wire::EndpointOperInfoResponse {
    let state = backend.lock();
    let mut value = wire::ValueMap::new();
    if let Some(endpoint) = state.endpoints.get(&req.endpoint_id) {
        value.insert(
            "host_interface".into(),
            Value::from(endpoint.host_ifname.clone()),
        );
        value.insert(
            "mac_address".into(),
            Value::from(MacAddress(endpoint.mac).to_string()),
        );
        if let Some(network) = state.networks.get(&endpoint.network_id) {
            value.insert("bridge".into(), Value::from(network.bridge.clone()));
        }
    }
    wire::EndpointOperInfoResponse { value }
}

/// dockerd opens no host listener for a remote driver's ports (spec §3.10), and the
/// embedded backend does no NAT: published ports are reachable on the container's own
/// address from the host only. Say so rather than pretend.
pub(super) fn program_external_connectivity(req: &wire::ProgramExternalConnectivityRequest) {
    let published = req
        .options
        .get(keys::PORT_MAP)
        .and_then(Value::as_array)
        .is_some_and(|ports| !ports.is_empty());
    if published {
        tracing::warn!(
            endpoint_id = %req.endpoint_id,
            "port publishing (-p) is not implemented by the embedded backend; \
             reach the container on its own address instead"
        );
    }
}
