//! A JSON view of a snapshot for `kuryr state`: what an operator reads during an
//! incident, with addresses printed as addresses.

use super::Snapshot;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub fn to_json(snapshot: &Snapshot) -> Value {
    let families: HashMap<&str, bool> = snapshot
        .pools
        .iter()
        .map(|(id, record)| (id.as_str(), record.cidr.addr().is_ipv6()))
        .collect();
    let pools: Vec<Value> = snapshot
        .pools
        .iter()
        .map(|(id, record)| {
            json!({"id": id, "space": record.space, "cidr": record.cidr,
                                   "range": record.range, "options": record.options})
        })
        .collect();
    let addresses: Vec<Value> = snapshot
        .addresses
        .iter()
        .map(|(pool_id, number)| {
            let address = match families.get(pool_id.as_str()) {
                Some(true) => IpAddr::V6(Ipv6Addr::from(*number)).to_string(),
                Some(false) => match u32::try_from(*number) {
                    Ok(v4) => IpAddr::V4(Ipv4Addr::from(v4)).to_string(),
                    Err(_) => number.to_string(),
                },
                None => number.to_string(),
            };
            json!({"pool_id": pool_id, "address": address})
        })
        .collect();
    json!({
        "pools": pools,
        "addresses": addresses,
        "networks": snapshot.networks,
        "endpoints": snapshot.endpoints,
    })
}
