//! One address pool: its CIDR, the optional sub-range for dynamic addresses
//! (`docker network create --ip-range`), the free addresses and a next-fit cursor.
//!
//! It only decides which address to hand out or take back; the caller records
//! the result in the store and rebuilds a pool at startup with [`Pool::restore`].

use std::net::IpAddr;

use ipnet::IpNet;

use super::AllocError;
use super::addr::{bounds, from_u128, is_v6, same_family, to_u128};
use super::free_set::FreeSet;

/// Why [`Pool::restore_detailed`] did or did not mark an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// Newly marked as allocated.
    Marked,
    /// Already allocated: the store holds it twice.
    AlreadyMarked,
    /// The network or broadcast address: never handed out, so nothing to mark.
    Reserved,
    /// Outside the pool's CIDR or of the other family.
    NotInPool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    cidr: IpNet,
    range: Option<IpNet>,
    v6: bool,
    /// Addresses that may ever be handed out: the CIDR less its network and
    /// (IPv4) broadcast addresses. Never empty, and never all of `u128`.
    usable: (u128, u128),
    /// `usable` narrowed to `range`; `None` when the range holds only
    /// reserved addresses, so every dynamic request is exhausted.
    dynamic: Option<(u128, u128)>,
    free: FreeSet,
    /// Where the next dynamic search starts: one past the last dynamic
    /// address, so a just-released address is not reused at once.
    cursor: u128,
}

/// Checks a `--ip-range` against its `--subnet`.
pub(crate) fn validate_range(cidr: IpNet, range: Option<IpNet>) -> Result<(), AllocError> {
    let Some(range) = range else {
        return Ok(());
    };
    if is_v6(range) != is_v6(cidr) {
        return Err(AllocError::FamilyMismatch {
            range: range.trunc(),
            pool: cidr.trunc(),
        });
    }
    if !cidr.trunc().contains(&range.trunc()) {
        return Err(AllocError::RangeOutsidePool {
            range: range.trunc(),
            pool: cidr.trunc(),
        });
    }
    Ok(())
}

/// Usable bounds of a CIDR. Point-to-point (/31, /127) and host (/32, /128)
/// networks have no network or broadcast address to spare (RFC 3021, RFC 6164).
fn usable_bounds(cidr: IpNet) -> (u128, u128) {
    let (lo, hi) = bounds(cidr);
    match cidr {
        IpNet::V4(n) if n.prefix_len() < 31 => (lo.saturating_add(1), hi.saturating_sub(1)),
        IpNet::V6(n) if n.prefix_len() < 127 => (lo.saturating_add(1), hi),
        _ => (lo, hi),
    }
}

impl Pool {
    /// A pool with every usable address free. Host bits of `cidr` and `range`
    /// are cleared, as Docker does.
    pub fn new(cidr: IpNet, range: Option<IpNet>) -> Result<Pool, AllocError> {
        validate_range(cidr, range)?;
        let cidr = cidr.trunc();
        let range = range.map(|r| r.trunc());
        let usable = usable_bounds(cidr);
        let dynamic = match range {
            None => Some(usable),
            Some(r) => {
                let (rlo, rhi) = bounds(r);
                let lo = rlo.max(usable.0);
                let hi = rhi.min(usable.1);
                (lo <= hi).then_some((lo, hi))
            }
        };
        Ok(Pool {
            cidr,
            range,
            v6: is_v6(cidr),
            usable,
            dynamic,
            free: FreeSet::new_full(usable.0, usable.1),
            cursor: dynamic.map_or(usable.0, |(lo, _)| lo),
        })
    }

    pub fn cidr(&self) -> IpNet {
        self.cidr
    }

    pub fn range(&self) -> Option<IpNet> {
        self.range
    }

    /// The network dynamic addresses come from, for error messages.
    fn dynamic_net(&self) -> IpNet {
        self.range.unwrap_or(self.cidr)
    }

    /// `Some(n)` if `addr` is a usable address of this pool.
    fn usable_index(&self, addr: IpAddr) -> Option<u128> {
        let x = to_u128(addr);
        (same_family(addr, self.cidr) && self.usable.0 <= x && x <= self.usable.1).then_some(x)
    }

    fn addr(&self, x: u128) -> IpAddr {
        from_u128(self.v6, x)
    }

    /// Dynamic address, next-fit from the cursor within the range (or the
    /// whole pool), wrapping round at its end.
    pub fn allocate_next(&mut self) -> Result<IpAddr, AllocError> {
        let exhausted = AllocError::Exhausted {
            range: self.dynamic_net(),
        };
        let Some((lo, hi)) = self.dynamic else {
            return Err(exhausted);
        };
        let Some(x) = self.free.take_next_from(self.cursor, lo, hi) else {
            return Err(exhausted);
        };
        self.cursor = x.checked_add(1).filter(|&n| n <= hi).unwrap_or(lo);
        Ok(self.addr(x))
    }

    /// Lowest free usable address of the whole pool, ignoring the range: the
    /// gateway Docker asks for without naming one (normally network + 1).
    /// Leaves the dynamic cursor where it was.
    pub fn allocate_first(&mut self) -> Result<IpAddr, AllocError> {
        let Some(x) = self.free.take_first_in(self.usable.0, self.usable.1) else {
            return Err(AllocError::Exhausted { range: self.cidr });
        };
        Ok(self.addr(x))
    }

    /// A named address (`--ip`, `--gateway`, `--aux-address`): anywhere in the
    /// CIDR, inside the range or not.
    pub fn allocate_specific(&mut self, addr: IpAddr) -> Result<(), AllocError> {
        let x = to_u128(addr);
        if !same_family(addr, self.cidr) || !self.cidr.contains(&addr) {
            return Err(AllocError::NotInPool {
                addr,
                pool: self.cidr,
            });
        }
        if x < self.usable.0 || x > self.usable.1 {
            return Err(AllocError::Reserved {
                addr,
                pool: self.cidr,
            });
        }
        if !self.free.remove(x) {
            return Err(AllocError::InUse {
                addr,
                pool: self.cidr,
            });
        }
        Ok(())
    }

    /// Re-marks an address read back from the store; `true` only if newly
    /// marked. Never fails, so one odd record cannot stop startup.
    pub fn restore(&mut self, addr: IpAddr) -> bool {
        self.restore_detailed(addr) == RestoreOutcome::Marked
    }

    /// [`Pool::restore`], telling a duplicate record from one the pool could
    /// never have handed out.
    pub fn restore_detailed(&mut self, addr: IpAddr) -> RestoreOutcome {
        if !same_family(addr, self.cidr) || !self.cidr.contains(&addr) {
            return RestoreOutcome::NotInPool;
        }
        match self.usable_index(addr) {
            None => RestoreOutcome::Reserved,
            Some(x) if self.free.remove(x) => RestoreOutcome::Marked,
            Some(_) => RestoreOutcome::AlreadyMarked,
        }
    }

    /// Frees an address; `true` if it was allocated. Idempotent.
    pub fn release(&mut self, addr: IpAddr) -> bool {
        match self.usable_index(addr) {
            Some(x) => self.free.insert(x),
            None => false,
        }
    }

    /// `true` if `addr` was handed out (or restored) and not released.
    /// Network and broadcast addresses are reserved, not allocated: `false`.
    pub fn is_allocated(&self, addr: IpAddr) -> bool {
        self.usable_index(addr)
            .is_some_and(|x| !self.free.contains(x))
    }

    pub fn allocated_count(&self) -> u128 {
        self.usable_count().saturating_sub(self.free.free_count())
    }

    /// Usable addresses left, range or not.
    pub fn free_count(&self) -> u128 {
        self.free.free_count()
    }

    /// Addresses that can ever be allocated: the CIDR less reserved ones.
    pub fn usable_count(&self) -> u128 {
        self.usable
            .1
            .saturating_sub(self.usable.0)
            .saturating_add(1)
    }

    /// The free addresses, for inspection.
    pub fn free_set(&self) -> &FreeSet {
        &self.free
    }

    /// `addr` with the pool's prefix length, as Docker wants it (10.0.0.5/24).
    /// An address of the other family keeps its own full length instead.
    pub fn with_prefix(&self, addr: IpAddr) -> IpNet {
        IpNet::new(addr, self.cidr.prefix_len()).unwrap_or_else(|_| IpNet::from(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pool(cidr: &str, range: Option<&str>) -> Pool {
        Pool::new(net(cidr), range.map(net)).unwrap()
    }

    fn drain(p: &mut Pool) -> Vec<IpAddr> {
        let mut out = Vec::new();
        while let Ok(a) = p.allocate_next() {
            out.push(a);
            assert!(out.len() <= 1 << 12, "runaway allocation");
        }
        out
    }

    #[test]
    fn v4_slash_24_skips_network_and_broadcast() {
        let mut p = pool("10.0.0.0/24", None);
        assert_eq!(p.usable_count(), 254);
        let all = drain(&mut p);
        assert_eq!(all.len(), 254);
        assert_eq!(all.first(), Some(&ip("10.0.0.1")));
        assert_eq!(all.last(), Some(&ip("10.0.0.254")));
        assert_eq!(
            p.allocate_next(),
            Err(AllocError::Exhausted {
                range: net("10.0.0.0/24")
            })
        );
        assert_eq!(p.allocated_count(), 254);
    }

    #[test]
    fn v4_slash_30_has_two_hosts() {
        let mut p = pool("192.168.1.4/30", None);
        assert_eq!(drain(&mut p), vec![ip("192.168.1.5"), ip("192.168.1.6")]);
    }

    #[test]
    fn v4_slash_31_and_32_use_every_address() {
        let mut p = pool("192.168.1.4/31", None);
        assert_eq!(drain(&mut p), vec![ip("192.168.1.4"), ip("192.168.1.5")]);
        let mut p = pool("192.168.1.9/32", None);
        assert_eq!(p.cidr(), net("192.168.1.9/32"));
        assert_eq!(drain(&mut p), vec![ip("192.168.1.9")]);
        assert!(p.release(ip("192.168.1.9")));
        assert_eq!(p.allocate_specific(ip("192.168.1.9")), Ok(()));
    }

    #[test]
    fn v6_slash_127_and_128_use_every_address() {
        let mut p = pool("2001:db8::/127", None);
        assert_eq!(drain(&mut p), vec![ip("2001:db8::"), ip("2001:db8::1")]);
        let mut p = pool("2001:db8::5/128", None);
        assert_eq!(drain(&mut p), vec![ip("2001:db8::5")]);
    }

    #[test]
    fn v6_keeps_last_address_but_not_network() {
        let mut p = pool("2001:db8::/126", None);
        assert_eq!(
            drain(&mut p),
            vec![ip("2001:db8::1"), ip("2001:db8::2"), ip("2001:db8::3")]
        );
        assert_eq!(
            p.allocate_specific(ip("2001:db8::")),
            Err(AllocError::Reserved {
                addr: ip("2001:db8::"),
                pool: net("2001:db8::/126")
            })
        );
    }

    #[test]
    fn v6_slash_64_allocates_without_scanning() {
        let mut p = pool("fd00:1:2:3::/64", None);
        assert_eq!(p.usable_count(), (1u128 << 64) - 1);
        assert_eq!(p.allocate_next(), Ok(ip("fd00:1:2:3::1")));
        assert_eq!(p.allocate_first(), Ok(ip("fd00:1:2:3::2")));
        assert_eq!(
            p.allocate_specific(ip("fd00:1:2:3:ffff:ffff:ffff:ffff")),
            Ok(())
        );
        assert_eq!(p.allocated_count(), 3);
    }

    #[test]
    fn v4_slash_0_edges() {
        let mut p = pool("0.0.0.0/0", None);
        assert_eq!(p.usable_count(), u128::from(u32::MAX) - 1);
        assert_eq!(p.allocate_next(), Ok(ip("0.0.0.1")));
        assert_eq!(p.allocate_specific(ip("255.255.255.254")), Ok(()));
        assert!(matches!(
            p.allocate_specific(ip("255.255.255.255")),
            Err(AllocError::Reserved { .. })
        ));
        assert!(matches!(
            p.allocate_specific(ip("0.0.0.0")),
            Err(AllocError::Reserved { .. })
        ));
    }

    #[test]
    fn v6_slash_0_edges() {
        let mut p = pool("::/0", None);
        assert_eq!(p.usable_count(), u128::MAX);
        assert_eq!(p.free_count(), u128::MAX);
        assert_eq!(p.allocated_count(), 0);
        let top = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert_eq!(p.allocate_specific(top), Ok(()));
        assert!(p.is_allocated(top));
        assert_eq!(p.allocated_count(), 1);
        assert!(p.release(top));
        assert!(!p.release(top));
    }

    #[test]
    fn range_at_the_very_end_of_v4_space_wraps_without_overflow() {
        let mut p = pool("255.255.255.0/24", Some("255.255.255.252/30"));
        // The range's last address is the pool's broadcast, so it is skipped.
        let got = drain(&mut p);
        assert_eq!(
            got,
            vec![
                ip("255.255.255.252"),
                ip("255.255.255.253"),
                ip("255.255.255.254")
            ]
        );
        assert!(p.release(ip("255.255.255.253")));
        assert_eq!(p.allocate_next(), Ok(ip("255.255.255.253")));
    }

    #[test]
    fn range_at_the_very_end_of_v6_space_wraps_without_overflow() {
        let mut p = pool(
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120",
            Some("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc/126"),
        );
        let got = drain(&mut p);
        assert_eq!(got.len(), 4);
        assert_eq!(
            got.last(),
            Some(&ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        );
        assert!(p.release(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd")));
        assert_eq!(
            p.allocate_next(),
            Ok(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd"))
        );
        let mut p = pool("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", None);
        assert_eq!(drain(&mut p).len(), 2);
    }

    #[test]
    fn range_equal_to_pool_behaves_like_no_range() {
        let mut a = pool("10.1.0.0/29", Some("10.1.0.0/29"));
        let mut b = pool("10.1.0.0/29", None);
        assert_eq!(drain(&mut a), drain(&mut b));
        assert_eq!(
            a.allocate_next(),
            Err(AllocError::Exhausted {
                range: net("10.1.0.0/29")
            })
        );
    }

    #[test]
    fn range_limits_dynamic_but_not_specific_or_first() {
        let mut p = pool("10.0.0.0/24", Some("10.0.0.128/30"));
        assert_eq!(
            drain(&mut p),
            vec![
                ip("10.0.0.128"),
                ip("10.0.0.129"),
                ip("10.0.0.130"),
                ip("10.0.0.131")
            ]
        );
        assert_eq!(
            p.allocate_next(),
            Err(AllocError::Exhausted {
                range: net("10.0.0.128/30")
            })
        );
        assert_eq!(p.allocate_first(), Ok(ip("10.0.0.1")));
        assert_eq!(p.allocate_specific(ip("10.0.0.200")), Ok(()));
    }

    #[test]
    fn range_of_only_reserved_addresses_is_always_exhausted() {
        let mut p = pool("10.0.0.0/24", Some("10.0.0.255/32"));
        assert!(matches!(
            p.allocate_next(),
            Err(AllocError::Exhausted { .. })
        ));
        assert_eq!(p.allocate_first(), Ok(ip("10.0.0.1")));
    }

    #[test]
    fn next_fit_does_not_reuse_a_just_released_address() {
        let mut p = pool("10.0.0.0/29", None);
        let a = p.allocate_next().unwrap();
        assert!(p.release(a));
        let b = p.allocate_next().unwrap();
        assert_ne!(a, b);
        // After the end it wraps to the freed low address.
        let rest = drain(&mut p);
        assert_eq!(rest.last(), Some(&a));
    }

    #[test]
    fn allocate_first_leaves_cursor_alone() {
        let mut p = pool("10.0.0.0/29", None);
        assert_eq!(p.allocate_next(), Ok(ip("10.0.0.1")));
        assert_eq!(p.allocate_next(), Ok(ip("10.0.0.2")));
        assert!(p.release(ip("10.0.0.1")));
        assert_eq!(p.allocate_first(), Ok(ip("10.0.0.1")));
        assert_eq!(p.allocate_next(), Ok(ip("10.0.0.3")));
    }

    #[test]
    fn allocate_first_exhausts_whole_pool() {
        let mut p = pool("10.0.0.0/30", Some("10.0.0.0/31"));
        assert_eq!(p.allocate_first(), Ok(ip("10.0.0.1")));
        assert_eq!(p.allocate_first(), Ok(ip("10.0.0.2")));
        assert_eq!(
            p.allocate_first(),
            Err(AllocError::Exhausted {
                range: net("10.0.0.0/30")
            })
        );
    }

    #[test]
    fn allocate_specific_errors() {
        let mut p = pool("10.0.0.0/24", None);
        let pool_net = net("10.0.0.0/24");
        assert_eq!(
            p.allocate_specific(ip("10.0.1.1")),
            Err(AllocError::NotInPool {
                addr: ip("10.0.1.1"),
                pool: pool_net
            })
        );
        assert_eq!(
            p.allocate_specific(ip("::a00:1")),
            Err(AllocError::NotInPool {
                addr: ip("::a00:1"),
                pool: pool_net
            })
        );
        for r in ["10.0.0.0", "10.0.0.255"] {
            assert_eq!(
                p.allocate_specific(ip(r)),
                Err(AllocError::Reserved {
                    addr: ip(r),
                    pool: pool_net
                })
            );
        }
        assert_eq!(p.allocate_specific(ip("10.0.0.7")), Ok(()));
        assert_eq!(
            p.allocate_specific(ip("10.0.0.7")),
            Err(AllocError::InUse {
                addr: ip("10.0.0.7"),
                pool: pool_net
            })
        );
    }

    #[test]
    fn error_messages_name_the_pool() {
        let mut p = pool("10.0.0.0/24", None);
        p.allocate_specific(ip("10.0.0.7")).unwrap();
        let e = p.allocate_specific(ip("10.0.0.7")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "address 10.0.0.7 is already in use in pool 10.0.0.0/24"
        );
    }

    #[test]
    fn release_is_idempotent_and_ignores_reserved_and_foreign() {
        let mut p = pool("10.0.0.0/24", None);
        let a = p.allocate_next().unwrap();
        assert!(p.is_allocated(a));
        assert!(p.release(a));
        assert!(!p.release(a));
        assert!(!p.is_allocated(a));
        assert!(!p.release(ip("10.0.0.0")));
        assert!(!p.release(ip("10.0.0.255")));
        assert!(!p.release(ip("10.9.9.9")));
        assert!(!p.release(ip("::1")));
        assert_eq!(p.allocated_count(), 0);
    }

    #[test]
    fn restore_accepts_anything_and_reports_why() {
        let mut p = pool("10.0.0.0/24", Some("10.0.0.0/28"));
        assert!(p.restore(ip("10.0.0.200")));
        assert!(!p.restore(ip("10.0.0.200")));
        assert_eq!(
            p.restore_detailed(ip("10.0.0.200")),
            RestoreOutcome::AlreadyMarked
        );
        assert_eq!(p.restore_detailed(ip("10.0.0.0")), RestoreOutcome::Reserved);
        assert_eq!(
            p.restore_detailed(ip("10.0.0.255")),
            RestoreOutcome::Reserved
        );
        assert_eq!(
            p.restore_detailed(ip("10.0.1.0")),
            RestoreOutcome::NotInPool
        );
        assert_eq!(p.restore_detailed(ip("fe80::1")), RestoreOutcome::NotInPool);
        assert_eq!(p.restore_detailed(ip("10.0.0.1")), RestoreOutcome::Marked);
        assert_eq!(p.allocated_count(), 2);
        assert_eq!(p.allocate_next(), Ok(ip("10.0.0.2")));
    }

    #[test]
    fn new_validates_range() {
        assert_eq!(
            Pool::new(net("10.0.0.0/24"), Some(net("10.0.1.0/28"))),
            Err(AllocError::RangeOutsidePool {
                range: net("10.0.1.0/28"),
                pool: net("10.0.0.0/24")
            })
        );
        assert_eq!(
            Pool::new(net("10.0.0.0/24"), Some(net("10.0.0.0/23"))),
            Err(AllocError::RangeOutsidePool {
                range: net("10.0.0.0/23"),
                pool: net("10.0.0.0/24")
            })
        );
        assert_eq!(
            Pool::new(net("10.0.0.0/24"), Some(net("fd00::/120"))),
            Err(AllocError::FamilyMismatch {
                range: net("fd00::/120"),
                pool: net("10.0.0.0/24")
            })
        );
    }

    #[test]
    fn new_clears_host_bits() {
        let p = pool("10.0.0.77/24", Some("10.0.0.133/25"));
        assert_eq!(p.cidr(), net("10.0.0.0/24"));
        assert_eq!(p.range(), Some(net("10.0.0.128/25")));
    }

    #[test]
    fn with_prefix_uses_pool_length() {
        let p = pool("10.0.0.0/24", None);
        assert_eq!(p.with_prefix(ip("10.0.0.5")), net("10.0.0.5/24"));
        let p6 = pool("fd00::/64", None);
        assert_eq!(p6.with_prefix(ip("fd00::5")), net("fd00::5/64"));
        // Wrong family: falls back to a host prefix instead of panicking.
        let p6 = pool("fd00::/100", None);
        assert_eq!(p6.with_prefix(ip("10.0.0.5")), net("10.0.0.5/32"));
    }
}
