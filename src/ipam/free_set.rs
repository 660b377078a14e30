//! The set of free addresses of one pool, kept as disjoint, merged intervals.
//!
//! Every operation is O(log n) in the number of intervals, never in the number
//! of addresses, so a nearly full /16 or a sparse IPv6 /64 cost the same. It
//! knows nothing of networks, reserved addresses or families: `Pool` decides
//! which numbers go in, and the caller persists whatever is taken out.

use std::collections::BTreeMap;
use std::ops::Bound;

/// Free numbers in `u128` space, as a map from interval start to inclusive end.
///
/// Invariant: intervals are disjoint and never adjacent (touching intervals are
/// merged), so the map is the unique minimal description of the set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FreeSet {
    intervals: BTreeMap<u128, u128>,
    /// Number of free addresses modulo 2^128. Only the full `[0, u128::MAX]`
    /// set has 2^128 members; it wraps to 0 and is told apart from the empty
    /// set by the map being non-empty.
    free: u128,
}

/// Members of `[start, end]`, modulo 2^128 (see [`FreeSet::free`]).
fn span(start: u128, end: u128) -> u128 {
    end.wrapping_sub(start).wrapping_add(1)
}

impl FreeSet {
    /// A set with no free address.
    pub fn new_empty() -> Self {
        Self::default()
    }

    /// Every address in `[start, end]` free; empty if `start > end`.
    pub fn new_full(start: u128, end: u128) -> Self {
        let mut set = Self::default();
        if start <= end {
            set.intervals.insert(start, end);
            set.free = span(start, end);
        }
        set
    }

    /// The interval holding `x`, if `x` is free.
    fn interval_of(&self, x: u128) -> Option<(u128, u128)> {
        self.intervals
            .range(..=x)
            .next_back()
            .filter(|&(_, &end)| end >= x)
            .map(|(&start, &end)| (start, end))
    }

    /// Marks `x` allocated; `false` if it was not free.
    pub fn remove(&mut self, x: u128) -> bool {
        let Some((start, end)) = self.interval_of(x) else {
            return false;
        };
        self.split_out(start, end, x);
        true
    }

    /// Removes `x` from its free interval `[start, end]`: the interval shrinks
    /// in place or splits in two. One lookup was already paid by the caller.
    fn split_out(&mut self, start: u128, end: u128, x: u128) {
        match x.checked_sub(1) {
            // The key stays; only its end moves.
            Some(prev) if start <= prev => {
                if let Some(e) = self.intervals.get_mut(&start) {
                    *e = prev;
                }
            }
            _ => {
                self.intervals.remove(&start);
            }
        }
        if let Some(next) = x.checked_add(1).filter(|&n| n <= end) {
            self.intervals.insert(next, end);
        }
        self.free = self.free.wrapping_sub(1);
    }

    /// Marks `x` free, merging with its neighbours; `false` if already free.
    pub fn insert(&mut self, x: u128) -> bool {
        let before = self
            .intervals
            .range(..=x)
            .next_back()
            .map(|(&s, &e)| (s, e));
        if let Some((_, end)) = before {
            if end >= x {
                return false;
            }
        }
        let right_end = x
            .checked_add(1)
            .and_then(|after| self.intervals.remove(&after));
        let end = right_end.unwrap_or(x);
        // A left neighbour ends at x - 1; extending it in place keeps its key.
        let left = before.filter(|&(_, e)| e.checked_add(1) == Some(x));
        match left.and_then(|(start, _)| self.intervals.get_mut(&start)) {
            Some(e) => *e = end,
            None => {
                self.intervals.insert(x, end);
            }
        }
        self.free = self.free.wrapping_add(1);
        true
    }

    pub fn contains(&self, x: u128) -> bool {
        self.interval_of(x).is_some()
    }

    /// The free interval holding the lowest free address in `[lo, hi]`, and
    /// that address.
    fn first_in(&self, lo: u128, hi: u128) -> Option<(u128, u128, u128)> {
        if lo > hi {
            return None;
        }
        if let Some((start, end)) = self.interval_of(lo) {
            return Some((start, end, lo));
        }
        self.intervals
            .range((Bound::Excluded(lo), Bound::Included(hi)))
            .next()
            .map(|(&start, &end)| (start, end, start))
    }

    /// [`FreeSet::next_free_from`] returning the interval too.
    fn next_in(&self, from: u128, lo: u128, hi: u128) -> Option<(u128, u128, u128)> {
        match from.checked_sub(1) {
            Some(before) if lo <= before && from <= hi => self
                .first_in(from, hi)
                .or_else(|| self.first_in(lo, before)),
            _ => self.first_in(lo, hi),
        }
    }

    /// Lowest free address in `[lo, hi]`.
    pub fn first_free_in(&self, lo: u128, hi: u128) -> Option<u128> {
        self.first_in(lo, hi).map(|(_, _, x)| x)
    }

    /// Lowest free address `>= from` in `[lo, hi]`, else wraps round to the
    /// lowest free one in `[lo, from - 1]`. A `from` outside `[lo, hi]` starts
    /// the search at `lo`.
    pub fn next_free_from(&self, from: u128, lo: u128, hi: u128) -> Option<u128> {
        self.next_in(from, lo, hi).map(|(_, _, x)| x)
    }

    /// [`FreeSet::first_free_in`] and [`FreeSet::remove`] in one search.
    pub fn take_first_in(&mut self, lo: u128, hi: u128) -> Option<u128> {
        let (start, end, x) = self.first_in(lo, hi)?;
        self.split_out(start, end, x);
        Some(x)
    }

    /// [`FreeSet::next_free_from`] and [`FreeSet::remove`] in one search.
    pub fn take_next_from(&mut self, from: u128, lo: u128, hi: u128) -> Option<u128> {
        let (start, end, x) = self.next_in(from, lo, hi)?;
        self.split_out(start, end, x);
        Some(x)
    }

    /// Number of free addresses. Saturates at `u128::MAX` for the one set that
    /// has more, the whole `[0, u128::MAX]`.
    pub fn free_count(&self) -> u128 {
        if self.free == 0 && !self.intervals.is_empty() {
            u128::MAX
        } else {
            self.free
        }
    }

    pub fn interval_count(&self) -> usize {
        self.intervals.len()
    }

    /// The free intervals in ascending order, as inclusive `(start, end)`.
    pub fn intervals(&self) -> impl Iterator<Item = (u128, u128)> {
        self.intervals.iter().map(|(&s, &e)| (s, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivs(set: &FreeSet) -> Vec<(u128, u128)> {
        set.intervals().collect()
    }

    #[test]
    fn new_full_and_empty() {
        let s = FreeSet::new_full(10, 20);
        assert_eq!(ivs(&s), vec![(10, 20)]);
        assert_eq!(s.free_count(), 11);
        let e = FreeSet::new_full(20, 10);
        assert_eq!(e.interval_count(), 0);
        assert_eq!(e.free_count(), 0);
        assert_eq!(FreeSet::new_empty(), e);
    }

    #[test]
    fn remove_splits_and_insert_merges() {
        let mut s = FreeSet::new_full(0, 9);
        assert!(s.remove(5));
        assert!(!s.remove(5));
        assert_eq!(ivs(&s), vec![(0, 4), (6, 9)]);
        assert!(s.remove(0));
        assert!(s.remove(9));
        assert_eq!(ivs(&s), vec![(1, 4), (6, 8)]);
        assert_eq!(s.free_count(), 7);
        assert!(s.insert(5));
        assert!(!s.insert(5));
        assert_eq!(ivs(&s), vec![(1, 8)]);
        assert!(s.insert(0));
        assert!(s.insert(9));
        assert_eq!(ivs(&s), vec![(0, 9)]);
        assert_eq!(s.free_count(), 10);
    }

    #[test]
    fn insert_merges_left_only_right_only_and_isolated() {
        let mut s = FreeSet::new_empty();
        assert!(s.insert(5));
        assert!(s.insert(6)); // left neighbour
        assert!(s.insert(4)); // right neighbour
        assert!(s.insert(10)); // isolated
        assert_eq!(ivs(&s), vec![(4, 6), (10, 10)]);
        assert_eq!(s.free_count(), 4);
    }

    #[test]
    fn whole_u128_space_saturates_count_and_does_not_overflow() {
        let mut s = FreeSet::new_full(0, u128::MAX);
        assert_eq!(s.free_count(), u128::MAX);
        assert!(s.contains(u128::MAX));
        assert!(s.remove(u128::MAX));
        assert_eq!(s.free_count(), u128::MAX);
        assert!(s.remove(0));
        assert_eq!(s.free_count(), u128::MAX - 1);
        assert_eq!(s.first_free_in(0, u128::MAX), Some(1));
        assert!(s.insert(u128::MAX));
        assert!(s.insert(0));
        assert_eq!(ivs(&s), vec![(0, u128::MAX)]);
        assert_eq!(s.free_count(), u128::MAX);
    }

    #[test]
    fn edges_at_zero_and_max() {
        let mut s = FreeSet::new_empty();
        assert!(s.insert(0));
        assert!(s.insert(u128::MAX));
        assert_eq!(ivs(&s), vec![(0, 0), (u128::MAX, u128::MAX)]);
        assert_eq!(s.next_free_from(u128::MAX, 0, u128::MAX), Some(u128::MAX));
        assert!(s.remove(u128::MAX));
        assert_eq!(s.next_free_from(u128::MAX, 0, u128::MAX), Some(0));
    }

    #[test]
    fn first_free_in_bounds() {
        let mut s = FreeSet::new_full(0, 99);
        for x in 10..20 {
            s.remove(x);
        }
        assert_eq!(s.first_free_in(10, 19), None);
        assert_eq!(s.first_free_in(10, 20), Some(20));
        assert_eq!(s.first_free_in(5, 30), Some(5));
        assert_eq!(s.first_free_in(30, 5), None);
        assert_eq!(s.first_free_in(100, 200), None);
    }

    #[test]
    fn next_free_from_wraps() {
        let mut s = FreeSet::new_full(0, 9);
        for x in 4..=9 {
            s.remove(x);
        }
        assert_eq!(s.next_free_from(2, 0, 9), Some(2));
        assert_eq!(s.next_free_from(5, 0, 9), Some(0));
        assert_eq!(s.next_free_from(5, 1, 9), Some(1));
        assert_eq!(s.next_free_from(5, 4, 9), None);
        // from outside the window starts at lo
        assert_eq!(s.next_free_from(50, 1, 9), Some(1));
        assert_eq!(s.next_free_from(0, 1, 9), Some(1));
    }
}
