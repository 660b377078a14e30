//! Model replies into wire replies: the way back out of `decode`. Every reply dockerd
//! reads is built here, so the rules about what a reply may carry (only fields Docker
//! left empty, plain IPs for gateways, CIDRs for routes) live in one place.

use super::ipam as wire_ipam;
use super::keys;
use super::network as wire;
use crate::model::{AddressSpaces, EndpointReply, GwSkip, JoinReply, OperInfo, PoolGrant, Scope};
use ipnet::IpNet;
use std::collections::BTreeMap;

pub fn network_capabilities(scope: Scope) -> wire::CapabilitiesResponse {
    wire::CapabilitiesResponse {
        scope: scope.as_str(),
        connectivity_scope: scope.as_str(),
    }
}

pub fn ipam_capabilities(requires_mac_address: bool) -> wire_ipam::CapabilitiesResponse {
    wire_ipam::CapabilitiesResponse {
        requires_mac_address,
        requires_request_replay: false,
    }
}

impl From<AddressSpaces> for wire_ipam::DefaultAddressSpacesResponse {
    fn from(spaces: AddressSpaces) -> Self {
        wire_ipam::DefaultAddressSpacesResponse {
            local: spaces.local,
            global: spaces.global,
        }
    }
}

impl From<PoolGrant> for wire_ipam::RequestPoolResponse {
    fn from(grant: PoolGrant) -> Self {
        let mut data = BTreeMap::new();
        if let Some(gateway) = grant.gateway {
            data.insert(keys::GATEWAY_TYPE.to_owned(), gateway.to_string());
        }
        wire_ipam::RequestPoolResponse {
            pool_id: grant.pool_id.into_string(),
            pool: grant.pool,
            data,
        }
    }
}

impl From<IpNet> for wire_ipam::RequestAddressResponse {
    fn from(address: IpNet) -> Self {
        wire_ipam::RequestAddressResponse {
            address,
            data: BTreeMap::new(),
        }
    }
}

impl From<EndpointReply> for wire::CreateEndpointResponse {
    fn from(reply: EndpointReply) -> Self {
        wire::CreateEndpointResponse {
            interface: wire::EndpointInterfaceReply {
                mac_address: reply.mac,
                ..Default::default()
            },
        }
    }
}

impl From<JoinReply> for wire::JoinResponse {
    fn from(reply: JoinReply) -> Self {
        wire::JoinResponse {
            interface_name: wire::InterfaceName {
                src_name: reply.src_name,
                dst_prefix: reply.dst_prefix,
            },
            gateway: reply.gateway,
            gateway_ipv6: reply.gateway_ipv6,
            static_routes: reply
                .static_routes
                .into_iter()
                .map(|route| wire::StaticRoute {
                    destination: route.destination,
                    route_type: if route.next_hop.is_some() { 0 } else { 1 },
                    next_hop: route.next_hop,
                })
                .collect(),
            disable_gateway_service: reply.disable_gateway_service,
        }
    }
}

pub fn oper_info(info: OperInfo) -> wire::EndpointOperInfoResponse {
    wire::EndpointOperInfoResponse {
        value: info
            .into_iter()
            .map(|(key, value)| (key, serde_json::Value::String(value)))
            .collect(),
    }
}

impl From<GwSkip> for wire::GwAllocCheckResponse {
    fn from(skip: GwSkip) -> Self {
        wire::GwAllocCheckResponse {
            skip_ipv4: skip.ipv4,
            skip_ipv6: skip.ipv6,
        }
    }
}

pub fn allocated(options: crate::model::DriverOptions) -> wire::AllocateNetworkResponse {
    wire::AllocateNetworkResponse {
        options: options.into_map(),
    }
}
