//! An index of held networks, answering "does anything held overlap this
//! network?" in O(prefix lengths × log n) without walking every pool.
//!
//! CIDR networks either nest or are disjoint, so a held network overlapping
//! `net` either contains it (and then starts at `net`'s start truncated to its
//! own, shorter, prefix) or starts inside it. It stores networks only; which
//! pool owns one, and in which address space, is `Ipam`'s business.

use std::collections::BTreeMap;

use ipnet::IpNet;

use super::addr::{bounds, family_bits, is_v6, net_at, truncate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    v6: bool,
    start: u128,
    prefix: u8,
}

impl Key {
    fn of(net: IpNet) -> Key {
        Key {
            v6: is_v6(net),
            start: bounds(net).0,
            prefix: net.prefix_len(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PoolIndex {
    /// How many pools hold each network: the same CIDR may be held twice
    /// (other address spaces, or a store restored as it was found).
    held: BTreeMap<Key, usize>,
    /// Pools held per prefix length, per family (`[v4, v6]`), so the
    /// containing-network probe only tries lengths that are present.
    by_prefix: [[usize; 129]; 2],
}

impl Default for PoolIndex {
    fn default() -> Self {
        PoolIndex {
            held: BTreeMap::new(),
            by_prefix: [[0; 129]; 2],
        }
    }
}

impl PoolIndex {
    pub(crate) fn add(&mut self, net: IpNet) {
        let key = Key::of(net.trunc());
        let count = self.held.entry(key).or_insert(0);
        *count = count.saturating_add(1);
        if let Some(n) = self.prefix_slot(key.v6, key.prefix) {
            *n = n.saturating_add(1);
        }
    }

    pub(crate) fn remove(&mut self, net: IpNet) {
        let key = Key::of(net.trunc());
        let Some(count) = self.held.get_mut(&key) else {
            return;
        };
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.held.remove(&key);
        }
        if let Some(n) = self.prefix_slot(key.v6, key.prefix) {
            *n = n.saturating_sub(1);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    fn prefix_slot(&mut self, v6: bool, prefix: u8) -> Option<&mut usize> {
        self.by_prefix
            .get_mut(usize::from(v6))
            .and_then(|row| row.get_mut(usize::from(prefix)))
    }

    fn has_prefix(&self, v6: bool, prefix: u8) -> bool {
        self.by_prefix
            .get(usize::from(v6))
            .and_then(|row| row.get(usize::from(prefix)))
            .is_some_and(|&n| n > 0)
    }

    /// A held network overlapping `net`. One containing `net` is preferred,
    /// the largest first, so a caller skipping past it skips furthest.
    pub(crate) fn find_overlap(&self, net: IpNet) -> Option<IpNet> {
        let net = net.trunc();
        let v6 = is_v6(net);
        let (lo, hi) = bounds(net);
        let len = net.prefix_len().min(family_bits(v6));
        for prefix in 0..=len {
            if !self.has_prefix(v6, prefix) {
                continue;
            }
            let key = Key {
                v6,
                start: truncate(v6, lo, prefix),
                prefix,
            };
            if self.held.contains_key(&key) {
                return net_at(v6, key.start, prefix);
            }
        }
        let from = Key {
            v6,
            start: lo,
            prefix: 0,
        };
        let to = Key {
            v6,
            start: hi,
            prefix: u8::MAX,
        };
        self.held
            .range(from..=to)
            .next()
            .and_then(|(k, _)| net_at(v6, k.start, k.prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn finds_containing_contained_and_equal() {
        let mut ix = PoolIndex::default();
        ix.add(net("10.0.0.0/16"));
        ix.add(net("192.168.5.0/24"));
        assert_eq!(
            ix.find_overlap(net("10.0.3.0/24")),
            Some(net("10.0.0.0/16"))
        );
        assert_eq!(
            ix.find_overlap(net("10.0.0.0/16")),
            Some(net("10.0.0.0/16"))
        );
        assert_eq!(ix.find_overlap(net("10.0.0.0/8")), Some(net("10.0.0.0/16")));
        assert_eq!(
            ix.find_overlap(net("192.168.0.0/16")),
            Some(net("192.168.5.0/24"))
        );
        assert_eq!(ix.find_overlap(net("10.1.0.0/16")), None);
        assert!(ix.find_overlap(net("0.0.0.0/0")).is_some());
    }

    #[test]
    fn families_do_not_collide() {
        let mut ix = PoolIndex::default();
        ix.add(net("10.0.0.0/8"));
        // ::a00:0/104 has the same u128 bounds as 10.0.0.0/8.
        assert_eq!(ix.find_overlap(net("::a00:0/104")), None);
        assert_eq!(ix.find_overlap(net("::/0")), None);
    }

    #[test]
    fn counts_duplicates() {
        let mut ix = PoolIndex::default();
        ix.add(net("10.0.0.0/24"));
        ix.add(net("10.0.0.0/24"));
        ix.remove(net("10.0.0.0/24"));
        assert!(ix.find_overlap(net("10.0.0.0/24")).is_some());
        ix.remove(net("10.0.0.0/24"));
        assert!(ix.find_overlap(net("10.0.0.0/24")).is_none());
        assert!(ix.is_empty());
        ix.remove(net("10.0.0.0/24"));
        assert!(ix.is_empty());
    }

    #[test]
    fn edges_of_the_space() {
        let mut ix = PoolIndex::default();
        ix.add(net("::/0"));
        ix.add(net("255.255.255.255/32"));
        assert_eq!(ix.find_overlap(net("ffff::/16")), Some(net("::/0")));
        assert_eq!(
            ix.find_overlap(net("255.255.255.0/24")),
            Some(net("255.255.255.255/32"))
        );
    }
}
