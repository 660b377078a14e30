//! `NeutronError`: every way a Neutron or Keystone call can fail. Mapping these to
//! Docker's `{"Err"}` answers is left to the driver; this module only describes them.
//! No variant ever carries a token or a password, and every URL in one has its
//! userinfo stripped (`redact.rs`) and transport errors theirs removed, so Display and
//! Debug are safe to log. Errors are `Clone` so that one failed Keystone request can
//! answer every caller that waited for it.

use std::sync::Arc;

use thiserror::Error;

/// An error from the Neutron client.
#[derive(Clone, Debug, Error)]
pub enum NeutronError {
    /// Neutron (or Keystone) answered with a non-success status.
    #[error("{method} {url}: HTTP {status}: {message}{}", request_id_suffix(.request_id))]
    Api {
        method: String,
        url: String,
        status: u16,
        message: String,
        request_id: Option<String>,
    },
    /// The request never got an answer (connect, TLS, timeout, body read). The
    /// source has had its URL removed (`reqwest::Error::without_url`).
    #[error("{method} {url}: {source}")]
    Transport {
        method: String,
        url: String,
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The server answered with a redirect. None is followed: it would carry the
    /// token, or on a 307 the password, to wherever `location` points.
    #[error(
        "{method} {url}: HTTP {status} redirect to {location} refused (kuryr follows no \
         redirects; configure the final URL)"
    )]
    Redirect {
        method: String,
        url: String,
        status: u16,
        location: String,
    },
    /// The answer passed one of the client's bounds (body size, pages, items) or
    /// its pagination went round in a loop.
    #[error("{method} {url}: {message}")]
    Limit {
        method: String,
        url: String,
        message: String,
    },
    /// The answer was not the JSON we expected.
    #[error("decoding the answer of {url}: {message}")]
    Decode { url: String, message: String },
    /// Authentication failed or the catalog had no usable network endpoint.
    #[error("authentication: {0}")]
    Auth(String),
    /// The `[neutron]` options are unusable.
    #[error("neutron configuration: {0}")]
    Config(String),
}

fn request_id_suffix(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" (request id {id})"),
        None => String::new(),
    }
}

impl NeutronError {
    /// The HTTP status of an `Api` error, so callers can tolerate e.g. a 409.
    pub fn status(&self) -> Option<u16> {
        match self {
            NeutronError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for an `Api` error with status 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True for an `Api` error with status 409.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// Whether Neutron refused what was asked for (a bad or taken address, a quota):
    /// the caller's request is at fault, not the plugin.
    pub fn is_refusal(&self) -> bool {
        matches!(self.status(), Some(400 | 409))
    }

    /// Whether asking again later may succeed: no answer, a server error, a timeout
    /// or throttling, or authentication (Keystone may be down). A refusal (another
    /// 4xx) or an answer that does not decode will be the same next time.
    pub fn is_transient(&self) -> bool {
        match self {
            NeutronError::Transport { .. } | NeutronError::Auth(_) => true,
            NeutronError::Api { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            NeutronError::Decode { .. }
            | NeutronError::Config(_)
            | NeutronError::Redirect { .. }
            | NeutronError::Limit { .. } => false,
        }
    }
}

impl NeutronError {
    /// Whether a request that changes something may have taken effect although it
    /// failed: Neutron may have done the work before the answer was lost (a 5xx from
    /// a proxy or a dying API worker, a timeout, a reset connection, an answer we
    /// could not read). A refusal (4xx), a redirect, a request that never left (no
    /// connection, no token) did nothing.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            NeutronError::Api { status, .. } => *status >= 500,
            NeutronError::Transport { source, .. } => !source.is_connect(),
            NeutronError::Decode { .. } | NeutronError::Limit { .. } => true,
            NeutronError::Redirect { .. } | NeutronError::Auth(_) | NeutronError::Config(_) => {
                false
            }
        }
    }
}

/// Extracts the message from a Neutron error body. Neutron answers
/// `{"NeutronError": {"message": ..., "type": ...}}`; Keystone and proxies answer
/// `{"error": {"message": ...}}` or plain text, which is kept (shortened) as is.
pub(crate) fn error_message(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        for key in ["NeutronError", "error"] {
            if let Some(message) = value
                .get(key)
                .and_then(|e| e.get("message"))
                .and_then(|m| m.as_str())
            {
                return message.to_string();
            }
        }
        if let Some(message) = value.get("message").and_then(|m| m.as_str()) {
            return message.to_string();
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "no message".to_string();
    }
    trimmed.chars().take(200).collect()
}
