//! The Neutron backend end to end with no Neutron, no root and no Docker: the real
//! router (`kuryr::server::router`) over a `NeutronDriver` whose Neutron is the
//! in-process fake (`kuryr::neutron::fake`, a model of the rig's Neutron 29) and whose
//! host side is the `RecordingBinder`. dockerd's own captured calls drive it
//! (`support/replay.rs`), and every step is checked against what the fake Neutron
//! then holds and what the binder plugged.

#[path = "support/neutron_rig.rs"]
mod neutron_rig;
#[path = "support/replay.rs"]
mod replay;
mod support;
#[path = "support/wire_calls.rs"]
mod wire_calls;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use kuryr::binding::{BindOp, RecordingBinder};
use kuryr::neutron::fake::{Fake, Script};
use kuryr::neutron_driver::NeutronDriver;
use neutron_rig::{client_at, driver_at};
use replay::{Captured, Dockerd, segment};
use serde_json::{Value, json};
use support::{call, ok};

const HOST: &str = "kuryr-test-host";
/// dockerd 20.10's smoke run: two networks, `run --rm`, two containers, `network
/// connect --ip`, `disconnect`, stop and start with the static address, `rm -f`,
/// `network rm`.
const SMOKE: &str = "dockerd-calls.jsonl";
const EXTRA: &str = "dockerd-calls-extra.jsonl";
/// One lifecycle in EXTRA: create, `run --rm`, `network rm`.
const ONE_LIFECYCLE: &str =
    "spec-file discovery: /etc/docker/plugins/fakespec.spec = unix:///tmp/.../fakespec.sock";

/// A plugin on the Neutron backend over a fresh fake Neutron.
struct World {
    fake: Fake,
    driver: Arc<NeutronDriver>,
    router: Router,
    binder: Arc<RecordingBinder>,
    state: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        let fake = Fake::rig().await;
        let state = tempfile::tempdir().expect("state dir");
        let binder = Arc::new(RecordingBinder::new());
        let (driver, router) = plugin(&fake, state.path(), &binder);
        World {
            fake,
            driver,
            router,
            binder,
            state,
        }
    }

    /// A second plugin over the same Neutron and binder, as after a restart: an
    /// empty cache and a state dir of its own.
    fn restarted(&self) -> (Arc<NeutronDriver>, Router) {
        let dir = self.state.path().join("restarted");
        std::fs::create_dir_all(&dir).expect("state dir");
        plugin(&self.fake, &dir, &self.binder)
    }

    /// The items of `coll` the fake Neutron holds now.
    fn items(&self, coll: &str) -> Vec<Value> {
        let st = self.fake.state();
        st.items
            .get(coll)
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The items of `coll` tagged with Docker id `docker_id`, as kuryr tags them.
    fn tagged(&self, coll: &str, docker_id: &str) -> Vec<Value> {
        let lh = json!(format!("kuryr.net.uuid.lh:{}", &docker_id[..32]));
        let uh = json!(format!("kuryr.net.uuid.uh:{}", &docker_id[32..]));
        self.items(coll)
            .into_iter()
            .filter(|i| {
                let tags = i["tags"].as_array().cloned().unwrap_or_default();
                tags.contains(&lh) && tags.contains(&uh)
            })
            .collect()
    }

    /// The one item of `coll` tagged with `docker_id`.
    fn the(&self, coll: &str, docker_id: &str) -> Value {
        let found = self.tagged(coll, docker_id);
        assert_eq!(found.len(), 1, "{coll} tagged {docker_id}: {found:#?}");
        found[0].clone()
    }

    /// Waits for the deletes run after Docker's answers; none may be failing.
    async fn settle(&self, driver: &NeutronDriver) {
        let left = driver.drain(Duration::from_secs(10)).await;
        assert_eq!(left.pending, 0, "deletes pending: {:?}", left.errors);
    }

    /// Neutron holds none of the networks, subnets, pools and ports kuryr made.
    fn assert_clean(&self) {
        for coll in ["networks", "subnets", "subnetpools", "ports"] {
            assert!(
                self.items(coll).is_empty(),
                "{coll}: {:#?}",
                self.items(coll)
            );
        }
    }

    /// `docker network rm` of NET: dockerd releases its pools, then deletes it.
    async fn network_rm(&self, pool_ids: &[String]) {
        for pool_id in pool_ids {
            ok(
                &self.router,
                "/IpamDriver.ReleasePool",
                json!({"PoolID": pool_id}),
            )
            .await;
        }
        ok(
            &self.router,
            "/NetworkDriver.DeleteNetwork",
            json!({"NetworkID": NET}),
        )
        .await;
        self.settle(&self.driver).await;
    }

    /// Requests Neutron saw, as `METHOD path?query`.
    fn seen(&self) -> Vec<String> {
        let st = self.fake.state();
        st.seen
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }
}

fn plugin(
    fake: &Fake,
    state: &std::path::Path,
    binder: &Arc<RecordingBinder>,
) -> (Arc<NeutronDriver>, Router) {
    let endpoint = fake.url("/").to_string();
    let client = client_at(&endpoint);
    let driver = Arc::new(driver_at(&client, &endpoint, "", state, binder.clone()));
    (driver.clone(), kuryr::server::router(driver))
}

fn field(calls: &[Captured], path: &str, key: &str) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.path == path)
        .map(|c| c.body[key].as_str().expect(key).to_string())
        .collect()
}

/// The endpoint ids a segment creates, in order.
fn endpoints(calls: &[Captured]) -> Vec<String> {
    field(calls, "/NetworkDriver.CreateEndpoint", "EndpointID")
}

fn networks(calls: &[Captured]) -> Vec<String> {
    field(calls, "/NetworkDriver.CreateNetwork", "NetworkID")
}

fn ips(port: &Value) -> Vec<&str> {
    port["fixed_ips"]
        .as_array()
        .expect("fixed_ips")
        .iter()
        .map(|f| f["ip_address"].as_str().expect("an address"))
        .collect()
}

fn named<'a>(items: &'a [Value], name: &str) -> Vec<&'a Value> {
    items.iter().filter(|i| i["name"] == json!(name)).collect()
}

/// What the binder bound and unbound, as `(op, port id, vif_type, MAC)`.
fn plugged(binder: &RecordingBinder) -> Vec<(BindOp, String, String, String)> {
    binder
        .calls()
        .into_iter()
        .map(|(op, vif)| (op, vif.port_id, vif.vif_type, vif.mac))
        .collect()
}

/// A container's port as kuryr leaves it after CreateEndpoint: bound here by
/// RequestAddress with dockerd's MAC, tagged with the endpoint, status ACTIVE.
fn assert_container_port(port: &Value, mac: &str, address: &str) {
    assert_eq!(port["binding:host_id"], HOST, "{port:#}");
    assert_eq!(port["device_owner"], "compute:kuryr", "{port:#}");
    assert_eq!(port["binding:vif_type"], "tap", "{port:#}");
    assert_eq!(port["status"], "ACTIVE", "{port:#}");
    assert_eq!(port["mac_address"], mac, "{port:#}");
    assert_eq!(ips(port), [address], "{port:#}");
    assert!(
        port["tags"]
            .as_array()
            .expect("tags")
            .contains(&json!("compute:kuryr")),
        "{port:#}"
    );
}

/// dockerd's whole smoke run, segment by segment, with Neutron and the host side
/// checked after each.
#[tokio::test]
async fn dockerds_smoke_run_in_order() {
    let w = World::new().await;
    let mut dockerd = Dockerd::new(w.router.clone());

    let create = segment(SMOKE, "network create smokenet");
    let replies = dockerd.replay(&create).await;
    assert_eq!(replies[2]["RequiresMACAddress"], true);
    let net1 = networks(&create)[0].clone();
    let pool_id = replies[4]["PoolID"].as_str().expect("a PoolID").to_string();
    assert_eq!(replies[5]["Address"], "10.99.0.1/24", "the gateway");
    let network = w.the("networks", &net1);
    assert_eq!(network["name"], format!("kuryr-net-{}", &net1[..8]));
    let pools = w.items("subnetpools");
    let pool = named(&pools, "kuryrPool-10.99.0.0/24");
    assert_eq!(pool.len(), 1, "{pools:#?}");
    assert_eq!(pool[0]["id"], json!(pool_id));
    let subnets = w.items("subnets");
    assert_eq!(subnets.len(), 1, "{subnets:#?}");
    let subnet = &subnets[0];
    assert_eq!(
        (
            &subnet["name"],
            &subnet["cidr"],
            &subnet["gateway_ip"],
            &subnet["network_id"],
            &subnet["subnetpool_id"],
            &subnet["tags"]
        ),
        (
            &json!("kuryr-subnet-10.99.0.0/24"),
            &json!("10.99.0.0/24"),
            &json!("10.99.0.1"),
            &network["id"],
            &json!(pool_id),
            &json!([pool_id])
        )
    );
    assert!(w.items("ports").is_empty());

    // run --rm: a port bound here with dockerd's MAC, plugged, then gone.
    let run = segment(SMOKE, "run --rm on smokenet");
    let replies = dockerd.replay(&run).await;
    assert_eq!(replies[0]["Address"], "10.99.0.2/24");
    assert_eq!(
        replies[2]["InterfaceName"],
        json!({"SrcName": format!("t_c{}", &plugged(&w.binder)[0].1[..11]), "DstPrefix": "eth"})
    );
    assert_eq!(replies[2]["Gateway"], "10.99.0.1");
    assert_eq!(replies[4]["Value"], json!({"status": "ACTIVE"}));
    w.settle(&w.driver).await;
    assert!(w.items("ports").is_empty(), "{:#?}", w.items("ports"));
    let port = plugged(&w.binder)[0].1.clone();
    assert_eq!(
        plugged(&w.binder),
        [
            (BindOp::Bind, port.clone(), "tap".into(), Dockerd::mac(1)),
            (BindOp::Unbind, port, "tap".into(), Dockerd::mac(1))
        ]
    );

    // Two containers running: two bound ports, each its endpoint's.
    let two = segment(SMOKE, "run -d smoke-a, smoke-b; ping a->b over fkbr0");
    dockerd.replay(&two).await;
    let [a, b] = [0, 1].map(|i| endpoints(&two)[i].clone());
    let port_a = w.the("ports", &a);
    assert_container_port(&port_a, &Dockerd::mac(2), "10.99.0.2");
    assert_container_port(&w.the("ports", &b), &Dockerd::mac(3), "10.99.0.3");
    assert_eq!(w.binder.bound().len(), 2);

    // A second network with its own gateway, and smoke-a connected with a static IP.
    let create2 = segment(
        SMOKE,
        "network create smokenet2 (gateway, options, ipam-opt, label)",
    );
    dockerd.replay(&create2).await;
    let net2 = networks(&create2)[0].clone();
    let network2 = w.the("networks", &net2);
    let subnets = w.items("subnets");
    let subnet2: Vec<&Value> = subnets
        .iter()
        .filter(|s| s["network_id"] == network2["id"])
        .collect();
    assert_eq!(subnet2.len(), 1);
    assert_eq!(subnet2[0]["gateway_ip"], "10.99.1.254");
    let connect = segment(SMOKE, "network connect --ip 10.99.1.50 smokenet2 smoke-a");
    dockerd.replay(&connect).await;
    let a2 = endpoints(&connect)[0].clone();
    let port_a2 = w.the("ports", &a2);
    assert_eq!(port_a2["network_id"], network2["id"]);
    assert_container_port(&port_a2, &Dockerd::mac(4), "10.99.1.50");

    // disconnect, stop: their ports go; start: the static address again.
    dockerd
        .replay(&segment(SMOKE, "network disconnect smokenet smoke-a"))
        .await;
    w.settle(&w.driver).await;
    assert!(w.tagged("ports", &a).is_empty(), "smoke-a left smokenet");
    dockerd.replay(&segment(SMOKE, "stop smoke-a")).await;
    w.settle(&w.driver).await;
    assert!(w.tagged("ports", &a2).is_empty());
    let start = segment(SMOKE, "start smoke-a (static --ip replayed)");
    dockerd.replay(&start).await;
    let restarted = w.the("ports", &endpoints(&start)[0]);
    assert_container_port(&restarted, &Dockerd::mac(5), "10.99.1.50");

    dockerd
        .replay(&segment(SMOKE, "rm -f smoke-a smoke-b"))
        .await;
    w.settle(&w.driver).await;
    assert!(w.items("ports").is_empty(), "{:#?}", w.items("ports"));
    assert!(w.binder.bound().is_empty());

    // network rm: Neutron is as it was, but for the project's default group.
    dockerd
        .replay(&segment(SMOKE, "network rm smokenet2 smokenet"))
        .await;
    w.assert_clean();
    let calls = plugged(&w.binder);
    let binds = calls.iter().filter(|c| c.0 == BindOp::Bind).count();
    assert_eq!(binds, 5, "{calls:#?}");
    assert_eq!(calls.len(), 2 * binds, "every bind undone: {calls:#?}");
}

/// The request budget the README promises (11 per lifecycle), held without a live
/// Neutron: the bench (benches/neutron_lifecycle.sh) measures the same against the rig.
#[tokio::test]
async fn one_lifecycle_costs_11_neutron_requests() {
    let w = World::new().await;
    let mut dockerd = Dockerd::new(w.router.clone());
    // The probe (GET extensions) is made once, when the plugin starts.
    w.driver.probe().await.expect("probe");
    let before = w.seen().len();
    dockerd.replay(&segment(EXTRA, ONE_LIFECYCLE)).await;
    w.settle(&w.driver).await;
    let seen = w.seen();
    assert_eq!(seen.len() - before, 11, "{:#?}", &seen[before..]);
    w.assert_clean();
}

/// The plugin restarts while a container runs: a new driver with an empty cache finds
/// the network, the endpoint and its port by their tags, and dockerd's remaining
/// calls finish the lifecycle. The port is bound as `ovs` here, which reaches the
/// binder as Neutron says.
#[tokio::test]
async fn a_restart_with_an_empty_cache_finds_everything_by_tags() {
    let w = World::new().await;
    w.fake.state().vif_type = Some("ovs");
    let calls = segment(EXTRA, ONE_LIFECYCLE);
    let running = calls
        .iter()
        .position(|c| c.path == "/NetworkDriver.EndpointOperInfo")
        .expect("the container runs");
    let mut dockerd = Dockerd::new(w.router.clone());
    dockerd.replay(&calls[..running]).await;
    let (net, ep) = (networks(&calls)[0].clone(), endpoints(&calls)[0].clone());
    let port = w.the("ports", &ep);
    assert_eq!(port["binding:vif_type"], "ovs");

    let (driver, router) = w.restarted();
    dockerd.plugin_restarted(router);
    // dockerd activates the plugin again before anything else.
    dockerd.replay(&calls[..4]).await;
    let seen_before = w.seen().len();
    let replies = dockerd.replay(&calls[running..]).await;
    assert_eq!(replies[0]["Value"], json!({"status": "ACTIVE"}));
    let lookups = &w.seen()[seen_before..];
    for id in [&net, &ep] {
        let tag = format!("tags=kuryr.net.uuid.lh%3A{}", &id[..32]);
        assert!(
            lookups
                .iter()
                .any(|s| s.starts_with("GET") && s.contains(&tag)),
            "found by its tags: {lookups:#?}"
        );
    }
    w.settle(&driver).await;
    let unbound: Vec<_> = plugged(&w.binder)
        .into_iter()
        .filter(|c| c.0 == BindOp::Unbind)
        .collect();
    assert_eq!(
        unbound,
        [(
            BindOp::Unbind,
            port["id"].as_str().expect("an id").to_string(),
            "ovs".to_string(),
            port["mac_address"].as_str().expect("a MAC").to_string()
        )],
        "the restarted plugin unplugs what the first one plugged"
    );
    w.assert_clean();
}

const NET: &str = support::NET;
const EP: &str = support::EP;

/// Malformed ids are refused at the edge, naming the field, before Neutron is asked.
#[tokio::test]
async fn malformed_ids_are_refused_before_neutron_is_asked() {
    let w = World::new().await;
    for (path, body, named) in [
        (
            "/NetworkDriver.CreateNetwork",
            json!({"NetworkID": "net1", "Options": {}, "IPv4Data": [{"AddressSpace": "no_address_space", "Pool": "10.99.0.0/24", "Gateway": "10.99.0.1/24"}], "IPv6Data": []}),
            "NetworkID",
        ),
        (
            "/NetworkDriver.CreateEndpoint",
            json!({"NetworkID": NET, "EndpointID": "ep", "Interface": {"Address": "10.99.0.2/24"}, "Options": {}}),
            "EndpointID",
        ),
        (
            "/NetworkDriver.DeleteNetwork",
            json!({"NetworkID": NET.to_uppercase()}),
            "NetworkID",
        ),
        (
            "/NetworkDriver.Join",
            json!({"NetworkID": NET, "EndpointID": EP, "Options": {}}),
            "SandboxKey",
        ),
        (
            "/IpamDriver.RequestAddress",
            json!({"PoolID": "p", "Address": "10.99.0.300", "Options": null}),
            "Address",
        ),
    ] {
        let (status, reply) = call(&w.router, path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} -> {reply}");
        let err = reply["Err"].as_str().expect("an Err");
        assert!(err.contains(named), "{path}: {err}");
    }
    assert!(w.seen().is_empty(), "Neutron was asked: {:#?}", w.seen());
}

/// Calls about a network or endpoint Neutron does not have: the ones that create
/// something name it; releases and deletes succeed (dockerd retries them) and touch
/// nothing of anyone else's.
#[tokio::test]
async fn an_unknown_network_or_endpoint_is_named_or_already_gone() {
    let w = World::new().await;
    w.fake.state().insert(
        "networks",
        json!({"id": "someone-elses", "name": "n", "tags": []}),
    );
    let endpoint = json!({"NetworkID": NET, "EndpointID": EP});
    let (status, reply) = call(
        &w.router,
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": NET, "EndpointID": EP, "Interface": {"Address": "10.99.0.2/24"}, "Options": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    assert_eq!(
        reply["Err"],
        format!("network {NET} is not known to kuryr"),
        "{reply}"
    );
    let mut join = endpoint.clone();
    join["SandboxKey"] = json!("/run/docker/netns/x");
    join["Options"] = json!({});
    let (_, reply) = call(&w.router, "/NetworkDriver.Join", join).await;
    assert!(
        reply["Err"].as_str().is_some_and(|e| e.contains(NET)),
        "{reply}"
    );
    for (path, body) in [
        ("/NetworkDriver.Leave", endpoint.clone()),
        ("/NetworkDriver.DeleteEndpoint", endpoint.clone()),
        ("/NetworkDriver.EndpointOperInfo", endpoint.clone()),
        ("/NetworkDriver.DeleteNetwork", json!({"NetworkID": NET})),
        (
            "/IpamDriver.ReleaseAddress",
            json!({"PoolID": "00000003-0000-4000-8000-0000000000ff", "Address": "10.99.0.2"}),
        ),
        (
            "/IpamDriver.ReleasePool",
            json!({"PoolID": "00000003-0000-4000-8000-0000000000ff"}),
        ),
    ] {
        ok(&w.router, path, body).await;
    }
    assert!(
        w.seen().iter().all(|s| s.starts_with("GET")),
        "only lookups: {:#?}",
        w.seen()
    );
    assert_eq!(w.items("networks").len(), 1);
    assert!(w.items("ports").is_empty());
}

/// Network NET with a pool per CIDR (IPv4 or IPv6), made the way dockerd makes it:
/// their PoolIDs.
async fn network_on(w: &World, cidrs: &[&str]) -> Vec<String> {
    let mut pool_ids = Vec::new();
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for cidr in cidrs {
        let is_v6 = cidr.contains(':');
        let pool = ok(
            &w.router,
            "/IpamDriver.RequestPool",
            json!({"AddressSpace": "no_address_space", "Pool": cidr, "SubPool": "", "Options": {}, "V6": is_v6}),
        )
        .await;
        let pool_id = pool["PoolID"].as_str().expect("a PoolID").to_string();
        let gateway = ok(
            &w.router,
            "/IpamDriver.RequestAddress",
            json!({"PoolID": pool_id, "Address": "", "Options": {"RequestAddressType": "com.docker.network.gateway"}}),
        )
        .await;
        let data = json!({"AddressSpace": "no_address_space", "Pool": cidr, "Gateway": gateway["Address"]});
        if is_v6 {
            v6.push(data)
        } else {
            v4.push(data)
        }
        pool_ids.push(pool_id);
    }
    ok(
        &w.router,
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": NET, "Options": {"com.docker.network.enable_ipv6": !v6.is_empty()},
               "IPv4Data": v4, "IPv6Data": v6}),
    )
    .await;
    pool_ids
}

/// A VM's port on kuryr's network, bound to another host.
fn vm_port(w: &World, address: &str, mac: &str) -> Value {
    let network = w.the("networks", NET);
    let subnet = w.items("subnets")[0]["id"].clone();
    let mut st = w.fake.state();
    let id = st.new_id("ports");
    let port = json!({"id": id, "network_id": network["id"], "name": "vm", "mac_address": mac,
                      "fixed_ips": [{"subnet_id": subnet, "ip_address": address}],
                      "device_owner": "compute:nova", "device_id": "vm-1", "tags": [],
                      "binding:host_id": "hv9", "binding:vif_type": "ovs", "status": "ACTIVE"});
    st.insert("ports", port.clone());
    port
}

fn address(pool_id: &str, ip: &str, mac: &str) -> Value {
    json!({"PoolID": pool_id, "Address": ip,
           "Options": {"com.docker.network.endpoint.macaddress": mac}})
}

/// Neutron's own 409s (an address or a MAC a VM holds), a 404 (a pool deleted behind
/// kuryr's back) and a 500 reach dockerd as one clear `{"Err"}`; nothing is left
/// half made, and the VM's port is untouched.
#[tokio::test]
async fn neutron_refusals_reach_docker_as_a_clear_err() {
    let w = World::new().await;
    let [pool_id] = network_on(&w, &["10.99.0.0/24"])
        .await
        .try_into()
        .expect("one pool");
    let vm = vm_port(&w, "10.99.0.9", "fa:16:3e:00:00:99");
    let ports_before = w.items("ports");
    for body in [
        address(&pool_id, "10.99.0.9", "02:42:0a:63:00:01"),
        address(&pool_id, "", "fa:16:3e:00:00:99"),
    ] {
        let (status, reply) = call(&w.router, "/IpamDriver.RequestAddress", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {reply}");
        let err = reply["Err"].as_str().expect("an Err");
        assert!(
            err.contains(vm["id"].as_str().expect("an id"))
                && err.contains("kuryr only reuses ports that nothing is bound to"),
            "{err}"
        );
    }
    assert_eq!(w.items("ports"), ports_before, "the VM's port as it was");

    // A 500 from Neutron: its message and request id reach dockerd.
    w.fake.state().scripts.push(Script {
        method: "POST",
        path: "v2.0/ports".into(),
        status: 500,
        body: json!({"NeutronError": {"type": "HTTPInternalServerError", "message": "the database went away", "detail": ""}}),
        request_id: Some("req-5f0c"),
    });
    let (status, reply) = call(
        &w.router,
        "/IpamDriver.RequestAddress",
        address(&pool_id, "", "02:42:0a:63:00:02"),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    let err = reply["Err"].as_str().expect("an Err");
    assert!(
        err.contains("the database went away") && err.contains("req-5f0c"),
        "{err}"
    );
    w.fake.state().scripts.clear();
    assert_eq!(w.items("ports"), ports_before, "no port made");

    // A pool deleted behind kuryr's back (404): named, not an empty answer.
    let (driver, router) = w.restarted();
    w.fake
        .state()
        .items
        .get_mut("subnetpools")
        .expect("pools")
        .clear();
    let (status, reply) = call(
        &router,
        "/IpamDriver.RequestAddress",
        address(&pool_id, "", "02:42:0a:63:00:03"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(
        reply["Err"],
        format!("pool {pool_id} does not exist in Neutron")
    );
    drop(driver);
}

/// Neutron refuses to delete a network a VM still uses (409 NetworkInUse), and then
/// its pool (400, it still has the subnet): DeleteNetwork answers, the three stay for
/// their user (as kuryr-libnetwork leaves them), and the refusals are not retried
/// behind anyone's back.
#[tokio::test]
async fn a_network_a_vm_still_uses_is_kept() {
    let w = World::new().await;
    let pools = network_on(&w, &["10.99.0.0/24"]).await;
    let vm = vm_port(&w, "10.99.0.9", "fa:16:3e:00:00:99");
    let network = w.the("networks", NET);
    w.network_rm(&pools).await;
    let deletes: Vec<String> = w
        .seen()
        .into_iter()
        .filter(|s| s.starts_with("DELETE"))
        .collect();
    let id = |v: &Value| v["id"].as_str().expect("an id").to_string();
    assert_eq!(
        deletes,
        [
            format!("DELETE v2.0/networks/{}", id(&network)),
            format!("DELETE v2.0/subnetpools/{}", pools[0]),
        ],
        "each tried once"
    );
    assert_eq!(w.items("networks").len(), 1, "kept");
    assert_eq!(w.items("subnets").len(), 1, "kept");
    assert_eq!(w.items("subnetpools").len(), 1, "kept");
    assert_eq!(w.items("ports"), [vm]);
}

/// Dual stack (B2): dockerd asks an address per family with one MAC, and the endpoint
/// becomes one port holding both, bound and plugged once; its gateways come from
/// the subnets, and everything goes with the network.
#[tokio::test]
async fn a_dual_stack_endpoint_is_one_port() {
    let w = World::new().await;
    let pools = network_on(&w, &["10.99.0.0/24", "fd99:1::/64"]).await;
    let subnets = w.items("subnets");
    let gateways: Vec<&Value> = subnets.iter().map(|s| &s["gateway_ip"]).collect();
    assert_eq!(gateways, [&json!("10.99.0.1"), &json!("fd99:1::1")]);
    let mac = Dockerd::mac(1);
    let mut addresses = Vec::new();
    for pool_id in &pools {
        let reply = ok(
            &w.router,
            "/IpamDriver.RequestAddress",
            address(pool_id, "", &mac),
        )
        .await;
        addresses.push(reply["Address"].as_str().expect("an address").to_string());
    }
    assert_eq!(addresses, ["10.99.0.2/24", "fd99:1::2/64"]);
    let endpoint = json!({"NetworkID": NET, "EndpointID": EP});
    let mut create = endpoint.clone();
    create["Interface"] =
        json!({"Address": addresses[0], "AddressIPv6": addresses[1], "MacAddress": mac});
    create["Options"] = json!({});
    ok(&w.router, "/NetworkDriver.CreateEndpoint", create).await;
    let port = w.the("ports", EP);
    assert_eq!(ips(&port), ["10.99.0.2", "fd99:1::2"]);
    assert_eq!(w.items("ports").len(), 1, "the other family's port went");
    assert_eq!(w.binder.bound().len(), 1);
    let mut join = endpoint.clone();
    join["SandboxKey"] = json!("/run/docker/netns/x");
    join["Options"] = json!({});
    let joined = ok(&w.router, "/NetworkDriver.Join", join).await;
    assert_eq!(
        (&joined["Gateway"], &joined["GatewayIPv6"]),
        (&json!("10.99.0.1"), &json!("fd99:1::1"))
    );
    ok(&w.router, "/NetworkDriver.DeleteEndpoint", endpoint).await;
    for (pool_id, address) in pools.iter().zip(&addresses) {
        let ip = address.split('/').next().expect("an address");
        ok(
            &w.router,
            "/IpamDriver.ReleaseAddress",
            json!({"PoolID": pool_id, "Address": ip}),
        )
        .await;
    }
    w.network_rm(&pools).await;
    w.assert_clean();
    assert!(w.binder.bound().is_empty());
}

/// `/metrics` on the Neutron backend gives each pool the plugin knows, with its size
/// and the addresses this host's requests hold, and drops it once it is released.
#[tokio::test]
async fn metrics_show_the_pools_this_host_uses() {
    let w = World::new().await;
    let pool_ids = network_on(&w, &["10.61.0.0/24"]).await;
    for (ip, mac) in [
        ("10.61.0.5", "02:42:0a:3d:00:05"),
        ("10.61.0.6", "02:42:0a:3d:00:06"),
        ("10.61.0.7", "02:42:0a:3d:00:07"),
    ] {
        ok(
            &w.router,
            "/IpamDriver.RequestAddress",
            address(&pool_ids[0], ip, mac),
        )
        .await;
    }
    let text = scrape(&w.router).await;
    let series = |name: &str| {
        text.lines()
            .find(|line| line.starts_with(name) && line.contains("cidr=\"10.61.0.0/24\""))
            .and_then(|line| line.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(
        series("kuryr_pool_size_addresses").as_deref(),
        Some("254.0"),
        "{text}"
    );
    // The three endpoints' addresses; the gateway is Neutron's, not a port's.
    assert_eq!(
        series("kuryr_pool_used_addresses").as_deref(),
        Some("3.0"),
        "{text}"
    );
    for ip in ["10.61.0.5", "10.61.0.6", "10.61.0.7"] {
        ok(
            &w.router,
            "/IpamDriver.ReleaseAddress",
            json!({"PoolID": pool_ids[0], "Address": ip}),
        )
        .await;
    }
    w.network_rm(&pool_ids).await;
    let text = scrape(&w.router).await;
    assert!(!text.contains("10.61.0.0/24"), "{text}");
}

/// The plugin's `/metrics` text.
async fn scrape(router: &Router) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .expect("a request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.expect("a body");
    String::from_utf8(body.to_bytes().to_vec()).expect("UTF-8")
}
