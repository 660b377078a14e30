//! Validated identifiers. Docker ids end up in interface names, store keys, Neutron
//! tags and log lines, so each is checked once, here, against the exact shape Docker
//! produces: 64 lowercase hex characters (libnetwork's `stringid`), or for networks also
//! swarmkit's 25 base-36 characters. Pool ids are ours (or kuryr-libnetwork's) and
//! opaque, so they are only bounded and charset-checked. A value that fails is quoted
//! back shortened, so a 1 MiB id cannot flood the reply or the log.

use super::Invalid;
use std::fmt;
use std::ops::Deref;

/// Longest pool id we accept: ours are `<space>/<cidr>` or `<uuid>/<cidr>`.
const POOL_ID_MAX: usize = 256;
/// Longest address-space name we accept (Docker's defaults are a dozen characters).
const SPACE_MAX: usize = 64;

/// A value quoted for an error message: at most 40 characters, escaped.
pub fn quote(value: &str) -> String {
    let short: String = value.chars().take(40).collect();
    if short.len() < value.len() {
        format!("{short:?}… ({} bytes)", value.len())
    } else {
        format!("{short:?}")
    }
}

fn is_hex64(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_swarm_id(id: &str) -> bool {
    id.len() == 25
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// A Docker network id: 64 lowercase hex, or a swarm network's 25 base-36 characters.
    NetworkId
);
id_type!(
    /// A Docker endpoint id: 64 lowercase hex.
    EndpointId
);
id_type!(
    /// A pool id as RequestPool answered it: opaque, at most 256 characters of
    /// `[A-Za-z0-9._:/-]`, with no empty, `.` or `..` path segment (it becomes part of
    /// Neutron URLs, where dot segments would climb the path).
    PoolId
);
id_type!(
    /// An IPAM address space name: at most 64 characters of `[A-Za-z0-9._-]`, possibly
    /// empty (swarm's AllocateNetwork sends `""`).
    AddressSpace
);

impl NetworkId {
    pub fn parse(field: &str, id: &str) -> Result<NetworkId, Invalid> {
        if is_hex64(id) || is_swarm_id(id) {
            Ok(NetworkId(id.to_owned()))
        } else {
            Err(Invalid::new(
                field,
                format!(
                    "{} is not a Docker network id (64 lowercase hex, or 25 base-36 for swarm)",
                    quote(id)
                ),
            ))
        }
    }
}

impl EndpointId {
    pub fn parse(field: &str, id: &str) -> Result<EndpointId, Invalid> {
        if is_hex64(id) {
            Ok(EndpointId(id.to_owned()))
        } else {
            Err(Invalid::new(
                field,
                format!(
                    "{} is not a Docker endpoint id (64 lowercase hex)",
                    quote(id)
                ),
            ))
        }
    }
}

impl PoolId {
    pub fn parse(field: &str, id: &str) -> Result<PoolId, Invalid> {
        let charset = id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
        let segments_ok = id
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
        if !id.is_empty() && id.len() <= POOL_ID_MAX && charset && segments_ok {
            Ok(PoolId(id.to_owned()))
        } else {
            Err(Invalid::new(
                field,
                format!(
                    "{} is not a pool id from RequestPool (at most {POOL_ID_MAX} \
                     characters of [A-Za-z0-9._:/-], no empty or dot segments)",
                    quote(id)
                ),
            ))
        }
    }

    /// A pool id this plugin makes itself (its parts are already valid).
    pub fn from_parts(parts: &[&str]) -> Result<PoolId, Invalid> {
        PoolId::parse("PoolID", &parts.join("/"))
    }
}

impl AddressSpace {
    pub fn parse(field: &str, name: &str) -> Result<AddressSpace, Invalid> {
        let charset = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if name.len() <= SPACE_MAX && charset {
            Ok(AddressSpace(name.to_owned()))
        } else {
            Err(Invalid::new(
                field,
                format!(
                    "{} is not an address space name (at most {SPACE_MAX} characters \
                     of [A-Za-z0-9._-])",
                    quote(name)
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "dbee50ea47c3b1450d112ad891c1beb8b60f619805ccaa3f65fbd1f253d83d57";

    #[test]
    fn network_ids_are_docker_or_swarm_shaped() {
        assert!(NetworkId::parse("NetworkID", HEX).is_ok());
        assert!(NetworkId::parse("NetworkID", "x4gk0tq2yb5tq8q1ht2m5xz9c").is_ok());
        for bad in [
            "",
            "n",
            &HEX[..12],
            &HEX[..32],
            &HEX.to_uppercase(),
            "x4gk0tq2yb5tq8q1ht2m5xz9C",
        ] {
            assert!(NetworkId::parse("NetworkID", bad).is_err(), "{bad}");
        }
        let long = "a".repeat(10_000);
        let error = NetworkId::parse("NetworkID", &long)
            .unwrap_err()
            .to_string();
        assert!(error.len() < 200, "{error}");
        assert!(error.starts_with("NetworkID: "), "{error}");
    }

    #[test]
    fn endpoint_ids_are_64_hex_only() {
        assert!(EndpointId::parse("EndpointID", HEX).is_ok());
        assert!(EndpointId::parse("EndpointID", "x4gk0tq2yb5tq8q1ht2m5xz9c").is_err());
        assert!(EndpointId::parse("EndpointID", &HEX[..12]).is_err());
        assert!(EndpointId::parse("EndpointID", &format!("{HEX}0")).is_err());
    }

    #[test]
    fn pool_ids_are_bounded_and_have_no_dot_segments() {
        for good in [
            "no_address_space/10.99.0.0/24",
            "local/fd00:10::/64",
            "0b3b0c4e-0f7a-4b1e-9c57-2b6e3c0f4d11",
            "0b3b0c4e-0f7a-4b1e-9c57-2b6e3c0f4d11/10.1.0.0/24",
        ] {
            assert!(PoolId::parse("PoolID", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "..",
            "a/../b",
            "a//b",
            "/a",
            "a b",
            "a\nb",
            "a%2e",
            &"p".repeat(257),
        ] {
            assert!(PoolId::parse("PoolID", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn address_spaces_allow_empty_but_not_odd_characters() {
        assert!(AddressSpace::parse("AddressSpace", "").is_ok());
        assert!(AddressSpace::parse("AddressSpace", "no_address_space").is_ok());
        assert!(AddressSpace::parse("AddressSpace", "a/b").is_err());
        assert!(AddressSpace::parse("AddressSpace", &"s".repeat(65)).is_err());
    }
}
