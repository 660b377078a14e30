//! Serde helpers for dockerd's textual conventions: `""` means "none" and Go's `null`
//! means "empty". Kept private to `api` so the conventions stay at the edge.

use serde::{Deserialize, Deserializer};
use std::str::FromStr;

/// `null` or absent becomes `T::default()` (Go marshals nil maps and slices as `null`).
pub(crate) fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// `""` or `null` becomes `None`; anything else must parse as `T`.
pub(crate) fn empty_as_none<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let text = Option::<String>::deserialize(de)?.unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<T>()
        .map(Some)
        .map_err(|err| serde::de::Error::custom(format!("{text:?}: {err}")))
}

/// A plain IP, tolerating a `/prefix` suffix: dockerd sends bare IPs on release, but a
/// prefixed one is unambiguous and refusing it would only leak the address.
pub(crate) fn ip_lenient<'de, D>(de: D) -> Result<Option<std::net::IpAddr>, D::Error>
where
    D: Deserializer<'de>,
{
    let text = Option::<String>::deserialize(de)?.unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bare = text.split_once('/').map_or(text, |(ip, _)| ip);
    bare.parse()
        .map(Some)
        .map_err(|err| serde::de::Error::custom(format!("{text:?}: {err}")))
}
