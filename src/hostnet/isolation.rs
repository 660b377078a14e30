//! kuryr's packet filter: isolation between kuryr networks, `--internal`, egress NAT
//! and `enable_icc=false`, as two nftables tables rebuilt together.
//!
//! `inet kuryr` (IPv4 and IPv6) holds a `forward` chain and a `postrouting` NAT chain.
//! Each network's bridge holds its gateway address, so a host with forwarding on would
//! route between networks: `forward` drops packets forwarded from one kuryr bridge to
//! another, and for an internal network every packet forwarded into or out of its
//! bridge that does not stay on it (a container that adds its own route gets nowhere).
//! `postrouting` masquerades the IPv4 subnets of each network that has egress NAT when
//! their packets leave through any interface that is not a kuryr bridge (IPv6 is
//! routed as it is). `bridge kuryr` holds a `forward` chain for networks with
//! `enable_icc=false`: bridged frames never reach the `inet` hooks (unless
//! br_netfilter is loaded), so their frames between two of the network's ports (the
//! veth host ends) are dropped there. Ports are matched by name, not with
//! `meta ibrname`, which needs `CONFIG_NFT_BRIDGE_META` that some kernels lack.
//!
//! Every chain has policy accept and only drops or rewrites; an accept here cannot
//! override a drop in another table (nftables runs every base chain of a hook).
//! The whole rule set is rebuilt in one `nft -f` transaction from the list of
//! networks, so it cannot drift from the networks that exist; a table exists only
//! while it holds a rule. `ruleset` is pure; `apply` runs `nft`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use super::HostNetError;
use crate::model::Protocol;
use crate::process::{self, RunError};

/// The nftables tables this plugin owns, one in the `inet` and one in the `bridge`
/// family.
pub const TABLE: &str = "kuryr";

/// How long one `nft -f` may take. A rebuild runs under the backend's firewall
/// lock, so a hung nft must not block every CreateNetwork and DeleteNetwork.
pub const NFT_TIMEOUT: Duration = Duration::from_secs(30);

/// One network as the rules see it. Names are interface names already validated, so
/// they need no quoting beyond the double quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    pub bridge: String,
    /// IPv4 subnets masqueraded when they leave through a non-kuryr interface; empty
    /// when the network has no egress NAT (`--internal`, `enable_ip_masquerade=false`).
    pub masquerade: Vec<Ipv4Net>,
    /// `--internal`: nothing is forwarded into or out of the bridge.
    pub internal: bool,
    /// `enable_icc=false`: the network's ports (veth host ends), between which bridged
    /// frames are dropped; empty when containers may talk to each other.
    pub isolated_ports: Vec<String>,
    /// Published ports (`-p`) of the network's endpoints, in one family each.
    pub published: Vec<PortForward>,
}

/// One published port in one family: packets to `host_port` on a local address
/// (`host_ip`, or any but loopback) are sent to `container`'s `port`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortForward {
    pub proto: Protocol,
    /// Of `container`'s family; `None` (or `0.0.0.0`, `::`) for every local address
    /// of it.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    /// The endpoint's address with its subnet's prefix: hairpin traffic from that
    /// subnet is masqueraded.
    pub container: IpNet,
    pub port: u16,
}

impl PortForward {
    /// `ip`/`ip6`: the nft keyword of the family.
    fn family(&self) -> &'static str {
        match self.container {
            IpNet::V4(_) => "ip",
            IpNet::V6(_) => "ip6",
        }
    }

    /// The `published` chain's rule: DNAT to the container.
    fn dnat(&self) -> String {
        let family = self.family();
        let daddr = match self.host_ip {
            Some(ip) if !ip.is_unspecified() => format!("{family} daddr {ip}"),
            _ => format!(
                "meta nfproto {}",
                if family == "ip" { "ipv4" } else { "ipv6" }
            ),
        };
        let to = match self.container.addr() {
            IpAddr::V4(addr) => format!("{addr}:{}", self.port),
            IpAddr::V6(addr) => format!("[{addr}]:{}", self.port),
        };
        format!(
            "{daddr} {} dport {} dnat {family} to {to}",
            self.proto, self.host_port
        )
    }

    /// The postrouting rule that masquerades hairpin traffic: a neighbour on the
    /// container's subnet reaching it through a host address would otherwise get the
    /// reply straight from the container, which it never sent to.
    fn hairpin(&self) -> String {
        let family = self.family();
        format!(
            "{family} saddr {} {family} daddr {} {} dport {} ct status dnat masquerade",
            self.container.trunc(),
            self.container.addr(),
            self.proto,
            self.port
        )
    }
}

/// `"a", "b"`.
fn quoted<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `table FAMILY kuryr { ... }` holding `chains` (name, hook line, rules) and
/// `preamble`, or nothing when no chain has a rule.
fn table(family: &str, preamble: &str, chains: &[(&str, &str, Vec<String>)]) -> String {
    let chains: Vec<_> = chains
        .iter()
        .filter(|(_, _, rules)| !rules.is_empty())
        .collect();
    if chains.is_empty() {
        return String::new();
    }
    let mut text = format!("table {family} {TABLE} {{\n{preamble}");
    for (name, hook, rules) in chains {
        let _ = writeln!(text, "\tchain {name} {{");
        if !hook.is_empty() {
            let _ = writeln!(text, "\t\t{hook}");
        }
        for rule in rules {
            let _ = writeln!(text, "\t\t{rule}");
        }
        text.push_str("\t}\n");
    }
    text.push_str("}\n");
    text
}

/// The `nft -f` script that makes kuryr's tables match `networks` (in any order; the
/// script is the same for every order).
pub fn ruleset(networks: &[NetworkRules]) -> String {
    let mut networks: Vec<&NetworkRules> = networks.iter().collect();
    networks.sort_by(|a, b| a.bridge.cmp(&b.bridge));
    let bridges: Vec<&str> = networks.iter().map(|n| n.bridge.as_str()).collect();

    let mut forward = Vec::new();
    if bridges.len() >= 2 {
        for from in &bridges {
            let others = quoted(bridges.iter().copied().filter(|to| to != from));
            forward.push(format!("iifname \"{from}\" oifname {{ {others} }} drop"));
        }
    }
    for network in networks.iter().filter(|n| n.internal) {
        let bridge = &network.bridge;
        forward.push(format!("iifname \"{bridge}\" oifname != \"{bridge}\" drop"));
        forward.push(format!("oifname \"{bridge}\" iifname != \"{bridge}\" drop"));
    }
    let mut forwards: Vec<&PortForward> = networks
        .iter()
        .flat_map(|network| &network.published)
        .collect();
    forwards.sort();
    let published: Vec<String> = forwards.iter().map(|f| f.dnat()).collect();
    let (prerouting, output) = if published.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        // Loopback is left out: a packet DNATed from 127.0.0.1 to a bridge is a
        // martian unless route_localnet is on, which kuryr does not set.
        (
            vec!["fib daddr type local jump published".to_owned()],
            vec![
                "ip daddr != 127.0.0.0/8 fib daddr type local jump published".to_owned(),
                "ip6 daddr != ::1 fib daddr type local jump published".to_owned(),
            ],
        )
    };
    let masquerade = networks
        .iter()
        .flat_map(|network| &network.masquerade)
        .map(|subnet| format!("ip saddr {} oifname != @bridges masquerade", subnet.trunc()));
    let postrouting: Vec<String> = forwards
        .iter()
        .map(|f| f.hairpin())
        .chain(masquerade)
        .collect();
    let set = if networks.iter().all(|network| network.masquerade.is_empty()) {
        String::new()
    } else {
        format!(
            "\tset bridges {{\n\t\ttype ifname\n\t\telements = {{ {} }}\n\t}}\n",
            quoted(bridges.iter().copied())
        )
    };
    let icc: Vec<String> = networks
        .iter()
        .filter(|network| network.isolated_ports.len() >= 2)
        .map(|network| {
            let ports = quoted(network.isolated_ports.iter().map(String::as_str));
            format!("iifname {{ {ports} }} oifname {{ {ports} }} drop")
        })
        .collect();

    // Creating each table first makes its delete valid when it does not exist yet; all
    // of it runs in one transaction, so there is no unprotected gap.
    let mut script = String::new();
    for family in ["inet", "bridge"] {
        let _ = write!(
            script,
            "table {family} {TABLE} {{}}\ndelete table {family} {TABLE}\n"
        );
    }
    const FORWARD: &str = "type filter hook forward priority filter - 10; policy accept;";
    script.push_str(&table(
        "inet",
        &set,
        &[
            ("published", "", published),
            ("forward", FORWARD, forward),
            (
                "prerouting",
                "type nat hook prerouting priority dstnat; policy accept;",
                prerouting,
            ),
            (
                "output",
                "type nat hook output priority -100; policy accept;",
                output,
            ),
            (
                "postrouting",
                "type nat hook postrouting priority srcnat; policy accept;",
                postrouting,
            ),
        ],
    ));
    script.push_str(&table("bridge", "", &[("forward", FORWARD, icc)]));
    script
}

/// Whether the host forwards IPv4 packets that arrive on `interface` (its
/// `net.ipv4.conf.<interface>.forwarding`), or with `None` whether it forwards IPv4 at
/// all (`net.ipv4.ip_forward`, which sets every interface's), in the caller's network
/// namespace; or why that cannot be read. Egress NAT needs it; kuryr never sets it.
pub fn ipv4_forwarding(interface: Option<&str>) -> Result<bool, String> {
    let path = match interface {
        Some(name) => format!("/proc/sys/net/ipv4/conf/{name}/forwarding"),
        None => "/proc/sys/net/ipv4/ip_forward".to_owned(),
    };
    let text = std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"))?;
    match text.trim() {
        "0" => Ok(false),
        "1" => Ok(true),
        other => Err(format!("{path}: unexpected {other:?}")),
    }
}

/// Warn only once on hosts without the `nft` tool.
static NFT_MISSING_WARNED: AtomicBool = AtomicBool::new(false);

/// Which `nft` to run and for how long; `Nft::default()` is the host's `nft`
/// with [`NFT_TIMEOUT`]. Tests point it at a stub.
#[derive(Clone, Debug)]
pub struct Nft {
    pub program: OsString,
    pub timeout: Duration,
}

impl Default for Nft {
    fn default() -> Nft {
        Nft {
            program: "nft".into(),
            timeout: NFT_TIMEOUT,
        }
    }
}

impl Nft {
    /// Makes kuryr's tables match `networks`: runs [`ruleset`] through `nft -f -`.
    /// A host without `nft` gets one warning and no rules, unless a network needs them
    /// to keep its promise (`--internal`, `enable_icc=false`): that is an error, like
    /// any other failure (including the time limit, after which nft's process group
    /// is killed), because a network that should be isolated but is not must not be
    /// reported as created.
    pub async fn apply(&self, networks: &[NetworkRules]) -> Result<(), HostNetError> {
        for network in networks {
            for name in std::iter::once(&network.bridge).chain(&network.isolated_ports) {
                check_name(name)?;
            }
        }
        let script = ruleset(networks);
        let output = match process::run(
            &self.program,
            &["-f", "-"],
            Some(script.as_bytes()),
            self.timeout,
        )
        .await
        {
            Ok(output) => output,
            Err(RunError::Spawn(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                if let Some(network) = networks
                    .iter()
                    .find(|n| n.internal || n.isolated_ports.len() >= 2 || !n.published.is_empty())
                {
                    return Err(firewall(format!(
                        "nft not found: the rules that keep bridge {} {} need it \
                         (install nftables)",
                        network.bridge,
                        if network.internal {
                            "internal"
                        } else if network.isolated_ports.len() >= 2 {
                            "without inter-container traffic"
                        } else {
                            "with published ports"
                        }
                    )));
                }
                if !NFT_MISSING_WARNED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "nft not found: kuryr networks are not isolated from each other when \
                         the host forwards packets, and their traffic is not masqueraded \
                         (install nftables)"
                    );
                }
                return Ok(());
            }
            Err(error @ RunError::Spawn(_)) => {
                return Err(firewall(format!("cannot run nft: {error}")));
            }
            Err(error) => return Err(firewall(format!("nft: {error}"))),
        };
        if output.status.success() {
            Ok(())
        } else {
            Err(firewall(format!(
                "nft failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }
}

/// Applies `networks`' rules through the host's `nft` (see [`Nft::apply`]).
pub(super) async fn apply(networks: &[NetworkRules]) -> Result<(), HostNetError> {
    Nft::default().apply(networks).await
}

/// A name goes into the script between double quotes, where `"` or `\` would end or
/// escape it and `*` would be a wildcard: only the characters kuryr's own names and
/// `com.docker.network.bridge.name` allow pass.
fn check_name(name: &str) -> Result<(), HostNetError> {
    let safe = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if safe && !name.is_empty() {
        Ok(())
    } else {
        Err(firewall(format!(
            "interface name {name:?} cannot go into an nft rule (only [A-Za-z0-9_.-])"
        )))
    }
}

fn firewall(message: String) -> HostNetError {
    HostNetError::Firewall(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An executable stub standing in for `nft`.
    fn stub(dir: &std::path::Path, body: &str) -> Nft {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("nft");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Nft {
            program: path.into(),
            timeout: std::time::Duration::from_millis(800),
        }
    }

    /// A network with egress NAT for `subnets`, like the backend's default.
    fn nat(bridge: &str, subnets: &[&str]) -> NetworkRules {
        NetworkRules {
            bridge: bridge.into(),
            masquerade: subnets.iter().map(|s| s.parse().unwrap()).collect(),
            internal: false,
            isolated_ports: Vec::new(),
            published: Vec::new(),
        }
    }

    /// A network with no rules of its own.
    fn plain(bridge: &str) -> NetworkRules {
        nat(bridge, &[])
    }

    const EMPTY: &str = "table inet kuryr {}\ndelete table inet kuryr\n\
                         table bridge kuryr {}\ndelete table bridge kuryr\n";

    #[tokio::test]
    async fn a_hung_nft_fails_the_rebuild_within_the_limit_and_the_next_one_works() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("hung-once");
        // The first run hangs (and forks a sleeper); later runs read the script
        // like nft would and succeed.
        let nft = stub(
            dir.path(),
            &format!(
                "if [ ! -e {m} ]; then touch {m}; sleep 1000 & sleep 1000; fi\ncat > {d}/got",
                m = marker.display(),
                d = dir.path().display()
            ),
        );
        let networks = [plain("kbra"), plain("kbrb")];
        let start = std::time::Instant::now();
        let err = nft.apply(&networks).await.unwrap_err();
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            matches!(&err, HostNetError::Firewall(m) if m.contains("did not finish")),
            "{err}"
        );
        nft.apply(&networks).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("got")).unwrap(),
            ruleset(&networks)
        );
    }

    #[tokio::test]
    async fn a_failing_nft_reports_its_stderr_and_a_missing_one_is_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let nft = stub(dir.path(), "echo 'syntax error' >&2; exit 1");
        let err = nft.apply(&[]).await.unwrap_err();
        assert!(err.to_string().contains("syntax error"), "{err}");
        let missing = Nft {
            program: dir.path().join("none").into(),
            ..Nft::default()
        };
        missing
            .apply(&[nat("kbra", &["10.1.0.0/24"]), plain("kbrb")])
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn names_that_would_change_the_script_are_refused_before_nft_runs() {
        let dir = tempfile::tempdir().unwrap();
        let nft = stub(dir.path(), &format!("touch {}/ran", dir.path().display()));
        for bad in ["kbr\"x", "kvh*", "a\\b", "", "a b"] {
            let as_bridge = nft.apply(&[plain(bad)]).await.unwrap_err();
            assert!(as_bridge.to_string().contains("nft rule"), "{as_bridge}");
            let as_port = NetworkRules {
                isolated_ports: vec!["kvh1".into(), bad.into()],
                ..plain("kbra")
            };
            assert!(nft.apply(&[as_port]).await.is_err(), "{bad:?}");
        }
        assert!(!dir.path().join("ran").exists());
    }

    /// Without nft, `--internal` and `enable_icc=false` would be promises not kept.
    #[tokio::test]
    async fn a_missing_nft_fails_networks_that_need_their_rules() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Nft {
            program: dir.path().join("none").into(),
            ..Nft::default()
        };
        let internal = NetworkRules {
            internal: true,
            ..plain("kbri")
        };
        let err = missing.apply(&[internal]).await.unwrap_err();
        assert!(err.to_string().contains("kbri internal"), "{err}");
        let no_icc = NetworkRules {
            isolated_ports: vec!["kvh1".into(), "kvh2".into()],
            ..plain("kbrn")
        };
        let err = missing.apply(&[no_icc]).await.unwrap_err();
        assert!(err.to_string().contains("kbrn"), "{err}");
    }

    #[test]
    fn no_rules_removes_both_tables() {
        for networks in [vec![], vec![plain("kbr1")]] {
            assert_eq!(ruleset(&networks), EMPTY);
        }
        // One port cannot talk to another: nothing to drop.
        let lone = NetworkRules {
            isolated_ports: vec!["kvh1".into()],
            ..plain("kbr1")
        };
        assert_eq!(ruleset(&[lone]), EMPTY);
    }

    #[test]
    fn each_bridge_drops_forwarding_to_every_other() {
        let networks = [plain("kbra"), plain("kbrb"), plain("br-lab")];
        let script = ruleset(&networks);
        assert!(script.contains("hook forward"), "{script}");
        for rule in [
            "iifname \"kbra\" oifname { \"br-lab\", \"kbrb\" } drop",
            "iifname \"kbrb\" oifname { \"br-lab\", \"kbra\" } drop",
            "iifname \"br-lab\" oifname { \"kbra\", \"kbrb\" } drop",
        ] {
            assert!(script.contains(rule), "{rule} missing: {script}");
        }
        assert!(!script.contains("masquerade"), "{script}");
        assert!(!script.contains("table bridge kuryr {\n"), "{script}");
    }

    #[test]
    fn the_whole_ruleset_in_one_script() {
        let networks = [
            nat("kbrb", &["10.2.0.0/24", "10.3.0.0/16"]),
            NetworkRules {
                internal: true,
                ..plain("kbri")
            },
            NetworkRules {
                isolated_ports: vec!["kvh1".into(), "kvh2".into()],
                ..nat("kbra", &["10.1.0.0/24"])
            },
        ];
        let expected = format!(
            "{EMPTY}\
table inet kuryr {{
\tset bridges {{
\t\ttype ifname
\t\telements = {{ \"kbra\", \"kbrb\", \"kbri\" }}
\t}}
\tchain forward {{
\t\ttype filter hook forward priority filter - 10; policy accept;
\t\tiifname \"kbra\" oifname {{ \"kbrb\", \"kbri\" }} drop
\t\tiifname \"kbrb\" oifname {{ \"kbra\", \"kbri\" }} drop
\t\tiifname \"kbri\" oifname {{ \"kbra\", \"kbrb\" }} drop
\t\tiifname \"kbri\" oifname != \"kbri\" drop
\t\toifname \"kbri\" iifname != \"kbri\" drop
\t}}
\tchain postrouting {{
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 10.1.0.0/24 oifname != @bridges masquerade
\t\tip saddr 10.2.0.0/24 oifname != @bridges masquerade
\t\tip saddr 10.3.0.0/16 oifname != @bridges masquerade
\t}}
}}
table bridge kuryr {{
\tchain forward {{
\t\ttype filter hook forward priority filter - 10; policy accept;
\t\tiifname {{ \"kvh1\", \"kvh2\" }} oifname {{ \"kvh1\", \"kvh2\" }} drop
\t}}
}}
"
        );
        assert_eq!(ruleset(&networks), expected);
        // The order networks come in does not matter.
        let mut reversed = networks.to_vec();
        reversed.reverse();
        assert_eq!(ruleset(&reversed), expected);
    }

    /// A single network with egress NAT needs the tables on its own, and a host
    /// address in the subnet is written as the subnet.
    #[test]
    fn one_network_masquerades_its_subnets_and_only_ipv4() {
        let script = ruleset(&[nat("kbra", &["10.1.0.7/24"])]);
        assert!(
            script.contains("\t\tip saddr 10.1.0.0/24 oifname != @bridges masquerade\n"),
            "{script}"
        );
        assert!(script.contains("elements = { \"kbra\" }"), "{script}");
        assert!(!script.contains("chain forward"), "{script}");
        assert!(!script.contains("ip6"), "{script}");
    }

    #[test]
    fn an_internal_network_drops_what_leaves_or_enters_its_bridge() {
        let script = ruleset(&[NetworkRules {
            internal: true,
            ..plain("kbri")
        }]);
        assert!(
            script.contains("\t\tiifname \"kbri\" oifname != \"kbri\" drop\n"),
            "{script}"
        );
        assert!(
            script.contains("\t\toifname \"kbri\" iifname != \"kbri\" drop\n"),
            "{script}"
        );
        assert!(!script.contains("masquerade"), "{script}");
    }

    fn forward(host_ip: Option<&str>, host_port: u16, container: &str, port: u16) -> PortForward {
        PortForward {
            proto: Protocol::Tcp,
            host_ip: host_ip.map(|ip| ip.parse().unwrap()),
            host_port,
            container: container.parse().unwrap(),
            port,
        }
    }

    /// DNAT from other hosts (prerouting) and from the host itself (output, loopback
    /// left out) through one chain, and hairpin masquerade of the container's subnet;
    /// `0.0.0.0` is every IPv4 address, like no host address.
    #[test]
    fn published_ports_dnat_and_hairpin() {
        let udp = PortForward {
            proto: Protocol::Udp,
            ..forward(Some("192.0.2.10"), 5353, "10.1.0.5/24", 53)
        };
        let network = NetworkRules {
            published: vec![
                forward(None, 8080, "fd00:1::5/64", 80),
                udp,
                forward(Some("0.0.0.0"), 8080, "10.1.0.5/24", 80),
            ],
            ..plain("kbra")
        };
        let expected = format!(
            "{EMPTY}\
table inet kuryr {{
\tchain published {{
\t\tmeta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00:1::5]:80
\t\tmeta nfproto ipv4 tcp dport 8080 dnat ip to 10.1.0.5:80
\t\tip daddr 192.0.2.10 udp dport 5353 dnat ip to 10.1.0.5:53
\t}}
\tchain prerouting {{
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tfib daddr type local jump published
\t}}
\tchain output {{
\t\ttype nat hook output priority -100; policy accept;
\t\tip daddr != 127.0.0.0/8 fib daddr type local jump published
\t\tip6 daddr != ::1 fib daddr type local jump published
\t}}
\tchain postrouting {{
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip6 saddr fd00:1::/64 ip6 daddr fd00:1::5 tcp dport 80 ct status dnat masquerade
\t\tip saddr 10.1.0.0/24 ip daddr 10.1.0.5 tcp dport 80 ct status dnat masquerade
\t\tip saddr 10.1.0.0/24 ip daddr 10.1.0.5 udp dport 53 ct status dnat masquerade
\t}}
}}
"
        );
        assert_eq!(ruleset(std::slice::from_ref(&network)), expected);
        // With egress NAT too, both live in postrouting and the set comes back.
        let both = NetworkRules {
            masquerade: vec!["10.1.0.0/24".parse().unwrap()],
            ..network
        };
        let script = ruleset(&[both]);
        assert!(script.contains("set bridges"), "{script}");
        assert!(
            script.contains("ct status dnat masquerade\n\t\tip saddr 10.1.0.0/24 oifname != @bridges masquerade\n"),
            "{script}"
        );
    }

    /// Without nft, a published port would be a promise not kept.
    #[tokio::test]
    async fn a_missing_nft_fails_published_ports() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Nft {
            program: dir.path().join("none").into(),
            ..Nft::default()
        };
        let network = NetworkRules {
            published: vec![forward(None, 8080, "10.1.0.5/24", 80)],
            ..plain("kbrp")
        };
        let err = missing.apply(&[network]).await.unwrap_err();
        assert!(
            err.to_string().contains("kbrp with published ports"),
            "{err}"
        );
    }

    #[test]
    fn forwarding_is_read_from_procfs() {
        // Whatever this host says, it is a yes or a no.
        assert!(ipv4_forwarding(None).is_ok());
        assert!(ipv4_forwarding(Some("lo")).is_ok());
        assert!(ipv4_forwarding(Some("kbrnonexistent")).is_err());
    }
}
