//! Published ports (`-p`, `-P`) of the embedded backend. ProgramExternalConnectivity
//! chooses each binding's host port (the first free one of a range; for `-P`, whose
//! host port 0 dockerd leaves to the driver, the first free one from 49153), refuses a
//! host port another endpoint already publishes, stores the result with the endpoint,
//! and rebuilds the packet filter (DNAT, hairpin masquerade) from the state;
//! RevokeExternalConnectivity and DeleteEndpoint take it out again.
//!
//! 127.0.0.1 and ::1 are not served: a DNAT from loopback to a bridge needs
//! `route_localnet`, which kuryr does not set. A binding without a host address is
//! reachable on every other local address; one on a loopback address is refused.

use super::Embedded;
use super::state::State;
use crate::Error;
use crate::hostnet::PortForward;
use crate::model::{Connectivity, EndpointRef, PortBinding, Protocol};
use crate::store::{EndpointRecord, Op, PublishedPort};
use ipnet::IpNet;
use std::net::IpAddr;

/// Where host ports for `-P` (host port 0) come from, like Docker's default.
const EPHEMERAL: (u16, u16) = (49153, 65535);

/// The host ports for `requested` on `endpoint`, given what `others` publish, or why
/// not: a loopback or wrong-family host address, or a host port already published
/// (naming the port and the endpoint that holds it). Pure.
pub(super) fn choose<'a>(
    requested: &[PortBinding],
    endpoint: &EndpointRecord,
    others: impl IntoIterator<Item = &'a EndpointRecord>,
) -> Result<Vec<PublishedPort>, Error> {
    let mut taken: Vec<(PublishedPort, String)> = others
        .into_iter()
        .filter(|other| other.endpoint_id != endpoint.endpoint_id)
        .flat_map(|other| {
            other
                .published
                .iter()
                .map(|port| (*port, other.endpoint_id.clone()))
        })
        .collect();
    let mut chosen = Vec::new();
    for binding in requested {
        if let Some(ip) = binding.host_ip {
            if !check_host_ip(ip, endpoint)? {
                continue;
            }
        }
        let (first, last) = match (binding.host_port, binding.host_port_end) {
            (0, _) => EPHEMERAL,
            (first, end) if end > first => (first, end),
            (first, _) => (first, first),
        };
        let candidate = |host_port| PublishedPort {
            proto: proto_number(binding.proto),
            host_ip: binding.host_ip,
            host_port,
            port: binding.port,
        };
        let free = (first..=last)
            .map(candidate)
            .find(|port| !taken.iter().any(|(other, _)| overlaps(port, other)));
        let Some(port) = free else {
            let wanted = candidate(first);
            let holder = taken
                .iter()
                .find(|(other, _)| overlaps(&wanted, other))
                .map_or("this endpoint", |(_, id)| id.as_str());
            let ports = if last > first {
                format!("host ports {first}-{last}")
            } else {
                format!("host port {first}")
            };
            return Err(Error::InvalidOption(format!(
                "{} {ports}/{} is already published by endpoint {holder}",
                binding.host_ip.map_or("*".to_owned(), |ip| ip.to_string()),
                binding.proto
            )));
        };
        taken.push((port, endpoint.endpoint_id.clone()));
        chosen.push(port);
    }
    Ok(chosen)
}

/// Whether a binding on `ip` has something to serve: not on a loopback address, and
/// not in a family the endpoint has no address of (an error for a named address; for
/// `0.0.0.0` or `::`, "every address of that family", nothing to do).
fn check_host_ip(ip: IpAddr, endpoint: &EndpointRecord) -> Result<bool, Error> {
    if ip.is_loopback() {
        return Err(Error::Unsupported(format!(
            "kuryr does not publish ports on {ip}: a loopback address would need \
             route_localnet; omit the host address to publish on the host's other addresses"
        )));
    }
    let has_family = if ip.is_ipv4() {
        endpoint.address.is_some()
    } else {
        endpoint.address_ipv6.is_some()
    };
    if has_family || ip.is_unspecified() {
        Ok(has_family)
    } else {
        Err(Error::InvalidOption(format!(
            "cannot publish on {ip}: endpoint {} has no address of its family",
            endpoint.endpoint_id
        )))
    }
}

/// Two bindings of one host port and protocol collide unless they name different
/// host addresses (`0.0.0.0` and `::` stand for every address of their family).
fn overlaps(a: &PublishedPort, b: &PublishedPort) -> bool {
    let addresses = match (a.host_ip, b.host_ip) {
        (None, _) | (_, None) => true,
        (Some(x), Some(y)) => {
            x == y || (x.is_ipv4() == y.is_ipv4() && (x.is_unspecified() || y.is_unspecified()))
        }
    };
    a.proto == b.proto && a.host_port == b.host_port && addresses
}

fn proto_number(proto: Protocol) -> u8 {
    match proto {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
        Protocol::Sctp => 132,
    }
}

/// The forwards of `endpoint`'s published ports, one per family it serves. Pure.
pub(super) fn forwards(endpoint: &EndpointRecord) -> Vec<PortForward> {
    let mut forwards = Vec::new();
    for published in &endpoint.published {
        let Some(proto) = Protocol::from_number(published.proto.into()) else {
            tracing::error!(endpoint_id = %endpoint.endpoint_id, "stored port of protocol {} ignored", published.proto);
            continue;
        };
        let families: [(Option<IpNet>, bool); 2] = [
            (
                endpoint.address,
                published.host_ip.is_none_or(|ip| ip.is_ipv4()),
            ),
            (
                endpoint.address_ipv6,
                published.host_ip.is_none_or(|ip| ip.is_ipv6()),
            ),
        ];
        for (address, serves) in families {
            if let (Some(container), true) = (address, serves) {
                forwards.push(PortForward {
                    proto,
                    host_ip: published.host_ip,
                    host_port: published.host_port,
                    container,
                    port: published.port,
                });
            }
        }
    }
    forwards
}

pub(super) async fn program(backend: &Embedded, req: Connectivity) -> Result<(), Error> {
    let endpoint_id = req.endpoint_id.to_string();
    set(backend, &endpoint_id, |state, endpoint| {
        choose(&req.port_bindings, endpoint, state.endpoints.values())
    })
    .await?
    .ok_or(Error::UnknownEndpoint(endpoint_id))
}

/// Revoke of an endpoint already deleted (or never ours) has nothing to take out.
pub(super) async fn revoke(backend: &Embedded, ep: EndpointRef) -> Result<(), Error> {
    set(backend, ep.endpoint_id.as_str(), |_, _| Ok(Vec::new()))
        .await
        .map(|_| ())
}

/// Replaces the endpoint's published ports with what `choose` returns, durably, then
/// rebuilds the packet filter; on failure the old ports come back. `None`: no such
/// endpoint. Nothing to change is success without a rebuild.
async fn set(
    backend: &Embedded,
    endpoint_id: &str,
    choose: impl FnOnce(&State, &EndpointRecord) -> Result<Vec<PublishedPort>, Error>,
) -> Result<Option<()>, Error> {
    let (old, pending) = {
        let mut state = backend.lock();
        let Some(endpoint) = state.endpoints.get(endpoint_id) else {
            return Ok(None);
        };
        let new = choose(&state, endpoint)?;
        if new == endpoint.published {
            return Ok(Some(()));
        }
        let mut record = endpoint.clone();
        let old = std::mem::replace(&mut record.published, new);
        state
            .endpoints
            .insert(record.endpoint_id.clone(), record.clone());
        (old, backend.store.submit(vec![Op::PutEndpoint(record)]))
    };
    let restore = |state: &mut State| match state.endpoints.get_mut(endpoint_id) {
        Some(record) => {
            record.published = old;
            vec![Op::PutEndpoint(record.clone())]
        }
        None => Vec::new(),
    };
    if let Err(error) = pending.wait().await {
        // A failed commit stops the store: only memory is left to put back.
        restore(&mut backend.lock());
        return Err(error.into());
    }
    backend.sync_firewall_or_undo(restore).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: &str, published: &[(Option<&str>, u16)]) -> EndpointRecord {
        EndpointRecord {
            endpoint_id: id.into(),
            network_id: "n".into(),
            host_ifname: "kvh".into(),
            container_ifname: "kvc".into(),
            mac: [2, 0, 0, 0, 0, 1],
            address: Some("10.1.0.5/24".parse().unwrap()),
            address_ipv6: None,
            published: published
                .iter()
                .map(|(ip, host_port)| PublishedPort {
                    proto: 6,
                    host_ip: ip.map(|ip| ip.parse().unwrap()),
                    host_port: *host_port,
                    port: 80,
                })
                .collect(),
        }
    }

    fn tcp(host_ip: Option<&str>, host_port: u16, host_port_end: u16) -> PortBinding {
        PortBinding {
            proto: Protocol::Tcp,
            port: 80,
            host_ip: host_ip.map(|ip| ip.parse().unwrap()),
            host_port,
            host_port_end,
        }
    }

    fn host_ports(ports: &[PublishedPort]) -> Vec<u16> {
        ports.iter().map(|port| port.host_port).collect()
    }

    #[test]
    fn a_taken_host_port_is_refused_naming_port_and_holder() {
        let me = endpoint("me", &[]);
        let holder = endpoint("holder", &[(None, 8080)]);
        let err = choose(&[tcp(None, 8080, 8080)], &me, [&holder]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "* host port 8080/tcp is already published by endpoint holder"
        );
        // A specific address collides with the wildcard, and the wildcard with it.
        assert!(choose(&[tcp(Some("192.0.2.1"), 8080, 0)], &me, [&holder]).is_err());
        let specific = endpoint("specific", &[(Some("192.0.2.1"), 9090)]);
        assert!(choose(&[tcp(None, 9090, 0)], &me, [&specific]).is_err());
        // Two different addresses, another protocol or port: no collision.
        let ok = choose(&[tcp(Some("192.0.2.2"), 9090, 0)], &me, [&specific]).unwrap();
        assert_eq!(host_ports(&ok), [9090]);
        let udp = PortBinding {
            proto: Protocol::Udp,
            ..tcp(None, 8080, 0)
        };
        assert_eq!(choose(&[udp], &me, [&holder]).unwrap()[0].proto, 17);
        // The endpoint's own earlier ports do not block a repeated Program.
        let again = endpoint("holder", &[]);
        assert!(choose(&[tcp(None, 8080, 0)], &again, [&holder]).is_ok());
        // 0.0.0.0 is every IPv4 address, :: every IPv6 one (none here: skipped).
        assert!(choose(&[tcp(Some("0.0.0.0"), 9090, 0)], &me, [&specific]).is_err());
        let wild = endpoint("wild", &[(Some("0.0.0.0"), 6060)]);
        assert!(choose(&[tcp(Some("192.0.2.3"), 6060, 0)], &me, [&wild]).is_err());
        assert!(
            choose(&[tcp(Some("::"), 6060, 0)], &me, [&wild])
                .unwrap()
                .is_empty()
        );
        // Twice the same port in one request.
        let err = choose(&[tcp(None, 7070, 0), tcp(None, 7070, 0)], &me, []).unwrap_err();
        assert!(err.to_string().contains("by endpoint me"), "{err}");
    }

    #[test]
    fn ranges_and_dash_p_take_the_first_free_port() {
        let me = endpoint("me", &[]);
        let holder = endpoint("holder", &[(None, 8000), (None, 8001), (None, 49153)]);
        let got = choose(&[tcp(None, 8000, 8005), tcp(None, 0, 0)], &me, [&holder]).unwrap();
        assert_eq!(host_ports(&got), [8002, 49154]);
        let err = choose(&[tcp(None, 8000, 8001)], &me, [&holder]).unwrap_err();
        assert!(
            err.to_string().contains("host ports 8000-8001/tcp"),
            "{err}"
        );
    }

    #[test]
    fn loopback_and_missing_families_are_refused() {
        let me = endpoint("me", &[]);
        for ip in ["127.0.0.1", "::1"] {
            let err = choose(&[tcp(Some(ip), 8080, 0)], &me, []).unwrap_err();
            assert!(err.to_string().contains("route_localnet"), "{err}");
        }
        let err = choose(&[tcp(Some("2001:db8::1"), 8080, 0)], &me, []).unwrap_err();
        assert!(
            err.to_string().contains("no address of its family"),
            "{err}"
        );
    }

    #[test]
    fn forwards_serve_each_family_the_endpoint_has() {
        let mut dual = endpoint("d", &[(None, 8080), (Some("2001:db8::1"), 8443)]);
        dual.address_ipv6 = Some("fd00::5/64".parse().unwrap());
        let got: Vec<(Option<IpAddr>, String)> = forwards(&dual)
            .into_iter()
            .map(|f| (f.host_ip, f.container.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (None, "10.1.0.5/24".to_owned()),
                (None, "fd00::5/64".to_owned()),
                (
                    Some("2001:db8::1".parse().unwrap()),
                    "fd00::5/64".to_owned()
                ),
            ]
        );
        assert!(forwards(&endpoint("v4", &[])).is_empty());
    }
}
