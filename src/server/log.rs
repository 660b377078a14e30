//! One structured log line per plugin call: the method, the Docker ids involved, the
//! outcome and the latency. Handlers fill the ids into the call's span with `record`;
//! errors are read back from the response, where `response` left them.

use crate::Error;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;
use tracing::{Instrument, Span, field};

pub(super) async fn log_call(request: Request, next: Next) -> Response {
    let method = request.uri().path().trim_start_matches('/').to_owned();
    let span = tracing::info_span!(
        "call",
        method = %method,
        network_id = field::Empty,
        endpoint_id = field::Empty,
        pool_id = field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
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
