//! Shared helpers for the in-process server tests: an embedded backend over a real
//! redb store in a temp dir and a recording `HostNet`, and a one-call HTTP helper.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kuryr::embedded::{Embedded, Settings};
use kuryr::hostnet::Recorder;
use kuryr::ipam::DefaultPool;
use kuryr::store::Store;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use tower::ServiceExt;

pub const NET: &str = "c16ddead9f556985682a546335ef4c5558a7753f683ce142f6c2e49e01056661";
pub const EP: &str = "70141a672af932c43b2003eed93789c18685b7a34998da4aafb7b984297a4901";
pub const EP2: &str = "413eee0d515072f0e8e370e6de43335c35ecfe25f68f084e292bd48cba5b50ce";

pub fn settings() -> Settings {
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

/// Open the store in `dir`, retrying while a previous backend's commit thread still
/// holds the database (it exits once the last handle is dropped).
pub fn open_store(dir: &Path) -> (Store, kuryr::store::Snapshot) {
    for _ in 0..100 {
        match Store::open(dir) {
            Ok(opened) => return opened,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    Store::open(dir).expect("store opens")
}

pub async fn backend(dir: &Path, host: Arc<Recorder>) -> Router {
    let (store, snapshot) = open_store(dir);
    let embedded = Embedded::start(settings(), store, snapshot, host).await;
    kuryr::server::router(Arc::new(embedded))
}

/// POST `body` to `path` the way dockerd does (no Content-Type).
pub async fn call(router: &Router, path: &str, body: Value) -> (StatusCode, Value) {
    let raw = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap()
    };
    call_raw(router, "POST", path, raw).await
}

pub async fn call_raw(
    router: &Router,
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("Accept", "application/vnd.docker.plugins.v1.2+json")
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

/// Assert a 200 and return the reply.
pub async fn ok(router: &Router, path: &str, body: Value) -> Value {
    let (status, reply) = call(router, path, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{path} {body} -> {reply}");
    reply
}
