//! Swarm mode on the Neutron backend against a REAL Neutron (scripts/neutron-up.sh):
//! the calls a dockerd 20.10 swarm manager and node make for a global-scope plugin
//! (spec swarm-nested.md §1.2), in-process through the wire decode step. The
//! manager's task addresses must work before any CreateNetwork (the Neutron network
//! and subnet come from AllocateNetwork), the node's request for an address the
//! manager holds reuses that port (one port per task), CreateEndpoint binds it to
//! the node, a repeated CreateNetwork is the same network, a node's DeleteNetwork
//! leaves the swarm network to the manager's FreeNetwork, and Neutron ends clean.
//!
//! Ignored without `--features live-neutron`; with it, fails when Neutron does not answer.

use std::sync::Arc;
use std::time::Duration;

use kuryr::binding::RecordingBinder;
use kuryr::config::{ProcessEnv, from_ini_str};
use kuryr::neutron::{Client, Network, Port, Query, SubnetPool};
use kuryr::neutron_driver::{NeutronDriver, Settings};
use serde_json::{Value, json};

#[path = "support/wire_calls.rs"]
mod wire_calls;
use wire_calls::WireCalls;

const HOST: &str = "kuryr-swarm-test-node";
const SERIAL: &str = "com.docker.network.ipam.serial";

fn neutron_url() -> String {
    std::env::var("KURYR_NEUTRON_URL").unwrap_or_else(|_| "http://127.0.0.1:9696".into())
}

fn config(state: &std::path::Path) -> kuryr::config::Config {
    let text = format!(
        "[DEFAULT]\nbackend = neutron\ncapability_scope = global\nstate_dir = {}\n[neutron]\nauth_type = none\nendpoint = {}\nbinding_host = {HOST}\n",
        state.display(),
        neutron_url()
    );
    from_ini_str(&text, "test", &ProcessEnv)
        .expect("config")
        .config
}

fn client(config: &kuryr::config::Config) -> Client {
    Client::new(config.backend.neutron_client().expect("neutron").clone()).expect("client")
}

fn body<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("a dockerd-shaped body")
}

/// A 25-character base-36 swarm id and a /24 of its own.
fn names() -> (String, String, String) {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut id = String::new();
    let mut n = t ^ u128::from(std::process::id()) << 64;
    for _ in 0..25 {
        id.push(char::from_digit(u32::try_from(n % 36).unwrap(), 36).unwrap());
        n /= 36;
    }
    let octet = 100 + std::process::id() % 50;
    (
        id,
        format!("10.{octet}.231.0/24"),
        format!("10.{octet}.231.1"),
    )
}

async fn ip(d: &NeutronDriver, pool: &str, want: &str, options: Value) -> String {
    let reply = d
        .request_address(body(
            json!({"PoolID": pool, "Address": want, "Options": options}),
        ))
        .await
        .unwrap_or_else(|e| panic!("RequestAddress {want:?}: {e}"));
    let cidr = serde_json::to_value(reply).unwrap()["Address"]
        .as_str()
        .unwrap()
        .to_string();
    cidr.split('/').next().unwrap().to_string()
}

#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn a_swarm_network_has_one_port_per_task_and_ends_clean() {
    let state = tempfile::tempdir().unwrap();
    let config = config(state.path());
    let check = client(&config);
    if let Err(e) = check.extensions().await {
        panic!("no Neutron answers at {} ({e})", neutron_url());
    }
    let d = NeutronDriver::new(
        client(&config),
        Settings::from_config(&config),
        Arc::new(RecordingBinder::new()),
    )
    .unwrap();
    let (nid, cidr, gw) = names();
    let pool_request = json!({"AddressSpace": "no_address_space", "Pool": cidr, "SubPool": "",
                              "Options": {SERIAL: "true"}, "V6": false});
    let gw_options = json!({"RequestAddressType": "com.docker.network.gateway", SERIAL: "true"});

    // The manager: pool, gateway, AllocateNetwork, then two task addresses.
    let pool = serde_json::to_value(d.request_pool(body(pool_request.clone())).await.unwrap())
        .unwrap()["PoolID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(ip(&d, &pool, &gw, gw_options.clone()).await, gw);
    let allocation = json!({"NetworkID": nid, "Options": {"com.docker.network.driver.mtu": "1400"},
        "IPv4Data": [{"AddressSpace": "", "Pool": cidr, "Gateway": format!("{gw}/24")}],
        "IPv6Data": null});
    let reply = kuryr::driver::Driver::allocate_network(&d, body_model(allocation.clone()))
        .await
        .unwrap();
    assert_eq!(
        reply
            .as_map()
            .get("com.docker.network.driver.mtu")
            .map(String::as_str),
        Some("1400"),
        "options echoed"
    );
    let t1 = ip(&d, &pool, "", json!({SERIAL: "true"})).await;
    let t2 = ip(&d, &pool, "", json!({SERIAL: "true"})).await;
    assert_ne!(t1, t2);

    // The node: its RequestPool, gateway, CreateNetwork, the manager's addresses
    // with its own MACs, CreateEndpoint.
    let node_pool = serde_json::to_value(d.request_pool(body(pool_request)).await.unwrap())
        .unwrap()["PoolID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(node_pool, pool, "one Neutron subnet pool for the CIDR");
    assert_eq!(ip(&d, &pool, &gw, gw_options.clone()).await, gw);
    let create = json!({"NetworkID": nid,
        "Options": {"com.docker.network.enable_ipv6": false,
                    "com.docker.network.generic": {"com.docker.network.driver.mtu": "1400"}},
        "IPv4Data": [{"AddressSpace": "no_address_space", "Pool": cidr,
                      "Gateway": format!("{gw}/24"), "AuxAddresses": null}],
        "IPv6Data": []});
    d.create_network(body(create.clone())).await.unwrap();
    let endpoints: Vec<(String, String, String)> = [(&t1, "01"), (&t2, "02")]
        .iter()
        .map(|(t, k)| {
            (
                (*t).clone(),
                format!("02:42:0a:e7:{:02x}:{k}", std::process::id() % 256),
                format!("{:030x}{k}{:032x}", std::process::id(), nid.len() * 7),
            )
        })
        .collect();
    for (t, mac, eid) in &endpoints {
        let got = ip(
            &d,
            &pool,
            t,
            json!({"com.docker.network.endpoint.macaddress": mac}),
        )
        .await;
        assert_eq!(&got, t, "the node gets the manager's address");
        d.create_endpoint(body(json!({"NetworkID": nid, "EndpointID": eid,
            "Interface": {"Address": format!("{t}/24"), "AddressIPv6": "", "MacAddress": mac},
            "Options": {}})))
            .await
            .unwrap();
    }
    let nets: Vec<Network> = check
        .list(&Query::new().eq("name", &format!("kuryr-net-{}", &nid[..8])))
        .await
        .unwrap();
    assert_eq!(nets.len(), 1, "one Neutron network");
    let ports: Vec<Port> = check
        .list(
            &Query::new()
                .eq("network_id", &nets[0].id)
                .eq("device_owner", "compute:kuryr"),
        )
        .await
        .unwrap();
    assert_eq!(ports.len(), 2, "exactly one port per task: {ports:#?}");
    for port in &ports {
        assert_eq!(port.binding_host_id, HOST, "bound to the node");
        assert!(endpoints.iter().any(|(_, mac, _)| *mac == port.mac_address));
    }

    // A dockerd restart: CreateNetwork again, same network.
    d.create_network(body(create)).await.unwrap();
    let again: Vec<Network> = check
        .list(&Query::new().eq("name", &format!("kuryr-net-{}", &nid[..8])))
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "CreateNetwork again is the same network");

    // The tasks go: the node's teardown, its DeleteNetwork, gateway and pool.
    for (t, _, eid) in &endpoints {
        d.delete_endpoint(body(json!({"NetworkID": nid, "EndpointID": eid})))
            .await
            .unwrap();
        d.release_address(body(json!({"PoolID": pool, "Address": t})))
            .await
            .unwrap();
    }
    d.delete_network(body(json!({"NetworkID": nid})))
        .await
        .unwrap();
    d.release_address(body(json!({"PoolID": pool, "Address": gw})))
        .await
        .unwrap();
    d.release_pool(body(json!({"PoolID": pool}))).await.unwrap();
    let kept: Result<Network, _> = check.get(&nets[0].id).await;
    assert!(kept.is_ok(), "the swarm network outlives the node's copy");

    // The manager: task releases, then `docker network rm`.
    for t in [&t1, &t2] {
        d.release_address(body(json!({"PoolID": pool, "Address": t})))
            .await
            .unwrap();
    }
    kuryr::driver::Driver::free_network(
        &d,
        kuryr::model::NetworkId::parse("NetworkID", &nid).unwrap(),
    )
    .await
    .unwrap();
    d.release_address(body(json!({"PoolID": pool, "Address": gw})))
        .await
        .unwrap();
    d.release_pool(body(json!({"PoolID": pool}))).await.unwrap();
    assert_eq!(d.drain(Duration::from_secs(30)).await.pending, 0);

    let gone: Result<Network, _> = check.get(&nets[0].id).await;
    assert!(gone.unwrap_err().is_not_found(), "network deleted");
    let pools: Vec<SubnetPool> = check
        .list(&Query::new().eq("name", &format!("kuryrPool-{cidr}")))
        .await
        .unwrap();
    assert!(pools.is_empty(), "pool deleted: {pools:?}");
    for (_, mac, _) in &endpoints {
        let left: Vec<Port> = check
            .list(&Query::new().eq("mac_address", mac))
            .await
            .unwrap();
        assert!(left.is_empty(), "port with {mac} left");
    }
}

/// AllocateNetwork through the same decode step the server runs.
fn body_model(value: Value) -> kuryr::model::NetworkAllocation {
    let wire: kuryr::api::network::AllocateNetworkRequest = body(value);
    wire.try_into().expect("a valid AllocateNetwork")
}
