//! Cost of one dynamic allocation (`Pool::allocate_next`) as a pool fills up.
//!
//! Each case fills a pool with `allocate_next`, releases a deterministic,
//! scattered 1% of what it holds, then times allocate-and-release cycles that
//! keep the fill level constant (each cycle frees a pseudo-random held
//! address). The best of several runs is reported, as the least disturbed
//! by other load on the machine. Plain `fn main`, no benchmark framework; no randomness beyond a
//! fixed-seed xorshift, so runs are comparable.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use ipnet::IpNet;
use kuryr::ipam::Pool;

const CYCLES: usize = 100_000;
const RUNS: usize = 15;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Best (least disturbed) ns per allocate_next + release cycle at `fill`
/// held addresses, and the free-interval count at the end.
fn measure(cidr: IpNet, range: Option<IpNet>, fill: usize) -> (f64, usize) {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut pool = Pool::new(cidr, range).expect("valid pool");
    let mut held: Vec<IpAddr> = (0..fill)
        .map(|_| pool.allocate_next().expect("below capacity"))
        .collect();
    held.retain(|&a| {
        let keep = rng.next() % 100 != 0;
        if !keep {
            pool.release(a);
        }
        keep
    });
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        for _ in 0..CYCLES {
            let a = pool.allocate_next().expect("a slot was released");
            let i = rng.below(held.len());
            let old = std::mem::replace(&mut held[i], black_box(a));
            black_box(pool.release(old));
        }
        times.push(start.elapsed().as_nanos() as f64 / CYCLES as f64);
    }
    let best = times.into_iter().fold(f64::INFINITY, f64::min);
    (best, pool.free_set().interval_count())
}

fn row(label: &str, cidr: &str, range: Option<&str>, fill: usize) -> f64 {
    let cidr: IpNet = cidr.parse().expect("cidr");
    let range = range.map(|r| r.parse().expect("range"));
    let (ns, intervals) = measure(cidr, range, fill);
    println!("{label:<34} {fill:>9} {intervals:>10} {ns:>9.1}");
    ns
}

fn main() {
    println!(
        "{:<34} {:>9} {:>10} {:>9}",
        "case", "held", "intervals", "ns/alloc"
    );
    let v4_capacity = 65_534usize;
    let mut v4 = Vec::new();
    for pct in [1usize, 50, 90, 99] {
        let label = format!("10.0.0.0/16 at {pct}%");
        v4.push(row(&label, "10.0.0.0/16", None, v4_capacity * pct / 100));
    }
    let v6_range_capacity = 65_536usize;
    let mut v6r = Vec::new();
    for pct in [1usize, 50, 90, 99] {
        let label = format!("fd00::/64 range /112 at {pct}%");
        v6r.push(row(
            &label,
            "fd00::/64",
            Some("fd00::1:0/112"),
            v6_range_capacity * pct / 100,
        ));
    }
    let mut v6 = Vec::new();
    for fill in [1_000usize, 100_000, 1_000_000] {
        v6.push(row("fd00::/64", "fd00::/64", None, fill));
    }
    let ratio = |xs: &[f64]| xs.last().copied().unwrap_or(0.0) / xs.first().copied().unwrap_or(1.0);
    println!("ratio 99%/1% IPv4 /16:            {:.2}", ratio(&v4));
    println!("ratio 99%/1% IPv6 /112 range:     {:.2}", ratio(&v6r));
    println!("ratio 1M/1k IPv6 /64:             {:.2}", ratio(&v6));
}
