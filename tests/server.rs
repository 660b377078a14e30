//! The plugin server end to end in-process: real router, real embedded backend, real
//! redb store in a temp dir, and a recording `HostNet` instead of the kernel.

#[path = "server/ops.rs"]
mod ops;
mod support;

use axum::http::StatusCode;
use kuryr::hostnet::{Call, CallKind, NetworkRules, Recorder};
use serde_json::{Value, json};
use std::sync::Arc;
use support::{EP, EP2, NET, backend, call, call_raw, ok};

async fn create_network(router: &axum::Router, subnet: &str, gateway: &str) -> String {
    let pool = ok(router, "/IpamDriver.RequestPool",
        json!({"AddressSpace": "no_address_space", "Pool": subnet, "SubPool": "", "Options": {}, "V6": false})).await;
    let pool_id = pool["PoolID"].as_str().unwrap().to_owned();
    let gw = ok(router, "/IpamDriver.RequestAddress",
        json!({"PoolID": pool_id, "Address": "", "Options": {"RequestAddressType": "com.docker.network.gateway"}})).await;
    assert_eq!(gw["Address"], gateway);
    ok(
        router,
        "/NetworkDriver.CreateNetwork",
        json!({
        "NetworkID": NET,
        "Options": {"com.docker.network.enable_ipv6": false, "com.docker.network.generic": {}},
        "IPv4Data": [{"AddressSpace": "no_address_space", "Pool": subnet, "Gateway": gateway}],
        "IPv6Data": []}),
    )
    .await;
    pool_id
}

#[tokio::test]
async fn full_lifecycle_in_dockerd_order() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Recorder::new());
    let router = backend(dir.path(), host.clone()).await;

    let activate = ok(&router, "/Plugin.Activate", Value::Null).await;
    assert_eq!(
        activate,
        json!({"Implements": ["NetworkDriver", "IpamDriver"]})
    );
    let caps = ok(&router, "/NetworkDriver.GetCapabilities", Value::Null).await;
    assert_eq!(caps["Scope"], "local");
    let spaces = ok(&router, "/IpamDriver.GetDefaultAddressSpaces", Value::Null).await;
    assert_eq!(spaces["LocalDefaultAddressSpace"], "no_address_space");

    let pool_id = create_network(&router, "10.99.0.0/24", "10.99.0.1/24").await;
    assert!(
        host.has_link("kbrc16ddead9f55"),
        "bridge created: {:?}",
        host.links()
    );

    let address = ok(
        &router,
        "/IpamDriver.RequestAddress",
        json!({"PoolID": pool_id, "Address": "", "Options": null}),
    )
    .await;
    assert_eq!(address["Address"], "10.99.0.2/24");
    let endpoint = ok(&router, "/NetworkDriver.CreateEndpoint", json!({
        "NetworkID": NET, "EndpointID": EP,
        "Interface": {"Address": "10.99.0.2/24", "AddressIPv6": "", "MacAddress": ""},
        "Options": {"com.docker.network.endpoint.exposedports": [], "com.docker.network.portmap": []}})).await;
    let mac = endpoint["Interface"]["MacAddress"]
        .as_str()
        .expect("a MAC when dockerd gave none");
    assert!(
        mac.starts_with("02:") || u8::from_str_radix(&mac[..2], 16).unwrap() & 2 == 2,
        "{mac}"
    );
    assert_eq!(
        endpoint["Interface"].as_object().unwrap().len(),
        1,
        "only the MAC is filled"
    );

    let join = ok(&router, "/NetworkDriver.Join", json!({
        "NetworkID": NET, "EndpointID": EP, "SandboxKey": "/run/docker/netns/28a37b2143a9",
        "Options": {"com.docker.network.endpoint.exposedports": [], "com.docker.network.portmap": []}})).await;
    assert_eq!(
        join["InterfaceName"],
        json!({"SrcName": "kvc70141a672af9", "DstPrefix": "eth"})
    );
    assert_eq!(join["Gateway"], "10.99.0.1");
    assert!(join.get("GatewayIPv6").is_none());

    ok(
        &router,
        "/NetworkDriver.ProgramExternalConnectivity",
        json!({"NetworkID": NET, "EndpointID": EP, "Options": {}}),
    )
    .await;
    ok(
        &router,
        "/NetworkDriver.EndpointOperInfo",
        json!({"NetworkID": NET, "EndpointID": EP}),
    )
    .await;
    ok(
        &router,
        "/NetworkDriver.RevokeExternalConnectivity",
        json!({"NetworkID": NET, "EndpointID": EP}),
    )
    .await;
    ok(
        &router,
        "/NetworkDriver.Leave",
        json!({"NetworkID": NET, "EndpointID": EP}),
    )
    .await;
    ok(
        &router,
        "/NetworkDriver.Leave",
        json!({"NetworkID": NET, "EndpointID": EP}),
    )
    .await;
    assert!(host.has_link("kvh70141a672af9"), "Leave keeps the veth");
    ok(
        &router,
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NET, "EndpointID": EP}),
    )
    .await;
    assert!(
        !host.has_link("kvh70141a672af9"),
        "DeleteEndpoint removes the veth"
    );
    ok(
        &router,
        "/IpamDriver.ReleaseAddress",
        json!({"PoolID": pool_id, "Address": "10.99.0.2"}),
    )
    .await;

    // Network removal: IPAM releases first, then DeleteNetwork (spec §5.5).
    ok(
        &router,
        "/IpamDriver.ReleaseAddress",
        json!({"PoolID": pool_id, "Address": "10.99.0.1"}),
    )
    .await;
    ok(
        &router,
        "/IpamDriver.ReleasePool",
        json!({"PoolID": pool_id}),
    )
    .await;
    ok(
        &router,
        "/IpamDriver.ReleasePool",
        json!({"PoolID": pool_id}),
    )
    .await;
    ok(
        &router,
        "/NetworkDriver.DeleteNetwork",
        json!({"NetworkID": NET}),
    )
    .await;
    assert!(!host.has_link("kbrc16ddead9f55"));
    assert!(host.links().is_empty(), "nothing left: {:?}", host.links());
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Recorder::new());
    let pool_id = {
        let router = backend(dir.path(), host.clone()).await;
        let pool_id = create_network(&router, "10.98.0.0/29", "10.98.0.1/29").await;
        for expected in ["10.98.0.2/29", "10.98.0.3/29"] {
            let reply = ok(
                &router,
                "/IpamDriver.RequestAddress",
                json!({"PoolID": pool_id, "Address": "", "Options": null}),
            )
            .await;
            assert_eq!(reply["Address"], expected);
        }
        pool_id
    };
    let router = backend(dir.path(), host.clone()).await;
    // The old pool id still works and the held addresses are not handed out again.
    let (status, reply) = call(
        &router,
        "/IpamDriver.RequestAddress",
        json!({"PoolID": pool_id, "Address": "10.98.0.2", "Options": null}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert!(reply["Err"].as_str().unwrap().contains("in use"), "{reply}");
    let mut seen = Vec::new();
    loop {
        let (status, reply) = call(
            &router,
            "/IpamDriver.RequestAddress",
            json!({"PoolID": pool_id, "Address": "", "Options": null}),
        )
        .await;
        if status != StatusCode::OK {
            break;
        }
        seen.push(reply["Address"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["10.98.0.4/29", "10.98.0.5/29", "10.98.0.6/29"]);
    // The network is still known: an endpoint can be created on it.
    ok(&router, "/NetworkDriver.CreateEndpoint", json!({
        "NetworkID": NET, "EndpointID": EP, "Interface": {"Address": "10.98.0.4/29"}, "Options": {}})).await;
}

#[tokio::test]
async fn protocol_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let router = backend(dir.path(), Arc::new(Recorder::new())).await;

    let (status, reply) = call(&router, "/NetworkDriver.Bogus", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        reply["Err"]
            .as_str()
            .unwrap()
            .contains("NetworkDriver.Bogus")
    );

    let (status, reply) = call_raw(&router, "GET", "/Plugin.Activate", Vec::new()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(reply["Err"].is_string());

    let (status, reply) = call_raw(
        &router,
        "POST",
        "/NetworkDriver.CreateNetwork",
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply["Err"].is_string());

    let (status, reply) = call_raw(&router, "POST", "/IpamDriver.RequestAddress", Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply["Err"].as_str().unwrap().contains("empty body"));

    let (status, reply) = call(
        &router,
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "s", "Pool": "10.0.0.0/24", "SubPool": "10.1.0.0/25", "Options": {}, "V6": false}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        reply["Err"].as_str().unwrap().contains("10.1.0.0/25"),
        "{reply}"
    );

    let (status, reply) = call(
        &router,
        "/IpamDriver.RequestAddress",
        json!({"PoolID": "nope/10.0.0.0/24", "Address": "", "Options": null}),
    )
    .await;
    assert_ne!(status, StatusCode::OK);
    assert!(
        reply["Err"].as_str().unwrap().contains("nope/10.0.0.0/24"),
        "{reply}"
    );
}

#[tokio::test]
async fn order_tolerance_unknown_ids_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let router = backend(dir.path(), Arc::new(Recorder::new())).await;
    for (path, body) in [
        (
            "/NetworkDriver.Leave",
            json!({"NetworkID": NET, "EndpointID": EP}),
        ),
        (
            "/NetworkDriver.DeleteEndpoint",
            json!({"NetworkID": NET, "EndpointID": EP}),
        ),
        ("/NetworkDriver.DeleteNetwork", json!({"NetworkID": NET})),
        (
            "/IpamDriver.ReleaseAddress",
            json!({"PoolID": "x/10.0.0.0/24", "Address": "10.0.0.9"}),
        ),
        (
            "/IpamDriver.ReleaseAddress",
            json!({"PoolID": "", "Address": "10.0.0.9"}),
        ),
        (
            "/IpamDriver.ReleasePool",
            json!({"PoolID": "x/10.0.0.0/24"}),
        ),
        (
            "/NetworkDriver.EndpointOperInfo",
            json!({"NetworkID": NET, "EndpointID": EP}),
        ),
        (
            "/NetworkDriver.DiscoverNew",
            json!({"DiscoveryType": 1, "DiscoveryData": {"Address": "192.0.2.1"}}),
        ),
        (
            "/NetworkDriver.FreeNetwork",
            json!({"NetworkID": "x4gk0tq2yb5tq8q1ht2m5xz9c"}),
        ),
    ] {
        ok(&router, path, body).await;
    }
    let reply = ok(&router, "/NetworkDriver.AllocateNetwork",
        json!({"NetworkID": "x4gk0tq2yb5tq8q1ht2m5xz9c", "Options": {"mtu": "1400"}, "IPv4Data": [], "IPv6Data": null})).await;
    assert_eq!(
        reply["Options"],
        json!({"mtu": "1400"}),
        "AllocateNetwork echoes the options"
    );
}

#[tokio::test]
async fn bad_options_and_overlaps_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Recorder::new());
    let router = backend(dir.path(), host.clone()).await;

    let (status, reply) = call(&router, "/NetworkDriver.CreateNetwork", json!({
        "NetworkID": NET, "Options": {"com.docker.network.generic": {"bogus": "1"}},
        "IPv4Data": [{"AddressSpace": "s", "Pool": "10.97.0.0/24", "Gateway": "10.97.0.1/24"}], "IPv6Data": []})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(reply["Err"].as_str().unwrap().contains("bogus"), "{reply}");
    assert!(
        host.calls()
            .iter()
            .all(|c| c.kind() != CallKind::EnsureBridge),
        "validated before acting"
    );

    ok(
        &router,
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "s", "Pool": "10.97.0.0/16", "SubPool": "", "Options": {}, "V6": false}),
    )
    .await;
    let (status, reply) = call(
        &router,
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "s", "Pool": "10.97.5.0/24", "SubPool": "", "Options": {}, "V6": false}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        reply["Err"].as_str().unwrap().contains("overlaps"),
        "{reply}"
    );
    // Another address space may reuse the range.
    ok(
        &router,
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "other", "Pool": "10.97.5.0/24", "SubPool": "", "Options": {}, "V6": false}),
    )
    .await;

    let (status, reply) = call(&router, "/IpamDriver.RequestPool",
        json!({"AddressSpace": "s", "Pool": "10.96.0.0/24", "Options": {"pool-tag": "blue"}, "SubPool": "", "V6": false})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        reply["Err"].as_str().unwrap().contains("pool-tag"),
        "{reply}"
    );
}

#[tokio::test]
async fn default_pools_are_distinct_and_dual_stack_works() {
    let dir = tempfile::tempdir().unwrap();
    let router = backend(dir.path(), Arc::new(Recorder::new())).await;
    let mut pools = Vec::new();
    for _ in 0..4 {
        let reply = ok(&router, "/IpamDriver.RequestPool",
            json!({"AddressSpace": "no_address_space", "Pool": "", "SubPool": "", "Options": null, "V6": false})).await;
        pools.push(reply["Pool"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        pools,
        [
            "10.200.0.0/24",
            "10.200.1.0/24",
            "10.200.2.0/24",
            "10.200.3.0/24"
        ]
    );
    let (status, reply) = call(
        &router,
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "no_address_space", "Pool": "", "SubPool": "", "Options": {}, "V6": false}),
    )
    .await;
    assert_ne!(status, StatusCode::OK, "defaults exhausted: {reply}");

    let v6 = ok(
        &router,
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "no_address_space", "Pool": "", "SubPool": "", "Options": {}, "V6": true}),
    )
    .await;
    assert_eq!(v6["Pool"], "fd6b:7572:7972::/64");
    let v6_id = v6["PoolID"].as_str().unwrap();
    let gw = ok(&router, "/IpamDriver.RequestAddress",
        json!({"PoolID": v6_id, "Address": "", "Options": {"RequestAddressType": "com.docker.network.gateway"}})).await;
    assert_eq!(gw["Address"], "fd6b:7572:7972::1/64");
    let static_ip = ok(&router, "/IpamDriver.RequestAddress",
        json!({"PoolID": v6_id, "Address": "fd6b:7572:7972::50", "Options": {"com.docker.network.endpoint.macaddress": "02:00:00:00:74:50"}})).await;
    assert_eq!(static_ip["Address"], "fd6b:7572:7972::50/64");
}

#[tokio::test]
async fn docker_mac_is_not_echoed_and_failures_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Recorder::new());
    let router = backend(dir.path(), host.clone()).await;
    create_network(&router, "10.95.0.0/24", "10.95.0.1/24").await;

    let reply = ok(&router, "/NetworkDriver.CreateEndpoint", json!({
        "NetworkID": NET, "EndpointID": EP,
        "Interface": {"Address": "10.95.0.7/24", "MacAddress": "02:00:00:00:01:07"}, "Options": {}})).await;
    assert_eq!(
        reply,
        json!({"Interface": {}}),
        "dockerd refuses a reply that re-sets its MAC"
    );
    let veth = host
        .calls()
        .into_iter()
        .find_map(|c| match c {
            Call::CreateVeth(spec) => Some(spec),
            _ => None,
        })
        .unwrap();
    assert_eq!(veth.container_mac, Some([2, 0, 0, 0, 1, 7]));

    host.fail_next(CallKind::CreateVeth);
    let (status, _) = call(&router, "/NetworkDriver.CreateEndpoint", json!({
        "NetworkID": NET, "EndpointID": EP2, "Interface": {"Address": "10.95.0.8/24"}, "Options": {}})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_no_endpoint(&router, EP2).await;
    assert!(!host.has_link("kvh413eee0d5150"));
}

/// Join of `endpoint` on NET fails: no record is left after a failed create.
async fn assert_no_endpoint(router: &axum::Router, endpoint: &str) {
    let (status, reply) = call(
        router,
        "/NetworkDriver.Join",
        json!({
        "NetworkID": NET, "EndpointID": endpoint, "SandboxKey": "/x", "Options": {}}),
    )
    .await;
    assert_ne!(
        status,
        StatusCode::OK,
        "no endpoint record after a failed create: {reply}"
    );
}

#[tokio::test]
async fn start_up_restores_bridges_and_removes_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Recorder::new());
    {
        let router = backend(dir.path(), host.clone()).await;
        create_network(&router, "10.94.0.0/24", "10.94.0.1/24").await;
    }
    // A reboot: every interface is gone; a crash left an orphaned veth and bridge, and
    // an operator's look-alike bridge must survive.
    let rebooted = Arc::new(Recorder::with_links([
        "kvh0123456789ab",
        "kbr0123456789ab",
        "kbr-lab",
    ]));
    let _router = backend(dir.path(), rebooted.clone()).await;
    let mut links = rebooted.links();
    links.sort();
    assert_eq!(
        links,
        ["kbr-lab", "kbrc16ddead9f55"],
        "{:?}",
        rebooted.calls()
    );
    let restored = rebooted.calls().into_iter().find_map(|call| match call {
        Call::EnsureBridge(spec) => Some(spec),
        _ => None,
    });
    let restored = restored.expect("the stored network's bridge is recreated");
    assert_eq!(
        restored.addresses,
        vec!["10.94.0.1/24".parse::<ipnet::IpNet>().unwrap()]
    );
}

#[tokio::test]
async fn networks_are_isolated_and_a_firewall_failure_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Recorder::new());
    let router = backend(dir.path(), host.clone()).await;
    create_network(&router, "10.93.0.0/24", "10.93.0.1/24").await;
    let isolated = |host: &Recorder| {
        host.calls()
            .into_iter()
            .rev()
            .filter_map(|c| match c {
                Call::Firewall(networks) => {
                    Some(networks.into_iter().map(|n| n.bridge).collect::<Vec<_>>())
                }
                _ => None,
            })
            .next()
    };
    assert_eq!(isolated(&host), Some(vec!["kbrc16ddead9f55".to_string()]));

    let second = "d054fb0b37cf8b6a1ff5e2a0a5d1c9f3b0d8e7a6c5b4a3f2e1d0c9b8a7f6e5d4";
    let create = json!({
        "NetworkID": second, "Options": {"com.docker.network.generic": {}},
        "IPv4Data": [{"AddressSpace": "s", "Pool": "10.92.0.0/24", "Gateway": "10.92.0.1/24"}], "IPv6Data": []});
    host.fail_next(CallKind::Firewall);
    let (status, reply) = call(&router, "/NetworkDriver.CreateNetwork", create.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    assert!(
        !host.has_link("kbrd054fb0b37cf"),
        "the bridge is rolled back"
    );
    assert_eq!(
        isolated(&host),
        Some(vec!["kbrc16ddead9f55".to_string()]),
        "rules restored"
    );

    ok(&router, "/NetworkDriver.CreateNetwork", create).await;
    assert_eq!(
        isolated(&host),
        Some(vec![
            "kbrc16ddead9f55".to_string(),
            "kbrd054fb0b37cf".to_string()
        ])
    );
    ok(
        &router,
        "/NetworkDriver.DeleteNetwork",
        json!({"NetworkID": second}),
    )
    .await;
    assert_eq!(isolated(&host), Some(vec!["kbrc16ddead9f55".to_string()]));
}

/// `/Kuryr.Settle` is kuryr's own call: the embedded backend finishes everything
/// before it answers, so nothing is ever pending; a bad body is refused like any other.
#[tokio::test]
async fn settle_reports_an_empty_backlog_and_refuses_bad_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let router = backend(dir.path(), Arc::new(Recorder::new())).await;
    create_network(&router, "10.30.0.0/24", "10.30.0.1/24").await;
    let (status, reply) = call(&router, "/Kuryr.Settle", json!({"Timeout": 1})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply, json!({"Pending": 0, "Errors": []}));
    let (status, reply) = call(&router, "/Kuryr.Settle", json!({"Timeout": "soon"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        reply["Err"].as_str().unwrap().contains("Timeout"),
        "{reply}"
    );
}

/// The last rule set the backend gave the host.
fn last_rules(host: &Recorder) -> Vec<NetworkRules> {
    host.calls()
        .into_iter()
        .rev()
        .find_map(|c| match c {
            Call::Firewall(networks) => Some(networks),
            _ => None,
        })
        .expect("a firewall rebuild")
}

/// CreateNetwork of `id` with one IPv4 and one IPv6 subnet (`10.<n>.0.0/24`,
/// `fd<n>::/64`), `--internal` or not, and these `-o` options.
async fn create_network_with(
    router: &axum::Router,
    id: &str,
    n: u8,
    internal: bool,
    options: Value,
) -> (StatusCode, Value) {
    call(
        router,
        "/NetworkDriver.CreateNetwork",
        json!({
        "NetworkID": id,
        "Options": {"com.docker.network.enable_ipv6": true, "com.docker.network.internal": internal,
                    "com.docker.network.generic": options},
        "IPv4Data": [{"AddressSpace": "s", "Pool": format!("10.{n}.0.0/24"), "Gateway": format!("10.{n}.0.1/24")}],
        "IPv6Data": [{"AddressSpace": "s", "Pool": format!("fd{n}::/64"), "Gateway": format!("fd{n}::1/64")}]}),
    )
    .await
}

fn rules(bridge: &str, masquerade: &[&str], internal: bool, ports: &[&str]) -> NetworkRules {
    NetworkRules {
        bridge: bridge.into(),
        masquerade: masquerade.iter().map(|s| s.parse().unwrap()).collect(),
        internal,
        isolated_ports: ports.iter().map(|s| s.to_string()).collect(),
        published: Vec::new(),
    }
}

const NET_B: &str = "b054fb0b37cf8b6a1ff5e2a0a5d1c9f3b0d8e7a6c5b4a3f2e1d0c9b8a7f6e5d4";
const NET_C: &str = "c054fb0b37cf8b6a1ff5e2a0a5d1c9f3b0d8e7a6c5b4a3f2e1d0c9b8a7f6e5d4";
const NET_D: &str = "d054fb0b37cf8b6a1ff5e2a0a5d1c9f3b0d8e7a6c5b4a3f2e1d0c9b8a7f6e5d4";

/// Egress NAT of the IPv4 subnets by default, none for `--internal` or
/// `enable_ip_masquerade=false`, the ports of an `enable_icc=false` network as its
/// endpoints come and go; and a restart rebuilds exactly the same rules from the store.
#[tokio::test]
async fn firewall_rules_follow_the_networks_and_a_restart_rebuilds_them() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let host = Arc::new(Recorder::new());
        let router = backend(dir.path(), host.clone()).await;
        let masquerade = "com.docker.network.bridge.enable_ip_masquerade";
        let icc = "com.docker.network.bridge.enable_icc";
        for (id, n, internal, options) in [
            (NET, 81, false, json!({})),
            (NET_B, 82, true, json!({})),
            (NET_C, 83, false, json!({masquerade: "false"})),
            (NET_D, 84, false, json!({icc: "false", masquerade: "true"})),
        ] {
            let (status, reply) = create_network_with(&router, id, n, internal, options).await;
            assert_eq!(status, StatusCode::OK, "{reply}");
        }
        let no_ports: &[&str] = &[];
        let mut expected = vec![
            rules("kbrb054fb0b37cf", &[], true, no_ports),
            rules("kbrc054fb0b37cf", &[], false, no_ports),
            rules("kbrc16ddead9f55", &["10.81.0.0/24"], false, no_ports),
            rules("kbrd054fb0b37cf", &["10.84.0.0/24"], false, no_ports),
        ];
        assert_eq!(last_rules(&host), expected);

        for (ep, address) in [(EP, "10.84.0.2/24"), (EP2, "10.84.0.3/24")] {
            ok(&router, "/NetworkDriver.CreateEndpoint", json!({
                "NetworkID": NET_D, "EndpointID": ep, "Interface": {"Address": address}, "Options": {}}))
            .await;
        }
        expected[3].isolated_ports = vec!["kvh413eee0d5150".into(), "kvh70141a672af9".into()];
        assert_eq!(last_rules(&host), expected);

        // Docker's booleans only, refused by name before anything is made.
        let (status, reply) = create_network_with(
            &router,
            NET_D.replace('d', "e").as_str(),
            85,
            false,
            json!({icc: "no"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert!(reply["Err"].as_str().unwrap().contains(icc), "{reply}");
        assert_eq!(last_rules(&host), expected);
        expected
    };

    let host = Arc::new(Recorder::new());
    let router = backend(dir.path(), host.clone()).await;
    assert_eq!(last_rules(&host), before, "the same rules after a restart");

    ok(
        &router,
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NET_D, "EndpointID": EP}),
    )
    .await;
    assert_eq!(
        last_rules(&host)[3].isolated_ports,
        ["kvh413eee0d5150"],
        "a deleted endpoint leaves the drop rule"
    );
    for id in [NET, NET_B, NET_C, NET_D] {
        ok(
            &router,
            "/NetworkDriver.DeleteNetwork",
            json!({"NetworkID": id}),
        )
        .await;
    }
    assert_eq!(last_rules(&host), []);
}

/// With `enable_icc=false` an endpoint is only created once its port is in the drop
/// rule: if that rebuild fails, the veth and the record are gone again.
#[tokio::test]
async fn without_icc_a_failed_rebuild_rolls_the_endpoint_back() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Recorder::new());
    let router = backend(dir.path(), host.clone()).await;
    let options = json!({"com.docker.network.bridge.enable_icc": "false"});
    let (status, reply) = create_network_with(&router, NET, 86, false, options).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let create = json!({
        "NetworkID": NET, "EndpointID": EP, "Interface": {"Address": "10.86.0.2/24"}, "Options": {}});
    host.fail_next(CallKind::Firewall);
    let (status, reply) = call(&router, "/NetworkDriver.CreateEndpoint", create.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    assert!(!host.has_link("kvh70141a672af9"), "the veth is rolled back");
    assert_eq!(last_rules(&host)[0].isolated_ports, Vec::<String>::new());
    assert_no_endpoint(&router, EP).await;

    ok(&router, "/NetworkDriver.CreateEndpoint", create).await;
    assert_eq!(last_rules(&host)[0].isolated_ports, ["kvh70141a672af9"]);
}

/// ProgramExternalConnectivity with `com.docker.network.portmap` (a real dockerd body).
fn program(endpoint: &str, portmap: Value) -> Value {
    json!({"NetworkID": NET, "EndpointID": endpoint, "Options": {
        "com.docker.network.endpoint.exposedports": [{"Proto": 6, "Port": 80}],
        "com.docker.network.portmap": portmap}})
}

/// The published ports of the last rule set, as `host_port->container:port`.
fn published(host: &Recorder) -> Vec<String> {
    last_rules(host)
        .iter()
        .flat_map(|network| &network.published)
        .map(|f| {
            format!(
                "{}:{}->{}:{}",
                f.proto,
                f.host_port,
                f.container.addr(),
                f.port
            )
        })
        .collect()
}

/// Program DNATs the bindings (a range takes its first free port, `-P` one from
/// 49153); a host port another endpoint holds is refused naming both and changes
/// nothing; a restart rebuilds the rules from the store; Revoke, and DeleteEndpoint
/// without Revoke, take exactly that endpoint's ports out.
#[tokio::test]
async fn published_ports_program_revoke_conflict_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let host = Arc::new(Recorder::new());
        let router = backend(dir.path(), host.clone()).await;
        let (status, reply) = create_network_with(&router, NET, 87, false, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        for (ep, address) in [(EP, "10.87.0.2/24"), (EP2, "10.87.0.3/24")] {
            ok(&router, "/NetworkDriver.CreateEndpoint", json!({
                "NetworkID": NET, "EndpointID": ep, "Interface": {"Address": address}, "Options": {}}))
            .await;
        }
        let portmap = json!([
            {"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080},
            {"Proto": 17, "IP": "", "Port": 53, "HostIP": "", "HostPort": 5300, "HostPortEnd": 5310}]);
        ok(
            &router,
            "/NetworkDriver.ProgramExternalConnectivity",
            program(EP, portmap),
        )
        .await;
        assert_eq!(
            published(&host),
            ["tcp:8080->10.87.0.2:80", "udp:5300->10.87.0.2:53"]
        );

        let rebuilds = host.calls().len();
        let taken = json!([{"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080}]);
        let (status, reply) = call(
            &router,
            "/NetworkDriver.ProgramExternalConnectivity",
            program(EP2, taken),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
        assert_eq!(
            reply["Err"],
            format!("* host port 8080/tcp is already published by endpoint {EP}")
        );
        assert_eq!(host.calls().len(), rebuilds, "a refusal changes nothing");

        let rest = json!([
            {"Proto": 17, "IP": "", "Port": 53, "HostIP": "", "HostPort": 5300, "HostPortEnd": 5310},
            {"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 0, "HostPortEnd": 0}]);
        ok(
            &router,
            "/NetworkDriver.ProgramExternalConnectivity",
            program(EP2, rest),
        )
        .await;
        let expected = [
            "tcp:8080->10.87.0.2:80",
            "tcp:49153->10.87.0.3:80",
            "udp:5300->10.87.0.2:53",
            "udp:5301->10.87.0.3:53",
        ];
        assert_eq!(published(&host), expected);
        last_rules(&host)
    };

    let host = Arc::new(Recorder::new());
    let router = backend(dir.path(), host.clone()).await;
    assert_eq!(last_rules(&host), before, "the same rules after a restart");
    let revoke = json!({"NetworkID": NET, "EndpointID": EP});
    ok(
        &router,
        "/NetworkDriver.RevokeExternalConnectivity",
        revoke.clone(),
    )
    .await;
    assert_eq!(
        published(&host),
        ["tcp:49153->10.87.0.3:80", "udp:5301->10.87.0.3:53"]
    );
    ok(&router, "/NetworkDriver.RevokeExternalConnectivity", revoke).await;
    // No Revoke before DeleteEndpoint: the ports still go with the endpoint.
    ok(
        &router,
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NET, "EndpointID": EP2}),
    )
    .await;
    assert_eq!(published(&host), Vec::<String>::new());
    // A loopback host address is refused, not silently left unserved.
    let loopback = json!([{"Proto": 6, "IP": "", "Port": 80, "HostIP": "127.0.0.1", "HostPort": 18080, "HostPortEnd": 18080}]);
    let (status, reply) = call(
        &router,
        "/NetworkDriver.ProgramExternalConnectivity",
        program(EP, loopback),
    )
    .await;
    assert_ne!(status, StatusCode::OK, "{reply}");
    assert!(
        reply["Err"].as_str().unwrap().contains("127.0.0.1"),
        "{reply}"
    );
    ok(
        &router,
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NET, "EndpointID": EP}),
    )
    .await;
    ok(
        &router,
        "/NetworkDriver.DeleteNetwork",
        json!({"NetworkID": NET}),
    )
    .await;
    assert_eq!(last_rules(&host), []);
}
