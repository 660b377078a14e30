//! Port pools (`[vif_pool]`) against a REAL Neutron (scripts/neutron-up.sh, which
//! loads the tag_ports_during_bulk_creation ML2 extension driver the pools need):
//! ports made ahead in one bulk POST and tagged `kuryr.port.pool`, handed out by
//! RequestAddress without a Neutron request, refilled, found again after a restart
//! (less the ones handed out), moved to a static address, given a user's MAC, never
//! handed out twice, and deleted with their network before DeleteNetwork answers.
//! What is checked is what Neutron shows, as an operator would see it.
//! Ignored without `--features live-neutron`; with it, they fail when Neutron does not answer.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use kuryr::neutron::{Client, Port, Query};
use kuryr::neutron_driver::NeutronDriver;

#[path = "support/wire_calls.rs"]
mod wire_calls;
use wire_calls::WireCalls;

#[path = "support/neutron_rig.rs"]
mod neutron_rig;
use neutron_rig::*;

/// Below 3 ready ports a refill makes 4, never past 6; the periodic check never runs
/// during a test, so every refill seen is one a hand-out started.
const POOLS: &str = "[vif_pool]\nenabled = True\nports_pool_min = 3\nports_pool_max = 6\n\
                     ports_pool_batch = 4\nports_pool_update_frequency = 3600\n";
const POOL_TAG: &str = "kuryr.port.pool";
const JOURNAL: &str = "neutron-port-pool.redb";

async fn pooled_rig() -> Rig {
    let r = rig_with(POOLS).await;
    let aliases = r.check.extensions().await.unwrap();
    assert!(
        aliases
            .iter()
            .any(|a| a == "tag-ports-during-bulk-creation"),
        "this Neutron drops tags in port POST bodies: add tag_ports_during_bulk_creation \
         to the ML2 extension_drivers (scripts/neutron-up.sh does)"
    );
    r
}

async fn neutron_net(c: &Client, nid: &str) -> String {
    let nets = networks_tagged(c, nid).await;
    assert_eq!(nets.len(), 1, "one Neutron network for {nid}");
    nets[0].id.clone()
}

/// The ports Neutron shows in a pool on network `net`.
async fn pool_ports(c: &Client, net: &str) -> Vec<Port> {
    c.list(&Query::new().tags(&[POOL_TAG]).eq("network_id", net))
        .await
        .unwrap()
}

/// Waits (30 s at most) until `enough` holds for the pool ports Neutron shows on
/// `net` and the number the driver holds ready (a refill's answer reaches the driver a
/// moment after Neutron shows its ports).
async fn wait_pool(
    c: &Client,
    d: &NeutronDriver,
    net: &str,
    what: &str,
    enough: impl Fn(&[Port], usize) -> bool,
) -> Vec<Port> {
    let start = Instant::now();
    loop {
        let ports = pool_ports(c, net).await;
        let held: usize = ports
            .first()
            .and_then(|p| d.ready_pool_ports().get(&p.fixed_ips[0].subnet_id).copied())
            .unwrap_or(0);
        if enough(&ports, held) {
            return ports;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: the pool on {net} holds {} ports",
            ports.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ip_of(p: &Port) -> IpAddr {
    p.fixed_ips[0].ip_address.parse().unwrap()
}

/// An address with no MAC (pools make Docker send none), and how many Neutron
/// requests it cost.
async fn take(r: &Rig, d: &NeutronDriver, pool_id: &str) -> (IpAddr, u64) {
    let before = r.client.request_count();
    let a = d
        .request_address(addr_req(pool_id, None, &[]))
        .await
        .unwrap();
    (a.address.addr(), r.client.request_count() - before)
}

async fn neutron_clean(c: &Client, net: &str) {
    let ports: Vec<Port> = c.list(&Query::new().eq("network_id", net)).await.unwrap();
    assert!(ports.is_empty(), "ports left on {net}: {ports:?}");
    let nets: Vec<kuryr::neutron::Network> = c.list(&Query::new().eq("id", net)).await.unwrap();
    assert!(nets.is_empty(), "network {net} left");
}

#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn pool_ports_are_handed_out_refilled_found_after_a_restart_and_deleted_with_the_network() {
    let r = pooled_rig().await;
    let d = &r.driver;
    assert!(
        !kuryr::driver::Driver::requires_mac_address(d),
        "with pools Docker must not invent MACs"
    );
    let (nid, pool_id) = network(d, 41).await;
    let net = neutron_net(&r.check, &nid).await;

    // CreateNetwork started the pool: one batch, bound here, no container's yet.
    let first = wait_pool(&r.check, d, &net, "first fill", |p, held| {
        p.len() >= 4 && held >= 4
    })
    .await;
    assert_eq!(first.len(), 4, "one batch of 4");
    for p in &first {
        assert_eq!(p.name, "kuryr-pool-port");
        assert_eq!(p.binding_host_id, "kuryr-test-host");
        assert_eq!(p.device_owner, "compute:kuryr");
        assert!(
            !p.tags.iter().any(|t| t == "compute:kuryr"),
            "kuryr-libnetwork must leave it alone"
        );
    }

    // A hand-out costs Neutron nothing; CreateEndpoint's one tag request makes it the
    // endpoint's port.
    let (ip, requests) = take(&r, d, &pool_id).await;
    assert_eq!(
        requests, 0,
        "RequestAddress from a ready pool makes no Neutron request"
    );
    let held = first
        .iter()
        .find(|p| ip_of(p) == ip)
        .expect("the address of a pool port");
    let eid = docker_id();
    let made = d
        .create_endpoint(ep_req(&nid, &eid, Some(&format!("{ip}/24")), None, None))
        .await
        .unwrap();
    assert_eq!(
        made.interface.mac_address.map(|m| m.to_string()),
        Some(held.mac_address.clone()),
        "the endpoint gets the pool port's MAC"
    );
    let tagged = ports_tagged(&r.check, &eid).await;
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].id, held.id, "the pool port itself, not a new one");
    assert!(tagged[0].tags.iter().any(|t| t == "compute:kuryr"));
    assert!(
        !tagged[0].tags.iter().any(|t| t == POOL_TAG),
        "out of the pool"
    );

    // Two more hand-outs take the pool below its minimum: a refill tops it up, and
    // never hands out a port twice.
    let (ip2, _) = take(&r, d, &pool_id).await;
    let (ip3, _) = take(&r, d, &pool_id).await;
    let taken = [ip, ip2, ip3];
    assert_eq!(taken.iter().collect::<HashSet<_>>().len(), 3);
    let refilled = wait_pool(&r.check, d, &net, "refill", |p, held| {
        p.iter().filter(|p| !taken.contains(&ip_of(p))).count() >= 3 && held >= 3
    })
    .await;
    assert!(
        refilled.len() <= 2 + 6,
        "never past ports_pool_max: {}",
        refilled.len()
    );
    assert!(
        taken.iter().all(|t| first.iter().any(|p| ip_of(p) == *t)),
        "the three came from the first batch, in order"
    );

    // A restart finds the pool again, less ip2 and ip3: handed out (journaled) but
    // still tagged in Neutron, as no CreateEndpoint came yet.
    settled(d).await;
    let after = r.restarted_keeping(&[JOURNAL]);
    after.probe().await.unwrap();
    let ready_now = pool_ports(&r.check, &net).await.len() - 2;
    let mut again = Vec::new();
    for _ in 0..ready_now {
        let a = after
            .request_address(addr_req(&pool_id, None, &[]))
            .await
            .unwrap();
        again.push(a.address.addr());
    }
    assert!(
        !again.contains(&ip2) && !again.contains(&ip3),
        "a port handed out before the restart was handed out again: {again:?} vs {ip2}, {ip3}"
    );
    assert_eq!(again.iter().collect::<HashSet<_>>().len(), again.len());

    // Docker's teardown: everything goes, the pool's ready ports with the network,
    // before DeleteNetwork answers.
    after.delete_endpoint(ep(&nid, &eid)).await.unwrap();
    for a in taken.iter().chain(&again) {
        release_address(&after, &pool_id, *a).await;
    }
    release_pool(&after, &pool_id).await;
    delete_network(&after, &nid).await;
    neutron_clean(&r.check, &net).await;
    no_kuryr_pool(&r.check, &cidr(41)).await;
    settled(&after).await;
}

#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn a_static_address_and_a_users_mac_come_from_a_pool_port() {
    let r = pooled_rig().await;
    let d = &r.driver;
    let (nid, pool_id) = network(d, 42).await;
    let net = neutron_net(&r.check, &nid).await;
    let first = wait_pool(&r.check, d, &net, "first fill", |p, held| {
        p.len() >= 4 && held >= 4
    })
    .await;
    let wanted: IpAddr = cidr(42).replace(".0/24", ".77").parse().unwrap();
    let a = d
        .request_address(addr_req(&pool_id, Some(&wanted.to_string()), &[]))
        .await
        .unwrap();
    assert_eq!(a.address.addr(), wanted);
    let eid = docker_id();
    d.create_endpoint(ep_req(
        &nid,
        &eid,
        Some(&format!("{wanted}/24")),
        None,
        Some(&mac(42)),
    ))
    .await
    .unwrap();
    let port = ports_tagged(&r.check, &eid).await;
    assert_eq!(port.len(), 1);
    let port = &port[0];
    assert!(
        first.iter().any(|p| p.id == port.id),
        "the static address went onto a pool port: {port:?} not in {first:?}"
    );
    assert_eq!(ip_of(port), wanted);
    assert_eq!(
        port.mac_address,
        mac(42),
        "the user's MAC, on a port bound before"
    );
    assert_eq!(
        port.binding_host_id, "kuryr-test-host",
        "bound again after the MAC change"
    );
    d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
    release_address(d, &pool_id, wanted).await;
    release_and_delete(d, &nid, &pool_id).await;
    neutron_clean(&r.check, &net).await;
}

#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn concurrent_takes_never_hand_out_one_port_twice() {
    let r = pooled_rig().await;
    let d = &r.driver;
    let (nid, pool_id) = network(d, 43).await;
    let net = neutron_net(&r.check, &nid).await;
    wait_pool(&r.check, d, &net, "first fill", |p, held| {
        p.len() >= 4 && held >= 4
    })
    .await;
    let calls = (0..12).map(|_| d.request_address(addr_req(&pool_id, None, &[])));
    let got: Vec<IpAddr> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|a| a.unwrap().address.addr())
        .collect();
    assert_eq!(
        got.iter().collect::<HashSet<_>>().len(),
        12,
        "an address twice: {got:?}"
    );
    let ports: Vec<Port> = r
        .check
        .list(&Query::new().eq("network_id", &net))
        .await
        .unwrap();
    for ip in &got {
        let holders = ports
            .iter()
            .filter(|p| p.fixed_ips.iter().any(|f| f.ip_address == ip.to_string()));
        assert_eq!(holders.count(), 1, "{ip} held by one port");
    }
    for ip in &got {
        release_address(d, &pool_id, *ip).await;
    }
    release_and_delete(d, &nid, &pool_id).await;
    neutron_clean(&r.check, &net).await;
}
