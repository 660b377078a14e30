//! The fake's nested-mode model, driven over HTTP: each test pins an answer the real
//! Neutron 29 of `scripts/neutron-up.sh` gave (status, `NeutronError` type, message).

use serde_json::{Value, json};

use super::{Fake, MAX_ADDRESS_PAIRS, vm_port};

const VM_MAC: &str = "fa:16:3e:00:00:01";

/// A fake without auth holding a network's VM port `vm` and container ports `c1`..`c3`
/// (`c3` with a device id).
async fn rig() -> Fake {
    let fake = Fake::start().await;
    let mut st = fake.state();
    st.no_auth = true;
    st.insert("networks", json!({"id": "net"}));
    st.insert("ports", vm_port("vm", "net", VM_MAC));
    for (i, device) in [(1, ""), (2, ""), (3, "eid-3")] {
        let id = format!("c{i}");
        st.insert(
            "ports",
            json!({"id": id, "network_id": "net", "mac_address": format!("fa:16:3e:00:01:0{i}"),
                   "device_id": device, "binding:host_id": "", "status": "DOWN", "revision_number": 1}),
        );
    }
    drop(st);
    fake
}

/// `method path` with `body` (none if null) and, if given, `If-Match:
/// revision_number=<rev>`: the status and the answer.
pub(super) async fn call(
    fake: &Fake,
    method: &str,
    path: &str,
    body: Value,
    rev: Option<u64>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = reqwest::Client::new().request(method, fake.url(&format!("/v2.0/{path}")));
    if !body.is_null() {
        request = request.json(&body);
    }
    if let Some(rev) = rev {
        request = request.header("if-match", format!("revision_number={rev}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The answer to a request that must succeed with `status`.
pub(super) async fn ok(fake: &Fake, status: u16, method: &str, path: &str, body: Value) -> Value {
    let (got, answer) = call(fake, method, path, body, None).await;
    assert_eq!(got, status, "{method} {path}: {answer}");
    answer
}

pub(super) async fn get(fake: &Fake, path: &str) -> Value {
    ok(fake, 200, "GET", path, Value::Null).await
}

/// The status, `NeutronError` type and message a request is refused with.
pub(super) type Refused = (u16, String, String);

pub(super) async fn refusal(
    fake: &Fake,
    method: &str,
    path: &str,
    body: Value,
    rev: Option<u64>,
) -> Refused {
    let (status, answer) = call(fake, method, path, body, rev).await;
    let text = |key: &str| {
        answer["NeutronError"][key]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    (status, text("type"), text("message"))
}

pub(super) fn refused(status: u16, kind: &str, message: &str) -> Refused {
    (status, kind.to_string(), message.to_string())
}

fn pairs(n: usize) -> Value {
    let pairs: Vec<Value> = (0..n)
        .map(|i| json!({"ip_address": format!("10.0.0.{}", 100 + i)}))
        .collect();
    json!({"port": {"allowed_address_pairs": pairs}})
}

fn subport(port: &str, vlan: u64) -> Value {
    json!({"sub_ports": [{"port_id": port, "segmentation_type": "vlan", "segmentation_id": vlan}]})
}

#[tokio::test]
async fn address_pairs_are_stored_up_to_neutrons_limit() {
    let fake = rig().await;
    let put = ok(&fake, 200, "PUT", "ports/vm", pairs(MAX_ADDRESS_PAIRS)).await;
    let stored = &put["port"]["allowed_address_pairs"];
    assert_eq!(stored.as_array().unwrap().len(), MAX_ADDRESS_PAIRS);
    // A pair without a MAC gets the port's, as Neutron fills it.
    assert_eq!(
        stored[0],
        json!({"ip_address": "10.0.0.100", "mac_address": VM_MAC})
    );
    assert_eq!(put["port"]["revision_number"], 2);

    assert_eq!(
        refusal(&fake, "PUT", "ports/vm", pairs(MAX_ADDRESS_PAIRS + 1), None).await,
        refused(
            400,
            "AllowedAddressPairExhausted",
            "The number of allowed address pair exceeds the maximum 10."
        )
    );
    let got = get(&fake, "ports/vm").await;
    assert_eq!(got["port"]["allowed_address_pairs"], *stored);
    assert_eq!(got["port"]["revision_number"], 2);
}

#[tokio::test]
async fn address_pairs_need_port_security_and_no_duplicate() {
    let fake = rig().await;
    ok(&fake, 200, "PUT", "ports/vm", pairs(1)).await;
    let off = json!({"port": {"port_security_enabled": false}});
    assert_eq!(
        refusal(&fake, "PUT", "ports/vm", off, None).await,
        refused(
            409,
            "AddressPairAndPortSecurityRequired",
            "Port Security must be enabled in order to have allowed address pairs on a port."
        )
    );
    let ip = json!({"ip_address": "10.0.0.9"});
    let dup = json!({"port": {"allowed_address_pairs": [ip, ip]}});
    assert_eq!(
        refusal(&fake, "PUT", "ports/vm", dup, None).await,
        refused(
            400,
            "DuplicateAddressPairInRequest",
            "Request contains duplicate address pair: mac_address None ip_address 10.0.0.9."
        )
    );
    // Also when only one of them names the port's MAC, which the other gets.
    let dup = json!({"port": {"allowed_address_pairs": [ip, {"ip_address": "10.0.0.9", "mac_address": VM_MAC}]}});
    assert_eq!(
        refusal(&fake, "PUT", "ports/vm", dup, None).await,
        refused(
            400,
            "DuplicateAddressPairInRequest",
            &format!(
                "Request contains duplicate address pair: mac_address {VM_MAC} ip_address 10.0.0.9."
            )
        )
    );
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_412() {
    let fake = rig().await;
    assert_eq!(
        refusal(&fake, "PUT", "ports/vm", pairs(1), Some(0)).await,
        refused(
            412,
            "RevisionNumberConstraintFailed",
            "Constrained to 0, but current revision is 1"
        )
    );
    let (status, put) = call(&fake, "PUT", "ports/vm", pairs(1), Some(1)).await;
    assert_eq!((status, &put["port"]["revision_number"]), (200, &json!(2)));
    // Setting the same pairs again is a new revision (Neutron rewrites them); the same
    // name is not.
    let put = ok(&fake, 200, "PUT", "ports/vm", pairs(1)).await;
    assert_eq!(put["port"]["revision_number"], 3);
    let put = ok(&fake, 200, "PUT", "ports/vm", json!({"port": {"name": ""}})).await;
    assert_eq!(put["port"]["revision_number"], 3);
    // Even a no-op PUT, and a DELETE, are refused when stale.
    let noop = json!({"port": {"name": ""}});
    assert_eq!(call(&fake, "PUT", "ports/vm", noop, Some(2)).await.0, 412);
    assert_eq!(
        call(&fake, "DELETE", "ports/c1", Value::Null, Some(7))
            .await
            .0,
        412
    );
}

#[tokio::test]
async fn a_trunk_carries_vlan_subports_shown_in_the_parents_trunk_details() {
    let fake = rig().await;
    let made = ok(
        &fake,
        201,
        "POST",
        "trunks",
        json!({"trunk": {"port_id": "vm"}}),
    )
    .await;
    assert_eq!(
        (&made["trunk"]["status"], &made["trunk"]["revision_number"]),
        (&json!("DOWN"), &json!(0))
    );
    let trunk = made["trunk"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        get(&fake, &format!("trunks/{trunk}")).await["trunk"]["status"],
        "ACTIVE"
    );

    let add = format!("trunks/{trunk}/add_subports");
    let added = ok(&fake, 200, "PUT", &add, subport("c1", 101)).await;
    // Not wrapped in {"trunk": …}.
    assert_eq!(
        added["sub_ports"],
        json!([{"port_id": "c1", "segmentation_type": "vlan", "segmentation_id": 101}])
    );
    assert_eq!(
        get(&fake, "ports/vm").await["port"]["trunk_details"],
        json!({"trunk_id": trunk, "sub_ports": [{"port_id": "c1", "segmentation_type": "vlan",
               "segmentation_id": 101, "mac_address": "fa:16:3e:00:01:01"}]})
    );
    // The rig's trunk driver binds the subport to the parent's host at once.
    let c1 = get(&fake, "ports/c1").await;
    let port = &c1["port"];
    assert_eq!(
        (
            &port["binding:host_id"],
            &port["device_owner"],
            &port["status"]
        ),
        (&json!("hv1"), &json!("trunk:subport"), &json!("ACTIVE"))
    );

    assert_eq!(
        refusal(&fake, "PUT", &add, subport("c2", 101), None).await,
        refused(
            409,
            "DuplicateSubPort",
            &format!(
                "segmentation_type vlan and segmentation_id 101 already in use on trunk {trunk}."
            )
        )
    );
    assert_eq!(
        refusal(&fake, "PUT", &add, subport("c1", 102), None).await,
        refused(409, "TrunkPortInUse", "Port c1 is in use by another trunk.")
    );
    assert_eq!(
        refusal(&fake, "PUT", &add, subport("c3", 103), None).await,
        refused(
            409,
            "PortInUse",
            "Unable to complete operation on port c3 for network net. Port already has an attached device eid-3."
        )
    );
    assert_eq!(
        refusal(&fake, "DELETE", "ports/c1", Value::Null, None).await,
        refused(
            409,
            "PortInUseAsSubPort",
            &format!("Port c1 is currently a subport for trunk {trunk}.")
        )
    );
    assert_eq!(
        refusal(&fake, "DELETE", "ports/vm", Value::Null, None).await,
        refused(
            409,
            "PortInUseAsTrunkParent",
            &format!("Port vm is currently a parent port for trunk {trunk}.")
        )
    );

    let remove = format!("trunks/{trunk}/remove_subports");
    assert_eq!(
        refusal(
            &fake,
            "PUT",
            &remove,
            json!({"sub_ports": [{"port_id": "c2"}]}),
            None
        )
        .await,
        refused(
            404,
            "SubPortNotFound",
            &format!("SubPort c2 on trunk {trunk} could not be found.")
        )
    );
    let removed = ok(
        &fake,
        200,
        "PUT",
        &remove,
        json!({"sub_ports": [{"port_id": "c1"}]}),
    )
    .await;
    assert_eq!(removed["sub_ports"], json!([]));
    assert_eq!(
        get(&fake, "ports/vm").await["port"]["trunk_details"],
        json!({"trunk_id": trunk, "sub_ports": []})
    );
    ok(&fake, 204, "DELETE", "ports/c1", Value::Null).await;
}

#[tokio::test]
async fn add_subports_is_all_or_nothing_and_checks_the_vlan() {
    let fake = rig().await;
    let trunk = fake.state().seed_trunk("vm", &[]);
    let add = format!("trunks/{trunk}/add_subports");
    let two = |second: &str, vlan: u64| {
        json!({"sub_ports": [
            {"port_id": "c1", "segmentation_type": "vlan", "segmentation_id": 7},
            {"port_id": second, "segmentation_type": "vlan", "segmentation_id": vlan}]})
    };
    assert_eq!(call(&fake, "PUT", &add, two("c3", 8), None).await.0, 409);
    let cases = [
        (
            two("c2", 7),
            refused(
                400,
                "InvalidInput",
                "Invalid input for operation: Segmentation ID '7' for 'c2' is not unique.",
            ),
        ),
        (
            subport("c1", 4095),
            refused(
                400,
                "InvalidInput",
                "Invalid input for operation: Segmentation ID '4095' is not in range.",
            ),
        ),
        (
            subport("vm", 9),
            refused(
                409,
                "ParentPortInUse",
                "Port vm is currently in use and is not eligible for use as a parent port.",
            ),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(refusal(&fake, "PUT", &add, body, None).await, expected);
    }
    assert_eq!(
        refusal(
            &fake,
            "PUT",
            "trunks/nope/add_subports",
            subport("c1", 9),
            None
        )
        .await,
        refused(404, "TrunkNotFound", "Trunk nope could not be found.")
    );
    let subports = get(&fake, &format!("trunks/{trunk}/get_subports")).await;
    assert_eq!(subports, json!({"sub_ports": []}));
}

#[tokio::test]
async fn the_vm_port_is_found_by_mac_with_its_trunk_details() {
    let fake = rig().await;
    let trunk = fake.state().seed_trunk("vm", &[("c1", 100), ("c2", 200)]);
    let mac = VM_MAC.to_uppercase();
    let found = get(
        &fake,
        &format!("ports?mac_address={mac}&fields=id&fields=trunk_details"),
    )
    .await;
    let ports = found["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1, "{found}");
    let details = &ports[0]["trunk_details"];
    assert_eq!(details["trunk_id"], json!(trunk));
    let vlans: Vec<&Value> = details["sub_ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["segmentation_id"])
        .collect();
    assert_eq!(vlans, [&json!(100), &json!(200)]);
    assert_eq!(
        get(&fake, "ports/c2").await["port"]["device_owner"],
        "trunk:subport"
    );
}

#[tokio::test]
async fn created_ports_get_neutrons_defaults_and_checks() {
    let fake = rig().await;
    let body = json!({"port": {"network_id": "net", "mac_address": "fa:16:3e:00:02:01"}});
    let made = ok(&fake, 201, "POST", "ports", body).await;
    let port = &made["port"];
    assert_eq!(
        (
            &port["revision_number"],
            &port["port_security_enabled"],
            &port["allowed_address_pairs"]
        ),
        (&json!(1), &json!(true), &json!([]))
    );
    let mut too_many = pairs(MAX_ADDRESS_PAIRS + 1);
    too_many["port"]["network_id"] = json!("net");
    let (status, kind, _) = refusal(&fake, "POST", "ports", too_many, None).await;
    assert_eq!(
        (status, kind.as_str()),
        (400, "AllowedAddressPairExhausted")
    );
}

#[tokio::test]
async fn a_parent_bound_by_another_driver_cannot_be_trunked() {
    let fake = rig().await;
    fake.state()
        .items
        .get_mut("ports")
        .unwrap()
        .get_mut("vm")
        .unwrap()["binding:vif_type"] = json!("binding_failed");
    let trunk = |port: &str| json!({"trunk": {"port_id": port}});
    assert_eq!(
        refusal(&fake, "POST", "trunks", trunk("vm"), None).await,
        refused(
            409,
            "ParentPortInUse",
            "Port vm is currently in use and is not eligible for use as a parent port."
        )
    );
    assert_eq!(
        refusal(&fake, "POST", "trunks", trunk("gone"), None).await,
        refused(404, "PortNotFound", "Port gone could not be found.")
    );
}
