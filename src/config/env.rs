//! Environment lookups behind a trait, so tests pass a map and nothing under
//! `config` reads the process environment except [`ProcessEnv`].

use std::collections::HashMap;

/// Read access to environment variables.
pub trait Env {
    /// The variable's value; `None` when unset or not valid UTF-8.
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}
