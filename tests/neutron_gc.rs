//! `kuryr gc` (the real binary) against a REAL Neutron (scripts/neutron-up.sh), with a
//! stand-in for dockerd's API on a unix socket saying which Docker networks and
//! endpoints are in use. A network and a port leaked on purpose (kuryr's names and
//! tags, no Docker network behind them) are listed, and `--apply` deletes exactly
//! those: a network dockerd still has, another host's port and a young leak stay.
//! Ignored without `--features live-neutron`; with it, fails when Neutron does not answer.

use std::convert::Infallible;
use std::path::Path;
use std::process::Command;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use kuryr::neutron::{Client, Kind, Network, Port, Query};
use serde_json::{Value, json};

#[path = "support/wire_calls.rs"]
mod wire_calls;

#[path = "support/neutron_rig.rs"]
mod neutron_rig;
use neutron_rig::*;

const BIN: &str = env!("CARGO_BIN_EXE_kuryr");

/// Answers GET /networks and GET /networks/<id> as dockerd would, for `networks`
/// (Docker id → endpoint ids).
async fn fake_dockerd(socket: &Path, networks: Vec<(String, Vec<String>)>) {
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let networks = networks.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                    let path = req.uri().path().to_string();
                    let body = if path == "/networks" {
                        json!(
                            networks
                                .iter()
                                .map(|(id, _)| json!({"Id": id}))
                                .collect::<Vec<_>>()
                        )
                    } else {
                        let id = path.trim_start_matches("/networks/");
                        let eps = networks
                            .iter()
                            .find(|(n, _)| n == id)
                            .map(|(_, e)| e.clone())
                            .unwrap_or_default();
                        let containers: serde_json::Map<String, Value> = eps
                            .iter()
                            .enumerate()
                            .map(|(i, e)| (format!("c{i}"), json!({"EndpointID": e})))
                            .collect();
                        json!({"Id": id, "Containers": containers})
                    };
                    async move {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(
                            body.to_string(),
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

fn gc(config: &Path, socket: &Path, extra: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["gc", "--json", "--config-file"])
        .arg(config)
        .args(extra)
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kuryr gc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A network and a port as kuryr makes them, for new Docker ids: (network, port,
/// Docker network id, Docker endpoint id).
async fn leak(c: &Client, n: u8, host: &str) -> (String, String, String, String) {
    let (nid, eid) = (docker_id(), docker_id());
    let net: Network = c
        .create(&kuryr::neutron::NetworkCreate {
            name: Some(format!("kuryr-net-{}", &nid[..8])),
            ..Default::default()
        })
        .await
        .unwrap();
    c.set_tags(Kind::Networks, &net.id, &kuryr_tags(&nid))
        .await
        .unwrap();
    let _: kuryr::neutron::Subnet = c
        .create(&kuryr::neutron::SubnetCreate {
            network_id: net.id.clone(),
            ip_version: 4,
            cidr: Some(cidr(n)),
            name: Some(format!("kuryr-subnet-{}", cidr(n))),
            enable_dhcp: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut tags = kuryr_tags(&eid);
    tags.push("compute:kuryr".into());
    let port: Port = c
        .create(&kuryr::neutron::PortCreate {
            network_id: net.id.clone(),
            name: Some("kuryr-unbound-port".into()),
            binding_host_id: Some(host.into()),
            device_owner: Some("compute:kuryr".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    c.set_tags(Kind::Ports, &port.id, &tags).await.unwrap();
    (net.id, port.id, nid, eid)
}

fn kuryr_tags(id: &str) -> Vec<String> {
    vec![
        format!("kuryr.net.uuid.lh:{}", &id[..32]),
        format!("kuryr.net.uuid.uh:{}", &id[32..]),
    ]
}

fn listed(report: &Value) -> Vec<(String, String)> {
    report["leftovers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_string(),
                l["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn exists<T: kuryr::neutron::Resource>(c: &Client, id: &str) -> bool {
    let found: Vec<T> = c.list(&Query::new().eq("id", id)).await.unwrap();
    !found.is_empty()
}

// Multi-threaded: the fake dockerd serves while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "live-neutron"), ignore = "needs a live Neutron")]
async fn gc_lists_and_removes_exactly_the_leaked_network_and_port() {
    let r = rig().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kuryr.conf");
    // Its own binding host: gc never judges what other tests (kuryr-test-host) make.
    let text = config_text(&r.extra, &dir.path().join("state")).replace(
        "binding_host = kuryr-test-host",
        "binding_host = kuryr-gc-host",
    );
    std::fs::write(&config, text).unwrap();

    // In use: a network made through the driver, which dockerd has.
    let (live_nid, live_pool) = network(&r.driver, 61).await;
    // Leaked here, old enough (the test waits 5 s and gc is told 3 s; Neutron's
    // created_at has whole seconds).
    let (net, port, ..) = leak(&r.check, 62, "kuryr-gc-host").await;
    // The same, but dockerd has that network and endpoint: in use.
    let (kept_net, kept_port, kept_nid, kept_eid) = leak(&r.check, 65, "kuryr-gc-host").await;
    // Another host's leaked port on another leaked network: never this host's to take.
    let (other_net, other_port, ..) = leak(&r.check, 63, "some-other-host").await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    // Leaked a moment ago: too young to judge.
    let (young_net, young_port, ..) = leak(&r.check, 64, "kuryr-gc-host").await;

    let socket = dir.path().join("docker.sock");
    fake_dockerd(
        &socket,
        vec![
            (live_nid.clone(), vec![]),
            (kept_nid.clone(), vec![kept_eid.clone()]),
        ],
    )
    .await;
    let ours = |report: &Value| {
        let mut l: Vec<(String, String)> = listed(report)
            .into_iter()
            .filter(|(_, id)| {
                [
                    &net,
                    &port,
                    &other_net,
                    &other_port,
                    &young_net,
                    &young_port,
                    &kept_net,
                    &kept_port,
                ]
                .contains(&id)
            })
            .collect();
        l.sort();
        l
    };
    let want = {
        let mut w = vec![
            ("network".to_string(), net.clone()),
            ("port".to_string(), port.clone()),
        ];
        w.sort();
        w
    };
    let dry = gc(&config, &socket, &["--min-age", "3"]);
    assert_eq!(dry["applied"], false);
    assert_eq!(ours(&dry), want, "{dry}");
    let live_neutron = networks_tagged(&r.check, &live_nid).await[0].id.clone();
    assert!(
        !listed(&dry).iter().any(|(_, id)| *id == live_neutron),
        "a network in use is listed: {dry}"
    );
    assert!(
        exists::<Network>(&r.check, &net).await,
        "a dry run deletes nothing"
    );

    let applied = gc(&config, &socket, &["--min-age", "3", "--apply"]);
    assert_eq!(applied["applied"], true);
    assert_eq!(ours(&applied), want);
    assert!(
        !exists::<Network>(&r.check, &net).await,
        "the leaked network is gone"
    );
    assert!(
        !exists::<Port>(&r.check, &port).await,
        "the leaked port is gone"
    );
    for (id, what) in [
        (&other_port, "another host's port"),
        (&young_port, "a young port"),
        (&kept_port, "a port dockerd uses"),
    ] {
        assert!(exists::<Port>(&r.check, id).await, "{what} was deleted");
    }
    assert!(
        exists::<Network>(&r.check, &live_neutron).await,
        "the network in use was deleted"
    );

    // Clean up what gc rightly left.
    for (n, p) in [
        (&other_net, &other_port),
        (&young_net, &young_port),
        (&kept_net, &kept_port),
    ] {
        r.check.delete(Kind::Ports, p).await.unwrap();
        r.check.delete(Kind::Networks, n).await.unwrap();
    }
    release_and_delete(&r.driver, &live_nid, &live_pool).await;
}
