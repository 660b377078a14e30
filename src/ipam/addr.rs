//! Mapping between `IpAddr`/`IpNet` and the `u128` numbers the allocator works on.
//!
//! IPv4 addresses are widened from `u32`, so every bound the allocator computes
//! fits in `u128` without overflow. The family is carried beside the number by
//! the caller; this module never guesses it from the value.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

pub fn to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Inverse of [`to_u128`]. An IPv4 value above `u32::MAX` cannot come from a
/// pool bound, so saturating it keeps this total instead of panicking.
pub fn from_u128(v6: bool, x: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(x))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(x).unwrap_or(u32::MAX)))
    }
}

/// First and last address of a network, inclusive.
pub(crate) fn bounds(net: IpNet) -> (u128, u128) {
    (to_u128(net.network()), to_u128(net.broadcast()))
}

pub(crate) fn is_v6(net: IpNet) -> bool {
    matches!(net, IpNet::V6(_))
}

pub(crate) fn same_family(a: IpAddr, net: IpNet) -> bool {
    a.is_ipv6() == is_v6(net)
}

/// Network whose first address is `start` with prefix length `prefix`; `None`
/// only if the prefix is longer than the family allows.
pub(crate) fn net_at(v6: bool, start: u128, prefix: u8) -> Option<IpNet> {
    IpNet::new(from_u128(v6, start), prefix)
        .ok()
        .map(|n| n.trunc())
}

pub(crate) fn family_bits(v6: bool) -> u8 {
    if v6 { 128 } else { 32 }
}

/// `x` with its lowest `family_bits - prefix` bits cleared (the start of the
/// prefix-`prefix` network containing `x`).
pub(crate) fn truncate(v6: bool, x: u128, prefix: u8) -> u128 {
    let host_bits = u32::from(family_bits(v6).saturating_sub(prefix));
    match u128::MAX.checked_shl(host_bits) {
        Some(mask) => x & mask,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn v4_round_trips_at_the_top_of_the_space() {
        let a: IpAddr = "255.255.255.255".parse().unwrap();
        assert_eq!(to_u128(a), u128::from(u32::MAX));
        assert_eq!(from_u128(false, u128::from(u32::MAX)), a);
    }

    #[test]
    fn v6_round_trips_at_the_top_of_the_space() {
        let a: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap();
        assert_eq!(to_u128(a), u128::MAX);
        assert_eq!(from_u128(true, u128::MAX), a);
    }

    #[test]
    fn bounds_cover_slash_zero() {
        assert_eq!(bounds(net("0.0.0.0/0")), (0, u128::from(u32::MAX)));
        assert_eq!(bounds(net("::/0")), (0, u128::MAX));
        assert_eq!(bounds(net("10.0.0.7/32")), (0x0a00_0007, 0x0a00_0007));
    }

    #[test]
    fn truncate_handles_every_prefix_length() {
        assert_eq!(truncate(false, 0x0a01_0203, 0), 0);
        assert_eq!(truncate(false, 0x0a01_0203, 16), 0x0a01_0000);
        assert_eq!(truncate(false, 0x0a01_0203, 32), 0x0a01_0203);
        assert_eq!(truncate(true, u128::MAX, 0), 0);
        assert_eq!(truncate(true, u128::MAX, 128), u128::MAX);
        assert_eq!(truncate(true, u128::MAX, 64), u128::MAX << 64);
    }

    #[test]
    fn net_at_rejects_overlong_prefix() {
        assert_eq!(net_at(false, 0x0a00_0000, 8), Some(net("10.0.0.0/8")));
        assert_eq!(net_at(false, 0, 33), None);
        assert_eq!(net_at(true, 0, 129), None);
    }
}
