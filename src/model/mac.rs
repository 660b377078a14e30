//! MAC addresses as dockerd writes them: colon text (`02:42:0a:0a:00:02`). Go's
//! `net.ParseMAC` also takes hyphen and dot forms, so we accept those on input.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddress(pub [u8; 6]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?} (expected six hex pairs like 02:42:0a:00:00:02)")]
pub struct MacParseError(pub String);

impl FromStr for MacAddress {
    type Err = MacParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || MacParseError(text.to_string());
        let hex: String = if text.contains('.') {
            // Cisco form 0242.0a0a.0002: three groups of four hex digits.
            let groups: Vec<&str> = text.split('.').collect();
            if groups.len() != 3 || groups.iter().any(|g| g.len() != 4) {
                return Err(bad());
            }
            groups.concat()
        } else {
            let groups: Vec<&str> = text.split([':', '-']).collect();
            if groups.len() != 6 || groups.iter().any(|g| g.len() != 2) {
                return Err(bad());
            }
            groups.concat()
        };
        let mut bytes = [0u8; 6];
        for (index, byte) in bytes.iter_mut().enumerate() {
            let pair = hex.get(index * 2..index * 2 + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(MacAddress(bytes))
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl Serialize for MacAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddress {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let text = String::deserialize(de)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_forms_and_prints_colon_form() {
        for text in ["02:42:0a:0A:00:02", "02-42-0a-0a-00-02", "0242.0a0a.0002"] {
            let mac: MacAddress = text.parse().unwrap();
            assert_eq!(mac.to_string(), "02:42:0a:0a:00:02", "{text}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "",
            "02:42:0a:0a:00",
            "02:42:0a:0a:00:0g",
            "0242.0a0a",
            "2:42:a:a:0:2",
        ] {
            assert!(text.parse::<MacAddress>().is_err(), "{text}");
        }
    }
}
