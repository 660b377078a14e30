//! `nested.rs` against the in-process fake Neutron: pairs and subports on the VM
//! port, conflicts read again, Neutron's refusals named.

use std::sync::Arc;

use serde_json::{Value, json};

use super::NeutronDriver;
use crate::binding::RecordingBinder;
use crate::config::{ProcessEnv, from_ini_str};
use crate::neutron::fake::{Fake, change_subports, vm_port};
use crate::neutron::{AuthMethod, Client, ClientOptions, Port};
use crate::neutron_driver::Settings;

const VM_MAC: &str = "fa:16:3e:00:00:01";

async fn driver(fake: &Fake, dir: &std::path::Path, mode: &str) -> NeutronDriver {
    fake.state().no_auth = true;
    let endpoint = fake.url("/");
    let text = format!(
        "[DEFAULT]\nstate_dir = {}\n[neutron]\nauth_type = none\nendpoint = {endpoint}\n\
         [binding]\ndefault_driver = {mode}\nlink_iface = eth0\n",
        dir.display()
    );
    let loaded = from_ini_str(&text, "test", &ProcessEnv).unwrap();
    let client = Client::new(ClientOptions::new(AuthMethod::None { endpoint })).unwrap();
    let binder = Arc::new(RecordingBinder::nested(VM_MAC));
    NeutronDriver::new(client, Settings::from_config(&loaded.config), binder).unwrap()
}

const C1: (&str, &str, &str) = ("c1", "10.0.0.5", "fa:16:3e:00:00:05");
const C2: (&str, &str, &str) = ("c2", "10.0.0.6", "fa:16:3e:00:00:06");

/// A fake Neutron holding the VM port `vm` and container ports `(id, address, MAC)`,
/// and a state dir for the driver.
async fn seeded(ports: &[(&str, &str, &str)]) -> (Fake, tempfile::TempDir) {
    let fake = Fake::start().await;
    seed(&fake, ports);
    (fake, tempfile::tempdir().unwrap())
}

fn seed(fake: &Fake, ports: &[(&str, &str, &str)]) {
    let mut st = fake.state();
    st.insert("ports", vm_port("vm", "net", VM_MAC));
    for (id, ip, mac) in ports {
        st.insert(
            "ports",
            json!({"id": id, "network_id": "net", "mac_address": mac, "device_id": "",
                   "fixed_ips": [{"subnet_id": "s", "ip_address": ip}]}),
        );
    }
}

fn port(fake: &Fake, id: &str) -> Port {
    serde_json::from_value(fake.state().items["ports"][id].clone()).unwrap()
}

fn pairs(fake: &Fake) -> Vec<(String, String)> {
    port(fake, "vm")
        .allowed_address_pairs
        .into_iter()
        .map(|p| (p.ip_address, p.mac_address.unwrap_or_default()))
        .collect()
}

fn puts(fake: &Fake, path: &str) -> usize {
    fake.state()
        .seen
        .iter()
        .filter(|s| s.method == "PUT" && s.path == path)
        .count()
}

#[tokio::test]
async fn macvlan_pairs_are_added_once_and_only_ours_removed() {
    let (fake, dir) = seeded(&[C1]).await;
    fake.state()
        .items
        .get_mut("ports")
        .unwrap()
        .get_mut("vm")
        .unwrap()["allowed_address_pairs"] =
        json!([{"ip_address": "10.0.0.5", "mac_address": "02:00:00:00:00:99"}]);
    let d = driver(&fake, dir.path(), "macvlan").await;
    let nested = d.nested.as_ref().unwrap();
    assert_eq!(nested.attach(&d, &port(&fake, "c1")).await.unwrap(), None);
    assert_eq!(nested.attach(&d, &port(&fake, "c1")).await.unwrap(), None);
    assert_eq!(
        puts(&fake, "v2.0/ports/vm"),
        1,
        "the second attach changes nothing"
    );
    assert_eq!(pairs(&fake).len(), 2);
    let ip = "10.0.0.5".parse().unwrap();
    nested
        .detach(&d, "c1", &[ip], "FA:16:3E:00:00:05")
        .await
        .unwrap();
    nested
        .detach(&d, "c1", &[ip], "fa:16:3e:00:00:05")
        .await
        .unwrap();
    assert_eq!(
        pairs(&fake),
        [("10.0.0.5".to_string(), "02:00:00:00:00:99".to_string())],
        "a pair with the same address and another MAC is not ours"
    );
}

#[tokio::test]
async fn a_pair_change_behind_our_back_is_read_again() {
    let (fake, dir) = seeded(&[C1, C2]).await;
    let d = driver(&fake, dir.path(), "macvlan").await;
    let nested = d.nested.as_ref().unwrap();
    nested.attach(&d, &port(&fake, "c1")).await.unwrap();
    {
        let mut st = fake.state();
        let vm: &mut Value = st.items.get_mut("ports").unwrap().get_mut("vm").unwrap();
        vm["allowed_address_pairs"]
            .as_array_mut()
            .unwrap()
            .push(json!({"ip_address": "192.0.2.1", "mac_address": "02:00:00:00:00:01"}));
        vm["revision_number"] = json!(vm["revision_number"].as_u64().unwrap() + 1);
    }
    nested.attach(&d, &port(&fake, "c2")).await.unwrap();
    let got = pairs(&fake);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.iter().any(|(ip, _)| ip == "192.0.2.1"), "{got:?}");
    assert_eq!(
        puts(&fake, "v2.0/ports/vm"),
        3,
        "one refused (412), then sent again"
    );
}

#[tokio::test]
async fn the_pair_limit_and_a_missing_vm_port_are_named() {
    let (fake, dir) = seeded(&[C1]).await;
    let full: Vec<Value> = (1..=10)
        .map(|i| json!({"ip_address": format!("192.0.2.{i}"), "mac_address": "02:00:00:00:00:01"}))
        .collect();
    fake.state()
        .items
        .get_mut("ports")
        .unwrap()
        .get_mut("vm")
        .unwrap()["allowed_address_pairs"] = json!(full);
    let d = driver(&fake, dir.path(), "macvlan").await;
    let err = d
        .nested
        .as_ref()
        .unwrap()
        .attach(&d, &port(&fake, "c1"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("max_allowed_address_pair"),
        "{err}"
    );

    fake.state().items.get_mut("ports").unwrap().remove("vm");
    let dir2 = tempfile::tempdir().unwrap();
    let d = driver(&fake, dir2.path(), "macvlan").await;
    let err = d
        .nested
        .as_ref()
        .unwrap()
        .attach(&d, &port(&fake, "c1"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(VM_MAC) && text.contains("link_iface") && text.contains("vm_port"),
        "{text}"
    );
}

#[tokio::test]
async fn vlan_ids_are_free_ones_and_a_taken_one_is_retried() {
    let (fake, dir) = seeded(&[C1, C2, ("sq", "10.0.0.9", "fa:16:3e:00:00:09")]).await;
    let trunk = fake.state().seed_trunk("vm", &[]);
    let d = driver(&fake, dir.path(), "vlan").await;
    let nested = d.nested.as_ref().unwrap();
    let first = nested
        .attach(&d, &port(&fake, "c1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        nested.attach(&d, &port(&fake, "c1")).await.unwrap(),
        Some(first),
        "idempotent"
    );
    // c2's first choice goes to another port behind the cached trunk's back.
    let wanted = super::nested::free_vlan("c2", &Default::default()).unwrap();
    let occupied = if u32::from(first) == wanted {
        wanted + 1
    } else {
        wanted
    };
    let body = json!({"sub_ports": [{"port_id": "sq", "segmentation_type": "vlan", "segmentation_id": occupied}]});
    change_subports(&mut fake.state(), &trunk, "add_subports", &body).unwrap();
    let second = nested
        .attach(&d, &port(&fake, "c2"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        u32::from(second) != occupied && second != first,
        "{first} {second} {occupied}"
    );
    nested.detach(&d, "c1", &[], "").await.unwrap();
    nested.detach(&d, "c1", &[], "").await.unwrap();
    let vm: Port = d.client.get("vm").await.unwrap();
    let left: Vec<String> = vm
        .trunk_details
        .unwrap()
        .sub_ports
        .into_iter()
        .map(|s| s.port_id)
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&"c1".to_string()));
}

#[tokio::test]
async fn vlan_mode_without_a_trunk_says_how_to_make_one() {
    let (fake, dir) = seeded(&[C1]).await;
    let d = driver(&fake, dir.path(), "vlan").await;
    let err = d
        .nested
        .as_ref()
        .unwrap()
        .attach(&d, &port(&fake, "c1"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("trunk create --parent-port vm"),
        "{err}"
    );
}
