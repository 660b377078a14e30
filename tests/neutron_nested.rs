//! Nested (VM) mode's Neutron side against a REAL Neutron (scripts/neutron-up.sh):
//! the VM's own port found by its NIC's MAC, container addresses added to and removed
//! from its allowed-address pairs (macvlan), and container ports made subports of its
//! trunk (VLAN, when Neutron has the `trunk` extension). The host side is the
//! recording binder's; tests/e2e/docker-nested.sh runs the real one under dockerd.
//! Like tests/neutron_real.rs, ignored without `--features live-neutron`; with it,
//! they fail when Neutron does not answer.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use kuryr::api::network::JoinRequest;
use kuryr::binding::{BindOp, RecordingBinder};
use kuryr::neutron::{
    AddressPair, Client, FixedIpRequest, Kind, Network, NetworkCreate, Port, PortCreate,
    PortUpdate, Query, Subnet, SubnetCreate,
};
use kuryr::neutron_driver::NeutronDriver;

#[path = "support/wire_calls.rs"]
mod wire_calls;
use wire_calls::WireCalls;

#[path = "support/neutron_rig.rs"]
mod neutron_rig;
use neutron_rig::*;

const MACVLAN: &str =
    "[binding]\ndefault_driver = kuryr.lib.binding.drivers.macvlan\nlink_iface = eth-vm\n";

/// The VM: a network, a subnet and the VM's own port (port security on, one pair of
/// the user's own that must survive everything).
struct Vm {
    network: String,
    port: Port,
}

const USER_PAIR: &str = "192.0.2.99";

async fn vm(c: &Client, n: u8) -> Vm {
    let net: Network = c
        .create(&NetworkCreate {
            name: Some(format!("kuryr-test-vm-{}", docker_id())),
            ..NetworkCreate::default()
        })
        .await
        .unwrap();
    let subnet: Subnet = c
        .create(&SubnetCreate {
            network_id: net.id.clone(),
            ip_version: 4,
            cidr: Some(cidr(n)),
            enable_dhcp: Some(false),
            ..SubnetCreate::default()
        })
        .await
        .unwrap();
    let port: Port = c
        .create(&PortCreate {
            network_id: net.id.clone(),
            name: Some("kuryr-test-vm-port".into()),
            fixed_ips: Some(vec![FixedIpRequest {
                subnet_id: Some(subnet.id),
                ip_address: None,
            }]),
            ..PortCreate::default()
        })
        .await
        .unwrap();
    let port: Port = c
        .update(
            &port.id,
            &PortUpdate {
                allowed_address_pairs: Some(vec![user_pair()]),
                ..PortUpdate::default()
            },
        )
        .await
        .unwrap();
    Vm {
        network: net.id,
        port,
    }
}

fn user_pair() -> AddressPair {
    AddressPair {
        ip_address: USER_PAIR.into(),
        mac_address: Some("02:00:00:00:00:99".into()),
    }
}

impl Vm {
    async fn pairs(&self, c: &Client) -> BTreeSet<(String, String)> {
        let port: Port = c.get(&self.port.id).await.unwrap();
        port.allowed_address_pairs
            .into_iter()
            .map(|p| (p.ip_address, p.mac_address.unwrap_or_default()))
            .collect()
    }

    async fn remove(self, c: &Client) {
        c.delete(Kind::Ports, &self.port.id).await.unwrap();
        c.delete(Kind::Networks, &self.network).await.unwrap();
    }
}

/// A nested-mode driver whose "link_iface" has the VM port's MAC.
async fn nested_rig(vm: &Vm, conf: &str) -> Rig {
    rig_with_binder(conf, RecordingBinder::nested(&vm.port.mac_address)).await
}

fn ep_mac(n: u8, i: u8) -> String {
    format!(
        "02:43:{:02x}:{:02x}:{n:02x}:{i:02x}",
        std::process::id() % 256,
        (std::process::id() >> 8) % 256
    )
}

/// RequestAddress and CreateEndpoint for endpoint `i`: (EndpointID, address).
async fn endpoint(
    d: &NeutronDriver,
    nid: &str,
    pool_id: &str,
    n: u8,
    i: u8,
) -> Result<(String, IpAddr), (String, IpAddr, kuryr::Error)> {
    let mac = ep_mac(n, i);
    let a = d
        .request_address(addr_req(pool_id, None, &[(MACKEY, &mac)]))
        .await
        .unwrap();
    let ip: IpAddr = a.address.addr();
    let eid = docker_id();
    match d
        .create_endpoint(ep_req(
            nid,
            &eid,
            Some(&a.address.to_string()),
            None,
            Some(&mac),
        ))
        .await
    {
        Ok(_) => Ok((eid, ip)),
        Err(e) => Err((eid, ip, e)),
    }
}

fn pair(ip: IpAddr, mac: &str) -> (String, String) {
    (ip.to_string(), mac.to_string())
}

#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn macvlan_endpoints_are_pairs_of_the_vm_port_and_nothing_else_moves() {
    let check = rig().await.check;
    let vm = vm(&check, 60).await;
    let r = nested_rig(&vm, MACVLAN).await;
    let d = &r.driver;
    let (nid, pool_id) = network(d, 61).await;
    let (e1, ip1) = endpoint(d, &nid, &pool_id, 61, 1).await.unwrap();
    let (e2, ip2) = endpoint(d, &nid, &pool_id, 61, 2).await.unwrap();
    let user = (USER_PAIR.to_string(), "02:00:00:00:00:99".to_string());
    assert_eq!(
        vm.pairs(&check).await,
        BTreeSet::from([
            user.clone(),
            pair(ip1, &ep_mac(61, 1)),
            pair(ip2, &ep_mac(61, 2))
        ]),
        "the VM port has exactly the two containers' pairs besides the user's"
    );
    let ports: Vec<Port> = check
        .list(&Query::new().eq("mac_address", &ep_mac(61, 1)))
        .await
        .unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].binding_host_id, "", "nested ports stay unbound");
    let join = d
        .join(JoinRequest {
            network_id: nid.clone(),
            endpoint_id: e1.clone(),
            sandbox_key: "/var/run/docker/netns/0123456789ab".into(),
            options: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(
        join.interface_name.src_name,
        format!("t_c{}", &ports[0].id[..11])
    );
    let bound: Vec<_> = r
        .binder
        .calls()
        .into_iter()
        .filter(|(op, _)| *op == BindOp::Bind)
        .collect();
    assert_eq!(bound.len(), 2, "one host-side bind per endpoint");
    assert_eq!(bound[0].1.vlan, None);

    // After a restart the VM port is found again, and the pair goes.
    let d2 = r.restarted();
    d2.delete_endpoint(ep(&nid, &e1)).await.unwrap();
    d2.delete_endpoint(ep(&nid, &e1)).await.unwrap();
    assert_eq!(
        vm.pairs(&check).await,
        BTreeSet::from([user.clone(), pair(ip2, &ep_mac(61, 2))])
    );
    d.delete_endpoint(ep(&nid, &e2)).await.unwrap();
    assert_eq!(
        vm.pairs(&check).await,
        BTreeSet::from([user]),
        "only the user's pair is left"
    );
    for ip in [ip1, ip2] {
        release_address(d, &pool_id, ip).await;
    }
    release_and_delete(d, &nid, &pool_id).await;
    settled(&d2).await;
    no_ports_with(&check, &ep_mac(61, 1)).await;
    vm.remove(&check).await;
}

/// Neutron's default `max_allowed_address_pair` is 10: with the user's pair, nine
/// containers fit; the tenth fails with an error naming the limit, and once dockerd
/// releases its address nothing of it is left.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn the_pair_limit_is_a_clear_error_and_leaves_nothing() {
    let check = rig().await.check;
    let vm = vm(&check, 62).await;
    let r = nested_rig(&vm, MACVLAN).await;
    let d = Arc::new(r.driver);
    let (nid, pool_id) = network(&d, 63).await;
    // Nine at once: concurrent endpoints must not lose each other's pairs.
    let mut tasks = Vec::new();
    for i in 1..=9u8 {
        let (d, nid, pool_id) = (d.clone(), nid.clone(), pool_id.clone());
        tasks.push(tokio::spawn(async move {
            endpoint(&d, &nid, &pool_id, 63, i).await
        }));
    }
    let mut made = Vec::new();
    for t in tasks {
        made.push(t.await.unwrap().map_err(|(_, _, e)| e.to_string()).unwrap());
    }
    assert_eq!(
        vm.pairs(&check).await.len(),
        10,
        "the user's pair and nine containers'"
    );
    let (eid, ip, err) = endpoint(&d, &nid, &pool_id, 63, 10).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("max_allowed_address_pair"), "{text}");
    assert!(!err.is_client_error() || text.contains("limit"), "{text}");
    // dockerd's compensation for a failed CreateEndpoint.
    d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
    release_address(&d, &pool_id, ip).await;
    settled(&d).await;
    no_ports_with(&check, &ep_mac(63, 10)).await;
    assert_eq!(vm.pairs(&check).await.len(), 10, "the tenth left no pair");
    for (eid, ip) in made {
        d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
        release_address(&d, &pool_id, ip).await;
    }
    assert_eq!(
        vm.pairs(&check).await.len(),
        1,
        "only the user's pair is left"
    );
    release_and_delete(&d, &nid, &pool_id).await;
    vm.remove(&check).await;
}

/// Someone else changes the VM port between kuryr's read and its write: the write
/// is refused (If-Match), kuryr reads again, and both changes stay.
#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn a_change_by_someone_else_is_read_again_not_overwritten() {
    let check = rig().await.check;
    let vm = vm(&check, 64).await;
    let r = nested_rig(&vm, MACVLAN).await;
    let d = &r.driver;
    let (nid, pool_id) = network(d, 65).await;
    let (e1, ip1) = endpoint(d, &nid, &pool_id, 65, 1).await.unwrap();
    // kuryr now holds the VM port as it wrote it; change it behind its back.
    let other = AddressPair {
        ip_address: "192.0.2.98".into(),
        mac_address: Some("02:00:00:00:00:98".into()),
    };
    let mut now: Vec<AddressPair> = check
        .get::<Port>(&vm.port.id)
        .await
        .unwrap()
        .allowed_address_pairs;
    now.push(other.clone());
    let _: Port = check
        .update(
            &vm.port.id,
            &PortUpdate {
                allowed_address_pairs: Some(now),
                ..PortUpdate::default()
            },
        )
        .await
        .unwrap();
    let (e2, ip2) = endpoint(d, &nid, &pool_id, 65, 2).await.unwrap();
    let pairs = vm.pairs(&check).await;
    assert!(
        pairs.contains(&("192.0.2.98".to_string(), "02:00:00:00:00:98".to_string())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&pair(ip1, &ep_mac(65, 1))) && pairs.contains(&pair(ip2, &ep_mac(65, 2))),
        "{pairs:?}"
    );
    for (eid, ip) in [(e1, ip1), (e2, ip2)] {
        d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
        release_address(d, &pool_id, ip).await;
    }
    assert_eq!(vm.pairs(&check).await.len(), 2, "the user's two pairs stay");
    release_and_delete(d, &nid, &pool_id).await;
    vm.remove(&check).await;
}

const VLAN: &str = "[binding]\ndefault_driver = vlan\nlink_iface = eth-vm\n";

/// Whether Neutron has trunks; without them the VLAN tests skip, unless
/// KURYR_REQUIRE_TRUNK=1 (CI, whose rig loads the trunk plugin) makes that a failure.
async fn has_trunks(c: &Client) -> bool {
    if c.has_extension("trunk").await.unwrap() {
        return true;
    }
    assert_ne!(
        std::env::var("KURYR_REQUIRE_TRUNK").as_deref(),
        Ok("1"),
        "Neutron has no trunk extension (scripts/neutron-up.sh loads it)"
    );
    eprintln!("skipped: Neutron has no trunk extension");
    false
}

/// `POST /v2.0/trunks` with `parent` (the client has no trunk create: kuryr never makes
/// trunks, the VM's owner does).
async fn make_trunk(parent: &str) -> String {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v2.0/trunks", url()))
        .json(&serde_json::json!({"trunk": {"port_id": parent, "name": "kuryr-test-trunk"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["trunk"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_string()
}

async fn delete_trunk(id: &str) {
    let status = reqwest::Client::new()
        .delete(format!("{}/v2.0/trunks/{id}", url()))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "DELETE trunk {id}: {status}");
}

/// (port id, VLAN id) of every subport of the VM port's trunk.
async fn subports(c: &Client, vm: &Vm) -> BTreeSet<(String, u32)> {
    let port: Port = c.get(&vm.port.id).await.unwrap();
    port.trunk_details
        .expect("the VM port is a trunk parent")
        .sub_ports
        .into_iter()
        .map(|s| (s.port_id, s.segmentation_id))
        .collect()
}

/// The VLAN id kuryr tries first for a port: derived from its id (nested.rs), so this
/// test can take it first and make kuryr meet a 409.
fn first_choice(port_id: &str) -> u32 {
    port_id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 4094
        + 1
}

#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn vlan_endpoints_are_trunk_subports_with_unique_ids_and_go_after_a_restart() {
    let check = rig().await.check;
    if !has_trunks(&check).await {
        return;
    }
    let vm = vm(&check, 66).await;
    let trunk = make_trunk(&vm.port.id).await;
    let mut r = nested_rig(&vm, VLAN).await;
    let d2 = r.restarted();
    let d = Arc::new(std::mem::replace(&mut r.driver, d2));
    let (nid, pool_id) = network(&d, 67).await;
    let mut tasks = Vec::new();
    for i in 1..=10u8 {
        let (d, nid, pool_id) = (d.clone(), nid.clone(), pool_id.clone());
        tasks.push(tokio::spawn(async move {
            endpoint(&d, &nid, &pool_id, 67, i).await
        }));
    }
    let mut made = Vec::new();
    for t in tasks {
        made.push(t.await.unwrap().map_err(|(_, _, e)| e.to_string()).unwrap());
    }
    let subs = subports(&check, &vm).await;
    assert_eq!(subs.len(), 10, "{subs:?}");
    let ids: BTreeSet<u32> = subs.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), 10, "every subport has its own VLAN id: {subs:?}");
    let bound: BTreeSet<(String, u32)> = r
        .binder
        .calls()
        .into_iter()
        .filter(|(op, _)| *op == BindOp::Bind)
        .map(|(_, v)| (v.port_id, u32::from(v.vlan.expect("a VLAN id"))))
        .collect();
    assert_eq!(bound, subs, "each VLAN link carries its subport's id");

    // A fresh driver (a restart) rebuilds the map from Neutron and removes them.
    let d2 = &r.driver;
    for (eid, ip) in made {
        d2.delete_endpoint(ep(&nid, &eid)).await.unwrap();
        release_address(d2, &pool_id, ip).await;
    }
    assert!(
        subports(&check, &vm).await.is_empty(),
        "every subport removed"
    );
    release_and_delete(d2, &nid, &pool_id).await;
    settled(&d).await;
    delete_trunk(&trunk).await;
    vm.remove(&check).await;
}

#[tokio::test]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn a_vlan_id_taken_meanwhile_is_retried_with_another() {
    let check = rig().await.check;
    if !has_trunks(&check).await {
        return;
    }
    let vm = vm(&check, 68).await;
    let trunk = make_trunk(&vm.port.id).await;
    let r = nested_rig(&vm, VLAN).await;
    let d = &r.driver;
    let (nid, pool_id) = network(d, 69).await;
    let (e1, ip1) = endpoint(d, &nid, &pool_id, 69, 1).await.unwrap();
    // kuryr holds the trunk as it left it. Its next port's first choice goes to
    // another port behind its back.
    let mac = ep_mac(69, 2);
    let a = d
        .request_address(addr_req(&pool_id, None, &[(MACKEY, &mac)]))
        .await
        .unwrap();
    let port: Vec<Port> = check
        .list(&Query::new().eq("mac_address", &mac))
        .await
        .unwrap();
    let taken = first_choice(&port[0].id);
    let squatter: Port = check
        .create(&PortCreate {
            network_id: vm.network.clone(),
            name: Some("kuryr-test-squatter".into()),
            ..PortCreate::default()
        })
        .await
        .unwrap();
    check
        .add_subports(
            &trunk,
            &[kuryr::neutron::SubPort {
                port_id: squatter.id.clone(),
                segmentation_type: "vlan".into(),
                segmentation_id: taken,
            }],
        )
        .await
        .unwrap();
    let e2 = docker_id();
    d.create_endpoint(ep_req(
        &nid,
        &e2,
        Some(&a.address.to_string()),
        None,
        Some(&mac),
    ))
    .await
    .unwrap();
    let subs = subports(&check, &vm).await;
    assert!(
        subs.contains(&(squatter.id.clone(), taken)),
        "the other port keeps its id"
    );
    let ours = subs
        .iter()
        .find(|(p, _)| *p == port[0].id)
        .expect("our subport");
    assert_ne!(ours.1, taken, "kuryr took another id after the 409");
    for (eid, ip) in [(e1, ip1), (e2, a.address.addr())] {
        d.delete_endpoint(ep(&nid, &eid)).await.unwrap();
        release_address(d, &pool_id, ip).await;
    }
    check
        .remove_subports(&trunk, &[&squatter.id])
        .await
        .unwrap();
    check.delete(Kind::Ports, &squatter.id).await.unwrap();
    release_and_delete(d, &nid, &pool_id).await;
    delete_trunk(&trunk).await;
    vm.remove(&check).await;
}
