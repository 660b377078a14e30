//! Validation of the user's options for the embedded backend: `-o` on networks,
//! `--ipam-opt` on pools, `--driver-opt` on endpoints. Unknown options are refused with
//! a message that names them, at the call where a refusal is still clean (spec §8.8).

use crate::Error;
use std::collections::BTreeMap;

/// `-o com.docker.network.driver.mtu=N` (Docker's bridge driver spelling) or `-o mtu=N`.
const MTU_KEYS: [&str; 2] = ["com.docker.network.driver.mtu", "mtu"];
/// `-o com.docker.network.bridge.name=NAME`: use this bridge name instead of the derived one.
const BRIDGE_NAME_KEY: &str = "com.docker.network.bridge.name";

/// Options kuryr-libnetwork understands, which only make sense with Neutron.
const NEUTRON_PREFIX: &str = "neutron.";

/// The network options the embedded backend acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct NetworkOptions {
    pub(super) mtu: Option<u32>,
    pub(super) bridge_name: Option<String>,
}

pub(super) fn network_options(generic: &BTreeMap<String, String>) -> Result<NetworkOptions, Error> {
    let mut parsed = NetworkOptions::default();
    let mut problems = Vec::new();
    for (key, value) in generic {
        if MTU_KEYS.contains(&key.as_str()) {
            match value.trim().parse::<u32>() {
                Ok(mtu) if (68..=65535).contains(&mtu) => parsed.mtu = Some(mtu),
                _ => problems.push(format!(
                    "option {key}={value:?}: expected an MTU between 68 and 65535"
                )),
            }
        } else if key == BRIDGE_NAME_KEY {
            match crate::hostnet::names::validate_ifname(value) {
                Ok(()) => parsed.bridge_name = Some(value.clone()),
                Err(error) => problems.push(format!("option {key}: {error}")),
            }
        } else {
            problems.push(unknown(
                key,
                "network",
                &[MTU_KEYS[0], MTU_KEYS[1], BRIDGE_NAME_KEY],
            ));
        }
    }
    finish(problems).map(|()| parsed)
}

/// `--ipam-opt`: the embedded IPAM has none of its own. Keys in Docker's own namespace
/// are passed through by swarm managers and are not the user's, so they are accepted.
pub(super) fn ipam_options(options: &BTreeMap<String, String>) -> Result<(), Error> {
    let problems = options
        .keys()
        .filter(|key| !key.starts_with("com.docker."))
        .map(|key| unknown(key, "IPAM", &[]))
        .collect();
    finish(problems)
}

/// `--driver-opt` on an endpoint: none are supported. dockerd's own keys
/// (`com.docker.network.*`) carry ports, DNS servers and the like.
pub(super) fn endpoint_options(options: &BTreeMap<String, serde_json::Value>) -> Result<(), Error> {
    let problems = options
        .keys()
        .filter(|key| !key.starts_with("com.docker."))
        .map(|key| unknown(key, "endpoint", &[]))
        .collect();
    finish(problems)
}

fn unknown(key: &str, kind: &str, known: &[&str]) -> String {
    if key.starts_with(NEUTRON_PREFIX) {
        return format!(
            "option {key} needs the neutron backend (this plugin runs with backend = embedded)"
        );
    }
    if known.is_empty() {
        format!("unknown {kind} option {key}: the embedded backend takes no {kind} options")
    } else {
        format!("unknown {kind} option {key} (known: {})", known.join(", "))
    }
}

fn finish(problems: Vec<String>) -> Result<(), Error> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidOption(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn accepts_mtu_and_bridge_name() {
        let parsed =
            network_options(&map(&[("mtu", "1400"), (BRIDGE_NAME_KEY, "br-test")])).unwrap();
        assert_eq!(parsed.mtu, Some(1400));
        assert_eq!(parsed.bridge_name.as_deref(), Some("br-test"));
    }

    #[test]
    fn names_every_bad_option() {
        let error = network_options(&map(&[
            ("bogus", "1"),
            ("mtu", "9"),
            ("neutron.net.uuid", "x"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(error.contains("bogus"), "{error}");
        assert!(error.contains("mtu"), "{error}");
        assert!(error.contains("neutron backend"), "{error}");
    }

    #[test]
    fn ipam_and_endpoint_options_refuse_user_keys_only() {
        assert!(ipam_options(&map(&[("com.docker.network.ipam.serial", "true")])).is_ok());
        assert!(
            ipam_options(&map(&[("pool-tag", "blue")]))
                .unwrap_err()
                .to_string()
                .contains("pool-tag")
        );
        let mut endpoint = BTreeMap::new();
        endpoint.insert(
            "com.docker.network.portmap".to_string(),
            serde_json::json!([]),
        );
        assert!(endpoint_options(&endpoint).is_ok());
        endpoint.insert("vlan-prio".to_string(), serde_json::json!("5"));
        assert!(
            endpoint_options(&endpoint)
                .unwrap_err()
                .to_string()
                .contains("vlan-prio")
        );
    }
}
