//! The Neutron backend in-process against a REAL Neutron: a driver with the
//! recording binder, a separate client for checking, and the calls of a Docker
//! lifecycle as dockerd sends them. Shared by the live tests (tests/neutron_real.rs,
//! neutron_nested.rs, neutron_pools.rs); tests/neutron_fake.rs builds its driver
//! with [`driver_at`] too.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kuryr::api::ipam::{
    ReleaseAddressRequest, ReleasePoolRequest, RequestAddressRequest, RequestPoolRequest,
};
use kuryr::api::network::{
    CreateEndpointRequest, CreateNetworkRequest, EndpointInterface, EndpointRequest, IpamData,
    NetworkOptions, NetworkRequest,
};
use kuryr::binding::RecordingBinder;
use kuryr::config::{ProcessEnv, from_ini_str};
use kuryr::neutron::{Client, Network, Port, Query, SubnetPool};
use kuryr::neutron_driver::{NeutronDriver, Settings};

use super::wire_calls::WireCalls;

pub fn url() -> String {
    std::env::var("KURYR_NEUTRON_URL").unwrap_or_else(|_| "http://127.0.0.1:9696".into())
}

/// A driver and a separate client for checking Neutron.
pub struct Rig {
    pub driver: NeutronDriver,
    pub client: Client,
    pub check: Client,
    pub binder: Arc<RecordingBinder>,
    /// `state_dir`: each driver's teardown journal.
    pub state: tempfile::TempDir,
    /// The test's own kuryr.conf lines, kept for [`Rig::restarted`].
    pub extra: String,
}

/// kuryr.conf for the rig's Neutron: [`config_text_at`] [`url`].
pub fn config_text(extra: &str, state_dir: &std::path::Path) -> String {
    config_text_at(&url(), extra, state_dir)
}

/// kuryr.conf for the Neutron at `endpoint` (`auth_type = none`), binding host
/// `kuryr-test-host`, state in `state_dir`, plus the test's own `extra` lines.
pub fn config_text_at(endpoint: &str, extra: &str, state_dir: &std::path::Path) -> String {
    format!(
        "[DEFAULT]\nbackend = neutron\nstate_dir = {}\n[neutron]\nauth_type = none\nendpoint = {endpoint}\nbinding_host = kuryr-test-host\n{extra}",
        state_dir.display(),
    )
}

/// A client of the Neutron at `endpoint`, as kuryr.conf configures it.
pub fn client_at(endpoint: &str) -> Client {
    let state = std::env::temp_dir();
    let loaded =
        from_ini_str(&config_text_at(endpoint, "", &state), "test", &ProcessEnv).expect("config");
    let options = loaded.config.backend.neutron_client().expect("neutron");
    Client::new(options.clone()).expect("client")
}

/// A Neutron backend over `client` (of the Neutron at `endpoint`), configured by
/// [`config_text_at`]; it opens its journal and resumes what it holds. Also the driver
/// of the in-process fake's tests (tests/neutron_fake.rs).
pub fn driver_at(
    client: &Client,
    endpoint: &str,
    extra: &str,
    state_dir: &std::path::Path,
    binder: Arc<RecordingBinder>,
) -> NeutronDriver {
    let loaded = from_ini_str(
        &config_text_at(endpoint, extra, state_dir),
        "test",
        &ProcessEnv,
    )
    .expect("config");
    NeutronDriver::new(
        client.clone(),
        Settings::from_config(&loaded.config),
        binder,
    )
    .expect("journal")
}

pub async fn rig_with(extra: &str) -> Rig {
    rig_with_binder(extra, RecordingBinder::new()).await
}

/// A driver over the rig's Neutron; the test fails when that Neutron does not answer
/// (the tests that use it are ignored without `--features live-neutron`).
pub async fn rig_with_binder(extra: &str, binder: RecordingBinder) -> Rig {
    let state = tempfile::tempdir().expect("state dir");
    let client = client_at(&url());
    let check = client_at(&url());
    if let Err(e) = check.extensions().await {
        panic!(
            "no Neutron answers at {} ({e}); start it with scripts/neutron-up.sh",
            url()
        );
    }
    PURGED.get_or_init(|| purge_prefix(&check)).await;
    let binder = Arc::new(binder);
    let driver = driver_at(&client, &url(), extra, state.path(), binder.clone());
    driver.probe().await.expect("probe");
    Rig {
        driver,
        client,
        check,
        binder,
        state,
        extra: extra.to_string(),
    }
}

pub async fn rig() -> Rig {
    rig_with("").await
}

impl Rig {
    /// The same Neutron, a fresh driver: as after a plugin restart.
    /// Its journal is a new one: the first driver still holds its own (and has
    /// settled, so nothing is lost).
    pub fn restarted(&self) -> NeutronDriver {
        self.restarted_keeping(&[])
    }

    /// [`Rig::restarted`], with copies of the named state files of the first driver
    /// (what a restart finds in its `state_dir`).
    pub fn restarted_keeping(&self, files: &[&str]) -> NeutronDriver {
        let dir = self
            .state
            .path()
            .join(format!("restart-{}", SEQ.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).expect("state dir");
        for file in files {
            std::fs::copy(self.state.path().join(file), dir.join(file)).expect("state file");
        }
        driver_at(&self.client, &url(), &self.extra, &dir, self.binder.clone())
    }
}

pub static SEQ: AtomicU64 = AtomicU64::new(0);

/// A random-enough 64-hex Docker id.
pub fn docker_id() -> String {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:032x}{:016x}{:016x}", t, std::process::id(), n)
}

/// A /24 no other test (or run) uses: 10.<150+pid%50>.<n>.0/24.
pub fn cidr(n: u8) -> String {
    format!("{}{n}.0/24", prefix())
}

/// This process's address range, `10.<150 + pid % 50>.`: see [`cidr`].
fn prefix() -> String {
    format!("10.{}.", 150 + std::process::id() % 50)
}

/// Once per test process, before its first rig: what an earlier process with the same
/// range left (a run killed or failed before its cleanup) is deleted, or its subnets
/// would make this one's allocations fail ("Cannot allocate requested subnet"). The
/// Neutron database outlives test runs. Refusals (a trunk's parent port) are ignored.
static PURGED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

async fn purge_prefix(c: &Client) {
    use kuryr::neutron::{Kind, Subnet};
    let prefix = prefix();
    let ports: Vec<Port> = c.list(&Query::new()).await.unwrap_or_default();
    for p in ports.iter().filter(|p| {
        p.fixed_ips
            .iter()
            .any(|f| f.ip_address.starts_with(&prefix))
    }) {
        let _ = c.delete(Kind::Ports, &p.id).await;
    }
    let subnets: Vec<Subnet> = c.list(&Query::new()).await.unwrap_or_default();
    let mut networks: Vec<&str> = subnets
        .iter()
        .filter(|s| s.cidr.starts_with(&prefix))
        .map(|s| s.network_id.as_str())
        .collect();
    networks.dedup();
    for id in networks {
        let _ = c.delete(Kind::Networks, id).await;
    }
    let pools: Vec<SubnetPool> = c.list(&Query::new()).await.unwrap_or_default();
    for sp in pools
        .iter()
        .filter(|sp| sp.prefixes.iter().any(|p| p.starts_with(&prefix)))
    {
        let _ = c.delete(Kind::SubnetPools, &sp.id).await;
    }
}

pub fn mac(n: u8) -> String {
    format!(
        "02:42:0a:{:02x}:{:02x}:{:02x}",
        std::process::id() % 256,
        n,
        7
    )
}

pub fn pool_req(pool: &str, v6: bool, space: &str, options: &[(&str, &str)]) -> RequestPoolRequest {
    RequestPoolRequest {
        // Docker always names the space; "" here means the default one.
        address_space: if space.is_empty() {
            "no_address_space".into()
        } else {
            space.into()
        },
        pool: (!pool.is_empty()).then(|| pool.parse().unwrap()),
        sub_pool: None,
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        v6,
    }
}

pub fn addr_req(
    pool_id: &str,
    address: Option<&str>,
    options: &[(&str, &str)],
) -> RequestAddressRequest {
    RequestAddressRequest {
        pool_id: pool_id.into(),
        address: address.map(|a| a.parse().unwrap()),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

pub const GW: (&str, &str) = ("RequestAddressType", "com.docker.network.gateway");
pub const MACKEY: &str = "com.docker.network.endpoint.macaddress";

pub fn ipam(pool: &str, gateway: Option<&str>) -> IpamData {
    IpamData {
        address_space: "no_address_space".into(),
        pool: pool.parse().unwrap(),
        gateway: gateway.map(|g| g.parse().unwrap()),
        aux_addresses: BTreeMap::new(),
    }
}

pub fn net_req(
    nid: &str,
    v4: Option<IpamData>,
    v6: Option<IpamData>,
    generic: &[(&str, &str)],
) -> CreateNetworkRequest {
    CreateNetworkRequest {
        network_id: nid.into(),
        options: NetworkOptions {
            generic: generic
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            enable_ipv6: v6.is_some(),
            ..NetworkOptions::default()
        },
        ipv4_data: v4.into_iter().collect(),
        ipv6_data: v6.into_iter().collect(),
    }
}

pub fn ep_req(
    nid: &str,
    eid: &str,
    v4: Option<&str>,
    v6: Option<&str>,
    mac: Option<&str>,
) -> CreateEndpointRequest {
    CreateEndpointRequest {
        network_id: nid.into(),
        endpoint_id: eid.into(),
        interface: EndpointInterface {
            address: v4.map(|a| a.parse().unwrap()),
            address_ipv6: v6.map(|a| a.parse().unwrap()),
            mac_address: mac.map(|m| m.parse().unwrap()),
        },
        options: BTreeMap::new(),
    }
}

pub fn ep(nid: &str, eid: &str) -> EndpointRequest {
    EndpointRequest {
        network_id: nid.into(),
        endpoint_id: eid.into(),
    }
}

/// A pool and a network on `cidr(n)`, in Docker's order: (NetworkID, PoolID).
pub async fn network(d: &NeutronDriver, n: u8) -> (String, String) {
    let (nid, pool) = (docker_id(), cidr(n));
    let p = d
        .request_pool(pool_req(&pool, false, "", &[]))
        .await
        .unwrap();
    d.create_network(net_req(&nid, Some(ipam(&pool, None)), None, &[]))
        .await
        .unwrap();
    (nid, p.pool_id)
}

/// ReleaseAddress, which must succeed.
pub async fn release_address(d: &NeutronDriver, pool_id: &str, ip: IpAddr) {
    d.release_address(ReleaseAddressRequest {
        pool_id: pool_id.into(),
        address: Some(ip),
    })
    .await
    .unwrap();
}

/// ReleasePool, which must succeed.
pub async fn release_pool(d: &NeutronDriver, pool_id: &str) {
    d.release_pool(ReleasePoolRequest {
        pool_id: pool_id.into(),
    })
    .await
    .unwrap();
}

/// DeleteNetwork, which must succeed.
pub async fn delete_network(d: &NeutronDriver, nid: &str) {
    d.delete_network(NetworkRequest {
        network_id: nid.into(),
    })
    .await
    .unwrap();
}

/// ReleasePool then DeleteNetwork, dockerd's order; both must succeed, and so must
/// the deletes they leave running.
pub async fn release_and_delete(d: &NeutronDriver, nid: &str, pool_id: &str) {
    answer_release_and_delete(d, nid, pool_id).await;
    settled(d).await;
}

/// ReleasePool then DeleteNetwork, without waiting for the deletes after the answers.
pub async fn answer_release_and_delete(d: &NeutronDriver, nid: &str, pool_id: &str) {
    release_pool(d, pool_id).await;
    delete_network(d, nid).await;
}

pub async fn no_kuryr_pool(c: &Client, cidr: &str) {
    let left = pools_named(c, &format!("kuryrPool-{cidr}")).await;
    assert!(left.is_empty(), "kuryrPool-{cidr} left: {left:?}");
}

pub async fn no_ports_with(c: &Client, mac: &str) {
    let left: Vec<Port> = c.list(&Query::new().eq("mac_address", mac)).await.unwrap();
    assert!(left.is_empty(), "ports left with MAC {mac}: {left:?}");
}

/// Waits for the deletes that run after Docker's answer; none may be failing.
pub async fn settled(d: &NeutronDriver) {
    let left = d.drain(Duration::from_secs(30)).await;
    assert_eq!(left.pending, 0, "deletes still pending: {:?}", left.errors);
}

/// Docker's teardown order after Leave: DeleteEndpoint, ReleaseAddress, ReleasePool,
/// DeleteNetwork; every step must succeed.
pub async fn teardown(d: &NeutronDriver, nid: &str, eid: &str, pool_id: &str, ip: IpAddr) {
    d.delete_endpoint(ep(nid, eid)).await.unwrap();
    release_address(d, pool_id, ip).await;
    release_and_delete(d, nid, pool_id).await;
}

pub fn lh(id: &str) -> String {
    format!("kuryr.net.uuid.lh:{}", &id[..32])
}

pub async fn networks_tagged(c: &Client, id: &str) -> Vec<Network> {
    c.list(&Query::new().tags(&[lh(id)])).await.unwrap()
}

pub async fn ports_tagged(c: &Client, id: &str) -> Vec<Port> {
    c.list(&Query::new().tags(&[lh(id)])).await.unwrap()
}

pub async fn pools_named(c: &Client, name: &str) -> Vec<SubnetPool> {
    c.list(&Query::new().eq("name", name)).await.unwrap()
}
