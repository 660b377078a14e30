//! The model's one error: a request field that does not hold a valid value. It names
//! the field as dockerd spells it, so the docker CLI shows the user what to fix.

/// A field of a request that is missing, malformed, or inconsistent with another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
