//! The fake's core model, driven over HTTP: each refusal pins the status, type and
//! message the real Neutron 29 of `scripts/neutron-up.sh` gave for the same request
//! (recorded with curl on 10.147.0.0/16), and each answer the fields it filled in.

use serde_json::{Value, json};

use super::Fake;
use super::tests::{call, get, ok, refusal, refused};

async fn post(fake: &Fake, coll: &str, key: &str, body: Value) -> Value {
    let made = ok(fake, 201, "POST", coll, json!({ key: body })).await;
    made[key].clone()
}

fn id(item: &Value) -> String {
    item["id"].as_str().unwrap().to_string()
}

/// A network with an IPv4 subnet `cidr` (gateway Neutron's default): their ids.
async fn network(fake: &Fake, cidr: &str) -> (String, String) {
    let net = post(fake, "networks", "network", json!({"name": "n"})).await;
    let subnet = post(
        fake,
        "subnets",
        "subnet",
        json!({"network_id": id(&net), "ip_version": 4, "cidr": cidr}),
    )
    .await;
    (id(&net), id(&subnet))
}

fn ips(port: &Value) -> Vec<String> {
    port["fixed_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["ip_address"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn subnets_get_a_gateway_and_pools_around_it() {
    let fake = Fake::rig().await;
    let net = id(&post(&fake, "networks", "network", json!({})).await);
    assert_eq!(
        get(&fake, &format!("networks/{net}")).await["network"]["status"],
        "ACTIVE"
    );
    // (version, cidr, gateway_ip sent, gateway_ip made, allocation pools): IPv6 gets
    // the subnet-router address, and a pool up to its last address.
    let cases = [
        (
            4,
            "10.147.9.0/29",
            None,
            json!("10.147.9.1"),
            ("10.147.9.2", "10.147.9.6"),
        ),
        (
            6,
            "fd47:147::/64",
            None,
            json!("fd47:147::"),
            ("fd47:147::1", "fd47:147::ffff:ffff:ffff:ffff"),
        ),
        (
            4,
            "10.147.10.0/29",
            Some(Value::Null),
            Value::Null,
            ("10.147.10.1", "10.147.10.6"),
        ),
    ];
    let mut made = Vec::new();
    for (version, cidr, sent, gateway, (start, end)) in cases {
        let mut body = json!({"network_id": net, "ip_version": version, "cidr": cidr});
        if let Some(sent) = sent {
            body["gateway_ip"] = sent;
        }
        let subnet = post(&fake, "subnets", "subnet", body).await;
        assert_eq!(subnet["gateway_ip"], gateway, "{cidr}");
        assert_eq!(
            subnet["allocation_pools"],
            json!([{"start": start, "end": end}]),
            "{cidr}"
        );
        made.push(subnet["id"].clone());
    }
    let listed = get(&fake, &format!("networks/{net}")).await;
    assert_eq!(listed["network"]["subnets"], json!(made));
    // Both in one bulk request: the second overlaps the first, so neither is made.
    let twice = json!({"network_id": net, "ip_version": 4, "cidr": "10.147.11.0/29"});
    assert_eq!(
        refusal(
            &fake,
            "POST",
            "subnets",
            json!({"subnets": [twice, twice]}),
            None
        )
        .await,
        refused(
            400,
            "InvalidInput",
            &format!(
                "Invalid input for operation: Requested subnet with cidr: 10.147.11.0/29 for network: {net} overlaps with another subnet."
            )
        )
    );
    assert_eq!(
        get(&fake, "subnets?cidr=10.147.11.0/29").await["subnets"],
        json!([])
    );
}

#[tokio::test]
async fn subnet_pools_hand_out_the_best_fit_as_neutron_does() {
    let fake = Fake::rig().await;
    let pool = post(
        &fake,
        "subnetpools",
        "subnetpool",
        json!({"name": "p", "prefixes": ["10.147.0.0/16"], "default_prefixlen": 24}),
    )
    .await;
    assert_eq!(
        (
            &pool["default_prefixlen"],
            &pool["min_prefixlen"],
            &pool["max_prefixlen"]
        ),
        (&json!("24"), &json!("8"), &json!("32")),
        "prefix lengths are strings"
    );
    let net = id(&post(&fake, "networks", "network", json!({})).await);
    let from_pool = |extra: Value| {
        let mut body = json!({"network_id": net, "ip_version": 4, "subnetpool_id": pool["id"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let cidr = |made: Value| made["subnet"]["cidr"].as_str().unwrap().to_string();
    let first = ok(
        &fake,
        201,
        "POST",
        "subnets",
        json!({"subnet": from_pool(json!({"cidr": "10.147.5.0/24"}))}),
    )
    .await;
    assert_eq!(first["subnet"]["subnetpool_id"], pool["id"]);
    // What the real Neutron answered for these, in this order.
    for (extra, wanted) in [
        (json!({"prefixlen": 26}), "10.147.4.0/26"),
        (json!({}), "10.147.6.0/24"),
    ] {
        let made = ok(
            &fake,
            201,
            "POST",
            "subnets",
            json!({"subnet": from_pool(extra)}),
        )
        .await;
        assert_eq!(cidr(made), wanted);
    }
    let taken = "Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.";
    for cidr in ["10.147.5.0/25", "10.148.5.0/24"] {
        assert_eq!(
            refusal(
                &fake,
                "POST",
                "subnets",
                json!({"subnet": from_pool(json!({"cidr": cidr}))}),
                None
            )
            .await,
            refused(500, "SubnetAllocationError", taken)
        );
    }
    assert_eq!(
        refusal(
            &fake,
            "POST",
            "subnets",
            json!({"subnet": from_pool(json!({"prefixlen": 15}))}),
            None
        )
        .await,
        refused(
            500,
            "SubnetAllocationError",
            "Failed to allocate subnet: Insufficient prefix space to allocate subnet size /15."
        )
    );
    let wrong_family =
        json!({"subnet": {"network_id": net, "ip_version": 6, "subnetpool_id": pool["id"]}});
    assert_eq!(
        refusal(&fake, "POST", "subnets", wrong_family, None).await,
        refused(
            400,
            "BadRequest",
            "Bad subnets request: Cannot allocate IPv6 subnet from IPv4 subnet pool."
        )
    );
    let pool_id = id(&pool);
    assert_eq!(
        refusal(
            &fake,
            "DELETE",
            &format!("subnetpools/{pool_id}"),
            Value::Null,
            None
        )
        .await,
        refused(
            400,
            "SubnetPoolDeleteError",
            "Unable to delete subnet pool: Subnet pool has existing allocations."
        )
    );
}

#[tokio::test]
async fn ports_get_addresses_from_their_subnet_until_it_is_full() {
    let fake = Fake::rig().await;
    let (net, subnet) = network(&fake, "10.147.9.0/29").await;
    let in_subnet = |ip: Option<&str>| {
        let mut fixed = json!({"subnet_id": subnet});
        if let Some(ip) = ip {
            fixed["ip_address"] = json!(ip);
        }
        json!({"port": {"network_id": net, "fixed_ips": [fixed]}})
    };
    let first = ok(&fake, 201, "POST", "ports", in_subnet(None)).await;
    // Neutron picks at random among the free ones; the fake the lowest.
    assert_eq!(ips(&first["port"]), ["10.147.9.2"]);
    assert_eq!(
        refusal(&fake, "POST", "ports", in_subnet(Some("10.147.9.2")), None).await,
        refused(
            409,
            "IpAddressAlreadyAllocated",
            &format!("IP address 10.147.9.2 already allocated in subnet {subnet}")
        )
    );
    for bad in ["10.147.9.0", "10.147.9.7", "10.147.99.9"] {
        assert_eq!(
            refusal(&fake, "POST", "ports", in_subnet(Some(bad)), None).await,
            refused(
                400,
                "InvalidIpForSubnet",
                &format!("IP address {bad} is not a valid IP for the specified subnet.")
            )
        );
    }
    let anywhere =
        json!({"port": {"network_id": net, "fixed_ips": [{"ip_address": "10.99.99.99"}]}});
    assert_eq!(
        refusal(&fake, "POST", "ports", anywhere, None).await,
        refused(
            400,
            "InvalidIpForNetwork",
            "IP address 10.99.99.99 is not a valid IP for any of the subnets on the specified network."
        )
    );
    // The gateway is handed out only when asked for, as Neutron does.
    let gateway = ok(&fake, 201, "POST", "ports", in_subnet(Some("10.147.9.1"))).await;
    assert_eq!(ips(&gateway["port"]), ["10.147.9.1"]);
    for wanted in ["10.147.9.3", "10.147.9.4", "10.147.9.5", "10.147.9.6"] {
        let port = ok(
            &fake,
            201,
            "POST",
            "ports",
            json!({"port": {"network_id": net}}),
        )
        .await;
        assert_eq!(ips(&port["port"]), [wanted]);
    }
    assert_eq!(
        refusal(&fake, "POST", "ports", in_subnet(None), None).await,
        refused(
            409,
            "IpAddressGenerationFailure",
            &format!("No more IP addresses available on network {net}.")
        )
    );
    // A released address is free again.
    let first_id = id(&first["port"]);
    ok(
        &fake,
        204,
        "DELETE",
        &format!("ports/{first_id}"),
        Value::Null,
    )
    .await;
    let again = ok(&fake, 201, "POST", "ports", in_subnet(Some("10.147.9.2"))).await;
    assert_eq!(ips(&again["port"]), ["10.147.9.2"]);
    let listed = get(
        &fake,
        &format!("ports?fixed_ips=subnet_id%3D{subnet}&fixed_ips=ip_address%3D10.147.9.2"),
    )
    .await;
    assert_eq!(listed["ports"].as_array().unwrap().len(), 1);
    assert_eq!(listed["ports"][0]["id"], again["port"]["id"]);
}

#[tokio::test]
async fn macs_are_unique_per_network_and_fixed_once_bound() {
    let fake = Fake::rig().await;
    let (net, _) = network(&fake, "10.147.12.0/24").await;
    let port = post(
        &fake,
        "ports",
        "port",
        json!({"network_id": net, "mac_address": "02:42:0A:93:00:AB", "binding:host_id": "h"}),
    )
    .await;
    assert_eq!(port["mac_address"], "02:42:0a:93:00:ab");
    assert_eq!(
        (
            &port["status"],
            &port["binding:vif_type"],
            &port["binding:vif_details"]
        ),
        (
            &json!("ACTIVE"),
            &json!("tap"),
            &json!({"port_filter": false, "bound_drivers": {"0": "loopback_tap"}})
        )
    );
    let other = post(&fake, "ports", "port", json!({"network_id": net})).await;
    assert!(
        other["mac_address"]
            .as_str()
            .unwrap()
            .starts_with("fa:16:3e:"),
        "{other}"
    );
    assert_eq!(
        (&other["status"], &other["binding:vif_type"]),
        (&json!("DOWN"), &json!("unbound"))
    );
    let dup = json!({"port": {"network_id": net, "mac_address": "02:42:0a:93:00:ab"}});
    assert_eq!(
        refusal(&fake, "POST", "ports", dup, None).await,
        refused(
            409,
            "MacAddressInUse",
            &format!(
                "Unable to complete operation for network {net}. The mac address 02:42:0a:93:00:ab is in use."
            )
        )
    );
    let path = format!("ports/{}", id(&port));
    let new_mac = json!({"port": {"mac_address": "02:42:0a:93:00:0a"}});
    assert_eq!(
        refusal(&fake, "PUT", &path, new_mac.clone(), None).await,
        refused(
            409,
            "PortBound",
            &format!(
                "Unable to complete operation on port {}, port is already bound, port type: tap, old_mac 02:42:0a:93:00:ab, new_mac 02:42:0a:93:00:0a.",
                id(&port)
            )
        )
    );
    let put = |fields: Value| {
        let body = json!({ "port": fields });
        let (fake, path) = (&fake, &path);
        async move { ok(fake, 200, "PUT", path, body).await["port"].clone() }
    };
    let unbound = put(json!({"binding:host_id": ""})).await;
    assert_eq!(
        (&unbound["status"], &unbound["binding:vif_type"]),
        (&json!("DOWN"), &json!("unbound"))
    );
    let moved = put(new_mac["port"].clone()).await;
    assert_eq!(moved["mac_address"], "02:42:0a:93:00:0a");
    fake.state().vif_type = Some("ovs");
    let rebound = put(json!({"binding:host_id": "h2"})).await;
    assert_eq!(rebound["binding:vif_type"], "ovs");
}

#[tokio::test]
async fn tags_answer_as_neutron_does() {
    let fake = Fake::rig().await;
    let (net, _) = network(&fake, "10.147.13.0/24").await;
    let base = format!("networks/{net}/tags");
    let put = ok(&fake, 200, "PUT", &base, json!({"tags": ["a", "b"]})).await;
    assert_eq!(put, json!({"tags": ["a", "b"]}));
    assert_eq!(
        call(&fake, "PUT", &format!("{base}/c"), Value::Null, None).await,
        (201, Value::Null)
    );
    assert_eq!(
        call(&fake, "DELETE", &format!("{base}/a"), Value::Null, None)
            .await
            .0,
        204
    );
    assert_eq!(
        refusal(&fake, "DELETE", &format!("{base}/zz"), Value::Null, None).await,
        refused(404, "TagNotFound", "Tag zz could not be found.")
    );
    let got = get(&fake, &format!("networks/{net}")).await;
    assert_eq!(got["network"]["tags"], json!(["b", "c"]));
    let missing = "networks/00000001-0000-4000-8000-0000000000ff/tags";
    assert_eq!(
        refusal(&fake, "PUT", missing, json!({"tags": ["a"]}), None).await,
        refused(
            500,
            "HTTPInternalServerError",
            "Request Failed: internal server error while processing your request."
        )
    );
    assert_eq!(
        refusal(
            &fake,
            "POST",
            "networks",
            json!({"network": {"tags": ["a"]}}),
            None
        )
        .await,
        refused(
            400,
            "HTTPBadRequest",
            "Attribute 'tags' not allowed in POST"
        )
    );
    // A port keeps the tags of its POST only with tag-ports-during-bulk-creation.
    let tagged = json!({"network_id": net, "tags": ["t1"]});
    assert_eq!(
        post(&fake, "ports", "port", tagged.clone()).await["tags"],
        json!(["t1"])
    );
    fake.state()
        .extensions
        .remove("tag-ports-during-bulk-creation");
    assert_eq!(
        post(&fake, "ports", "port", tagged).await["tags"],
        json!([])
    );
    let listed = get(&fake, "networks?tags=b,c").await;
    assert_eq!(listed["networks"].as_array().unwrap().len(), 1);
    assert_eq!(get(&fake, "networks?tags=b,x").await["networks"], json!([]));
}

#[tokio::test]
async fn bulk_ports_are_all_made_or_none() {
    let fake = Fake::rig().await;
    let (net, _) = network(&fake, "10.147.14.0/24").await;
    post(
        &fake,
        "ports",
        "port",
        json!({"network_id": net, "mac_address": "02:42:0a:93:00:07"}),
    )
    .await;
    let made = ok(
        &fake,
        201,
        "POST",
        "ports",
        json!({"ports": [{"network_id": net}, {"network_id": net, "name": "b2"}]}),
    )
    .await;
    assert_eq!(made["ports"].as_array().unwrap().len(), 2);
    let failing = json!({"ports": [{"network_id": net, "name": "bf1"},
                                   {"network_id": net, "name": "bf2", "mac_address": "02:42:0a:93:00:07"}]});
    assert_eq!(
        call(&fake, "POST", "ports", failing, None).await.0,
        409,
        "the second port's MAC is taken"
    );
    assert_eq!(get(&fake, "ports?name=bf1").await["ports"], json!([]));
}

#[tokio::test]
async fn deletes_refused_while_in_use_and_a_network_takes_its_subnets() {
    let fake = Fake::rig().await;
    let (net, subnet) = network(&fake, "10.147.15.0/24").await;
    let port = post(&fake, "ports", "port", json!({"network_id": net})).await;
    let dhcp = post(
        &fake,
        "ports",
        "port",
        json!({"network_id": net, "device_owner": "network:dhcp"}),
    )
    .await;
    assert_eq!(
        refusal(
            &fake,
            "DELETE",
            &format!("networks/{net}"),
            Value::Null,
            None
        )
        .await,
        refused(
            409,
            "NetworkInUse",
            &format!(
                "Unable to complete operation on network {net}. There are one or more ports still in use on the network, id for these ports is: {}.",
                id(&port)
            )
        )
    );
    assert_eq!(
        refusal(
            &fake,
            "DELETE",
            &format!("subnets/{subnet}"),
            Value::Null,
            None
        )
        .await,
        refused(
            409,
            "SubnetInUse",
            &format!(
                "Unable to complete operation on subnet {subnet}: One or more ports have an IP allocation from this subnet."
            )
        )
    );
    ok(
        &fake,
        204,
        "DELETE",
        &format!("ports/{}", id(&port)),
        Value::Null,
    )
    .await;
    ok(
        &fake,
        204,
        "DELETE",
        &format!("networks/{net}"),
        Value::Null,
    )
    .await;
    for gone in [format!("subnets/{subnet}"), format!("ports/{}", id(&dhcp))] {
        assert_eq!(call(&fake, "GET", &gone, Value::Null, None).await.0, 404);
    }
    assert_eq!(
        refusal(&fake, "GET", &format!("networks/{net}"), Value::Null, None).await,
        refused(
            404,
            "NetworkNotFound",
            &format!("Network {net} could not be found.")
        )
    );
}

#[tokio::test]
async fn the_extension_list_names_the_rigs_aliases() {
    let fake = Fake::rig().await;
    let listed = get(&fake, "extensions").await;
    let aliases: Vec<&str> = listed["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["alias"].as_str().unwrap())
        .collect();
    for needed in [
        "standard-attr-tag",
        "subnet_allocation",
        "tag-ports-during-bulk-creation",
    ] {
        assert!(aliases.contains(&needed), "{aliases:?}");
    }
    assert_eq!(aliases.len(), super::RIG_EXTENSIONS.len());
}
