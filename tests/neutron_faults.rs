//! Lost replies against a REAL Neutron (scripts/neutron-up.sh, as `neutron_real.rs`):
//! a fault-injecting proxy sits between the driver and Neutron and fails one request
//! of a dockerd-order lifecycle, at every position in turn, in three ways: refused
//! before Neutron sees it, or done by Neutron with the answer lost (a 502, or the
//! connection closed). dockerd's own compensations run as dockerd runs them (a failed
//! CreateNetwork releases its gateway and pool, a failed CreateEndpoint its address,
//! ...), then `docker network rm`. Afterwards Neutron must hold nothing of that
//! lifecycle: no network, subnet, pool or port, whatever failed where.
//!
//! Ignored without `--features live-neutron`; with it, fails when Neutron does not answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kuryr::binding::RecordingBinder;
use kuryr::config::{ProcessEnv, from_ini_str};
use kuryr::neutron::{Client, Described, Network, Port, Query, Subnet, SubnetPool};
use kuryr::neutron_driver::{NeutronDriver, Settings};
use serde_json::{Value, json};

#[path = "support/fault_proxy.rs"]
mod fault_proxy;
#[path = "support/wire_calls.rs"]
mod wire_calls;

use fault_proxy::{Fault, FaultProxy};
use wire_calls::WireCalls;

fn neutron_url() -> String {
    std::env::var("KURYR_NEUTRON_URL").unwrap_or_else(|_| "http://127.0.0.1:9696".into())
}

fn client(endpoint: &str) -> Client {
    let loaded = from_ini_str(
        &format!("[neutron]\nauth_type = none\nendpoint = {endpoint}\n"),
        "test",
        &ProcessEnv,
    )
    .expect("config");
    Client::new(
        loaded
            .config
            .backend
            .neutron_client()
            .expect("neutron")
            .clone(),
    )
    .expect("client")
}

/// A driver whose every Neutron request goes through `proxy`, with its own journal.
async fn driver(proxy: &FaultProxy, state: &std::path::Path) -> NeutronDriver {
    let text = format!(
        "[DEFAULT]\nbackend = neutron\nstate_dir = {}\n[neutron]\nauth_type = none\nendpoint = {}\nbinding_host = kuryr-fault-host\n",
        state.display(),
        proxy.url()
    );
    let loaded = from_ini_str(&text, "test", &ProcessEnv).expect("config");
    let driver = NeutronDriver::new(
        client(&proxy.url()),
        Settings::from_config(&loaded.config),
        Arc::new(RecordingBinder::new()),
    )
    .expect("journal");
    driver.probe().await.expect("probe");
    driver
}

/// One lifecycle's names: its own /24, MAC and Docker ids.
struct Names {
    nid: String,
    eid: String,
    cidr: String,
    gateway: String,
    mac: String,
}

impl Names {
    fn new(n: u8) -> Names {
        let octet = 150 + std::process::id() % 50;
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        // The first 8 characters name the network (`kuryr-net-<id[:8]>`): they
        // differ between lifecycles and runs.
        let low = u32::try_from(t & 0xff_ffff).unwrap();
        let id = |k: u8| format!("{n:02x}{low:06x}{k:02x}{:08x}{t:046x}", std::process::id());
        Names {
            nid: id(1),
            eid: id(2),
            cidr: format!("10.{octet}.{n}.0/24"),
            gateway: format!("10.{octet}.{n}.1"),
            mac: format!("02:42:0b:{:02x}:{n:02x}:09", std::process::id() % 256),
        }
    }
}

/// A call's outcome: the reply, or `None` when it failed.
async fn call<T: serde::Serialize>(
    what: &str,
    result: Result<T, kuryr::Error>,
    trail: &mut Vec<String>,
) -> Option<Value> {
    match result {
        Ok(reply) => Some(serde_json::to_value(reply).unwrap()),
        Err(e) => {
            trail.push(format!("{what}: {e}"));
            None
        }
    }
}

fn body<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a dockerd-shaped body")
}

/// The lifecycle of `docker network create` + `docker run` + `docker network rm`,
/// with dockerd's compensations when a call fails. Returns the failed calls.
async fn lifecycle(d: &NeutronDriver, n: &Names) -> Vec<String> {
    let mut failed = Vec::new();
    let t = &mut failed;
    let Some(pool) = call(
        "RequestPool",
        d.request_pool(body(json!({
            "AddressSpace": "LocalDefault", "Pool": n.cidr, "SubPool": "",
            "Options": {}, "V6": false
        })))
        .await,
        t,
    )
    .await
    else {
        return failed;
    };
    let pool_id = pool["PoolID"].as_str().unwrap().to_string();
    let release_pool = || d.release_pool(body(json!({ "PoolID": pool_id })));
    let release =
        |address: &str| d.release_address(body(json!({ "PoolID": pool_id, "Address": address })));
    let gateway = call(
        "RequestAddress(gateway)",
        d.request_address(body(json!({
            "PoolID": pool_id, "Address": n.gateway,
            "Options": {"RequestAddressType": "com.docker.network.gateway"}
        })))
        .await,
        t,
    )
    .await;
    if gateway.is_none() {
        let _ = call("ReleasePool", release_pool().await, t).await;
        return failed;
    }
    let created = call(
        "CreateNetwork",
        d.create_network(body(json!({
            "NetworkID": n.nid,
            "Options": {"com.docker.network.enable_ipv6": false, "com.docker.network.generic": {}},
            "IPv4Data": [{"AddressSpace": "LocalDefault", "Pool": n.cidr,
                          "Gateway": format!("{}/24", n.gateway), "AuxAddresses": null}],
            "IPv6Data": []
        })))
        .await,
        t,
    )
    .await;
    if created.is_none() {
        let _ = call("ReleaseAddress(gateway)", release(&n.gateway).await, t).await;
        let _ = call("ReleasePool", release_pool().await, t).await;
        return failed;
    }
    container(d, n, &pool_id, t).await;
    // `docker network rm`, in dockerd's order.
    let _ = call("ReleaseAddress(gateway)", release(&n.gateway).await, t).await;
    let _ = call("ReleasePool", release_pool().await, t).await;
    let _ = call(
        "DeleteNetwork",
        d.delete_network(body(json!({ "NetworkID": n.nid }))).await,
        t,
    )
    .await;
    failed
}

/// `docker run --rm` on the network: address, endpoint, join, and back.
async fn container(d: &NeutronDriver, n: &Names, pool_id: &str, t: &mut Vec<String>) {
    let Some(address) = call(
        "RequestAddress",
        d.request_address(body(json!({
            "PoolID": pool_id, "Address": "",
            "Options": {"com.docker.network.endpoint.macaddress": n.mac}
        })))
        .await,
        t,
    )
    .await
    else {
        return;
    };
    let cidr = address["Address"].as_str().unwrap().to_string();
    let ip = cidr.split('/').next().unwrap().to_string();
    let endpoint = json!({ "NetworkID": n.nid, "EndpointID": n.eid });
    let created = call(
        "CreateEndpoint",
        d.create_endpoint(body(json!({
            "NetworkID": n.nid, "EndpointID": n.eid,
            "Interface": {"Address": cidr, "AddressIPv6": "", "MacAddress": n.mac},
            "Options": {}
        })))
        .await,
        t,
    )
    .await;
    if created.is_some() {
        let joined = call(
            "Join",
            d.join(body(json!({
                "NetworkID": n.nid, "EndpointID": n.eid,
                "SandboxKey": "/var/run/docker/netns/0123456789ab", "Options": {}
            })))
            .await,
            t,
        )
        .await;
        if joined.is_some() {
            let _ = call("Leave", d.leave(body(endpoint.clone())).await, t).await;
        }
        let _ = call("DeleteEndpoint", d.delete_endpoint(body(endpoint)).await, t).await;
    }
    let _ = call(
        "ReleaseAddress",
        d.release_address(body(json!({ "PoolID": pool_id, "Address": ip })))
            .await,
        t,
    )
    .await;
}

/// The `kind` objects `query` finds, as "kind id description" lines.
async fn found<T: Described>(check: &Client, kind: &str, query: Query) -> Vec<String> {
    let found: Vec<T> = check.list(&query).await.unwrap();
    found
        .iter()
        .map(|x| format!("{kind} {} {}", x.id(), x.description()))
        .collect()
}

/// What Neutron still holds of `n`'s lifecycle.
async fn left(check: &Client, n: &Names) -> Vec<String> {
    let by_name = |name: String| Query::new().eq("name", &name);
    let mut left = Vec::new();
    let net = by_name(format!("kuryr-net-{}", &n.nid[..8]));
    left.extend(found::<Network>(check, "network", net).await);
    let subnet = by_name(format!("kuryr-subnet-{}", n.cidr));
    left.extend(found::<Subnet>(check, "subnet", subnet).await);
    let pool = by_name(format!("kuryrPool-{}", n.cidr));
    left.extend(found::<SubnetPool>(check, "pool", pool).await);
    let port = Query::new().eq("mac_address", &n.mac);
    left.extend(found::<Port>(check, "port", port).await);
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn a_fault_at_any_request_of_a_lifecycle_leaves_nothing_in_neutron() {
    let check = client(&neutron_url());
    if let Err(e) = check.extensions().await {
        panic!("no Neutron answers at {} ({e})", neutron_url());
    }
    let proxy = FaultProxy::start(&neutron_url()).await;
    let state = tempfile::tempdir().unwrap();
    let d = driver(&proxy, state.path()).await;

    // A clean run first: how many requests a lifecycle makes.
    proxy.arm(None);
    let clean = Names::new(100);
    let failed = lifecycle(&d, &clean).await;
    assert!(failed.is_empty(), "a clean lifecycle failed: {failed:?}");
    let requests = proxy.seen();
    assert!(
        requests >= 8,
        "only {requests} Neutron requests: {:?}",
        proxy.log()
    );
    assert_eq!(d.drain(Duration::from_secs(30)).await.pending, 0);
    assert_eq!(left(&check, &clean).await, Vec::<String>::new());

    let mut leaks = BTreeMap::new();
    let mut n = 101u8;
    for fault in [Fault::Refused, Fault::LostAs502, Fault::LostAsReset] {
        for position in 0..requests {
            let names = Names::new(n);
            n += 1;
            proxy.arm(Some((position, fault)));
            let failed = lifecycle(&d, &names).await;
            let log = proxy.log();
            proxy.arm(None);
            let backlog = d.drain(Duration::from_secs(60)).await;
            let what = left(&check, &names).await;
            eprintln!(
                "{fault:?} at {position}: failed {failed:?}; left {what:?}; pending {}",
                backlog.pending
            );
            if !what.is_empty() || backlog.pending > 0 {
                leaks.insert(
                    format!("{fault:?} at {position}"),
                    format!("left {what:?}, pending {backlog:?}, calls failed {failed:?}, requests {log:#?}"),
                );
            }
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}
