//! One Docker network lifecycle sent to a running `kuryr serve` over its unix socket
//! in dockerd's order (`docker network create`, `docker run`, `docker rm`,
//! `docker network rm`), every call required to succeed, then `Kuryr.Settle` until
//! the plugin's Neutron deletes are done; and what Neutron still holds of it.

#![allow(dead_code)]

use std::future::Future;
use std::path::Path;

use kuryr::neutron::{Client, Described, Kind, Network, Port, Query, Subnet, SubnetPool};
use serde_json::{Value, json};

use super::client::{connect, post_ok};

/// A lifecycle's Docker ids, /24 and MAC: its own for each `n` and each run.
#[derive(Clone, Debug)]
pub struct Names {
    pub nid: String,
    pub eid: String,
    pub cidr: String,
    pub gateway: String,
    pub mac: String,
}

impl Names {
    /// CIDRs 10.<100 + pid % 50>.<n>.0/24: apart from neutron_real.rs and
    /// neutron_faults.rs (10.150-199.x).
    pub fn new(n: u8) -> Names {
        let octet = 100 + std::process::id() % 50;
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        // The first 8 characters name the network (`kuryr-net-<id[:8]>`).
        let low = u32::try_from(t & 0xff_ffff).unwrap();
        let id = |k: u8| format!("{n:02x}{low:06x}{k:02x}{:08x}{t:046x}", std::process::id());
        Names {
            nid: id(1),
            eid: id(2),
            cidr: format!("10.{octet}.{n}.0/24"),
            gateway: format!("10.{octet}.{n}.1"),
            mac: format!("02:42:0c:{:02x}:{n:02x}:0b", std::process::id() % 256),
        }
    }
}

/// Runs the lifecycle on the plugin at `socket`. `between` runs after CreateNetwork
/// and before the container's calls (the test revokes the plugin's token there).
pub async fn lifecycle<F: Future<Output = ()>>(socket: &Path, n: &Names, between: F) {
    let mut s = connect(socket).await.expect("the plugin socket");
    let pool = post_ok(
        &mut s,
        "/IpamDriver.RequestPool",
        &json!({"AddressSpace": "no_address_space", "Pool": n.cidr, "SubPool": "",
                "Options": {}, "V6": false}),
    )
    .await;
    let pool_id = pool["PoolID"].as_str().expect("PoolID").to_string();
    post_ok(
        &mut s,
        "/IpamDriver.RequestAddress",
        &json!({"PoolID": pool_id, "Address": n.gateway,
                "Options": {"RequestAddressType": "com.docker.network.gateway"}}),
    )
    .await;
    post_ok(
        &mut s,
        "/NetworkDriver.CreateNetwork",
        &json!({"NetworkID": n.nid,
                "Options": {"com.docker.network.enable_ipv6": false,
                            "com.docker.network.generic": {}},
                "IPv4Data": [{"AddressSpace": "no_address_space", "Pool": n.cidr,
                              "Gateway": format!("{}/24", n.gateway)}],
                "IPv6Data": []}),
    )
    .await;
    between.await;
    let address = post_ok(
        &mut s,
        "/IpamDriver.RequestAddress",
        &json!({"PoolID": pool_id, "Address": "",
                "Options": {"com.docker.network.endpoint.macaddress": n.mac}}),
    )
    .await;
    let cidr = address["Address"].as_str().expect("Address").to_string();
    let ip = cidr.split('/').next().unwrap().to_string();
    let endpoint = json!({"NetworkID": n.nid, "EndpointID": n.eid});
    post_ok(
        &mut s,
        "/NetworkDriver.CreateEndpoint",
        &json!({"NetworkID": n.nid, "EndpointID": n.eid,
                "Interface": {"Address": cidr, "AddressIPv6": "", "MacAddress": n.mac},
                "Options": {}}),
    )
    .await;
    post_ok(&mut s, "/NetworkDriver.DeleteEndpoint", &endpoint).await;
    post_ok(
        &mut s,
        "/IpamDriver.ReleaseAddress",
        &json!({"PoolID": pool_id, "Address": ip}),
    )
    .await;
    post_ok(
        &mut s,
        "/IpamDriver.ReleaseAddress",
        &json!({"PoolID": pool_id, "Address": n.gateway}),
    )
    .await;
    post_ok(
        &mut s,
        "/IpamDriver.ReleasePool",
        &json!({"PoolID": pool_id}),
    )
    .await;
    post_ok(
        &mut s,
        "/NetworkDriver.DeleteNetwork",
        &json!({"NetworkID": n.nid}),
    )
    .await;
    let settled: Value = post_ok(&mut s, "/Kuryr.Settle", &json!({"Timeout": 60})).await;
    assert_eq!(settled["Pending"], 0, "deletes still pending: {settled}");
}

async fn found<T: Described>(check: &Client, kind: Kind, query: Query) -> Vec<(Kind, String)> {
    let found: Vec<T> = check.list(&query).await.expect("listing");
    found.iter().map(|x| (kind, x.id().to_string())).collect()
}

/// What Neutron still holds of `n`'s lifecycle, as (kind, id), ports first.
pub async fn left(check: &Client, n: &Names) -> Vec<(Kind, String)> {
    let by_name = |name: String| Query::new().eq("name", &name);
    let mut left = Vec::new();
    left.extend(found::<Port>(check, Kind::Ports, Query::new().eq("mac_address", &n.mac)).await);
    let subnet = by_name(format!("kuryr-subnet-{}", n.cidr));
    left.extend(found::<Subnet>(check, Kind::Subnets, subnet).await);
    let net = by_name(format!("kuryr-net-{}", &n.nid[..8]));
    left.extend(found::<Network>(check, Kind::Networks, net).await);
    let pool = by_name(format!("kuryrPool-{}", n.cidr));
    left.extend(found::<SubnetPool>(check, Kind::SubnetPools, pool).await);
    left
}
