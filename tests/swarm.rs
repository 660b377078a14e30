//! Swarm mode over the embedded backend, in-process: the calls a dockerd 20.10
//! manager and node make for a global-scope plugin (spec swarm-nested.md §1.2, and
//! as logged by tests/e2e/docker-swarm.sh), including a dockerd restart, after which
//! the manager requests the pool, the gateway and every task address again. The
//! plugin's state must end empty.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use kuryr::embedded::Embedded;
use kuryr::hostnet::Recorder;
use serde_json::{Value, json};
use support::{call, ok, open_store, settings};

/// swarmkit's 25-character base-36 network id.
const SWARM_NET: &str = "ycl3gcwqpg27k3c1rika55mvw";
const CIDR: &str = "10.31.0.0/24";
const SERIAL: &str = "com.docker.network.ipam.serial";

async fn router(dir: &std::path::Path, scope: kuryr::model::Scope) -> axum::Router {
    let (store, snapshot) = open_store(dir);
    let settings = kuryr::embedded::Settings {
        scope,
        ..settings()
    };
    let embedded = Embedded::start(settings, store, snapshot, Arc::new(Recorder::default())).await;
    kuryr::server::router(Arc::new(embedded))
}

fn request_pool() -> Value {
    json!({"AddressSpace": "no_address_space", "Pool": CIDR, "SubPool": "",
           "Options": {SERIAL: "true"}, "V6": false})
}

async fn address(r: &axum::Router, pool: &str, want: &str, gateway: bool) -> String {
    let mut options = json!({SERIAL: "true"});
    if gateway {
        options["RequestAddressType"] = json!("com.docker.network.gateway");
    }
    let reply = ok(
        r,
        "/IpamDriver.RequestAddress",
        json!({"PoolID": pool, "Address": want, "Options": options}),
    )
    .await;
    reply["Address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

async fn release(r: &axum::Router, pool: &str, ip: &str) {
    ok(
        r,
        "/IpamDriver.ReleaseAddress",
        json!({"PoolID": pool, "Address": ip}),
    )
    .await;
}

/// The manager: pool, gateway, AllocateNetwork, two task addresses.
async fn manager(r: &axum::Router, tasks: &[&str]) -> (String, Vec<String>) {
    let pool = ok(r, "/IpamDriver.RequestPool", request_pool()).await["PoolID"]
        .as_str()
        .unwrap()
        .to_string();
    address(r, &pool, "10.31.0.1", true).await;
    let reply = ok(
        r,
        "/NetworkDriver.AllocateNetwork",
        json!({"NetworkID": SWARM_NET, "Options": {"com.docker.network.driver.mtu": "1450"},
               "IPv4Data": [{"AddressSpace": "", "Pool": CIDR, "Gateway": "10.31.0.1/24"}],
               "IPv6Data": null}),
    )
    .await;
    assert_eq!(
        reply["Options"]["com.docker.network.driver.mtu"], "1450",
        "options echoed"
    );
    let mut ips = Vec::new();
    for want in tasks {
        ips.push(address(r, &pool, want, false).await);
    }
    (pool, ips)
}

/// The node: its own request of the pool, the network, the addresses the manager holds.
async fn node_up(r: &axum::Router, ips: &[String]) -> String {
    let pool = ok(r, "/IpamDriver.RequestPool", request_pool()).await["PoolID"]
        .as_str()
        .unwrap()
        .to_string();
    address(r, &pool, "10.31.0.1", true).await;
    ok(
        r,
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": SWARM_NET,
               "Options": {"com.docker.network.enable_ipv6": false,
                           "com.docker.network.generic": {"com.docker.network.driver.mtu": "1450"}},
               "IPv4Data": [{"AddressSpace": "no_address_space", "Pool": CIDR,
                             "Gateway": "10.31.0.1/24", "AuxAddresses": null}],
               "IPv6Data": []}),
    )
    .await;
    for ip in ips {
        let got = address(r, &pool, ip, false).await;
        assert_eq!(&got, ip, "the node gets the address the manager chose");
    }
    pool
}

/// The node after its last task: addresses, gateway, pool, network.
async fn node_down(r: &axum::Router, pool: &str, ips: &[String]) {
    for ip in ips {
        release(r, pool, ip).await;
    }
    ok(
        r,
        "/NetworkDriver.DeleteNetwork",
        json!({"NetworkID": SWARM_NET}),
    )
    .await;
    release(r, pool, "10.31.0.1").await;
    ok(r, "/IpamDriver.ReleasePool", json!({"PoolID": pool})).await;
}

#[tokio::test]
async fn a_swarm_network_through_a_dockerd_restart_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = router(dir.path(), kuryr::model::Scope::Global).await;

    let (manager_pool, ips) = manager(&r, &["", ""]).await;
    let node_pool = node_up(&r, &ips).await;
    assert_ne!(manager_pool, node_pool, "each side holds its own copy");
    node_down(&r, &node_pool, &ips).await;

    // dockerd restarts: the plugin keeps its state, the manager asks for it all again.
    let (manager_pool2, ips2) = manager(&r, &[&ips[0], &ips[1]]).await;
    assert_eq!(ips2, ips);
    let node_pool2 = node_up(&r, &ips2).await;
    node_down(&r, &node_pool2, &ips2).await;

    // `docker service rm`, then `docker network rm`.
    for ip in &ips2 {
        release(&r, &manager_pool2, ip).await;
    }
    ok(
        &r,
        "/NetworkDriver.FreeNetwork",
        json!({"NetworkID": SWARM_NET}),
    )
    .await;
    release(&r, &manager_pool2, "10.31.0.1").await;
    ok(
        &r,
        "/IpamDriver.ReleasePool",
        json!({"PoolID": manager_pool2}),
    )
    .await;
    drop(r);

    let (_, snapshot) = open_store(dir.path());
    let view = kuryr::store::to_json(&snapshot);
    for table in ["pools", "addresses", "networks", "endpoints"] {
        assert_eq!(
            view[table].as_array().map_or(0, Vec::len),
            0,
            "{table} left: {view}"
        );
    }
}

/// Outside swarm the same subnet twice is a user's mistake, refused as before.
#[tokio::test]
async fn in_local_scope_the_same_pool_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let r = router(dir.path(), kuryr::model::Scope::Local).await;
    ok(&r, "/IpamDriver.RequestPool", request_pool()).await;
    let (status, reply) = call(&r, "/IpamDriver.RequestPool", request_pool()).await;
    assert_ne!(status, StatusCode::OK);
    assert!(
        reply["Err"].as_str().unwrap().contains("overlaps"),
        "{reply}"
    );
}
