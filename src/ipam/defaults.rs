//! dockerd-style default address pools (`default-address-pools`) and the
//! choice of the next free subnet from them for a network created without
//! `--subnet`.
//!
//! The choice only reads which networks are held; `Ipam` inserts the result
//! and the caller persists it.

use ipnet::IpNet;

use super::AllocError;
use super::addr::{bounds, family_bits, is_v6, net_at};
use super::overlap::PoolIndex;

/// Carve `base` into subnets of prefix length `size`, e.g. 10.10.0.0/16 with
/// size 24 gives 10.10.0.0/24, 10.10.1.0/24, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultPool {
    pub base: IpNet,
    pub size: u8,
}

impl DefaultPool {
    /// A checked entry: `size` must be at least `base`'s prefix length and at
    /// most the family's bit count. Host bits of `base` are cleared.
    pub fn new(base: IpNet, size: u8) -> Result<DefaultPool, AllocError> {
        let pool = DefaultPool {
            base: base.trunc(),
            size,
        };
        if pool.is_valid() {
            Ok(pool)
        } else {
            Err(AllocError::InvalidDefaultPool { base, size })
        }
    }

    /// Entries built by hand that fail this are skipped by `choose`.
    pub fn is_valid(&self) -> bool {
        self.size >= self.base.prefix_len() && self.size <= family_bits(is_v6(self.base))
    }

    /// dockerd's built-in local-scope list, used when
    /// `default-address-pools` is not configured.
    pub fn dockerd_defaults() -> Vec<DefaultPool> {
        [
            ([172, 17, 0, 0], 16, 16),
            ([172, 18, 0, 0], 16, 16),
            ([172, 19, 0, 0], 16, 16),
            ([172, 20, 0, 0], 14, 16),
            ([172, 24, 0, 0], 14, 16),
            ([172, 28, 0, 0], 14, 16),
            ([192, 168, 0, 0], 16, 20),
        ]
        .into_iter()
        .filter_map(|(octets, len, size)| {
            let base = ipnet::Ipv4Net::new(octets.into(), len).ok()?;
            Some(DefaultPool {
                base: IpNet::V4(base),
                size,
            })
        })
        .collect()
    }
}

fn family_name(v6: bool) -> &'static str {
    if v6 { "IPv6" } else { "IPv4" }
}

/// First subnet, in list order then address order, overlapping nothing in
/// `held`. Each probe that hits a held network jumps past it, so the cost
/// grows with the number of held networks, not of candidate subnets.
pub(crate) fn choose(
    defaults: &[DefaultPool],
    v6: bool,
    held: &PoolIndex,
) -> Result<IpNet, AllocError> {
    for d in defaults {
        if is_v6(d.base) != v6 || !d.is_valid() {
            continue;
        }
        if let Some(net) = first_free_subnet(d, held, &mut 0) {
            return Ok(net);
        }
    }
    Err(AllocError::NoDefaultPool {
        family: family_name(v6),
    })
}

/// `probes` counts candidates tried, so tests can hold the skipping to its
/// promise.
fn first_free_subnet(d: &DefaultPool, held: &PoolIndex, probes: &mut usize) -> Option<IpNet> {
    let v6 = is_v6(d.base);
    let (mut start, base_end) = bounds(d.base.trunc());
    loop {
        *probes = probes.saturating_add(1);
        let candidate = net_at(v6, start, d.size)?;
        let (_, end) = bounds(candidate);
        let Some(hit) = held.find_overlap(candidate) else {
            return Some(candidate);
        };
        // A hit containing the candidate ends on a boundary of a shorter
        // prefix, so one past its end is still aligned to `size`.
        let next = end.max(bounds(hit).1).checked_add(1)?;
        if next > base_end {
            return None;
        }
        start = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn dp(base: &str, size: u8) -> DefaultPool {
        DefaultPool::new(net(base), size).unwrap()
    }

    #[test]
    fn new_checks_size() {
        assert!(DefaultPool::new(net("10.0.0.0/16"), 8).is_err());
        assert!(DefaultPool::new(net("10.0.0.0/16"), 33).is_err());
        assert!(DefaultPool::new(net("fd00::/48"), 129).is_err());
        assert_eq!(dp("10.0.0.0/16", 16).base, net("10.0.0.0/16"));
        assert_eq!(dp("10.0.9.9/16", 24).base, net("10.0.0.0/16"));
        assert_eq!(
            DefaultPool::new(net("10.0.0.0/16"), 8)
                .unwrap_err()
                .to_string(),
            "default address pool 10.0.0.0/16 cannot be split into /8 subnets"
        );
    }

    #[test]
    fn dockerd_defaults_are_the_seven_entries() {
        let d = DefaultPool::dockerd_defaults();
        assert_eq!(d.len(), 7);
        assert_eq!(d[0], dp("172.17.0.0/16", 16));
        assert_eq!(d[6], dp("192.168.0.0/16", 20));
        assert!(d.iter().all(DefaultPool::is_valid));
    }

    #[test]
    fn skips_held_and_moves_to_next_entry() {
        let defaults = vec![dp("10.0.0.0/23", 24), dp("10.1.0.0/16", 16)];
        let mut held = PoolIndex::default();
        assert_eq!(choose(&defaults, false, &held), Ok(net("10.0.0.0/24")));
        held.add(net("10.0.0.0/24"));
        assert_eq!(choose(&defaults, false, &held), Ok(net("10.0.1.0/24")));
        held.add(net("10.0.1.128/25"));
        assert_eq!(choose(&defaults, false, &held), Ok(net("10.1.0.0/16")));
        held.add(net("10.0.0.0/8"));
        assert_eq!(
            choose(&defaults, false, &held),
            Err(AllocError::NoDefaultPool { family: "IPv4" })
        );
        assert_eq!(
            choose(&defaults, true, &held),
            Err(AllocError::NoDefaultPool { family: "IPv6" })
        );
    }

    #[test]
    fn invalid_hand_built_entries_are_skipped() {
        let defaults = vec![
            DefaultPool {
                base: net("10.0.0.0/16"),
                size: 8,
            },
            dp("10.2.0.0/16", 24),
        ];
        assert_eq!(
            choose(&defaults, false, &PoolIndex::default()),
            Ok(net("10.2.0.0/24"))
        );
    }

    #[test]
    fn whole_space_bases_do_not_overflow() {
        let defaults = vec![dp("::/0", 0), dp("0.0.0.0/0", 1)];
        let mut held = PoolIndex::default();
        assert_eq!(choose(&defaults, true, &held), Ok(net("::/0")));
        held.add(net("ffff::/16"));
        assert!(choose(&defaults, true, &held).is_err());
        assert_eq!(choose(&defaults, false, &held), Ok(net("0.0.0.0/1")));
        held.add(net("0.0.0.0/1"));
        assert_eq!(choose(&defaults, false, &held), Ok(net("128.0.0.0/1")));
        held.add(net("255.255.255.255/32"));
        assert!(choose(&defaults, false, &held).is_err());
    }

    #[test]
    fn a_held_supernet_is_skipped_in_one_step() {
        let d = dp("10.0.0.0/16", 32);
        let mut held = PoolIndex::default();
        held.add(net("10.0.0.0/17"));
        held.add(net("10.0.128.0/18"));
        let mut probes = 0;
        assert_eq!(
            first_free_subnet(&d, &held, &mut probes),
            Some(net("10.0.192.0/32"))
        );
        assert_eq!(probes, 3);
    }

    #[test]
    fn probes_grow_with_held_pools_not_candidates() {
        let d = dp("fd00:1::/48", 64);
        let mut held = PoolIndex::default();
        for i in 0..100u32 {
            held.add(net(&format!("fd00:1:0:{i:x}::/64")));
        }
        let mut probes = 0;
        assert_eq!(
            first_free_subnet(&d, &held, &mut probes),
            Some(net("fd00:1:0:64::/64"))
        );
        assert_eq!(probes, 101);
    }

    #[test]
    fn v6_48_into_64s_skips_a_run_of_held_subnets() {
        let defaults = vec![dp("fd00:1::/48", 64)];
        let mut held = PoolIndex::default();
        for i in 0..1000u32 {
            let n = format!("fd00:1:0:{i:x}::/64");
            held.add(net(&n));
        }
        assert_eq!(choose(&defaults, true, &held), Ok(net("fd00:1:0:3e8::/64")));
        held.add(net("fd00:1::/48"));
        assert!(choose(&defaults, true, &held).is_err());
    }
}
