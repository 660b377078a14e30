//! What the configuration reads besides `kuryr.conf`, behind a trait so tests pass
//! a map: environment variables (`OS_*`, `CAPABILITY_SCOPE`, ...), the host's name
//! (the default `binding_host`) and `clouds.yaml` files (`OS_CLOUD`). Nothing in
//! the crate reads these except [`ProcessEnv`].

use std::collections::HashMap;
use std::path::Path;

/// Read access to the process's surroundings.
pub trait Env {
    /// The variable's value; `None` when unset or not valid UTF-8.
    fn var(&self, key: &str) -> Option<String>;

    /// The host's name, as Python's `socket.gethostname()` gives it to
    /// kuryr-libnetwork; `None` when unknown (then `localhost`).
    fn hostname(&self) -> Option<String> {
        None
    }

    /// A file's text (a `clouds.yaml`); `None` when it cannot be read.
    fn read_file(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    fn hostname(&self) -> Option<String> {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
    }
}

/// Variables only; the host name is unknown and files are read from disk.
impl Env for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}
