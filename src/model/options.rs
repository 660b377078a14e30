//! The user's driver options (`-o`, `--ipam-opt`, `--driver-opt`) as a string map,
//! with Docker's own keys already taken out by `api::decode`. Backends read what they
//! understand through typed getters and refuse the rest by name, so an option is
//! either acted on or refused, never silently ignored.

use super::Invalid;
use super::ids::quote;
use std::collections::BTreeMap;

/// Option names of Docker's bridge driver that users pass with `-o` to other drivers
/// too (and that dockerd's `default-network-opts` may add): driver options, not
/// protocol fields, so they stay in the map and a backend acts on them or refuses them.
pub mod bridge_keys {
    pub const NAME: &str = "com.docker.network.bridge.name";
    pub const MTU: &str = "com.docker.network.driver.mtu";
    pub const ENABLE_IP_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
    pub const ENABLE_ICC: &str = "com.docker.network.bridge.enable_icc";
    /// The namespace all of Docker's own option names live in.
    pub const DOCKER_PREFIX: &str = "com.docker.";
}

/// Longest option key or value we accept; Docker puts no limit, but nothing sane is longer.
const OPTION_MAX: usize = 4096;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverOptions(BTreeMap<String, String>);

impl DriverOptions {
    /// Checks sizes and control characters; `field` names the map in errors.
    pub fn new(field: &str, map: BTreeMap<String, String>) -> Result<DriverOptions, Invalid> {
        for (key, value) in &map {
            let bad =
                |what: &str| Invalid::new(format!("{field}[{}]", quote(key)), what.to_owned());
            if key.is_empty() || key.len() > OPTION_MAX || key.chars().any(char::is_control) {
                return Err(bad("option keys are 1 to 4096 printable characters"));
            }
            if value.len() > OPTION_MAX || value.chars().any(char::is_control) {
                return Err(bad("option values are at most 4096 printable characters"));
            }
        }
        Ok(DriverOptions(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The first of `keys` that is set, with the key that was used.
    pub fn get_any<'a>(&'a self, keys: &[&'a str]) -> Option<(&'a str, &'a str)> {
        keys.iter()
            .find_map(|key| self.0.get(*key).map(|value| (*key, value.as_str())))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The map itself, e.g. to persist it or to echo it back to a swarm manager.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_control_characters_and_huge_entries() {
        let map = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(DriverOptions::new("Options", map("mtu", "1400")).is_ok());
        assert!(DriverOptions::new("Options", map("a\nb", "1")).is_err());
        assert!(DriverOptions::new("Options", map("a", "\u{1b}[31m")).is_err());
        assert!(DriverOptions::new("Options", map("", "1")).is_err());
        assert!(DriverOptions::new("Options", map("k", &"v".repeat(5000))).is_err());
    }
}
