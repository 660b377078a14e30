//! Privileged tests of kuryr's packet filter (`hostnet::isolation`) with the real
//! kernel and `nft`. Each test builds a host in a fresh network namespace (bridges
//! made by `Netlink`, veths whose container ends move into "container" namespaces, and
//! an "outside" namespace behind a veth `kout` with a route back to the containers),
//! applies rules through `HostNet::firewall`, and watches real traffic: a TCP
//! listener reports the source address it saw, `busybox ping` whether anything came
//! back. Each one first shows the traffic the rules must change, so a rule that does
//! nothing fails the test, and ends by removing every network and finding no kuryr
//! table left. Root needed: ignored without `--features privileged-tests`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kuryr::hostnet::{BridgeSpec, HostNet, Netlink, NetworkRules, PortForward, VethSpec};
use kuryr::model::Protocol;

mod netns;
use netns::{Ns, NsGuard, join, new_ns, require_root, spawn_in};

/// The outside host's address, and the host's own on the link to it.
const OUTSIDE: &str = "192.0.2.2";
const HOST_OUTSIDE: &str = "192.0.2.1";
const OUTSIDE6: &str = "2001:db8::2";

/// Runs `body` with a `Netlink` in a fresh "host" namespace that forwards IPv4 and
/// IPv6, plus `containers` further namespaces and an outside one (always created, the
/// last of the list). Root only.
fn lab<F, Fut>(containers: usize, body: F)
where
    F: FnOnce(Netlink, Ns, Vec<Ns>, Ns) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    require_root();
    let guards: Vec<NsGuard> = (0..containers).map(|_| new_ns()).collect();
    let outside = new_ns();
    let names: Vec<Ns> = guards.iter().map(|g| g.0.clone()).collect();
    let outside_ns = outside.0.clone();
    netns::in_fresh_ns(move |host| async move {
        for setting in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
            exec(&host, &["sysctl", "-qw", setting]);
        }
        link_outside(&host, &outside_ns);
        let connect = || Netlink::connect().expect("netlink connect");
        body(connect(), host.clone(), names, outside_ns).await;
        connect().firewall(&[]).await.unwrap();
        let ruleset = exec(&host, &["nft", "list", "ruleset"]);
        assert!(
            !ruleset.contains("kuryr"),
            "every kuryr table goes with the last network: {ruleset}"
        );
    });
    drop((guards, outside));
}

/// `ip netns exec <ns> <argv>`, panicking with its stderr on failure; its stdout.
fn exec(ns: &Ns, argv: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .args(argv)
        .output()
        .unwrap_or_else(|e| panic!("run {argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?} in {}: {}",
        ns.0,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The outside host behind `kout`, routing the containers' subnets back through the
/// host, so that traffic the host does not masquerade arrives with the container's
/// own address (which is what tells NAT from no NAT).
fn link_outside(host: &Ns, outside: &Ns) {
    host.ip(&[
        "link", "add", "kout", "type", "veth", "peer", "name", "kout-o",
    ]);
    host.ip(&["link", "set", "kout-o", "netns", &outside.0]);
    host.ip(&["addr", "add", &format!("{HOST_OUTSIDE}/24"), "dev", "kout"]);
    host.ip(&["addr", "add", "2001:db8::1/64", "dev", "kout", "nodad"]);
    host.ip(&["link", "set", "kout", "up"]);
    outside.ip(&["addr", "add", &format!("{OUTSIDE}/24"), "dev", "kout-o"]);
    outside.ip(&[
        "addr",
        "add",
        &format!("{OUTSIDE6}/64"),
        "dev",
        "kout-o",
        "nodad",
    ]);
    outside.ip(&["link", "set", "kout-o", "up"]);
    outside.ip(&["route", "add", "10.0.0.0/8", "via", HOST_OUTSIDE]);
    outside.ip(&["route", "add", "fd00::/8", "via", "2001:db8::1"]);
}

/// A bridge with these gateway addresses, as the embedded backend makes it.
async fn network(nl: &Netlink, name: &str, gateways: &[&str]) {
    nl.ensure_bridge(&BridgeSpec {
        name: name.into(),
        addresses: gateways.iter().map(|a| a.parse().unwrap()).collect(),
        mtu: None,
        mac: [0x02, 0xb0, 0, 0, 0, name.len() as u8],
        foreign: false,
    })
    .await
    .unwrap();
}

/// Endpoint `n` (veth `kvhtest<n>`) of bridge `bridge`, its container end moved into
/// `container` with `addresses`, and default routes via `gateways` when given (a
/// container with NET_ADMIN can add its own).
async fn plug(
    nl: &Netlink,
    host: &Ns,
    n: u8,
    bridge: &str,
    container: &Ns,
    addresses: &[&str],
    gateways: &[&str],
) {
    let inner = format!("kvctest{n}");
    nl.create_veth(&VethSpec {
        host: format!("kvhtest{n}"),
        container: inner.clone(),
        bridge: bridge.into(),
        container_mac: Some([0x02, 0xc0, 0, 0, 0, n]),
        mtu: None,
    })
    .await
    .unwrap();
    host.ip(&["link", "set", &inner, "netns", &container.0]);
    for address in addresses {
        container.ip(&["addr", "add", address, "dev", &inner, "nodad"]);
    }
    container.ip(&["link", "set", &inner, "up"]);
    for gateway in gateways {
        container.ip(&["route", "add", "default", "via", gateway]);
    }
}

/// A network with no rules of its own (egress NAT off, icc on).
fn plain(bridge: &str) -> NetworkRules {
    NetworkRules {
        bridge: bridge.into(),
        masquerade: Vec::new(),
        internal: false,
        isolated_ports: Vec::new(),
        published: Vec::new(),
    }
}

/// Opens a TCP connection from namespace `from` to a listener on `to` in namespace
/// `server`: the source address the listener saw, or None if nothing arrived.
fn tcp_peer(from: &Ns, server: &Ns, to: IpAddr) -> Option<IpAddr> {
    tcp_peer_via(from, server, SocketAddr::new(to, 0), move |port| {
        SocketAddr::new(to, port)
    })
}

/// Like [`tcp_peer`], with the listener on `listen` and the connection to
/// `target(the listener's port)`: a published port's host address and port.
fn tcp_peer_via(
    from: &Ns,
    server: &Ns,
    listen: SocketAddr,
    target: impl FnOnce(u16) -> SocketAddr,
) -> Option<IpAddr> {
    let (bound, port) = mpsc::channel();
    let listener = spawn_in(server, move || {
        let socket = TcpListener::bind(listen).unwrap_or_else(|e| panic!("bind {listen}: {e}"));
        socket.set_nonblocking(true).unwrap();
        bound.send(socket.local_addr().unwrap().port()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(4);
        while Instant::now() < deadline {
            if let Ok((_, peer)) = socket.accept() {
                return Some(peer.ip());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    });
    let target = target(port.recv().unwrap());
    let connected = join(spawn_in(from, move || {
        TcpStream::connect_timeout(&target, Duration::from_secs(3)).is_ok()
    }));
    let seen = join(listener);
    assert_eq!(connected, seen.is_some(), "connect and accept disagree");
    seen
}

/// `busybox ping` once from namespace `ns`; whether a reply came back.
fn pings(ns: &Ns, to: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", &ns.0, "busybox", "ping", "-c1", "-W1", to])
        .output()
        .expect("run busybox ping")
        .status
        .success()
}

/// The source address the outside host sees for a TCP connection from `from` to
/// its IPv4 address, or None.
fn outside_sees(from: &Ns, outside: &Ns) -> Option<IpAddr> {
    tcp_peer(from, outside, OUTSIDE.parse().unwrap())
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn egress_nat_gives_ipv4_the_host_address_and_routes_ipv6_as_it_is() {
    lab(2, |nl, host, containers, outside| async move {
        let (c, neighbour) = (&containers[0], &containers[1]);
        network(&nl, "kbrtestn", &["10.8.1.1/24", "fd08:1::1/64"]).await;
        plug(&nl, &host, 2, "kbrtestn", neighbour, &["10.8.1.3/24"], &[]).await;
        plug(
            &nl,
            &host,
            1,
            "kbrtestn",
            c,
            &["10.8.1.2/24", "fd08:1::2/64"],
            &["10.8.1.1", "fd08:1::1"],
        )
        .await;
        assert_eq!(
            outside_sees(c, &outside),
            ip("10.8.1.2"),
            "without rules the container's address arrives"
        );

        let nat = NetworkRules {
            masquerade: vec!["10.8.1.0/24".parse().unwrap()],
            ..plain("kbrtestn")
        };
        nl.firewall(std::slice::from_ref(&nat)).await.unwrap();
        nl.firewall(std::slice::from_ref(&nat)).await.unwrap(); // idempotent
        assert_eq!(outside_sees(c, &outside), ip(HOST_OUTSIDE));
        assert_eq!(
            tcp_peer(c, &outside, OUTSIDE6.parse().unwrap()),
            ip("fd08:1::2"),
            "IPv6 is not masqueraded"
        );
        // The host and the container's neighbours reach it unchanged (the bridge is
        // kuryr's), also where br_netfilter shows bridged IPv4 to the inet hooks.
        let container: IpAddr = "10.8.1.2".parse().unwrap();
        assert_eq!(tcp_peer(&host, c, container), ip("10.8.1.1"));
        assert_eq!(tcp_peer(neighbour, c, container), ip("10.8.1.3"));

        // enable_ip_masquerade=false (or --internal) leaves the subnet out.
        nl.firewall(&[plain("kbrtestn")]).await.unwrap();
        assert_eq!(outside_sees(c, &outside), ip("10.8.1.2"));
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn an_internal_network_stays_on_its_bridge_even_with_its_own_route() {
    lab(2, |nl, host, containers, outside| async move {
        let (c1, c2) = (&containers[0], &containers[1]);
        network(&nl, "kbrtesti", &["10.8.3.1/24", "fd08:3::1/64"]).await;
        // No gateway from Join, but a container with NET_ADMIN adds one itself.
        let gateways = ["10.8.3.1", "fd08:3::1"];
        plug(
            &nl,
            &host,
            1,
            "kbrtesti",
            c1,
            &["10.8.3.2/24", "fd08:3::2/64"],
            &gateways,
        )
        .await;
        plug(&nl, &host, 2, "kbrtesti", c2, &["10.8.3.3/24"], &[]).await;
        assert_eq!(
            outside_sees(c1, &outside),
            ip("10.8.3.2"),
            "without rules the host routes it out"
        );

        let internal = NetworkRules {
            internal: true,
            ..plain("kbrtesti")
        };
        nl.firewall(&[internal]).await.unwrap();
        assert_eq!(outside_sees(c1, &outside), None, "IPv4 out");
        assert_eq!(
            tcp_peer(c1, &outside, OUTSIDE6.parse().unwrap()),
            None,
            "IPv6 out"
        );
        assert_eq!(
            tcp_peer(&outside, c1, "10.8.3.2".parse().unwrap()),
            None,
            "nothing comes in either"
        );
        // Traffic that stays on the bridge is untouched, even where br_netfilter
        // shows bridged IPv4 to the inet forward hook.
        assert_eq!(
            tcp_peer(c2, c1, "10.8.3.2".parse().unwrap()),
            ip("10.8.3.3")
        );
        assert!(pings(c2, "10.8.3.1"), "the bridge's own address answers");
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn without_icc_containers_on_one_bridge_cannot_reach_each_other() {
    lab(2, |nl, host, containers, _outside| async move {
        let (c1, c2) = (&containers[0], &containers[1]);
        network(&nl, "kbrtestc", &["10.8.4.1/24", "fd08:4::1/64"]).await;
        plug(
            &nl,
            &host,
            1,
            "kbrtestc",
            c1,
            &["10.8.4.2/24", "fd08:4::2/64"],
            &[],
        )
        .await;
        plug(
            &nl,
            &host,
            2,
            "kbrtestc",
            c2,
            &["10.8.4.3/24", "fd08:4::3/64"],
            &[],
        )
        .await;
        nl.firewall(&[plain("kbrtestc")]).await.unwrap();
        assert!(pings(c1, "10.8.4.3"), "icc on: containers talk");
        assert!(pings(c1, "fd08:4::3"), "icc on: containers talk over IPv6");

        let no_icc = NetworkRules {
            isolated_ports: vec!["kvhtest1".into(), "kvhtest2".into()],
            ..plain("kbrtestc")
        };
        nl.firewall(std::slice::from_ref(&no_icc)).await.unwrap();
        assert!(!pings(c1, "10.8.4.3"), "icc off: no IPv4");
        assert!(!pings(c2, "fd08:4::2"), "icc off: no IPv6");
        assert_eq!(tcp_peer(c2, c1, "10.8.4.2".parse().unwrap()), None);
        assert!(pings(c1, "10.8.4.1"), "the gateway still answers");
        assert!(
            pings(c2, "fd08:4::1"),
            "the gateway still answers over IPv6"
        );

        nl.firewall(&[plain("kbrtestc")]).await.unwrap();
        assert!(pings(c1, "10.8.4.3"), "icc on again");
    });
}

#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn bridges_are_isolated_from_each_other() {
    lab(2, |nl, host, containers, _outside| async move {
        let (b, c) = (&containers[0], &containers[1]);
        network(&nl, "kbrtesta", &["10.8.1.1/24"]).await;
        network(&nl, "kbrtestb", &["10.8.2.1/24"]).await;
        plug(
            &nl,
            &host,
            1,
            "kbrtesta",
            b,
            &["10.8.1.2/24"],
            &["10.8.1.1"],
        )
        .await;
        plug(
            &nl,
            &host,
            2,
            "kbrtestb",
            c,
            &["10.8.2.2/24"],
            &["10.8.2.1"],
        )
        .await;
        assert!(
            pings(b, "10.8.2.2"),
            "without isolation the host routes between bridges"
        );

        let networks = [plain("kbrtesta"), plain("kbrtestb")];
        nl.firewall(&networks).await.unwrap();
        nl.firewall(&networks).await.unwrap(); // idempotent
        assert!(
            !pings(b, "10.8.2.2"),
            "isolated networks must not reach each other"
        );
        assert!(pings(b, "10.8.1.1"), "the own gateway stays reachable");

        nl.firewall(&[]).await.unwrap();
        assert!(pings(b, "10.8.2.2"), "rules gone");
    });
}

/// Every kind of rule at once, as one transaction the kernel takes (and then
/// removes again: `lab` checks).
#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn the_whole_ruleset_loads() {
    lab(0, |nl, host, _containers, _outside| async move {
        let networks = [
            NetworkRules {
                masquerade: vec![
                    "10.8.5.0/24".parse().unwrap(),
                    "10.8.6.0/24".parse().unwrap(),
                ],
                ..plain("kbrtest1")
            },
            NetworkRules {
                internal: true,
                ..plain("kbrtest2")
            },
            NetworkRules {
                isolated_ports: vec!["kvhtest1".into(), "kvhtest2".into(), "kvhtest3".into()],
                ..plain("kbrtest3")
            },
        ];
        nl.firewall(&networks).await.unwrap();
        let ruleset = exec(&host, &["nft", "list", "ruleset"]);
        for expected in [
            "table inet kuryr",
            "ip saddr 10.8.6.0/24 oifname != @bridges masquerade",
            "iifname \"kbrtest2\" oifname != \"kbrtest2\" drop",
            "table bridge kuryr",
        ] {
            assert!(ruleset.contains(expected), "{expected}: {ruleset}");
        }
    });
}

/// A published port: the outside host reaches the container through the host's
/// address with its own source address, the host itself on its own (non-loopback)
/// address, a neighbour on the same network through the host address (hairpin,
/// masqueraded to the bridge address so the reply comes back through the host);
/// 127.0.0.1 is not served, and without the rule nothing answers.
#[test]
#[cfg_attr(not(feature = "privileged-tests"), ignore = "needs root")]
fn a_published_port_is_reached_from_outside_the_host_and_a_neighbour() {
    lab(2, |nl, host, containers, outside| async move {
        let (c, neighbour) = (&containers[0], &containers[1]);
        network(&nl, "kbrtestp", &["10.8.7.1/24"]).await;
        plug(
            &nl,
            &host,
            1,
            "kbrtestp",
            c,
            &["10.8.7.2/24"],
            &["10.8.7.1"],
        )
        .await;
        let routes = ["10.8.7.1"];
        plug(
            &nl,
            &host,
            2,
            "kbrtestp",
            neighbour,
            &["10.8.7.3/24"],
            &routes,
        )
        .await;
        let published = |from: &Ns, to: &str| {
            let to: IpAddr = to.parse().unwrap();
            tcp_peer_via(from, c, "10.8.7.2:80".parse().unwrap(), move |_| {
                SocketAddr::new(to, 8080)
            })
        };
        assert_eq!(published(&outside, HOST_OUTSIDE), None, "no rule, no port");

        let rules = NetworkRules {
            masquerade: vec!["10.8.7.0/24".parse().unwrap()],
            published: vec![PortForward {
                proto: Protocol::Tcp,
                host_ip: None,
                host_port: 8080,
                container: "10.8.7.2/24".parse().unwrap(),
                port: 80,
            }],
            ..plain("kbrtestp")
        };
        nl.firewall(std::slice::from_ref(&rules)).await.unwrap();
        nl.firewall(std::slice::from_ref(&rules)).await.unwrap(); // idempotent
        assert_eq!(published(&outside, HOST_OUTSIDE), ip(OUTSIDE));
        assert_eq!(published(&host, HOST_OUTSIDE), ip(HOST_OUTSIDE));
        assert_eq!(
            published(neighbour, HOST_OUTSIDE),
            ip("10.8.7.1"),
            "hairpin"
        );
        assert_eq!(
            published(&host, "127.0.0.1"),
            None,
            "loopback is not served"
        );

        nl.firewall(&[plain("kbrtestp")]).await.unwrap();
        assert_eq!(published(&outside, HOST_OUTSIDE), None, "revoked");
        let ruleset = exec(&host, &["nft", "list", "ruleset"]);
        assert!(!ruleset.contains("dnat"), "{ruleset}");
    });
}
