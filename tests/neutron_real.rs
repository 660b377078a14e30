//! Integration tests of the Neutron backend against a REAL Neutron (scripts/neutron-up.sh,
//! noauth, on 127.0.0.1:9696 or $KURYR_NEUTRON_URL). The driver runs in-process with the
//! recording binder, so these check the mapping: what exists in Neutron after each call,
//! names and tags, request counts, restarts with an empty cache, rollback and races.
//! Ignored without `--features live-neutron`; with it, they fail when Neutron does not answer.
//! Every test uses its own CIDRs and ids and removes what it made.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use kuryr::api::network::{JoinRequest, ProgramExternalConnectivityRequest};
use kuryr::neutron::{
    FixedIpRequest, Kind, Network, NetworkCreate, Port, PortCreate, Query, SecurityGroup, Subnet,
    SubnetCreate, SubnetPool, SubnetPoolCreate,
};
use serde_json::json;

#[path = "support/wire_calls.rs"]
mod wire_calls;
use wire_calls::WireCalls;

#[path = "support/neutron_rig.rs"]
mod neutron_rig;
use neutron_rig::*;

/// The lifecycle in dockerd's order (spec §5 / scripts/kuryr-lifecycle.sh), checking
/// Neutron after the interesting steps and counting requests.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn lifecycle_in_dockerd_order_within_the_request_budget() {
    let r = rig().await;
    let d = &r.driver;
    let (nid, eid, pool) = (docker_id(), docker_id(), cidr(1));
    let gw = pool.replace(".0/24", ".1");
    let before = r.client.request_count();

    let p = d
        .request_pool(pool_req(&pool, false, "no_address_space", &[]))
        .await
        .unwrap();
    assert_eq!(p.pool.to_string(), pool);
    let g = d
        .request_address(addr_req(&p.pool_id, Some(&gw), &[GW]))
        .await
        .unwrap();
    assert_eq!(g.address.to_string(), format!("{gw}/24"));
    d.create_network(net_req(
        &nid,
        Some(ipam(&pool, Some(&format!("{gw}/24")))),
        None,
        &[],
    ))
    .await
    .unwrap();
    let a = d
        .request_address(addr_req(&p.pool_id, None, &[(MACKEY, &mac(1))]))
        .await
        .unwrap();
    let ip = a.address.addr();
    let made = d
        .create_endpoint(ep_req(
            &nid,
            &eid,
            Some(&a.address.to_string()),
            None,
            Some(&mac(1)),
        ))
        .await
        .unwrap();
    assert!(made.interface.mac_address.is_none(), "Docker gave the MAC");
    let join = d
        .join(JoinRequest {
            network_id: nid.clone(),
            endpoint_id: eid.clone(),
            sandbox_key: "/var/run/docker/netns/0123456789ab".into(),
            options: BTreeMap::new(),
        })
        .await
        .unwrap();
    d.program_external_connectivity(ProgramExternalConnectivityRequest {
        network_id: nid.clone(),
        endpoint_id: eid.clone(),
        options: BTreeMap::new(),
    })
    .await
    .unwrap();
    let info = d.endpoint_oper_info(ep(&nid, &eid)).await.unwrap();
    d.endpoint_oper_info(ep(&nid, &eid)).await.unwrap();
    d.revoke_external_connectivity(ep(&nid, &eid))
        .await
        .unwrap();
    let during = r.client.request_count() - before;

    // Neutron now holds what kuryr-libnetwork would have made.
    let nets = networks_tagged(&r.check, &nid).await;
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].name, format!("kuryr-net-{}", &nid[..8]));
    let subnets: Vec<Subnet> = r
        .check
        .list(&Query::new().eq("network_id", &nets[0].id))
        .await
        .unwrap();
    assert_eq!(subnets.len(), 1);
    assert_eq!(subnets[0].name, format!("kuryr-subnet-{pool}"));
    assert_eq!(subnets[0].gateway_ip.as_deref(), Some(gw.as_str()));
    assert!(
        subnets[0].tags.contains(&p.pool_id),
        "subnet linked to the PoolID"
    );
    let pools = pools_named(&r.check, &format!("kuryrPool-{pool}")).await;
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].id, p.pool_id);
    let ports = ports_tagged(&r.check, &eid).await;
    assert_eq!(ports.len(), 1, "the endpoint's port carries its tags");
    let port = &ports[0];
    assert_eq!(port.fixed_ips[0].ip_address, ip.to_string());
    assert_eq!(port.mac_address, mac(1));
    assert_eq!(
        port.device_id, "",
        "pre-bound: identified by its tags, no update"
    );
    assert_eq!(port.device_owner, "compute:kuryr");
    assert_eq!(port.binding_host_id, "kuryr-test-host");
    assert!(port.tags.contains(&"compute:kuryr".to_string()));
    assert_eq!(
        join.interface_name.src_name,
        format!("t_c{}", &port.id[..11])
    );
    assert_eq!(join.gateway, Some(gw.parse::<IpAddr>().unwrap()));
    assert_eq!(info.value["status"], json!(port.status));
    assert!(r.binder.bound().contains(&port.id));

    let mark = r.client.request_count();
    d.leave(ep(&nid, &eid)).await.unwrap();
    d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
    assert!(!r.binder.bound().contains(&port.id), "unplugged");
    release_address(d, &p.pool_id, ip).await;
    release_address(d, &p.pool_id, gw.parse().unwrap()).await;
    release_and_delete(d, &nid, &p.pool_id).await;
    let total = during + (r.client.request_count() - mark);
    eprintln!("lifecycle: {total} Neutron requests");
    assert!(
        total <= 12,
        "{total} Neutron requests for one lifecycle (budget 12)"
    );

    assert!(networks_tagged(&r.check, &nid).await.is_empty());
    no_kuryr_pool(&r.check, &pool).await;
    let gone: Result<Port, _> = r.check.get(&port.id).await;
    assert!(
        gone.unwrap_err().is_not_found(),
        "kuryr's port deleted on release"
    );
    // Deletes are idempotent.
    delete_network(d, &nid).await;
    release_pool(d, &p.pool_id).await;
    d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
}

/// A restart between CreateEndpoint and teardown: the fresh driver finds everything
/// by names and tags and leaves nothing behind.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn teardown_after_a_restart_finds_everything_by_tags() {
    let r = rig().await;
    let (nid, eid, pool) = (docker_id(), docker_id(), cidr(2));
    let d = &r.driver;
    let p = d
        .request_pool(pool_req(&pool, false, "no_address_space", &[]))
        .await
        .unwrap();
    d.create_network(net_req(&nid, Some(ipam(&pool, None)), None, &[]))
        .await
        .unwrap();
    let a = d
        .request_address(addr_req(&p.pool_id, None, &[(MACKEY, &mac(2))]))
        .await
        .unwrap();
    d.create_endpoint(ep_req(&nid, &eid, Some(&a.address.to_string()), None, None))
        .await
        .map(|reply| assert_eq!(reply.interface.mac_address.unwrap().to_string(), mac(2)))
        .unwrap();

    let fresh = r.restarted();
    fresh.probe().await.unwrap();
    let join = fresh
        .join(JoinRequest {
            network_id: nid.clone(),
            endpoint_id: eid.clone(),
            sandbox_key: "/var/run/docker/netns/0123456789ab".into(),
            options: BTreeMap::new(),
        })
        .await
        .unwrap();
    assert!(join.gateway.is_some(), "Neutron picked a gateway");
    assert_eq!(
        fresh
            .endpoint_oper_info(ep(&nid, &eid))
            .await
            .unwrap()
            .value["status"],
        json!("ACTIVE")
    );
    teardown(&fresh, &nid, &eid, &p.pool_id, a.address.addr()).await;
    assert!(networks_tagged(&r.check, &nid).await.is_empty());
    assert!(ports_tagged(&r.check, &eid).await.is_empty());
    no_kuryr_pool(&r.check, &pool).await;
}

/// Dual stack, IPv6 without a gateway (B5): one port with both addresses, tagged (B2).
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn dual_stack_endpoint_is_one_tagged_port() {
    let r = rig().await;
    let d = &r.driver;
    let (nid, eid) = (docker_id(), docker_id());
    let (v4, v6) = (
        cidr(3),
        format!("fd00:{:x}:3::/64", std::process::id() % 65536),
    );
    let p4 = d.request_pool(pool_req(&v4, false, "", &[])).await.unwrap();
    let p6 = d.request_pool(pool_req(&v6, true, "", &[])).await.unwrap();
    let g4 = d
        .request_address(addr_req(&p4.pool_id, None, &[GW]))
        .await
        .unwrap();
    let g6 = d
        .request_address(addr_req(&p6.pool_id, None, &[GW]))
        .await
        .unwrap();
    assert!(
        g6.address.addr().is_ipv6(),
        "an IPv6 gateway is offered without --gateway"
    );
    d.create_network(net_req(
        &nid,
        Some(ipam(&v4, Some(&g4.address.to_string()))),
        Some(ipam(&v6, None)),
        &[],
    ))
    .await
    .unwrap();
    let a4 = d
        .request_address(addr_req(&p4.pool_id, None, &[(MACKEY, &mac(3))]))
        .await
        .unwrap();
    let a6 = d
        .request_address(addr_req(&p6.pool_id, None, &[(MACKEY, &mac(3))]))
        .await
        .expect("the v6 address for the same MAC joins the v4 port");
    let ports: Vec<Port> = r
        .check
        .list(&Query::new().eq("mac_address", &mac(3)))
        .await
        .unwrap();
    assert_eq!(
        ports.len(),
        1,
        "one port per endpoint from RequestAddress on"
    );
    let v6_ip = a6.address.addr().to_string();
    d.create_endpoint(ep_req(
        &nid,
        &eid,
        Some(&a4.address.to_string()),
        Some(&format!("{v6_ip}/64")),
        Some(&mac(3)),
    ))
    .await
    .unwrap();
    let tagged = ports_tagged(&r.check, &eid).await;
    assert_eq!(
        tagged.len(),
        1,
        "one port for both families, found by its tags"
    );
    assert_eq!(tagged[0].fixed_ips.len(), 2);
    let join = d
        .join(JoinRequest {
            network_id: nid.clone(),
            endpoint_id: eid.clone(),
            sandbox_key: "/var/run/docker/netns/0123456789ab".into(),
            options: BTreeMap::new(),
        })
        .await
        .unwrap();
    assert!(join.gateway.is_some() && join.gateway_ipv6.is_some());
    d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
    for (pool, ip) in [
        (&p4.pool_id, a4.address.addr()),
        (&p6.pool_id, v6_ip.parse().unwrap()),
    ] {
        release_address(d, pool, ip).await;
    }
    for pool in [&p4.pool_id, &p6.pool_id] {
        release_pool(d, pool).await;
    }
    delete_network(d, &nid).await;
    settled(d).await;
    assert!(networks_tagged(&r.check, &nid).await.is_empty());
    no_ports_with(&r.check, &mac(3)).await;
}

/// No --subnet (B4): CIDRs carved from the default pool, which is never deleted.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn networks_without_subnet_carve_the_default_pool() {
    let name = format!("kuryr-test-default-{}", std::process::id());
    let r = rig_with(&format!("default_subnetpool_v4 = {name}\n")).await;
    let prefix = format!("10.{}.128.0/20", 150 + std::process::id() % 50);
    let sp: SubnetPool = r
        .check
        .create(&SubnetPoolCreate {
            name: name.clone(),
            prefixes: vec![prefix.clone()],
            default_prefixlen: Some(26),
            ..SubnetPoolCreate::default()
        })
        .await
        .unwrap();
    let d = &r.driver;
    let (n1, n2) = (docker_id(), docker_id());
    let p1 = d.request_pool(pool_req("", false, "", &[])).await.unwrap();
    let p2 = d.request_pool(pool_req("", false, "", &[])).await.unwrap();
    assert_ne!(p1.pool, p2.pool, "two networks get two CIDRs");
    assert_eq!(p1.pool.prefix_len(), 26);
    let prefix_net: ipnet::IpNet = prefix.parse().unwrap();
    assert!(prefix_net.contains(&p1.pool.network()));
    for (nid, p) in [(&n1, &p1), (&n2, &p2)] {
        d.create_network(net_req(
            nid,
            Some(ipam(&p.pool.to_string(), None)),
            None,
            &[],
        ))
        .await
        .unwrap();
        let a = d
            .request_address(addr_req(&p.pool_id, None, &[(MACKEY, &mac(40))]))
            .await;
        let a = a.unwrap();
        assert!(p.pool.contains(&a.address.addr()));
        release_address(d, &p.pool_id, a.address.addr()).await;
    }
    let subnets: Vec<Subnet> = r
        .check
        .list(&Query::new().eq("subnetpool_id", &sp.id))
        .await
        .unwrap();
    assert_eq!(
        subnets.len(),
        2,
        "both subnets allocated from the default pool"
    );
    for (nid, p) in [(&n1, &p1), (&n2, &p2)] {
        release_and_delete(d, nid, &p.pool_id).await;
    }
    let kept: Result<SubnetPool, _> = r.check.get(&sp.id).await;
    assert!(kept.is_ok(), "the default pool is never deleted");
    r.check.delete(Kind::SubnetPools, &sp.id).await.unwrap();
}

/// A user's network, subnet and port (-o neutron.net.name): adopted and tagged, the
/// port reset (not deleted) on release, the network kept on delete (B6).
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn user_network_and_port_are_adopted_and_given_back() {
    let r = rig().await;
    let c = &r.check;
    let tag = docker_id();
    let name = format!("user-net-{}", &tag[20..32]);
    let pool = cidr(5);
    let net: Network = c
        .create(&NetworkCreate {
            name: Some(name.clone()),
            ..NetworkCreate::default()
        })
        .await
        .unwrap();
    let subnet: Subnet = c
        .create(&SubnetCreate {
            name: Some(format!("user-subnet-{}", &tag[20..32])),
            network_id: net.id.clone(),
            ip_version: 4,
            cidr: Some(pool.clone()),
            enable_dhcp: Some(false),
            ..SubnetCreate::default()
        })
        .await
        .unwrap();
    let user_ip = pool.replace(".0/24", ".10");
    let user_port: Port = c
        .create(&PortCreate {
            network_id: net.id.clone(),
            name: Some("user-port".into()),
            fixed_ips: Some(vec![FixedIpRequest {
                subnet_id: Some(subnet.id.clone()),
                ip_address: Some(user_ip.clone()),
            }]),
            ..PortCreate::default()
        })
        .await
        .unwrap();
    let d = &r.driver;
    let (nid, eid) = (docker_id(), docker_id());
    let p = d
        .request_pool(pool_req(&pool, false, "", &[]))
        .await
        .unwrap();
    d.create_network(net_req(
        &nid,
        Some(ipam(&pool, None)),
        None,
        &[("neutron.net.name", &name)],
    ))
    .await
    .unwrap();
    let tagged: Network = c.get(&net.id).await.unwrap();
    assert!(
        tagged
            .tags
            .contains(&format!("kuryr.net.existing:{}", &nid[..12]))
    );
    let a = d
        .request_address(addr_req(&p.pool_id, Some(&user_ip), &[(MACKEY, &mac(5))]))
        .await
        .unwrap();
    assert_eq!(a.address.addr().to_string(), user_ip);
    d.create_endpoint(ep_req(
        &nid,
        &eid,
        Some(&a.address.to_string()),
        None,
        Some(&mac(5)),
    ))
    .await
    .unwrap();
    let bound: Port = c.get(&user_port.id).await.unwrap();
    assert!(bound.tags.contains(&"kuryr.port.existing".to_string()));
    assert!(bound.tags.contains(&lh(&eid)));
    assert_eq!(bound.binding_host_id, "kuryr-test-host");
    d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
    release_address(d, &p.pool_id, a.address.addr()).await;
    let reset: Port = c.get(&user_port.id).await.expect("the user's port is kept");
    assert_eq!(reset.binding_host_id, "");
    assert_eq!(reset.device_id, "");
    assert!(
        reset.tags.is_empty(),
        "kuryr's tags removed: {:?}",
        reset.tags
    );
    release_and_delete(d, &nid, &p.pool_id).await;
    let kept: Network = c.get(&net.id).await.expect("the user's network is kept");
    assert!(
        kept.tags.is_empty(),
        "kuryr's tags removed: {:?}",
        kept.tags
    );
    let kept_subnet: Result<Subnet, _> = c.get(&subnet.id).await;
    assert!(kept_subnet.is_ok(), "the user's subnet is kept");
    c.delete(Kind::Ports, &user_port.id).await.unwrap();
    c.delete(Kind::Networks, &net.id).await.unwrap();
}

/// B11: an address held by a port bound to something else is refused, not hijacked.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn a_bound_user_port_is_never_hijacked() {
    let r = rig().await;
    let d = &r.driver;
    let (nid, pool) = (docker_id(), cidr(6));
    let p = d
        .request_pool(pool_req(&pool, false, "", &[]))
        .await
        .unwrap();
    d.create_network(net_req(&nid, Some(ipam(&pool, None)), None, &[]))
        .await
        .unwrap();
    let net = &networks_tagged(&r.check, &nid).await[0];
    let ip = pool.replace(".0/24", ".20");
    let vm: Port = r
        .check
        .create(&PortCreate {
            network_id: net.id.clone(),
            fixed_ips: Some(vec![FixedIpRequest {
                subnet_id: None,
                ip_address: Some(ip.clone()),
            }]),
            device_id: Some("some-vm".into()),
            device_owner: Some("compute:nova".into()),
            ..PortCreate::default()
        })
        .await
        .unwrap();
    let err = d
        .request_address(addr_req(&p.pool_id, Some(&ip), &[(MACKEY, &mac(6))]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&vm.id), "{err}");
    let still: Port = r.check.get(&vm.id).await.unwrap();
    assert!(still.tags.is_empty(), "not tagged by kuryr");
    r.check.delete(Kind::Ports, &vm.id).await.unwrap();
    release_and_delete(d, &nid, &p.pool_id).await;
}

/// Exposed ports become a security group on the endpoint's port (B3), and go away.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn exposed_ports_map_to_a_security_group() {
    let r = rig().await;
    let d = &r.driver;
    let ((nid, pool_id), eid) = (network(d, 7).await, docker_id());
    let a = d
        .request_address(addr_req(&pool_id, None, &[(MACKEY, &mac(7))]))
        .await
        .unwrap();
    d.create_endpoint(ep_req(
        &nid,
        &eid,
        Some(&a.address.to_string()),
        None,
        Some(&mac(7)),
    ))
    .await
    .unwrap();
    let mut options = BTreeMap::new();
    options.insert(
        "com.docker.network.endpoint.exposedports".to_string(),
        json!([{"Proto": 6, "Port": 80}, {"Proto": 6, "Port": 81}, {"Proto": 17, "Port": 53}]),
    );
    d.program_external_connectivity(ProgramExternalConnectivityRequest {
        network_id: nid.clone(),
        endpoint_id: eid.clone(),
        options,
    })
    .await
    .unwrap();
    let port = &ports_tagged(&r.check, &eid).await[0];
    let name = format!("{}-exposed_ports", port.id);
    let groups: Vec<SecurityGroup> = r.check.list(&Query::new().eq("name", &name)).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert!(port.security_groups.contains(&groups[0].id));
    let ingress: Vec<_> = groups[0]
        .security_group_rules
        .iter()
        .filter(|r| r.direction == "ingress")
        .map(|r| {
            (
                r.protocol.clone().unwrap_or_default(),
                r.port_range_min,
                r.port_range_max,
            )
        })
        .collect();
    assert!(
        ingress.contains(&("tcp".into(), Some(80), Some(81))),
        "{ingress:?}"
    );
    assert!(
        ingress.contains(&("udp".into(), Some(53), Some(53))),
        "{ingress:?}"
    );
    // Revoke after a restart (nothing cached) still finds the group.
    let fresh = r.restarted();
    fresh.probe().await.unwrap();
    fresh
        .revoke_external_connectivity(ep(&nid, &eid))
        .await
        .unwrap();
    let groups: Vec<SecurityGroup> = r.check.list(&Query::new().eq("name", &name)).await.unwrap();
    assert!(groups.is_empty());
    teardown(&fresh, &nid, &eid, &pool_id, a.address.addr()).await;
}

/// B9: a failed plug puts the port back as RequestAddress left it; a retry works.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn a_failed_plug_rolls_the_port_back() {
    let r = rig().await;
    let d = &r.driver;
    let ((nid, pool_id), eid) = (network(d, 8).await, docker_id());
    let a = d
        .request_address(addr_req(&pool_id, None, &[(MACKEY, &mac(8))]))
        .await
        .unwrap();
    r.binder.fail_next_bind();
    let req = || {
        ep_req(
            &nid,
            &eid,
            Some(&a.address.to_string()),
            None,
            Some(&mac(8)),
        )
    };
    assert!(d.create_endpoint(req()).await.is_err());
    assert!(
        ports_tagged(&r.check, &eid).await.is_empty(),
        "endpoint tags removed"
    );
    let ports: Vec<Port> = r
        .check
        .list(&Query::new().eq("mac_address", &mac(8)))
        .await
        .unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].device_id, "", "back as RequestAddress left it");
    d.create_endpoint(req()).await.unwrap();
    assert_eq!(ports_tagged(&r.check, &eid).await.len(), 1);
    teardown(d, &nid, &eid, &pool_id, a.address.addr()).await;
}

/// Address spaces map to address scopes: pools of one space cannot overlap.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn address_spaces_are_address_scopes() {
    let r = rig().await;
    let d = &r.driver;
    let space = format!("space-{}", &docker_id()[..12]);
    let wide = format!("10.{}.64.0/18", 150 + std::process::id() % 50);
    let narrow = format!("10.{}.65.0/24", 150 + std::process::id() % 50);
    let p = d
        .request_pool(pool_req(&wide, false, &space, &[]))
        .await
        .unwrap();
    let sp: SubnetPool = r.check.get(&p.pool_id).await.unwrap();
    let scope = sp
        .address_scope_id
        .clone()
        .expect("pool in an address scope");
    let err = d.request_pool(pool_req(&narrow, false, &space, &[])).await;
    assert!(
        err.is_err(),
        "an overlapping pool in the same space is refused"
    );
    // The default space has no scope, so the same prefix is fine there.
    let q = d
        .request_pool(pool_req(&narrow, false, "", &[]))
        .await
        .unwrap();
    release_pool(d, &q.pool_id).await;
    release_pool(d, &p.pool_id).await;
    settled(d).await;
    r.check.delete(Kind::AddressScopes, &scope).await.unwrap();
}

/// B13: concurrent RequestPool calls for one CIDR make one subnet pool.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn concurrent_pool_requests_make_one_pool() {
    let r = rig().await;
    let d = Arc::new(r.driver);
    let pool = cidr(9);
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let d = d.clone();
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            d.request_pool(pool_req(&pool, false, "", &[]))
                .await
                .unwrap()
                .pool_id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        pools_named(&r.check, &format!("kuryrPool-{pool}"))
            .await
            .len(),
        1
    );
    release_pool(&d, &ids[0]).await;
    settled(&d).await;
    no_kuryr_pool(&r.check, &pool).await;
}

/// A container restarted with a static `--ip`: its old port is still being deleted in
/// the background when the address is requested again; the request waits for that
/// delete instead of failing on the taken address.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn a_static_address_released_and_requested_again_waits_for_its_delete() {
    let r = rig().await;
    let d = &r.driver;
    let (nid, p) = network(d, 12).await;
    let ip = cidr(12).replace(".0/24", ".77");
    for round in 0..2 {
        let a = d
            .request_address(addr_req(&p, Some(&ip), &[(MACKEY, &mac(70 + round))]))
            .await
            .unwrap();
        assert_eq!(a.address.addr().to_string(), ip, "round {round}");
        // A new port holds it, not the old one about to be deleted.
        let query = Query::new().fixed_ip_address(&ip);
        let holders: Vec<Port> = r.check.list(&query).await.unwrap();
        let macs: Vec<&str> = holders.iter().map(|p| p.mac_address.as_str()).collect();
        assert_eq!(macs, [mac(70 + round)], "round {round}");
        release_address(d, &p, a.address.addr()).await;
    }
    release_and_delete(d, &nid, &p).await;
    no_ports_with(&r.check, &mac(71)).await;
}

/// `docker network rm` then `docker network create` on the same subnet: the old
/// kuryrPool is still being deleted when the new one is requested; RequestPool waits
/// for it and makes a fresh pool rather than adopting one about to vanish.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn the_same_subnet_right_after_network_rm_gets_a_live_pool() {
    let r = rig().await;
    let d = &r.driver;
    let (nid, old) = network(d, 13).await;
    answer_release_and_delete(d, &nid, &old).await;
    let (nid2, new) = network(d, 13).await;
    assert_ne!(new, old, "a new pool, not the one being deleted");
    let alive: Result<SubnetPool, _> = r.check.get(&new).await;
    assert!(alive.is_ok(), "the new pool exists");
    let gone: Result<SubnetPool, _> = r.check.get(&old).await;
    assert!(gone.unwrap_err().is_not_found());
    release_and_delete(d, &nid2, &new).await;
}

/// Deletes promised to Docker survive a crash: a journal left with a pending port
/// delete is replayed when the next driver starts on the same `state_dir`.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn deletes_left_in_the_journal_by_a_crash_run_at_the_next_start() {
    let r = rig().await;
    let (nid, p) = network(&r.driver, 14).await;
    let net = networks_tagged(&r.check, &nid).await.remove(0);
    let port: Port = r
        .check
        .create(&PortCreate {
            network_id: net.id.clone(),
            name: Some("kuryr-unbound-port".into()),
            ..PortCreate::default()
        })
        .await
        .unwrap();
    let dir = r.state.path().join("crashed");
    {
        // What ReleaseAddress writes before it answers Docker.
        let (journal, _) =
            kuryr::store::Journal::<serde_json::Value>::open(&dir.join("neutron-teardown.redb"))
                .unwrap();
        journal
            .append(&json!({"lane": net.id, "steps": [{"port": port.id}]}))
            .await
            .unwrap();
    }
    let next = driver_at(&r.client, &url(), "", &dir, r.binder.clone());
    settled(&next).await;
    let gone: Result<Port, _> = r.check.get(&port.id).await;
    assert!(gone.unwrap_err().is_not_found(), "the promised delete ran");
    release_and_delete(&r.driver, &nid, &p).await;
}

/// A foreign port on kuryr's network (a VM, another swarm node's container) makes
/// Neutron refuse the network delete (409). The network is still in use, so it is
/// kept, as kuryr-libnetwork's refused delete keeps it, and not retried behind the
/// user's back; the deletes are done, and nothing is reported as failing.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn a_network_others_still_use_is_kept() {
    let r = rig().await;
    let d = &r.driver;
    let (nid, p) = network(d, 15).await;
    let net = networks_tagged(&r.check, &nid).await.remove(0);
    let foreign: Port = r
        .check
        .create(&PortCreate {
            network_id: net.id.clone(),
            name: Some("someone-elses-vm".into()),
            device_owner: Some("compute:nova".into()),
            ..PortCreate::default()
        })
        .await
        .unwrap();
    release_and_delete(d, &nid, &p).await;
    assert!(r.check.get::<Network>(&net.id).await.is_ok(), "kept");
    assert!(r.check.get::<SubnetPool>(&p).await.is_ok(), "its pool too");
    for (kind, id) in [
        (Kind::Ports, &foreign.id),
        (Kind::Networks, &net.id),
        (Kind::SubnetPools, &p),
    ] {
        r.check.delete(kind, id).await.unwrap();
    }
}

/// Read-your-writes (issue 8, item 8): when DeleteNetwork answers, with no drain or
/// settle, Neutron already holds none of the network's kuryr objects: the endpoint's
/// port (released by ReleaseAddress just before), the network, its subnet and the
/// pool Docker released.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn after_network_rm_answers_neutron_is_clean() {
    let r = rig().await;
    let d = &r.driver;
    let ((nid, pool_id), eid) = (network(d, 16).await, docker_id());
    let a = d
        .request_address(addr_req(&pool_id, None, &[(MACKEY, &mac(16))]))
        .await
        .unwrap();
    d.create_endpoint(ep_req(
        &nid,
        &eid,
        Some(&a.address.to_string()),
        None,
        Some(&mac(16)),
    ))
    .await
    .unwrap();
    let net = networks_tagged(&r.check, &nid).await.remove(0);
    let subnets: Vec<Subnet> = r
        .check
        .list(&Query::new().eq("network_id", &net.id))
        .await
        .unwrap();
    let port = ports_tagged(&r.check, &eid).await.remove(0);

    d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
    release_address(d, &pool_id, a.address.addr()).await;
    answer_release_and_delete(d, &nid, &pool_id).await;

    let gone = |what: &str, e: Option<kuryr::neutron::NeutronError>| match e {
        Some(e) if e.is_not_found() => {}
        other => panic!("{what} still readable after DeleteNetwork answered: {other:?}"),
    };
    gone("network", r.check.get::<Network>(&net.id).await.err());
    for s in &subnets {
        gone("subnet", r.check.get::<Subnet>(&s.id).await.err());
    }
    gone("pool", r.check.get::<SubnetPool>(&pool_id).await.err());
    gone("port", r.check.get::<Port>(&port.id).await.err());
    assert!(ports_tagged(&r.check, &eid).await.is_empty());
    no_ports_with(&r.check, &mac(16)).await;
    no_kuryr_pool(&r.check, &cidr(16)).await;
    assert_eq!(
        d.drain(Duration::ZERO).await.pending,
        0,
        "nothing left to run"
    );
}

/// A Neutron object as Neutron serves it (every field, `revision_number` included),
/// to show that a refused call changed nothing.
fn raw(path: &str) -> serde_json::Value {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "10", &format!("{}/v2.0/{path}", url())])
        .output()
        .expect("curl");
    serde_json::from_slice(&out.stdout).expect("JSON from Neutron")
}

/// Review I7 (B8.10): with another IPAM driver, Docker may hand the endpoint an
/// address that a DHCP port or a VM's port holds. CreateEndpoint refuses with a
/// client error naming the port, and the port is exactly as it was.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn create_endpoint_never_takes_over_a_port_bound_elsewhere() {
    let r = rig().await;
    let d = &r.driver;
    let (nid, pool_id) = network(d, 17).await;
    let net = networks_tagged(&r.check, &nid).await.remove(0);
    for (n, owner, device) in [
        (31u8, "network:dhcp", "dhcp-on-another-host"),
        (32, "compute:nova", "some-vm"),
    ] {
        let ip = cidr(17).replace(".0/24", &format!(".{n}"));
        let foreign: Port = r
            .check
            .create(&PortCreate {
                network_id: net.id.clone(),
                fixed_ips: Some(vec![FixedIpRequest {
                    subnet_id: None,
                    ip_address: Some(ip.clone()),
                }]),
                device_id: Some(device.into()),
                device_owner: Some(owner.into()),
                binding_host_id: Some("another-host".into()),
                ..PortCreate::default()
            })
            .await
            .unwrap();
        let before = raw(&format!("ports/{}", foreign.id));
        let eid = docker_id();
        let err = d
            .create_endpoint(ep_req(
                &nid,
                &eid,
                Some(&format!("{ip}/24")),
                None,
                Some(&mac(n)),
            ))
            .await
            .unwrap_err();
        assert!(err.is_client_error(), "a 400, not a 500: {err}");
        let text = err.to_string();
        assert!(text.contains(&foreign.id) && text.contains(owner), "{text}");
        assert_eq!(
            raw(&format!("ports/{}", foreign.id)),
            before,
            "the {owner} port is unchanged"
        );
        assert!(ports_tagged(&r.check, &eid).await.is_empty());
        assert!(!r.binder.bound().contains(&foreign.id), "not plugged");
        r.check.delete(Kind::Ports, &foreign.id).await.unwrap();
    }
    release_and_delete(d, &nid, &pool_id).await;
}

/// Review R3: ProgramExternalConnectivity twice (Docker sends it on every start of
/// the container) leaves exactly one `<port>-exposed_ports` group, attached once,
/// with the rules of the last call; Revoke then leaves none.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn program_external_connectivity_twice_keeps_one_group() {
    let r = rig().await;
    let d = &r.driver;
    let ((nid, pool_id), eid) = (network(d, 18).await, docker_id());
    let a = d
        .request_address(addr_req(&pool_id, None, &[(MACKEY, &mac(18))]))
        .await
        .unwrap();
    d.create_endpoint(ep_req(
        &nid,
        &eid,
        Some(&a.address.to_string()),
        None,
        Some(&mac(18)),
    ))
    .await
    .unwrap();
    let program = |ports: serde_json::Value| {
        let mut options = BTreeMap::new();
        options.insert(
            "com.docker.network.endpoint.exposedports".to_string(),
            ports,
        );
        d.program_external_connectivity(ProgramExternalConnectivityRequest {
            network_id: nid.clone(),
            endpoint_id: eid.clone(),
            options,
        })
    };
    let port_id = ports_tagged(&r.check, &eid).await.remove(0).id;
    let name = format!("{port_id}-exposed_ports");
    let one_group = |expect: (&'static str, u32)| {
        let (check, name, port_id) = (&r.check, name.clone(), port_id.clone());
        async move {
            let groups: Vec<SecurityGroup> =
                check.list(&Query::new().eq("name", &name)).await.unwrap();
            assert_eq!(groups.len(), 1, "one kuryr group: {groups:?}");
            let port: Port = check.get(&port_id).await.unwrap();
            let on_port = port
                .security_groups
                .iter()
                .filter(|g| **g == groups[0].id)
                .count();
            assert_eq!(on_port, 1, "attached once: {:?}", port.security_groups);
            let ingress: Vec<_> = groups[0]
                .security_group_rules
                .iter()
                .filter(|r| r.direction == "ingress")
                .map(|r| (r.protocol.clone().unwrap_or_default(), r.port_range_min))
                .collect();
            assert_eq!(ingress, [(expect.0.to_string(), Some(expect.1))]);
        }
    };
    program(json!([{"Proto": 6, "Port": 80}])).await.unwrap();
    one_group(("tcp", 80)).await;
    program(json!([{"Proto": 6, "Port": 80}])).await.unwrap();
    one_group(("tcp", 80)).await;
    // After a restart (nothing cached), with other ports: still the one group.
    let fresh = r.restarted();
    fresh.probe().await.unwrap();
    fresh
        .program_external_connectivity(ProgramExternalConnectivityRequest {
            network_id: nid.clone(),
            endpoint_id: eid.clone(),
            options: [(
                "com.docker.network.endpoint.exposedports".to_string(),
                json!([{"Proto": 17, "Port": 53}]),
            )]
            .into_iter()
            .collect(),
        })
        .await
        .unwrap();
    one_group(("udp", 53)).await;
    fresh
        .revoke_external_connectivity(ep(&nid, &eid))
        .await
        .unwrap();
    let left: Vec<SecurityGroup> = r.check.list(&Query::new().eq("name", &name)).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    teardown(&fresh, &nid, &eid, &pool_id, a.address.addr()).await;
}
