//! Property tests at the request boundary: arbitrary strings (any UTF-8, control
//! characters, `..`, `%`, `*`, `"`, very long) in every string field of every request
//! are either refused by decode/validation, or everything derived from them that
//! reaches the host is within its charset: interface names (bridge, veth ends,
//! isolation list) are 1 to 15 of `[A-Za-z0-9_.-]`, and every accepted id has the
//! shape the Neutron backend puts into URL paths and tags.

mod support;

use kuryr::api::{ipam, network};
use kuryr::hostnet::{Call, Recorder};
use kuryr::model::{self, EndpointId, NetworkId, PoolId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Strings that probe every rule: plausible ids, names near the limits, path and
/// glob metacharacters, control characters, any Unicode, and very long ones.
fn nasty() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{64}",
        "[0-9a-z]{25}",
        "[A-Za-z0-9_.-]{0,20}",
        "[A-Za-z0-9._:/-]{0,40}",
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("a/../b".to_owned()),
        Just("%2e%2e/x".to_owned()),
        Just("*".to_owned()),
        Just("\"; drop".to_owned()),
        Just("br0\nflush ruleset".to_owned()),
        Just(String::new()),
        "/[ -~]{0,30}",
        "\\PC{0,40}",
        ".{0,40}",
        "[\\x00-\\x1f\\x7f]{1,5}",
        "[a-f0-9]{100,5000}",
    ]
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_lowercase()
}

fn check_network(id: &NetworkId) {
    assert!(id.bytes().all(is_id_char), "{id:?}");
}

fn check_endpoint(id: &EndpointId) {
    assert!(id.bytes().all(is_id_char), "{id:?}");
}

fn check_pool(id: &PoolId) {
    assert!(
        !id.is_empty()
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b)),
        "{id:?}"
    );
    assert!(
        id.split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".."),
        "{id:?}"
    );
}

fn valid_ifname(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Decode `body` as `W` and check it into `M`, as the server does; `None` if refused.
fn decode<W: DeserializeOwned, M: TryFrom<W>>(body: &Value) -> Option<M> {
    let bytes = serde_json::to_vec(body).unwrap();
    let wire = kuryr::server::decode::<W>(&bytes).ok()?;
    M::try_from(wire).ok()
}

proptest! {
    #[test]
    fn accepted_ids_have_their_charset(s in nasty()) {
        if let Ok(id) = NetworkId::parse("NetworkID", &s) { check_network(&id); }
        if let Ok(id) = EndpointId::parse("EndpointID", &s) { check_endpoint(&id); }
        if let Ok(id) = PoolId::parse("PoolID", &s) { check_pool(&id); }
    }

    #[test]
    fn every_request_decodes_to_checked_values(
        net in nasty(), ep in nasty(), pool in nasty(), space in nasty(),
        key in nasty(), value in nasty(), ifname in nasty(), sandbox in nasty(),
    ) {
        let opts = json!({ &key: &value });
        if let Some(m) = decode::<ipam::ReleasePoolRequest, model::PoolId>(&json!({"PoolID": &pool})) {
            check_pool(&m);
        }
        if let Some(m) = decode::<ipam::RequestAddressRequest, model::AddressRequest>(
            &json!({"PoolID": &pool, "Address": "", "Options": opts})) {
            check_pool(&m.pool_id);
        }
        if let Some(m) = decode::<ipam::ReleaseAddressRequest, model::AddressRelease>(
            &json!({"PoolID": &pool, "Address": "10.0.0.1"})) {
            if let Some(p) = &m.pool_id { check_pool(p); }
        }
        let _ = decode::<ipam::RequestPoolRequest, model::PoolRequest>(
            &json!({"AddressSpace": &space, "Pool": "", "SubPool": "", "Options": opts, "V6": false}));
        if let Some(m) = decode::<network::CreateNetworkRequest, model::NetworkSpec>(&json!({
            "NetworkID": &net,
            "Options": {"com.docker.network.generic": {
                "com.docker.network.bridge.name": &ifname, &key: &value}},
            "IPv4Data": [{"AddressSpace": &space, "Pool": "10.1.0.0/24"}], "IPv6Data": []})) {
            check_network(&m.id);
        }
        if let Some(m) = decode::<network::NetworkRequest, model::NetworkId>(&json!({"NetworkID": &net})) {
            check_network(&m);
        }
        if let Some(m) = decode::<network::AllocateNetworkRequest, model::NetworkAllocation>(
            &json!({"NetworkID": &net, "Options": opts, "IPv4Data": [], "IPv6Data": []})) {
            check_network(&m.id);
        }
        if let Some(m) = decode::<network::CreateEndpointRequest, model::EndpointSpec>(&json!({
            "NetworkID": &net, "EndpointID": &ep, "Interface": {},
            "Options": {"com.docker.network.endpoint.ifname": &ifname, &key: &value}})) {
            check_network(&m.network_id);
            check_endpoint(&m.endpoint_id);
            if let Some(name) = &m.ifname { prop_assert!(valid_ifname(name), "{:?}", name); }
        }
        if let Some(m) = decode::<network::EndpointRequest, model::EndpointRef>(
            &json!({"NetworkID": &net, "EndpointID": &ep})) {
            check_network(&m.network_id);
            check_endpoint(&m.endpoint_id);
        }
        if let Some(m) = decode::<network::JoinRequest, model::JoinSpec>(&json!({
            "NetworkID": &net, "EndpointID": &ep, "SandboxKey": &sandbox, "Options": opts})) {
            check_network(&m.network_id);
            check_endpoint(&m.endpoint_id);
            prop_assert!(m.sandbox_key.starts_with('/'));
            prop_assert!(!m.sandbox_key.chars().any(char::is_control));
        }
        if let Some(m) = decode::<network::ProgramExternalConnectivityRequest, model::Connectivity>(
            &json!({"NetworkID": &net, "EndpointID": &ep, "Options": opts})) {
            check_network(&m.network_id);
            check_endpoint(&m.endpoint_id);
        }
    }
}

/// Every link name the recorder was asked about.
fn names(call: &Call) -> Vec<&str> {
    match call {
        Call::EnsureBridge(spec) => vec![&spec.name],
        Call::DeleteLink(name) | Call::LinkExists(name) | Call::RemoveAddresses(name, _) => {
            vec![name]
        }
        Call::CreateVeth(spec) => vec![&spec.host, &spec.container, &spec.bridge],
        Call::LinksWithPrefix(_) => vec![],
        Call::Firewall(networks) => networks
            .iter()
            .flat_map(|n| std::iter::once(&n.bridge).chain(&n.isolated_ports))
            .map(String::as_str)
            .collect(),
    }
}

/// A whole network and endpoint lifecycle through the embedded router with nasty
/// strings in every field: whatever is accepted, the host only sees valid names.
#[test]
fn host_sees_only_valid_interface_names() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Recorder::new());
    let router = runtime.block_on(support::backend(dir.path(), host.clone()));
    // A fresh /24 per case, so one case's leftovers never refuse the next one's pool.
    let counter = AtomicU32::new(0);
    let veths = AtomicU32::new(0);
    let strategy = (
        (nasty(), nasty(), nasty(), nasty()),
        (nasty(), nasty(), nasty(), nasty()),
    );
    let mut runner = TestRunner::new(Config::default());
    runner
        .run(
            &strategy,
            |((net, ep, space, key), (value, bridge, ifname, sandbox))| {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let subnet = format!("10.{}.{}.0/24", 64 + n / 256, n % 256);
                let gateway = format!("10.{}.{}.1/24", 64 + n / 256, n % 256);
                let space = if n % 2 == 0 { "no_address_space".to_owned() } else { space };
                // Every fourth case has valid ids, so the nasty names reach the host layer.
                let (net, ep) = if n % 4 == 0 {
                    (format!("{n:064x}"), format!("{:064x}", n + (1 << 20)))
                } else {
                    (net, ep)
                };
                let opts = json!({ &key: &value });
                // Every eighth case has no user options (the backend refuses unknown
                // keys), so it goes all the way to the veth.
                let (key, bridge, ifname) = if n % 8 == 0 {
                    ("x-unused".to_owned(), String::new(), String::new())
                } else {
                    (key, bridge, ifname)
                };
                let net_opts = if n % 8 == 0 {
                    json!({})
                } else {
                    json!({"com.docker.network.bridge.name": &bridge, &key: &value})
                };
                let ep_opts = if n % 8 == 0 {
                    json!({})
                } else {
                    json!({"com.docker.network.endpoint.ifname": &ifname, &key: &value})
                };
                runtime.block_on(async {
                    let r = &router;
                    let (_, pool) = support::call(r, "/IpamDriver.RequestPool", json!({
                        "AddressSpace": &space, "Pool": &subnet, "SubPool": "",
                        "Options": opts, "V6": false})).await;
                    let pool_id = pool["PoolID"].as_str().unwrap_or(&key).to_owned();
                    support::call(r, "/IpamDriver.RequestAddress", json!({
                        "PoolID": &pool_id, "Address": "",
                        "Options": {"RequestAddressType": "com.docker.network.gateway"}})).await;
                    support::call(r, "/NetworkDriver.CreateNetwork", json!({
                        "NetworkID": &net,
                        "Options": {"com.docker.network.enable_ipv6": false,
                            "com.docker.network.generic": net_opts},
                        "IPv4Data": [{"AddressSpace": &space, "Pool": &subnet, "Gateway": &gateway}],
                        "IPv6Data": []})).await;
                    let (_, addr) = support::call(r, "/IpamDriver.RequestAddress", json!({
                        "PoolID": &pool_id, "Address": "", "Options": opts})).await;
                    let address = addr["Address"].as_str().unwrap_or("").to_owned();
                    support::call(r, "/NetworkDriver.CreateEndpoint", json!({
                        "NetworkID": &net, "EndpointID": &ep,
                        "Interface": {"Address": &address, "AddressIPv6": "", "MacAddress": ""},
                        "Options": ep_opts})).await;
                    let ep_ref = json!({"NetworkID": &net, "EndpointID": &ep});
                    support::call(r, "/NetworkDriver.Join", json!({
                        "NetworkID": &net, "EndpointID": &ep, "SandboxKey": &sandbox,
                        "Options": opts})).await;
                    support::call(r, "/NetworkDriver.EndpointOperInfo", ep_ref.clone()).await;
                    support::call(r, "/NetworkDriver.Leave", ep_ref.clone()).await;
                    support::call(r, "/NetworkDriver.DeleteEndpoint", ep_ref).await;
                    support::call(r, "/NetworkDriver.DeleteNetwork", json!({"NetworkID": &net})).await;
                    support::call(r, "/IpamDriver.ReleaseAddress",
                        json!({"PoolID": &pool_id, "Address": &address})).await;
                    support::call(r, "/IpamDriver.ReleasePool", json!({"PoolID": &pool_id})).await;
                });
                let calls = host.take_calls();
                if calls.iter().any(|c| matches!(c, Call::CreateVeth(_))) {
                    veths.fetch_add(1, Ordering::Relaxed);
                }
                for call in calls {
                    for name in names(&call) {
                        prop_assert!(valid_ifname(name), "bad name {:?} in {:?}", name, call);
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    assert!(
        veths.load(Ordering::Relaxed) > 0,
        "no case reached CreateVeth"
    );
}
