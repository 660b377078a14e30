//! The `[neutron]` section, kept as validated strings for the Neutron
//! backend, which owns their meaning. This module only makes sure the keys
//! are known, the few typed ones parse, deprecated names are folded into
//! their successors, and secrets never reach a log line.

use std::collections::BTreeMap;
use std::fmt;

use super::keys;

/// `[neutron]`, key → value, under the current option names.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NeutronSection {
    pub values: BTreeMap<String, String>,
}

impl NeutronSection {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Whether `key` holds something other than an empty string.
    pub(super) fn has_value(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| !v.is_empty())
    }
}

/// Written by hand so `password`, `token` and friends never get printed, even
/// by a `{:?}` of the whole `Config`.
impl fmt::Debug for NeutronSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(
                        self.0
                            .iter()
                            .map(|(k, v)| (k, if keys::is_secret(k) { REDACTED } else { v })),
                    )
                    .finish()
            }
        }
        f.debug_struct("NeutronSection")
            .field("values", &Redacted(&self.values))
            .finish()
    }
}

/// Shown instead of a secret value.
pub const REDACTED: &str = "<redacted>";

/// How a typed `[neutron]` option is checked now, so a typo fails at start-up
/// rather than at the first Neutron call.
pub enum Kind {
    Bool,
    /// Non-negative integer.
    Count,
    Choice(&'static [&'static str]),
}

/// The typed options; the rest are free strings (URLs, names, ids, paths).
/// `enable_dhcp` is a string in kuryr-lib and stays one.
pub const TYPED: &[(&str, Kind)] = &[
    ("vif_plugging_is_fatal", Kind::Bool),
    ("vif_plugging_timeout", Kind::Count),
    ("insecure", Kind::Bool),
    ("collect_timing", Kind::Bool),
    ("split_loggers", Kind::Bool),
    ("timeout", Kind::Count),
    (
        "endpoint_type",
        Kind::Choice(&["public", "admin", "internal"]),
    ),
];
