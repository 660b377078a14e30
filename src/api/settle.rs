//! `/Kuryr.Settle`: kuryr's own call, not libnetwork's, for tests, benchmarks and
//! operators. Some backends finish work after answering Docker (the Neutron backend
//! deletes in the background); this waits for that work and says what is left.
//! dockerd never sends it.

use serde::{Deserialize, Serialize};

/// Waiting longer than this is refused: a caller that wants more can ask again.
pub const MAX_TIMEOUT_SECS: u64 = 600;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleRequest {
    /// Seconds to wait for the backlog to empty; 0 (the default) only reports.
    #[serde(rename = "Timeout", default)]
    pub timeout: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SettleResponse {
    /// Deletes not done yet.
    #[serde(rename = "Pending")]
    pub pending: usize,
    /// The last error of each pending delete that has failed (it is being retried).
    #[serde(rename = "Errors")]
    pub errors: Vec<String>,
}
