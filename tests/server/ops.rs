//! The operator's routes on the plugin's router: `/metrics` counts the calls and shows
//! the pools the backend holds, `/healthz` follows the store.

use crate::support::{backend, ok, open_store, settings};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kuryr::embedded::Embedded;
use kuryr::hostnet::Recorder;
use kuryr::metrics::{Metrics, NeutronRequests};
use kuryr::neutron::{Exchange, Observer, Service};
use kuryr::store::{Faults, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// GET `path` with `headers`; the status and the body as text.
async fn get(router: &Router, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut request = Request::builder().method("GET").uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// The value of the series `name{labels}` (labels exactly as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

/// `kuryr_plugin_requests_total` of `method` and `outcome`.
fn calls(text: &str, method: &str, outcome: &str) -> Option<f64> {
    let series =
        format!("kuryr_plugin_requests_total{{method=\"{method}\",outcome=\"{outcome}\"}}");
    sample(text, &series)
}

/// An embedded backend over a store in `dir` and a recording host.
async fn embedded(dir: &std::path::Path) -> Arc<Embedded> {
    let (store, snapshot) = open_store(dir);
    Arc::new(Embedded::start(settings(), store, snapshot, Arc::new(Recorder::new())).await)
}

async fn scrape(router: &Router) -> String {
    let (status, text) = get(router, "/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    text
}

async fn request_pool(router: &Router, cidr: &str) -> String {
    let pool = ok(router, "/IpamDriver.RequestPool",
        json!({"AddressSpace": "no_address_space", "Pool": cidr, "SubPool": "", "Options": {}, "V6": false})).await;
    pool["PoolID"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn metrics_count_calls_and_show_pool_use() {
    let dir = tempfile::tempdir().unwrap();
    let router = backend(dir.path(), Arc::new(Recorder::new())).await;
    let pool_id = request_pool(&router, "10.97.0.0/24").await;
    for _ in 0..3 {
        ok(
            &router,
            "/IpamDriver.RequestAddress",
            json!({"PoolID": pool_id, "Address": "", "Options": null}),
        )
        .await;
    }
    let text = scrape(&router).await;
    let count = |method, outcome| calls(&text, method, outcome);
    assert_eq!(count("IpamDriver.RequestPool", "ok"), Some(1.0), "{text}");
    assert_eq!(
        count("IpamDriver.RequestAddress", "ok"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(count("IpamDriver.RequestAddress", "err"), None, "{text}");
    assert_eq!(
        sample(
            &text,
            "kuryr_plugin_request_duration_seconds_count{method=\"IpamDriver.RequestAddress\"}"
        ),
        Some(3.0),
        "{text}"
    );
    let pool = format!("{{pool_id=\"{pool_id}\",cidr=\"10.97.0.0/24\"}}");
    assert_eq!(
        sample(&text, &format!("kuryr_pool_used_addresses{pool}")),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("kuryr_pool_size_addresses{pool}")),
        Some(254.0),
        "{text}"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(
            &text,
            &format!("kuryr_build_info{{version=\"{version}\",backend=\"embedded\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "kuryr_background_deletes_pending"),
        Some(0.0),
        "{text}"
    );

    // The gateway is an address the pool hands out like any other; a failed call, an
    // unknown method and the scrapes themselves are counted apart or not at all.
    ok(&router, "/IpamDriver.RequestAddress",
        json!({"PoolID": pool_id, "Address": "", "Options": {"RequestAddressType": "com.docker.network.gateway"}})).await;
    let (status, _) = crate::support::call(
        &router,
        "/IpamDriver.RequestAddress",
        json!({"PoolID": pool_id, "Address": "10.97.0.1", "Options": null}),
    )
    .await;
    assert_ne!(status, StatusCode::OK, "the gateway is taken");
    let (status, _) = crate::support::call(&router, "/Nope.Nothing", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let text = scrape(&router).await;
    assert_eq!(
        sample(&text, &format!("kuryr_pool_used_addresses{pool}")),
        Some(4.0),
        "{text}"
    );
    let count = |method, outcome| calls(&text, method, outcome);
    assert_eq!(
        count("IpamDriver.RequestAddress", "ok"),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        count("IpamDriver.RequestAddress", "err"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(count("unknown", "err"), Some(1.0), "{text}");
    assert!(!text.contains("Nope"), "no series from a raw path: {text}");
    assert!(!text.contains("metrics\""), "scrapes are not calls: {text}");

    // Released, the pool is gone from the metrics.
    ok(
        &router,
        "/IpamDriver.ReleasePool",
        json!({"PoolID": pool_id}),
    )
    .await;
    let text = scrape(&router).await;
    assert!(!text.contains("10.97.0.0/24"), "{text}");
}

#[tokio::test]
async fn neutron_requests_are_series_of_method_collection_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let driver = embedded(dir.path()).await;
    let neutron = NeutronRequests::default();
    let metrics = Arc::new(Metrics::new(driver.clone(), Some(neutron.clone())));
    let router = kuryr::server::router_with(driver, metrics);
    for status in [Some(201), Some(201), Some(409), None] {
        neutron.exchange(&Exchange {
            service: Service::Neutron,
            method: "POST",
            resource: "ports",
            status,
            elapsed: Duration::from_millis(30),
        });
    }
    neutron.exchange(&Exchange {
        service: Service::Keystone,
        method: "POST",
        resource: "tokens",
        status: Some(201),
        elapsed: Duration::from_millis(80),
    });
    let text = scrape(&router).await;
    assert_eq!(
        sample(
            &text,
            "kuryr_keystone_requests_total{method=\"POST\",resource=\"tokens\",status=\"201\"}"
        ),
        Some(1.0),
        "Keystone's request is its own series: {text}"
    );
    assert!(
        !text.contains("kuryr_neutron_requests_total{method=\"POST\",resource=\"tokens\""),
        "and not a Neutron one: {text}"
    );
    let requests = |status: &str| {
        sample(
            &text,
            &format!(
                "kuryr_neutron_requests_total{{method=\"POST\",resource=\"ports\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests("201"), Some(2.0), "{text}");
    assert_eq!(requests("409"), Some(1.0), "{text}");
    assert_eq!(requests("error"), Some(1.0), "{text}");
    let latency = "kuryr_neutron_request_duration_seconds";
    assert_eq!(
        sample(
            &text,
            &format!("{latency}_bucket{{method=\"POST\",resource=\"ports\",le=\"0.04\"}}")
        ),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("{latency}_bucket{{method=\"POST\",resource=\"ports\",le=\"0.02\"}}")
        ),
        Some(0.0),
        "{text}"
    );
}

#[tokio::test]
async fn healthz_follows_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let (store, snapshot) = Store::open_with_faults(dir.path(), faults.clone()).unwrap();
    let driver = Embedded::start(settings(), store, snapshot, Arc::new(Recorder::new())).await;
    let router = kuryr::server::router(Arc::new(driver));
    assert_eq!(
        get(&router, "/healthz", &[]).await,
        (StatusCode::OK, "ok\n".to_owned())
    );

    faults.fail_commits();
    let (status, text) = get(&router, "/healthz", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.starts_with("unhealthy: state database"), "{text}");
    // The failure stays: later checks and calls see it too.
    let (status, text) = get(&router, "/healthz", &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(
        text.contains("stopped after an earlier failed commit"),
        "{text}"
    );
}

#[tokio::test]
async fn a_web_page_reads_neither_metrics_nor_health() {
    let dir = tempfile::tempdir().unwrap();
    let router = backend(dir.path(), Arc::new(Recorder::new())).await;
    for path in ["/metrics", "/healthz"] {
        let (status, text) = get(&router, path, &[("Origin", "http://evil.example")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {text}");
    }
}

#[tokio::test]
async fn the_operator_router_serves_no_plugin_call() {
    let dir = tempfile::tempdir().unwrap();
    let driver = embedded(dir.path()).await;
    let metrics = Arc::new(Metrics::new(driver.clone(), None));
    let router = kuryr::server::ops_router(driver, metrics);
    assert_eq!(get(&router, "/healthz", &[]).await.0, StatusCode::OK);
    assert!(scrape(&router).await.contains("kuryr_build_info"));
    let (status, _) = crate::support::call(&router, "/Plugin.Activate", json!(null)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
