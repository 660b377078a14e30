//! Wire golden tests: every request body a real dockerd sent (tests/fixtures/dockerd)
//! must decode into our wire types, specific bodies must decode to exactly the values
//! they carry, and our replies must serialize to the JSON dockerd expects.

use kuryr::api::{self, ipam, network};
use kuryr::server::decode;
use serde_json::{Value, json};

fn captured() -> Vec<(String, Value)> {
    let mut calls = Vec::new();
    for file in ["dockerd-calls.jsonl", "dockerd-calls-extra.jsonl"] {
        let path = format!(
            "{}/tests/fixtures/dockerd/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let entry: Value = serde_json::from_str(line).expect("fixture line is JSON");
            if let (Some(path), Some(body)) = (entry["path"].as_str(), entry.get("body")) {
                if !body.is_null() {
                    calls.push((path.to_owned(), body.clone()));
                }
            }
        }
    }
    calls
}

/// Decode `body` as `W` and check it into the model type `M`, as the server does.
fn checked<W, M>(body: &[u8]) -> Result<(), kuryr::Error>
where
    W: serde::de::DeserializeOwned,
    M: TryFrom<W, Error = kuryr::model::Invalid>,
{
    let wire: W = decode(body)?;
    M::try_from(wire)?;
    Ok(())
}

fn decode_as(path: &str, body: &[u8]) -> Result<(), String> {
    use kuryr::model as m;
    let result = match path {
        "/IpamDriver.RequestPool" => checked::<ipam::RequestPoolRequest, m::PoolRequest>(body),
        "/IpamDriver.ReleasePool" => checked::<ipam::ReleasePoolRequest, m::PoolId>(body),
        "/IpamDriver.RequestAddress" => {
            checked::<ipam::RequestAddressRequest, m::AddressRequest>(body)
        }
        "/IpamDriver.ReleaseAddress" => {
            checked::<ipam::ReleaseAddressRequest, m::AddressRelease>(body)
        }
        "/NetworkDriver.CreateNetwork" => {
            checked::<network::CreateNetworkRequest, m::NetworkSpec>(body)
        }
        "/NetworkDriver.DeleteNetwork" => checked::<network::NetworkRequest, m::NetworkId>(body),
        "/NetworkDriver.CreateEndpoint" => {
            checked::<network::CreateEndpointRequest, m::EndpointSpec>(body)
        }
        "/NetworkDriver.Join" => checked::<network::JoinRequest, m::JoinSpec>(body),
        "/NetworkDriver.ProgramExternalConnectivity" => {
            checked::<network::ProgramExternalConnectivityRequest, m::Connectivity>(body)
        }
        "/NetworkDriver.EndpointOperInfo"
        | "/NetworkDriver.Leave"
        | "/NetworkDriver.DeleteEndpoint"
        | "/NetworkDriver.RevokeExternalConnectivity" => {
            checked::<network::EndpointRequest, m::EndpointRef>(body)
        }
        other => return Err(format!("no wire type for {other}")),
    };
    result.map_err(|e| e.to_string())
}

#[test]
fn every_captured_request_body_decodes() {
    let calls = captured();
    assert!(calls.len() > 250, "fixtures went missing: {}", calls.len());
    let mut failures = Vec::new();
    for (path, body) in &calls {
        let bytes = serde_json::to_vec(body).unwrap();
        if let Err(error) = decode_as(path, &bytes) {
            failures.push(format!("{path}: {error}: {body}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rich_create_network_decodes_to_its_values() {
    // The capture's `--ipv6 --internal --ip-range --aux-address` network.
    let body = captured()
        .into_iter()
        .find(|(path, body)| {
            path == "/NetworkDriver.CreateNetwork"
                && body["Options"]["com.docker.network.internal"] == true
        })
        .expect("an --internal CreateNetwork in the capture")
        .1;
    let req: network::CreateNetworkRequest = decode(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert!(req.options.internal);
    assert!(req.options.enable_ipv6);
    assert_eq!(
        req.options.enable_ipv4, None,
        "20.10 does not send enable_ipv4"
    );
    assert_eq!(req.ipv4_data.len(), 1);
    assert_eq!(req.ipv6_data.len(), 1);
    let v4 = &req.ipv4_data[0];
    assert_eq!(
        v4.gateway.unwrap().addr().to_string(),
        body["IPv4Data"][0]["Gateway"]
            .as_str()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
    );
    assert_eq!(
        v4.aux_addresses.len(),
        body["IPv4Data"][0]["AuxAddresses"]
            .as_object()
            .map_or(0, |m| m.len())
    );
}

#[test]
fn go_nulls_and_empty_strings_mean_empty() {
    let req: ipam::RequestAddressRequest =
        decode(br#"{"PoolID":"p","Address":"","Options":null}"#).unwrap();
    assert_eq!(req.address, None);
    assert!(req.options.is_empty());
    let req: network::CreateEndpointRequest =
        decode(br#"{"NetworkID":"n","EndpointID":"e","Interface":null,"Options":null}"#).unwrap();
    assert_eq!(req.interface, network::EndpointInterface::default());
    let req: network::CreateNetworkRequest =
        decode(br#"{"NetworkID":"n","Options":{"com.docker.network.generic":null},"IPv4Data":null,"IPv6Data":null}"#)
            .unwrap();
    assert!(req.ipv4_data.is_empty() && req.options.generic.is_empty());
}

#[test]
fn malformed_bodies_name_the_field() {
    let cases: [(&[u8], &str); 5] = [
        (
            br#"{"NetworkID":"n","IPv4Data":[{"Pool":"10.0.0.0/33"}]}"#,
            "IPv4Data[0].Pool",
        ),
        (
            br#"{"NetworkID":"n","IPv4Data":[{"Pool":"10.0.0.0/24","Gateway":"x"}]}"#,
            "IPv4Data[0].Gateway",
        ),
        (br#"{"IPv4Data":[]}"#, "NetworkID"),
        (
            br#"{"NetworkID":"n","Options":{"com.docker.network.enable_ipv6":"yes"}}"#,
            "enable_ipv6",
        ),
        (b"", "empty body"),
    ];
    for (body, expected) in cases {
        let error = decode::<network::CreateNetworkRequest>(body)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(expected),
            "{error:?} should mention {expected:?}"
        );
    }
    let error = decode::<network::CreateEndpointRequest>(
        br#"{"NetworkID":"n","EndpointID":"e","Interface":{"MacAddress":"zz"}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("Interface.MacAddress"), "{error}");
}

#[test]
fn replies_serialize_as_dockerd_expects() {
    let check = |value: Value, expected: Value| assert_eq!(value, expected);
    check(
        serde_json::to_value(api::ActivateResponse::network_and_ipam()).unwrap(),
        json!({"Implements": ["NetworkDriver", "IpamDriver"]}),
    );
    check(
        serde_json::to_value(network::CapabilitiesResponse {
            scope: "local",
            connectivity_scope: "local",
        })
        .unwrap(),
        json!({"Scope": "local", "ConnectivityScope": "local"}),
    );
    check(
        serde_json::to_value(ipam::RequestAddressResponse {
            address: "10.99.0.2/24".parse().unwrap(),
            data: Default::default(),
        })
        .unwrap(),
        json!({"Address": "10.99.0.2/24", "Data": {}}),
    );
    // Only fields dockerd left empty may be set; nothing set means an empty object.
    check(
        serde_json::to_value(network::CreateEndpointResponse::default()).unwrap(),
        json!({"Interface": {}}),
    );
    check(
        serde_json::to_value(network::JoinResponse {
            interface_name: network::InterfaceName {
                src_name: "kvc0123456789ab".into(),
                dst_prefix: "eth".into(),
            },
            gateway: Some("10.99.0.1".parse().unwrap()),
            gateway_ipv6: None,
            static_routes: vec![],
            disable_gateway_service: false,
        })
        .unwrap(),
        json!({"InterfaceName": {"SrcName": "kvc0123456789ab", "DstPrefix": "eth"}, "Gateway": "10.99.0.1"}),
    );
    check(
        serde_json::to_value(api::ErrResponse { err: "boom".into() }).unwrap(),
        json!({"Err": "boom"}),
    );
}
