//! The one place where an error becomes wire bytes: a non-200 status with
//! `{"Err": "..."}`, the form both libnetwork interfaces and every dockerd release
//! understand (an IPAM reply of `200 {"Err"}` would be taken as success, spec §1.4).
//! The conversion has no side effects; the log middleware reads the error back from the
//! response extensions and logs it with the call's span.

use super::PluginJson;
use crate::Error;
use crate::api::ErrResponse;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = if self.is_client_error() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        error_response(status, self)
    }
}

pub(super) fn error_response(status: StatusCode, error: Error) -> Response {
    let body = ErrResponse {
        err: error.to_string(),
    };
    let mut response = (status, PluginJson(body)).into_response();
    response.extensions_mut().insert(Arc::new(error));
    response
}
