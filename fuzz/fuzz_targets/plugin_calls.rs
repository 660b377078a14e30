//! Fuzz target `plugin_calls`: a short sequence of plugin calls through the real
//! `kuryr::server::router` over the embedded backend (redb store in a temp dir, a
//! recording `HostNet`). The router is built once and keeps its state between inputs,
//! so sequences from the seed corpus (dockerd's own call order) reach deep states.
//!
//! Input: lines separated by `\n`, at most `MAX_CALLS`; a line's first byte picks the
//! route (`byte % ROUTES.len()`, seeds use `b'A' + index`), the rest is the body.
//! Asserts: no panic; every status is 200/400/404/405/500 with a JSON body, and
//! `{"Err": string}` on non-200; no 500 is a spawned call's panic; every interface
//! name the host layer saw is 1 to 15 of `[A-Za-z0-9_.-]`.

#![no_main]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kuryr::embedded::{Embedded, Settings};
use kuryr::hostnet::{Call, Recorder};
use kuryr::ipam::DefaultPool;
use kuryr::store::Store;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

/// The plugin routes, in seed order (`b'A' + index`).
const ROUTES: &[&str] = &[
    "/IpamDriver.RequestPool",
    "/IpamDriver.ReleasePool",
    "/IpamDriver.RequestAddress",
    "/IpamDriver.ReleaseAddress",
    "/NetworkDriver.GwAllocCheck",
    "/NetworkDriver.CreateNetwork",
    "/NetworkDriver.DeleteNetwork",
    "/NetworkDriver.AllocateNetwork",
    "/NetworkDriver.FreeNetwork",
    "/NetworkDriver.CreateEndpoint",
    "/NetworkDriver.DeleteEndpoint",
    "/NetworkDriver.EndpointOperInfo",
    "/NetworkDriver.Join",
    "/NetworkDriver.Leave",
    "/NetworkDriver.ProgramExternalConnectivity",
    "/NetworkDriver.RevokeExternalConnectivity",
    "/NetworkDriver.DiscoverNew",
    "/NetworkDriver.DiscoverDelete",
    "/Kuryr.Settle",
    "/Plugin.Activate",
    "/IpamDriver.GetDefaultAddressSpaces",
];

const MAX_CALLS: usize = 16;

/// What the server answers when a spawned driver call panicked.
const PANIC_REPLY: &str = "the call did not finish";

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    host: Arc<Recorder>,
}

fn settings() -> Settings {
    Settings {
        scope: kuryr::model::Scope::Local,
        local_address_space: "no_address_space".into(),
        global_address_space: "no_address_space".into(),
        veth_dst_prefix: "eth".into(),
        default_pools: vec![
            DefaultPool {
                base: "10.200.0.0/22".parse().unwrap(),
                size: 24,
            },
            DefaultPool {
                base: "fd6b:7572:7972::/48".parse().unwrap(),
                size: 64,
            },
        ],
    }
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // tmpfs when there is one: every allocating call waits for an fsync.
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .unwrap()
        .keep();
        let host = Arc::new(Recorder::new());
        let router = runtime.block_on(async {
            let (store, snapshot) = Store::open(&dir).expect("store opens");
            let embedded = Embedded::start(settings(), store, snapshot, host.clone()).await;
            kuryr::server::router(Arc::new(embedded))
        });
        Harness {
            runtime,
            router,
            host,
        }
    })
}

fn valid_ifname(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

async fn send(router: &Router, path: &str, body: &[u8]) {
    let request = Request::builder()
        .method("POST")
        .uri(path)
        .header("Accept", "application/vnd.docker.plugins.v1.2+json")
        .body(Body::from(body.to_vec()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let reply: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{path}: {status} reply is not JSON ({e}): {bytes:?}"));
    assert!(
        matches!(status.as_u16(), 200 | 400 | 404 | 405 | 500),
        "{path}: unexpected status {status}: {reply}"
    );
    if status != StatusCode::OK {
        let err = reply
            .get("Err")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{path}: {status} without {{\"Err\": string}}: {reply}"));
        assert!(
            !err.contains(PANIC_REPLY),
            "{path}: a driver call panicked: {err}"
        );
    }
}

fn check_names(calls: &[Call]) {
    for call in calls {
        let names: Vec<&str> = match call {
            Call::EnsureBridge(spec) => vec![&spec.name],
            Call::DeleteLink(name) | Call::LinkExists(name) | Call::RemoveAddresses(name, _) => {
                vec![name]
            }
            Call::CreateVeth(spec) => vec![&spec.host, &spec.container, &spec.bridge],
            Call::LinksWithPrefix(_) => vec![],
            Call::Firewall(networks) => networks
                .iter()
                .flat_map(|n| std::iter::once(&n.bridge).chain(&n.isolated_ports))
                .map(String::as_str)
                .collect(),
        };
        for name in names {
            assert!(
                valid_ifname(name),
                "bad interface name {name:?} in {call:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    harness.runtime.block_on(async {
        for line in data.split(|&b| b == b'\n').take(MAX_CALLS) {
            let Some((&pick, body)) = line.split_first() else {
                continue;
            };
            let path = ROUTES[usize::from(pick) % ROUTES.len()];
            send(&harness.router, path, body).await;
        }
    });
    check_names(&harness.host.take_calls());
});
