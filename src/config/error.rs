//! What loading a configuration can report: a fatal [`ConfigError`], or
//! non-fatal [`Warning`]s. Invalid values are collected, not returned at the
//! first one, so an operator fixes a file in one pass.

use std::fmt;
use std::path::PathBuf;

/// Loading failed; nothing was configured.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not INI as oslo.config reads it.
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    /// Every invalid key or value of the file, in file order.
    #[error("{}", format_invalid(.0))]
    Invalid(Vec<Invalid>),
}

/// One invalid option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub section: String,
    pub key: String,
    /// As written (URLs without userinfo); `<redacted>` for secrets; empty for a
    /// missing value.
    pub value: String,
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "[{}] {}: {}", self.section, self.key, self.message)
        } else {
            write!(
                f,
                "[{}] {} = {:?}: {}",
                self.section, self.key, self.value, self.message
            )
        }
    }
}

fn format_invalid(list: &[Invalid]) -> String {
    match list {
        [one] => one.to_string(),
        _ => {
            let items: Vec<String> = list.iter().map(Invalid::to_string).collect();
            format!("{} invalid options: {}", list.len(), items.join("; "))
        }
    }
}

/// Something the operator should know, but that does not stop the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub section: String,
    /// Empty when the warning is about the whole section.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "[{}]: {}", self.section, self.message)
        } else {
            write!(f, "[{}] {}: {}", self.section, self.key, self.message)
        }
    }
}
