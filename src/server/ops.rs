//! The operator's routes, beside the plugin protocol: `GET /metrics` (Prometheus
//! text) and `GET /healthz` (200 `ok`, or 503 with the reason). They are served on the
//! plugin's own listener and, with `[DEFAULT] metrics_listen`, alone on a listener of
//! their own. Neither is a plugin call: they are not logged or counted as one, and
//! they take no body.

use super::SharedDriver;
use crate::metrics::{self, Metrics};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;

/// A health check that takes longer (Neutron not answering within it) is a failure.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct Ops {
    driver: SharedDriver,
    metrics: Arc<Metrics>,
}

/// `/metrics` and `/healthz` over `driver`, behind the same `Origin`/`Host` guard as
/// the plugin calls.
pub fn router(driver: SharedDriver, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(health))
        .layer(middleware::from_fn(super::guard::guard))
        .with_state(Ops { driver, metrics })
}

async fn scrape(State(ops): State<Ops>) -> Response {
    match ops.metrics.encode() {
        Ok(text) => ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "metrics could not be encoded");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn health(State(ops): State<Ops>) -> Response {
    let reason = match tokio::time::timeout(HEALTH_TIMEOUT, ops.driver.health()).await {
        Ok(Ok(())) => return (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!(
            "the health check did not finish within {} s",
            HEALTH_TIMEOUT.as_secs()
        ),
    };
    tracing::warn!(%reason, "unhealthy");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("unhealthy: {reason}\n"),
    )
        .into_response()
}
