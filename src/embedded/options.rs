//! Validation of the user's options for the embedded backend: `-o` on networks,
//! `--ipam-opt` on pools, `--driver-opt` on endpoints. Unknown options are refused with
//! a message that names them, at the call where a refusal is still clean (spec §8.8).

use crate::Error;
use crate::model::{DriverOptions, bridge_keys};

/// `-o com.docker.network.driver.mtu=N` (Docker's bridge driver spelling) or `-o mtu=N`.
const MTU_KEYS: [&str; 2] = [bridge_keys::MTU, "mtu"];
/// `-o com.docker.network.bridge.name=NAME`: use this bridge name instead of the derived one.
const BRIDGE_NAME_KEY: &str = bridge_keys::NAME;
/// `-o com.docker.network.bridge.enable_ip_masquerade=false`: no egress NAT.
const MASQUERADE_KEY: &str = bridge_keys::ENABLE_IP_MASQUERADE;
/// `-o com.docker.network.bridge.enable_icc=false`: containers of the network cannot
/// reach each other.
const ICC_KEY: &str = bridge_keys::ENABLE_ICC;

/// Options kuryr-libnetwork understands, which only make sense with Neutron.
const NEUTRON_PREFIX: &str = "neutron.";

/// The network options the embedded backend acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NetworkOptions {
    pub(super) mtu: Option<u32>,
    pub(super) bridge_name: Option<String>,
    /// Egress NAT of the IPv4 subnets (unless the network is internal).
    pub(super) masquerade: bool,
    /// Inter-container traffic on the network's bridge.
    pub(super) icc: bool,
}

impl Default for NetworkOptions {
    fn default() -> NetworkOptions {
        NetworkOptions {
            mtu: None,
            bridge_name: None,
            masquerade: true,
            icc: true,
        }
    }
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
        } else if key == MASQUERADE_KEY || key == ICC_KEY {
            match parse_bool(value) {
                Some(on) if key == MASQUERADE_KEY => parsed.masquerade = on,
                Some(on) => parsed.icc = on,
                None => problems.push(format!("option {key}={value:?}: expected true or false")),
            }
        } else {
            problems.push(unknown(
                key,
                "network",
                &[
                    MTU_KEYS[0],
                    MTU_KEYS[1],
                    BRIDGE_NAME_KEY,
                    MASQUERADE_KEY,
                    ICC_KEY,
                ],
            ));
        }
    }
    finish(problems).map(|()| parsed)
}

/// Docker's bridge driver reads its boolean options with Go's `strconv.ParseBool`:
/// the same spellings, nothing else (no trimming, no "yes").
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The options of a stored network, which were checked when it was created. If they
/// no longer parse (a rule changed since), the defaults hold and the error is logged.
pub(super) fn stored_network_options(
    network_id: &str,
    map: &std::collections::BTreeMap<String, String>,
) -> NetworkOptions {
    let parsed = DriverOptions::new("Options", map.clone())
        .map_err(Error::from)
        .and_then(|options| network_options(&options));
    parsed.unwrap_or_else(|error| {
        tracing::error!(network_id, %error, "stored network options ignored");
        NetworkOptions::default()
    })
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
    fn masquerade_and_icc_are_on_unless_turned_off() {
        let parsed = network_options(&map(&[])).unwrap();
        assert!(parsed.masquerade && parsed.icc);
        let parsed =
            network_options(&map(&[(MASQUERADE_KEY, "false"), (ICC_KEY, "False")])).unwrap();
        assert!(!parsed.masquerade && !parsed.icc);
        let parsed = network_options(&map(&[(MASQUERADE_KEY, "0"), (ICC_KEY, "true")])).unwrap();
        assert!(!parsed.masquerade && parsed.icc);
        let parsed = network_options(&map(&[(MASQUERADE_KEY, "T"), (ICC_KEY, "f")])).unwrap();
        assert!(parsed.masquerade && !parsed.icc);
    }

    #[test]
    fn masquerade_and_icc_take_only_docker_booleans() {
        for bad in ["", "no", "yes", "off", " false", "false ", "2", "tRUE"] {
            for key in [MASQUERADE_KEY, ICC_KEY] {
                let error = network_options(&map(&[(key, bad)]))
                    .unwrap_err()
                    .to_string();
                assert!(
                    error.contains(key) && error.contains("true or false"),
                    "{key}={bad:?}: {error}"
                );
            }
        }
    }

    #[test]
    fn stored_options_parse_like_new_ones_and_fall_back_to_the_defaults() {
        let stored = [(ICC_KEY.to_string(), "false".to_string())].into();
        assert!(!stored_network_options("n", &stored).icc);
        let broken = [("bogus".to_string(), "1".to_string())].into();
        assert_eq!(
            stored_network_options("n", &broken),
            NetworkOptions::default()
        );
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
