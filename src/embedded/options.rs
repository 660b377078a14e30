//! Validation of the user's options for the embedded backend: `-o` on networks,
//! `--ipam-opt` on pools, `--driver-opt` on endpoints. Unknown options are refused with
//! a message that names them, at the call where a refusal is still clean (spec §8.8).

use crate::Error;
use crate::model::{DriverOptions, bridge_keys};

/// `-o com.docker.network.driver.mtu=N` (Docker's bridge driver spelling) or `-o mtu=N`.
const MTU_KEYS: [&str; 2] = [bridge_keys::MTU, "mtu"];
/// `-o com.docker.network.bridge.name=NAME`: use this bridge name instead of the derived one.
const BRIDGE_NAME_KEY: &str = bridge_keys::NAME;

/// Options kuryr-libnetwork understands, which only make sense with Neutron.
const NEUTRON_PREFIX: &str = "neutron.";

/// The network options the embedded backend acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct NetworkOptions {
    pub(super) mtu: Option<u32>,
    pub(super) bridge_name: Option<String>,
}

pub(super) fn network_options(generic: &DriverOptions) -> Result<NetworkOptions, Error> {
    let mut parsed = NetworkOptions::default();
    let mut problems = Vec::new();
    for (key, value) in generic.iter() {
        if MTU_KEYS.contains(&key) {
            match value.trim().parse::<u32>() {
                Ok(mtu) if (68..=65535).contains(&mtu) => parsed.mtu = Some(mtu),
                _ => problems.push(format!(
                    "option {key}={value:?}: expected an MTU between 68 and 65535"
                )),
            }
        } else if key == BRIDGE_NAME_KEY {
            // Stricter than the kernel: the name goes into the nft script and must not
            // carry quotes, wildcards (`*`) or the kernel's `%d` template.
            if is_safe_ifname(value) {
                parsed.bridge_name = Some(value.to_owned());
            } else {
                problems.push(format!(
                    "option {key}={value:?}: a bridge name is 1 to 15 of [A-Za-z0-9_.-]"
                ));
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

fn is_safe_ifname(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && name != "."
        && name != ".."
}

/// `--ipam-opt`: the embedded IPAM has none of its own. (Docker's own keys, which swarm
/// managers pass through, were taken out at the edge.)
pub(super) fn ipam_options(options: &DriverOptions) -> Result<(), Error> {
    let problems = options
        .keys()
        .map(|key| unknown(key, "IPAM", &[]))
        .collect();
    finish(problems)
}

/// `--driver-opt` on an endpoint: none are supported. (dockerd's own keys, which carry
/// ports, DNS servers and the like, were decoded or dropped at the edge.)
pub(super) fn endpoint_options(options: &DriverOptions) -> Result<(), Error> {
    let problems = options
        .keys()
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

    fn map(pairs: &[(&str, &str)]) -> DriverOptions {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DriverOptions::new("Options", map).unwrap()
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
    fn ipam_and_endpoint_options_are_refused_by_name() {
        assert!(ipam_options(&map(&[])).is_ok());
        assert!(
            ipam_options(&map(&[("pool-tag", "blue")]))
                .unwrap_err()
                .to_string()
                .contains("pool-tag")
        );
        assert!(endpoint_options(&map(&[])).is_ok());
        assert!(
            endpoint_options(&map(&[("vlan-prio", "5")]))
                .unwrap_err()
                .to_string()
                .contains("vlan-prio")
        );
    }

    #[test]
    fn bridge_names_that_could_break_nft_or_the_kernel_template_are_refused() {
        for bad in [
            "a\"b",
            "e*",
            "br%d",
            "a b",
            "",
            "sixteen-chars-xx",
            "..",
            "a;b",
            "a{b",
        ] {
            let error = network_options(&map(&[(BRIDGE_NAME_KEY, bad)]));
            assert!(error.is_err(), "{bad:?} accepted");
        }
        for good in ["docker0", "br-test", "kbr_1.2"] {
            assert!(
                network_options(&map(&[(BRIDGE_NAME_KEY, good)])).is_ok(),
                "{good}"
            );
        }
    }
}
