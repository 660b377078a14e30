//! The request-level error: what a `Driver` call can fail with.
//!
//! Each layer has its own enum (`model::Invalid`, `ipam::AllocError`,
//! `store::StoreError`, `hostnet::HostNetError`, `binding::BindError`,
//! `neutron::NeutronError`); they compose here with `#[from]`. This module does not know
//! HTTP or any service's status codes: `server::response` is the one place that turns an `Error` into `{"Err": ...}`.
//! Messages are shown verbatim by the docker CLI, so they name the thing that failed.

use crate::binding::BindError;
use crate::hostnet::HostNetError;
use crate::ipam::AllocError;
use crate::model::Invalid;
use crate::neutron::NeutronError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body does not decode, or a field is malformed. Maps to HTTP 400.
    #[error("invalid request: {0}")]
    BadRequest(String),
    /// A field of a well-formed body holds a bad value (`api::decode`). Maps to 400.
    #[error("invalid request: {0}")]
    Invalid(#[from] Invalid),
    /// A `-o`/`--ipam-opt` option or a combination of settings the backend refuses.
    #[error("{0}")]
    InvalidOption(String),
    #[error("network {0} is not known to kuryr")]
    UnknownNetwork(String),
    #[error("endpoint {0} is not known to kuryr")]
    UnknownEndpoint(String),
    #[error("{0}")]
    Unsupported(String),
    /// Neutron gave no usable answer to a check the backend makes of it (the error
    /// names the request).
    #[error("cannot reach Neutron: {0}")]
    Unreachable(NeutronError),
    #[error(transparent)]
    Alloc(#[from] AllocError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    HostNet(#[from] HostNetError),
    /// A Neutron request failed; the message carries Neutron's request id.
    #[error("Neutron: {0}")]
    Neutron(#[from] NeutronError),
    /// Plugging or unplugging the host side of a port failed.
    #[error(transparent)]
    Binding(#[from] BindError),
    /// Every failure of a teardown that tried all its steps.
    #[error("{}", join(.0))]
    List(Vec<Error>),
}

impl Error {
    /// Whether the caller sent something wrong (as opposed to the plugin failing).
    pub fn is_client_error(&self) -> bool {
        match self {
            Error::BadRequest(_)
            | Error::Invalid(_)
            | Error::InvalidOption(_)
            | Error::Alloc(_) => true,
            Error::Neutron(e) => e.is_refusal(),
            Error::List(errors) => errors.iter().all(Error::is_client_error),
            _ => false,
        }
    }

    /// `Ok` when `errors` is empty, else `Err` of `Error::all(errors)`.
    pub fn from_all(errors: Vec<Error>) -> Result<(), Error> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::all(errors))
        }
    }

    /// The single error, or a `List` of all of them.
    pub fn all(mut errors: Vec<Error>) -> Error {
        if errors.len() == 1 {
            errors.remove(0)
        } else {
            Error::List(errors)
        }
    }
}

fn join(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
