//! One structured log line per plugin call, and the same call in the metrics: the
//! method, the Docker ids involved, the outcome and the latency. Handlers fill the ids
//! into the call's span with `record`; errors are read back from the response, where
//! `response` left them. The metrics label a call by its matched route, never by the
//! raw path, so a client cannot mint series.

use crate::Error;
use crate::metrics::{Metrics, UNKNOWN_METHOD};
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;
use tracing::{Instrument, Span, field};

pub(super) async fn log_call(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.uri().path().trim_start_matches('/').to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNKNOWN_METHOD, |route| {
            route.as_str().trim_start_matches('/')
        })
        .to_owned();
    let span = tracing::info_span!(
        "call",
        method = %method,
        network_id = field::Empty,
        endpoint_id = field::Empty,
        pool_id = field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    metrics.observe_call(&route, response.status() == StatusCode::OK, elapsed);
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let status = response.status().as_u16();
    let _entered = span.enter();
    match response.extensions().get::<Arc<Error>>() {
        Some(error) => tracing::warn!(status, latency_us, error = %error, "failed"),
        None => tracing::info!(status, latency_us, "ok"),
    }
    response
}

/// Put a Docker id on the current call's log line.
pub(super) fn record(field_name: &'static str, value: &str) {
    Span::current().record(field_name, value);
}
