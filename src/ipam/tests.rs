//! Tests across the module: `Ipam` behaviour and property tests of `Pool`,
//! `FreeSet` and default-pool choice against plain `BTreeSet` models.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use proptest::prelude::*;

use super::addr::{bounds, from_u128, net_at, to_u128};
use super::*;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn pool(cidr: &str) -> Pool {
    Pool::new(net(cidr), None).unwrap()
}

// ---- Ipam unit tests -------------------------------------------------------

#[test]
fn check_explicit_overlap_in_same_space_is_refused() {
    let mut ipam = Ipam::new(vec![]);
    ipam.insert("a".into(), "local".into(), pool("10.0.0.0/16"))
        .unwrap();
    let err = ipam
        .check_explicit("local", net("10.0.5.0/24"), None)
        .unwrap_err();
    assert_eq!(
        err,
        AllocError::Overlap {
            pool: net("10.0.5.0/24"),
            existing: net("10.0.0.0/16"),
            space: "local".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "pool 10.0.5.0/24 overlaps pool 10.0.0.0/16 already in use in address space \"local\""
    );
    // Larger than the held one.
    assert!(
        ipam.check_explicit("local", net("10.0.0.0/8"), None)
            .is_err()
    );
    // Identical.
    assert!(
        ipam.check_explicit("local", net("10.0.0.0/16"), None)
            .is_err()
    );
    // Disjoint neighbours.
    assert!(
        ipam.check_explicit("local", net("10.1.0.0/16"), None)
            .is_ok()
    );
    assert!(
        ipam.check_explicit("local", net("9.255.255.0/24"), None)
            .is_ok()
    );
}

#[test]
fn check_explicit_overlap_across_spaces_is_allowed() {
    let mut ipam = Ipam::new(vec![]);
    ipam.insert("a".into(), "local".into(), pool("10.0.0.0/16"))
        .unwrap();
    assert!(
        ipam.check_explicit("global", net("10.0.0.0/16"), None)
            .is_ok()
    );
    assert!(
        ipam.check_explicit("global", net("10.0.1.0/24"), None)
            .is_ok()
    );
    ipam.insert("b".into(), "global".into(), pool("10.0.1.0/24"))
        .unwrap();
    assert!(
        ipam.check_explicit("global", net("10.0.0.0/16"), None)
            .is_err()
    );
    // Removing frees the space again.
    assert!(ipam.remove("a").is_some());
    assert!(
        ipam.check_explicit("local", net("10.0.5.0/24"), None)
            .is_ok()
    );
}

#[test]
fn check_explicit_validates_range_and_families() {
    let ipam = Ipam::new(vec![]);
    assert_eq!(
        ipam.check_explicit("local", net("10.0.0.0/24"), Some(net("10.0.1.0/25"))),
        Err(AllocError::RangeOutsidePool {
            range: net("10.0.1.0/25"),
            pool: net("10.0.0.0/24")
        })
    );
    assert!(matches!(
        ipam.check_explicit("local", net("10.0.0.0/24"), Some(net("fd00::/120"))),
        Err(AllocError::FamilyMismatch { .. })
    ));
    assert!(
        ipam.check_explicit("local", net("10.0.0.0/24"), Some(net("10.0.0.0/24")))
            .is_ok()
    );
}

#[test]
fn check_explicit_v4_and_v6_never_overlap() {
    let mut ipam = Ipam::new(vec![]);
    ipam.insert("a".into(), "local".into(), pool("0.0.0.0/0"))
        .unwrap();
    assert!(ipam.check_explicit("local", net("::/0"), None).is_ok());
}

#[test]
fn choose_default_skips_pools_of_any_space() {
    let mut ipam = Ipam::new(vec![DefaultPool::new(net("172.16.0.0/14"), 16).unwrap()]);
    ipam.insert("x".into(), "other".into(), pool("172.16.3.0/24"))
        .unwrap();
    ipam.insert("y".into(), "local".into(), pool("172.17.0.0/16"))
        .unwrap();
    assert_eq!(ipam.choose_default(false), Ok(net("172.18.0.0/16")));
    assert_eq!(
        ipam.choose_default(true),
        Err(AllocError::NoDefaultPool { family: "IPv6" })
    );
    assert_eq!(
        ipam.choose_default(true).unwrap_err().to_string(),
        "no free IPv6 pool left in the default address pools"
    );
}

#[test]
fn choose_default_returns_released_subnets_again() {
    let mut ipam = Ipam::new(DefaultPool::dockerd_defaults());
    let first = ipam.choose_default(false).unwrap();
    assert_eq!(first, net("172.17.0.0/16"));
    ipam.insert("a".into(), "local".into(), Pool::new(first, None).unwrap())
        .unwrap();
    assert_eq!(ipam.choose_default(false), Ok(net("172.18.0.0/16")));
    ipam.remove("a");
    assert_eq!(ipam.choose_default(false), Ok(first));
}

#[test]
fn dockerd_defaults_run_out_after_their_31_subnets() {
    let mut ipam = Ipam::new(DefaultPool::dockerd_defaults());
    let mut got = Vec::new();
    while let Ok(n) = ipam.choose_default(false) {
        ipam.insert(n.to_string(), "local".into(), Pool::new(n, None).unwrap())
            .unwrap();
        got.push(n);
    }
    // 3 /16s, 3 × 4 /16s from the /14s, 16 /20s from 192.168.0.0/16.
    assert_eq!(got.len(), 31);
    assert_eq!(got.last(), Some(&net("192.168.240.0/20")));
}

#[test]
fn insert_remove_get_and_ids() {
    let mut ipam = Ipam::new(vec![]);
    assert!(ipam.is_empty());
    ipam.insert("b".into(), "local".into(), pool("10.0.0.0/24"))
        .unwrap();
    ipam.insert("a".into(), "global".into(), pool("10.0.0.0/24"))
        .unwrap();
    assert_eq!(
        ipam.insert("a".into(), "local".into(), pool("10.9.0.0/24")),
        Err(AllocError::DuplicatePoolId("a".into()))
    );
    assert_eq!(
        AllocError::DuplicatePoolId("a".into()).to_string(),
        "pool id a is already in use"
    );
    assert_eq!(ipam.pool_ids().collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(ipam.len(), 2);
    assert_eq!(ipam.space_of("a"), Some("global"));
    assert_eq!(ipam.space_of("zz"), None);
    let addr = ipam.get_mut("b").unwrap().allocate_next().unwrap();
    assert!(ipam.get("b").unwrap().is_allocated(addr));
    assert!(!ipam.get("a").unwrap().is_allocated(addr));
    assert_eq!(
        ipam.pool_mut("zz").unwrap_err(),
        AllocError::UnknownPool("zz".into())
    );
    assert_eq!(
        AllocError::UnknownPool("zz".into()).to_string(),
        "unknown pool zz"
    );
    assert!(ipam.remove("b").is_some());
    assert!(ipam.remove("b").is_none());
    assert!(ipam.get("b").is_none());
    assert_eq!(ipam.pool_ids().collect::<Vec<_>>(), vec!["a"]);
}

#[test]
fn duplicate_cidrs_restored_from_store_stay_indexed_until_both_go() {
    let mut ipam = Ipam::new(vec![DefaultPool::new(net("10.0.0.0/23"), 24).unwrap()]);
    ipam.insert("a".into(), "local".into(), pool("10.0.0.0/24"))
        .unwrap();
    ipam.insert("b".into(), "local".into(), pool("10.0.0.0/24"))
        .unwrap();
    ipam.remove("a");
    assert!(
        ipam.check_explicit("local", net("10.0.0.0/24"), None)
            .is_err()
    );
    assert_eq!(ipam.choose_default(false), Ok(net("10.0.1.0/24")));
    ipam.remove("b");
    assert!(
        ipam.check_explicit("local", net("10.0.0.0/24"), None)
            .is_ok()
    );
    assert_eq!(ipam.choose_default(false), Ok(net("10.0.0.0/24")));
}

#[test]
fn error_messages_are_lower_case_without_period() {
    let errs = [
        AllocError::NotInPool {
            addr: ip("10.1.0.1"),
            pool: net("10.0.0.0/24"),
        },
        AllocError::Reserved {
            addr: ip("10.0.0.0"),
            pool: net("10.0.0.0/24"),
        },
        AllocError::Exhausted {
            range: net("10.0.0.0/24"),
        },
        AllocError::RangeOutsidePool {
            range: net("10.1.0.0/24"),
            pool: net("10.0.0.0/24"),
        },
        AllocError::FamilyMismatch {
            range: net("fd00::/64"),
            pool: net("10.0.0.0/24"),
        },
        AllocError::InvalidDefaultPool {
            base: net("10.0.0.0/16"),
            size: 8,
        },
    ];
    for e in errs {
        let s = e.to_string();
        assert!(s.starts_with(|c: char| c.is_ascii_lowercase()), "{s}");
        assert!(!s.ends_with('.'), "{s}");
    }
    assert_eq!(
        AllocError::Exhausted {
            range: net("10.0.0.0/24")
        }
        .to_string(),
        "no free address left in 10.0.0.0/24"
    );
}

// ---- FreeSet properties ----------------------------------------------------

fn check_intervals(set: &FreeSet, model_free: &BTreeSet<u128>) {
    let ivs: Vec<(u128, u128)> = set.intervals().collect();
    for (s, e) in &ivs {
        assert!(s <= e, "empty interval {s}..={e}");
    }
    for w in ivs.windows(2) {
        // Sorted, disjoint and not adjacent (else they would be merged).
        assert!(w[0].1.checked_add(1).unwrap() < w[1].0, "{ivs:?}");
    }
    let flat: BTreeSet<u128> = ivs.iter().flat_map(|&(s, e)| s..=e).collect();
    assert_eq!(&flat, model_free);
    assert_eq!(set.free_count(), model_free.len() as u128);
    assert_eq!(set.interval_count(), ivs.len());
}

#[derive(Debug, Clone)]
enum SetOp {
    Remove(u128),
    Insert(u128),
    TakeFirst(u128, u128),
    TakeNext(u128, u128, u128),
}

proptest! {
    #[test]
    fn free_set_matches_model(
        lo in 0u128..8,
        len in 0u128..40,
        ops in prop::collection::vec(
            prop_oneof![
                (0u128..50).prop_map(SetOp::Remove),
                (0u128..50).prop_map(SetOp::Insert),
                (0u128..50, 0u128..50).prop_map(|(a, b)| SetOp::TakeFirst(a, b)),
                (0u128..50, 0u128..50, 0u128..50).prop_map(|(f, a, b)| SetOp::TakeNext(f, a, b)),
            ],
            0..120,
        ),
        queries in prop::collection::vec((0u128..50, 0u128..50, 0u128..50), 10),
    ) {
        let hi = lo + len;
        let mut set = FreeSet::new_full(lo, hi);
        let mut model: BTreeSet<u128> = (lo..=hi).collect();
        check_intervals(&set, &model);
        for op in ops {
            match op {
                SetOp::Remove(x) => prop_assert_eq!(set.remove(x), model.remove(&x)),
                SetOp::Insert(x) => prop_assert_eq!(set.insert(x), model.insert(x)),
                SetOp::TakeFirst(lo, hi) => {
                    let want = model.range(lo..=hi.max(lo)).next().copied().filter(|_| lo <= hi);
                    prop_assert_eq!(set.take_first_in(lo, hi), want);
                    if let Some(x) = want {
                        model.remove(&x);
                    }
                }
                SetOp::TakeNext(from, lo, hi) => {
                    let want = set.next_free_from(from, lo, hi);
                    prop_assert_eq!(set.take_next_from(from, lo, hi), want);
                    if let Some(x) = want {
                        prop_assert!(model.remove(&x));
                    }
                }
            }
            check_intervals(&set, &model);
        }
        for x in 0..50 {
            prop_assert_eq!(set.contains(x), model.contains(&x));
        }
        for (from, a, b) in queries {
            let (qlo, qhi) = (a.min(b), a.max(b));
            let first = model.range(qlo..=qhi).next().copied();
            prop_assert_eq!(set.first_free_in(qlo, qhi), first);
            let start = if from < qlo || from > qhi { qlo } else { from };
            let next = model
                .range(start..=qhi)
                .next()
                .or_else(|| model.range(qlo..start).next())
                .copied();
            prop_assert_eq!(set.next_free_from(from, qlo, qhi), next);
        }
    }
}

// ---- Pool properties -------------------------------------------------------

#[derive(Debug, Clone)]
enum PoolOp {
    Next,
    First,
    /// Offset from the pool's network address; may fall outside the pool.
    Specific(u128),
    Release(u128),
    ReleaseThenSpecific(u128),
}

fn pool_op() -> impl Strategy<Value = PoolOp> {
    prop_oneof![
        4 => Just(PoolOp::Next),
        1 => Just(PoolOp::First),
        2 => (0u128..40).prop_map(PoolOp::Specific),
        3 => (0u128..40).prop_map(PoolOp::Release),
        1 => (0u128..40).prop_map(PoolOp::ReleaseThenSpecific),
    ]
}

/// A small pool: IPv4 /27–/30 or IPv6 /124–/126, at a random base (also at
/// the top of the address space), with or without a sub-range.
fn small_pool() -> impl Strategy<Value = (IpNet, Option<IpNet>)> {
    let v4 = (27u8..=30, any::<u32>(), any::<bool>()).prop_map(|(p, a, top)| {
        let a = if top { u32::MAX } else { a };
        (false, u128::from(a), p)
    });
    let v6 = (124u8..=126, any::<u128>(), any::<bool>()).prop_map(|(p, a, top)| {
        let a = if top { u128::MAX } else { a };
        (true, a, p)
    });
    (prop_oneof![v4, v6], any::<Option<(u8, u16)>>()).prop_map(|((v6, a, p), r)| {
        let cidr = IpNet::new(from_u128(v6, a), p).unwrap().trunc();
        let bits = if v6 { 128 } else { 32 };
        let range = r.map(|(extra, off)| {
            let rp = p + extra % (bits - p + 1);
            let (lo, _) = bounds(cidr);
            let sub_count = 1u128 << (rp - p);
            let rsize = 1u128 << (bits - rp);
            net_at(v6, lo + (u128::from(off) % sub_count) * rsize, rp).unwrap()
        });
        (cidr, range)
    })
}

/// The address `off` steps into `[lo, hi]`; past its end, an address just
/// outside the pool (above it, or below it at the top of the space).
fn probe(v6: bool, lo: u128, hi: u128, off: u128) -> u128 {
    let size = hi - lo + 1;
    if off < size {
        return lo + off;
    }
    let k = off - size + 1;
    let max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
    match hi.checked_add(k) {
        Some(x) if x <= max => x,
        _ => lo - k,
    }
}

struct Model {
    v6: bool,
    lo: u128,
    hi: u128,
    usable: (u128, u128),
    dynamic: Option<(u128, u128)>,
    cursor: u128,
    allocated: BTreeSet<u128>,
}

impl Model {
    fn new(cidr: IpNet, range: Option<IpNet>) -> Model {
        let v6 = matches!(cidr, IpNet::V6(_));
        let (lo, hi) = bounds(cidr);
        let usable = match cidr.prefix_len() {
            p if !v6 && p < 31 => (lo + 1, hi - 1),
            p if v6 && p < 127 => (lo + 1, hi),
            _ => (lo, hi),
        };
        let (rlo, rhi) = range.map_or((lo, hi), bounds);
        let (dlo, dhi) = (rlo.max(usable.0), rhi.min(usable.1));
        let dynamic = (dlo <= dhi).then_some((dlo, dhi));
        Model {
            v6,
            lo,
            hi,
            usable,
            dynamic,
            cursor: dynamic.map_or(0, |d| d.0),
            allocated: BTreeSet::new(),
        }
    }

    fn free_in(&self, lo: u128, hi: u128) -> Option<u128> {
        (lo..=hi).find(|x| !self.allocated.contains(x))
    }

    fn next(&mut self) -> Option<u128> {
        let (lo, hi) = self.dynamic?;
        let from = self.cursor.clamp(lo, hi);
        let x = self.free_in(from, hi).or_else(|| {
            if from > lo {
                self.free_in(lo, from - 1)
            } else {
                None
            }
        })?;
        self.allocated.insert(x);
        self.cursor = if x == hi { lo } else { x + 1 };
        Some(x)
    }

    fn is_usable(&self, x: u128) -> bool {
        self.usable.0 <= x && x <= self.usable.1
    }
}

proptest! {
    #[test]
    fn pool_matches_model((cidr, range) in small_pool(), ops in prop::collection::vec(pool_op(), 0..150)) {
        let mut p = Pool::new(cidr, range).unwrap();
        let mut m = Model::new(cidr, range);
        let v6 = m.v6;
        let addr = |x: u128| from_u128(v6, x);
        for op in ops {
            match op {
                PoolOp::Next => {
                    let before = m.allocated.clone();
                    let got = p.allocate_next();
                    match m.next() {
                        Some(x) => {
                            let a = got.unwrap();
                            prop_assert_eq!(a, addr(x));
                            prop_assert!(!before.contains(&x), "handed out twice");
                            let (dlo, dhi) = m.dynamic.unwrap();
                            prop_assert!(dlo <= x && x <= dhi && m.is_usable(x));
                            if let Some(r) = range {
                                prop_assert!(r.contains(&a));
                            }
                        }
                        None => {
                            let want = AllocError::Exhausted { range: range.unwrap_or(cidr) };
                            prop_assert_eq!(got, Err(want));
                            // Exhaustion exactly at capacity of the dynamic window.
                            if let Some((dlo, dhi)) = m.dynamic {
                                prop_assert!((dlo..=dhi).all(|x| m.allocated.contains(&x)));
                            }
                        }
                    }
                }
                PoolOp::First => {
                    let got = p.allocate_first();
                    match m.free_in(m.usable.0, m.usable.1) {
                        Some(x) => {
                            prop_assert_eq!(got, Ok(addr(x)));
                            m.allocated.insert(x);
                        }
                        None => prop_assert_eq!(got, Err(AllocError::Exhausted { range: cidr })),
                    }
                }
                PoolOp::Specific(off) => {
                    let x = probe(v6, m.lo, m.hi, off);
                    let a = addr(x);
                    let got = p.allocate_specific(a);
                    if x > m.hi || x < m.lo {
                        prop_assert_eq!(got, Err(AllocError::NotInPool { addr: a, pool: cidr }));
                    } else if !m.is_usable(x) {
                        prop_assert_eq!(got, Err(AllocError::Reserved { addr: a, pool: cidr }));
                    } else if m.allocated.contains(&x) {
                        prop_assert_eq!(got, Err(AllocError::InUse { addr: a, pool: cidr }));
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        m.allocated.insert(x);
                    }
                }
                PoolOp::Release(off) => {
                    let x = probe(v6, m.lo, m.hi, off);
                    prop_assert_eq!(p.release(addr(x)), m.allocated.remove(&x));
                }
                PoolOp::ReleaseThenSpecific(off) => {
                    let x = probe(v6, m.lo, m.hi, off);
                    if m.allocated.contains(&x) {
                        prop_assert!(p.release(addr(x)));
                        prop_assert_eq!(p.allocate_specific(addr(x)), Ok(()));
                    }
                }
            }
            prop_assert_eq!(p.allocated_count(), m.allocated.len() as u128);
            let usable_free: BTreeSet<u128> = (m.usable.0..=m.usable.1)
                .filter(|x| !m.allocated.contains(x))
                .collect();
            check_intervals(p.free_set(), &usable_free);
        }
        for x in m.lo..=m.hi {
            prop_assert_eq!(p.is_allocated(addr(x)), m.allocated.contains(&x));
        }
    }

    #[test]
    fn pool_restore_rebuilds_the_same_state((cidr, range) in small_pool(), ops in prop::collection::vec(pool_op(), 0..60)) {
        let mut p = Pool::new(cidr, range).unwrap();
        let v6 = matches!(cidr, IpNet::V6(_));
        for op in ops {
            match op {
                PoolOp::Next => { let _ = p.allocate_next(); }
                PoolOp::First => { let _ = p.allocate_first(); }
                PoolOp::Specific(off) | PoolOp::ReleaseThenSpecific(off) => {
                    let (lo, hi) = bounds(cidr);
                    let a = from_u128(v6, probe(v6, lo, hi, off));
                    let _ = p.allocate_specific(a);
                }
                PoolOp::Release(off) => {
                    let (lo, hi) = bounds(cidr);
                    let a = from_u128(v6, probe(v6, lo, hi, off));
                    p.release(a);
                }
            }
        }
        let mut q = Pool::new(cidr, range).unwrap();
        let (lo, hi) = bounds(cidr);
        for x in lo..=hi {
            let a = from_u128(v6, x);
            if p.is_allocated(a) {
                prop_assert!(q.restore(a));
                prop_assert!(!q.restore(a));
            } else if p.allocate_specific(a).is_err() {
                // Reserved addresses are accepted without an error or a mark.
                prop_assert!(!q.restore(a));
                prop_assert_eq!(q.restore_detailed(a), RestoreOutcome::Reserved);
            } else {
                prop_assert!(p.release(a));
            }
        }
        prop_assert_eq!(q.free_set(), p.free_set());
    }
}

// ---- Ipam properties -------------------------------------------------------

/// Every subnet the defaults can give, in the order `choose_default` must try.
fn candidates(defaults: &[DefaultPool], v6: bool) -> Vec<IpNet> {
    defaults
        .iter()
        .filter(|d| d.base.addr().is_ipv6() == v6 && d.is_valid())
        .flat_map(|d| d.base.subnets(d.size).unwrap())
        .collect()
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b) || b.contains(&a)
}

#[derive(Debug, Clone)]
enum IpamOp {
    /// choose_default then insert the result.
    ChooseInsert { v6: bool, space: bool },
    /// Insert an explicit pool: offset and prefix within 10.0.0.0/20 or fd00::/116.
    Explicit {
        v6: bool,
        off: u16,
        prefix: u8,
        space: bool,
    },
    /// Remove the nth held pool.
    Remove(usize),
}

fn ipam_op() -> impl Strategy<Value = IpamOp> {
    prop_oneof![
        4 => (any::<bool>(), any::<bool>()).prop_map(|(v6, space)| IpamOp::ChooseInsert { v6, space }),
        2 => (any::<bool>(), any::<u16>(), 20u8..=28, any::<bool>())
            .prop_map(|(v6, off, prefix, space)| IpamOp::Explicit { v6, off, prefix, space }),
        1 => any::<usize>().prop_map(IpamOp::Remove),
    ]
}

fn default_pool() -> impl Strategy<Value = DefaultPool> {
    (any::<bool>(), 0u16..16, 20u8..=24, 0u8..=4).prop_map(|(v6, off, len, extra)| {
        let (base, size) = if v6 {
            let a = to_u128(ip("fd00::")) + (u128::from(off) << 12);
            (net_at(true, a, len + 96).unwrap(), len + 96 + extra)
        } else {
            let a = to_u128(ip("10.0.0.0")) + (u128::from(off) << 12);
            (net_at(false, a, len).unwrap(), len + extra)
        };
        DefaultPool { base, size }
    })
}

proptest! {
    #[test]
    fn choose_default_picks_first_free_candidate(
        defaults in prop::collection::vec(default_pool(), 0..4),
        ops in prop::collection::vec(ipam_op(), 0..60),
    ) {
        let mut ipam = Ipam::new(defaults.clone());
        let mut held: Vec<(String, String, IpNet)> = Vec::new();
        let mut next_id = 0u32;
        for op in ops {
            match op {
                IpamOp::ChooseInsert { v6, space } => {
                    let got = ipam.choose_default(v6);
                    let want = candidates(&defaults, v6)
                        .into_iter()
                        .find(|c| held.iter().all(|(_, _, h)| !overlaps(*c, *h)));
                    match want {
                        Some(c) => {
                            prop_assert_eq!(got, Ok(c));
                            let id = format!("p{next_id}");
                            next_id += 1;
                            let sp = if space { "local" } else { "global" };
                            ipam.insert(id.clone(), sp.into(), Pool::new(c, None).unwrap()).unwrap();
                            held.push((id, sp.into(), c));
                        }
                        None => prop_assert_eq!(
                            got,
                            Err(AllocError::NoDefaultPool { family: if v6 { "IPv6" } else { "IPv4" } })
                        ),
                    }
                }
                IpamOp::Explicit { v6, off, prefix, space } => {
                    let (base, p) = if v6 {
                        (to_u128(ip("fd00::")), prefix + 96)
                    } else {
                        (to_u128(ip("10.0.0.0")), prefix)
                    };
                    let c = net_at(v6, base + (u128::from(off) << 2), p).unwrap();
                    let sp = if space { "local" } else { "global" };
                    let clash = held.iter().find(|(_, s, h)| s == sp && overlaps(c, *h));
                    let got = ipam.check_explicit(sp, c, None);
                    prop_assert_eq!(got.is_err(), clash.is_some());
                    if got.is_ok() {
                        let id = format!("p{next_id}");
                        next_id += 1;
                        ipam.insert(id.clone(), sp.into(), Pool::new(c, None).unwrap()).unwrap();
                        held.push((id, sp.into(), c));
                    }
                }
                IpamOp::Remove(n) => {
                    if !held.is_empty() {
                        let (id, _, c) = held.remove(n % held.len());
                        prop_assert_eq!(ipam.remove(&id).map(|p| p.cidr()), Some(c));
                        prop_assert!(ipam.remove(&id).is_none());
                    }
                }
            }
            // Pools within one space never overlap, and ids agree.
            for (i, (_, s1, a)) in held.iter().enumerate() {
                for (_, s2, b) in held.iter().skip(i + 1) {
                    prop_assert!(s1 != s2 || !overlaps(*a, *b));
                }
            }
            prop_assert_eq!(ipam.pool_ids().count(), held.len());
        }
    }

    #[test]
    fn repeated_choose_insert_gives_distinct_pools_until_exhausted(
        defaults in prop::collection::vec(default_pool(), 1..4),
        pre in prop::collection::vec((any::<u16>(), 20u8..=28), 0..6),
        v6 in any::<bool>(),
    ) {
        let mut ipam = Ipam::new(defaults.clone());
        let mut held = Vec::new();
        for (i, (off, prefix)) in pre.into_iter().enumerate() {
            let (base, p) = if v6 { (to_u128(ip("fd00::")), prefix + 96) } else { (to_u128(ip("10.0.0.0")), prefix) };
            let c = net_at(v6, base + (u128::from(off) << 2), p).unwrap();
            // Other spaces too: choose_default must avoid all of them.
            ipam.insert(format!("pre{i}"), format!("space{i}"), Pool::new(c, None).unwrap()).unwrap();
            held.push(c);
        }
        let limit = candidates(&defaults, v6).len();
        let mut chosen = Vec::new();
        loop {
            match ipam.choose_default(v6) {
                Ok(c) => {
                    prop_assert!(held.iter().all(|h| !overlaps(c, *h)), "{} overlaps a held pool", c);
                    prop_assert!(!chosen.contains(&c));
                    prop_assert!(chosen.len() < limit);
                    ipam.insert(format!("c{}", chosen.len()), "local".into(), Pool::new(c, None).unwrap()).unwrap();
                    held.push(c);
                    chosen.push(c);
                }
                Err(e) => {
                    let is_no_default = matches!(e, AllocError::NoDefaultPool { .. });
                    prop_assert!(is_no_default);
                    // Nothing is left free.
                    prop_assert!(candidates(&defaults, v6)
                        .iter()
                        .all(|c| held.iter().any(|h| overlaps(*c, *h))));
                    break;
                }
            }
        }
    }
}
