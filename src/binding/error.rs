//! `BindError`, the one error type of the binding module. Messages are shown
//! verbatim by the docker CLI, so each names the port, link or command that
//! failed and, for commands, carries what the command said on stderr. It does
//! not decide HTTP status codes; that is the server's job.

use crate::hostnet::HostNetError;

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The vif_type cannot be plugged here (including "unbound" and
    /// "binding_failed", which mean Neutron did not bind the port to us).
    #[error("vif_type {vif_type} is not supported: {reason}")]
    Unsupported { vif_type: String, reason: String },
    /// A field of the `Vif` is unusable (e.g. a malformed MAC).
    #[error("port {port_id}: {reason}")]
    BadVif { port_id: String, reason: String },
    /// Nested mode's `[binding] link_iface` (the VM's NIC) cannot carry the
    /// port: missing, misnamed, or with too small an MTU.
    #[error("[binding] link_iface {ifname:?}: {reason}")]
    LinkIface { ifname: String, reason: String },
    /// A kernel-side step failed; `step` says which, for which port.
    #[error("{step}: {source}")]
    HostNet {
        step: String,
        /// Boxed: rtnetlink errors are large and every `Result` here carries
        /// this enum.
        #[source]
        source: Box<HostNetError>,
    },
    /// A command ran and failed; `output` is its stderr (or stdout when it
    /// printed nothing on stderr, as kuryr's scripts do).
    #[error("`{command}` failed ({status}): {output}")]
    Command {
        command: String,
        status: String,
        output: String,
    },
    /// A command could not be started at all.
    #[error("`{command}` could not be run: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` did not finish within {secs} s and was killed")]
    Timeout { command: String, secs: u64 },
    /// A bind failed and so did removing what it had made.
    #[error("{error}; removing what was made also failed: {cleanup}")]
    Rollback {
        error: Box<BindError>,
        cleanup: Box<BindError>,
    },
    /// Several failures of one clean-up.
    #[error("{}", join(.0))]
    Several(Vec<BindError>),
    /// Every failed step of an unbind that tried all of them.
    #[error("unbinding port {port_id}: {}", join(.errors))]
    Unbind {
        port_id: String,
        errors: Vec<BindError>,
    },
    /// A failure asked for with [`RecordingBinder`](super::RecordingBinder)'s
    /// `fail_next_*`.
    #[error("injected failure ({0} of port {1})")]
    Injected(&'static str, String),
}

fn join(errors: &[BindError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl BindError {
    pub(super) fn host(step: impl Into<String>) -> impl FnOnce(HostNetError) -> BindError {
        let step = step.into();
        move |source| BindError::HostNet {
            step,
            source: Box::new(source),
        }
    }

    /// `Ok` when no step of an unbind failed, else all failures in one error.
    pub(super) fn unbind_result(port_id: &str, errors: Vec<BindError>) -> Result<(), BindError> {
        if errors.is_empty() {
            return Ok(());
        }
        Err(BindError::Unbind {
            port_id: port_id.to_owned(),
            errors,
        })
    }

    /// `Ok` for no errors, else the one error or all of them.
    pub(super) fn all(mut errors: Vec<BindError>) -> Result<(), BindError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(BindError::Several(errors)),
        }
    }

    /// `self`, or `self` with the failure of its clean-up attached.
    pub(super) fn with_cleanup(self, cleanup: Result<(), BindError>) -> BindError {
        match cleanup {
            Ok(()) => self,
            Err(cleanup) => BindError::Rollback {
                error: Box::new(self),
                cleanup: Box::new(cleanup),
            },
        }
    }
}
