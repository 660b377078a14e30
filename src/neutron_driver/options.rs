//! The `-o` (CreateNetwork) and `--ipam-opt` (RequestPool) options kuryr-libnetwork
//! reads, under its names: `neutron.net.*`, `neutron.subnet[.v6].*`, `neutron.pool[.v6].*`.
//! Pure parsing; what they mean is decided in `pools.rs` and `networks.rs`.

use std::collections::BTreeMap;

use crate::Error;

/// A user's object named by id or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Named {
    Id(String),
    Name(String),
}

impl Named {
    /// `<base>.uuid` wins over `<base>.name`, as in kuryr-libnetwork.
    fn read(options: &BTreeMap<String, String>, base: &str) -> Option<Named> {
        let get = |k: &str| {
            options
                .get(&format!("{base}.{k}"))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        get("uuid")
            .map(Named::Id)
            .or_else(|| get("name").map(Named::Name))
    }

    pub fn describe(&self) -> String {
        match self {
            Named::Id(id) => format!("id {id}"),
            Named::Name(name) => format!("name {name:?}"),
        }
    }
}

/// Options about one address family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FamilyOptions {
    pub subnet: Option<Named>,
    pub pool: Option<Named>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NeutronOptions {
    pub net: Option<Named>,
    pub shared: bool,
    pub v4: FamilyOptions,
    pub v6: FamilyOptions,
}

const KNOWN: &[&str] = &[
    "neutron.net.uuid",
    "neutron.net.name",
    "neutron.net.shared",
    "neutron.subnet.uuid",
    "neutron.subnet.name",
    "neutron.subnet.v6.uuid",
    "neutron.subnet.v6.name",
    "neutron.pool.uuid",
    "neutron.pool.name",
    "neutron.pool.v6.uuid",
    "neutron.pool.v6.name",
];

impl NeutronOptions {
    /// Parses the options; an unknown `neutron.*` key is refused by name, since a
    /// typo would otherwise silently create a new network instead of adopting one.
    /// Other keys are ignored, as kuryr-libnetwork ignores them (Docker's bridge options
    /// and `default-network-opts` arrive here too).
    pub fn parse(options: &BTreeMap<String, String>) -> Result<NeutronOptions, Error> {
        if let Some(bad) = options
            .keys()
            .find(|k| k.starts_with("neutron.") && !KNOWN.contains(&k.as_str()))
        {
            return Err(Error::InvalidOption(format!(
                "unknown option {bad}; known: {}",
                KNOWN.join(", ")
            )));
        }
        Ok(NeutronOptions {
            net: Named::read(options, "neutron.net"),
            shared: options
                .get("neutron.net.shared")
                .is_some_and(|v| crate::config::bool_from_string(v)),
            v4: FamilyOptions {
                subnet: Named::read(options, "neutron.subnet"),
                pool: Named::read(options, "neutron.pool"),
            },
            v6: FamilyOptions {
                subnet: Named::read(options, "neutron.subnet.v6"),
                pool: Named::read(options, "neutron.pool.v6"),
            },
        })
    }

    pub fn family(&self, v6: bool) -> &FamilyOptions {
        if v6 { &self.v6 } else { &self.v4 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn uuid_wins_over_name_and_families_are_separate() {
        let o = NeutronOptions::parse(&map(&[
            ("neutron.net.name", "n"),
            ("neutron.net.uuid", "u"),
            ("neutron.subnet.v6.name", "s6"),
            ("neutron.net.shared", "True"),
            (crate::model::bridge_keys::MTU, "1400"),
        ]))
        .unwrap();
        assert_eq!(o.net, Some(Named::Id("u".into())));
        assert_eq!(o.v6.subnet, Some(Named::Name("s6".into())));
        assert_eq!(o.v4.subnet, None);
        assert!(o.shared);
    }

    #[test]
    fn typos_are_refused_by_name() {
        let e = NeutronOptions::parse(&map(&[("neutron.net.nmae", "x")])).unwrap_err();
        assert!(e.to_string().contains("neutron.net.nmae"), "{e}");
    }
}
