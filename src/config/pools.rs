//! `[DEFAULT] default_address_pools`: where the embedded IPAM carves subnets
//! when Docker asks for a pool without one, in the spirit of dockerd's
//! `--default-address-pool base=…,size=…`.

use ipnet::IpNet;

use crate::ipam::DefaultPool;

/// The value used when the option is absent. `kuryr` spelled in hex in the v6
/// ULA keeps it recognisable and unlikely to clash.
pub const DEFAULT_ADDRESS_POOLS: &str = "10.200.0.0/14:24, fd6b:7572:7972::/48:64";

/// One bad entry: the entry as written and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolError {
    pub entry: String,
    pub message: String,
}

/// Parse comma-separated `BASE:SIZE` entries. Every bad entry is reported;
/// empty entries (a trailing comma) are skipped, and an empty value means no
/// default pools at all.
pub fn parse_pools(value: &str) -> Result<Vec<DefaultPool>, Vec<PoolError>> {
    let mut pools: Vec<DefaultPool> = Vec::new();
    let mut errors = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let parsed = parse_entry(entry).and_then(|pool| {
            // Overlapping pools would let the allocator hand out the same
            // subnet twice, once from each.
            match pools.iter().find(|p| overlaps(&p.base, &pool.base)) {
                Some(other) => Err(format!("overlaps {}", other.base)),
                None => Ok(pool),
            }
        });
        match parsed {
            Ok(pool) => pools.push(pool),
            Err(message) => errors.push(PoolError {
                entry: entry.to_owned(),
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(pools)
    } else {
        Err(errors)
    }
}

fn parse_entry(entry: &str) -> Result<DefaultPool, String> {
    // Split on the last ':' because IPv6 bases are full of colons. When the
    // tail holds the '/', the ':' belonged to the address: no size given.
    let (base, size) = match entry.rsplit_once(':') {
        Some((base, size)) if !size.contains('/') => (base.trim(), size.trim()),
        _ => return Err("expected BASE:SIZE, e.g. 10.200.0.0/14:24".to_owned()),
    };
    if size.is_empty() {
        return Err("missing SIZE after ':'".to_owned());
    }
    let base: IpNet = base
        .parse()
        .map_err(|_| format!("{base:?} is not a CIDR such as 10.200.0.0/14"))?;
    if base.trunc() != base {
        return Err(format!(
            "{base} has host bits set; did you mean {}?",
            base.trunc()
        ));
    }
    let size: u8 = size
        .parse()
        .map_err(|_| format!("SIZE {size:?} is not a prefix length"))?;
    if size < base.prefix_len() {
        return Err(format!(
            "SIZE /{size} is larger than the base /{}",
            base.prefix_len()
        ));
    }
    if size > base.max_prefix_len() {
        return Err(format!(
            "SIZE /{size} is longer than /{}",
            base.max_prefix_len()
        ));
    }
    Ok(DefaultPool { base, size })
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pool(base: &str, size: u8) -> DefaultPool {
        DefaultPool {
            base: base.parse().unwrap(),
            size,
        }
    }

    fn error(value: &str) -> String {
        let errors = parse_pools(value).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors[0].message.clone()
    }

    #[test]
    fn default_value_parses() {
        assert_eq!(
            parse_pools(DEFAULT_ADDRESS_POOLS).unwrap(),
            vec![pool("10.200.0.0/14", 24), pool("fd6b:7572:7972::/48", 64)]
        );
    }

    #[test]
    fn either_family_alone_and_empty() {
        assert_eq!(
            parse_pools("fd00::/8:128").unwrap(),
            vec![pool("fd00::/8", 128)]
        );
        assert_eq!(
            parse_pools("10.0.0.0/8:32,").unwrap(),
            vec![pool("10.0.0.0/8", 32)]
        );
        assert_eq!(parse_pools("").unwrap(), vec![]);
        assert_eq!(parse_pools(" , ").unwrap(), vec![]);
    }

    #[test]
    fn size_equal_to_prefix_is_one_subnet() {
        assert_eq!(
            parse_pools("10.1.0.0/16:16").unwrap(),
            vec![pool("10.1.0.0/16", 16)]
        );
    }

    #[test]
    fn host_bits() {
        let msg = error("10.200.0.1/14:24");
        assert!(
            msg.contains("host bits") && msg.contains("10.200.0.0/14"),
            "{msg}"
        );
        assert!(error("fd6b:7572:7972::1/48:64").contains("host bits"));
    }

    #[test]
    fn size_out_of_range() {
        assert!(error("10.0.0.0/16:8").contains("larger than the base"));
        assert!(error("10.0.0.0/16:33").contains("longer than /32"));
        assert!(error("fd00::/48:129").contains("longer than /128"));
        assert!(error("fd00::/48:300").contains("not a prefix length"));
        assert!(error("10.0.0.0/16:-1").contains("not a prefix length"));
    }

    #[test]
    fn missing_size() {
        assert!(error("10.0.0.0/16").contains("expected BASE:SIZE"));
        assert!(error("fd00::/48").contains("expected BASE:SIZE"));
        assert!(error("10.0.0.0/16:").contains("missing SIZE"));
        assert!(error("fd00::/48:").contains("missing SIZE"));
    }

    #[test]
    fn bad_base() {
        assert!(error("10.0.0.0:24").contains("not a CIDR"));
        assert!(error("example.com/8:24").contains("not a CIDR"));
    }

    #[test]
    fn every_bad_entry_reported() {
        let errors = parse_pools("10.0.0.1/8:24, 172.16.0.0/12:20, fd00::/48, 192.168.0.0/16:8")
            .unwrap_err();
        let entries: Vec<&str> = errors.iter().map(|e| e.entry.as_str()).collect();
        assert_eq!(entries, ["10.0.0.1/8:24", "fd00::/48", "192.168.0.0/16:8"]);
    }

    #[test]
    fn overlapping_pools_rejected() {
        let errors = parse_pools("10.0.0.0/8:24, 10.1.0.0/16:24").unwrap_err();
        assert_eq!(errors[0].entry, "10.1.0.0/16:24");
        assert!(errors[0].message.contains("overlaps 10.0.0.0/8"));
        assert!(parse_pools("10.0.0.0/16:24, 10.1.0.0/16:24, fd00::/8:64").is_ok());
    }

    proptest! {
        #[test]
        fn v4_round_trip(addr in any::<u32>(), prefix in 0u8..=32, extra in 0u8..=32) {
            let base = ipnet::Ipv4Net::new(addr.into(), prefix).unwrap().trunc();
            let size = prefix.saturating_add(extra).min(32);
            let parsed = parse_pools(&format!("{base}:{size}")).unwrap();
            prop_assert_eq!(parsed, vec![DefaultPool { base: base.into(), size }]);
        }

        #[test]
        fn v6_round_trip(addr in any::<u128>(), prefix in 0u8..=128, extra in 0u8..=128) {
            let base = ipnet::Ipv6Net::new(addr.into(), prefix).unwrap().trunc();
            let size = prefix.saturating_add(extra).min(128);
            let parsed = parse_pools(&format!("{base}:{size}")).unwrap();
            prop_assert_eq!(parsed, vec![DefaultPool { base: base.into(), size }]);
        }

        #[test]
        fn never_panics(value in "\\PC*") {
            let _ = parse_pools(&value);
        }
    }
}
