//! Durable IPAM round trips over the plugin socket, against the real `kuryr` binary.
//!
//! Starts `kuryr serve` (embedded backend, state in a temp dir, so every allocation is
//! fsync'd before its reply), then drives RequestAddress/ReleaseAddress pairs from
//! keep-alive HTTP/1.1 connections, as dockerd does, at concurrency 1 and 64. It then
//! fills a /16 to 1 % and to 99 % and measures the pair cost at each level.
//!
//! Run: `cargo bench --bench plugin_socket` (the binary needs no root for IPAM calls).

// A benchmark's report is its standard output.
#![allow(clippy::print_stdout)]

#[path = "../tests/support/client.rs"]
mod client;

use client::{Sender, allocate, connect, post_ok, start_plugin};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const RUN_FOR: Duration = Duration::from_secs(4);

async fn post(sender: &mut Sender, path: &str, body: &Value) -> Value {
    post_ok(sender, path, body).await
}

async fn connected(socket: &Path) -> Sender {
    connect(socket).await.expect("connect")
}

async fn request_pool(socket: &Path, pool: &str) -> String {
    let mut sender = connected(socket).await;
    let reply = post(
        &mut sender,
        "/IpamDriver.RequestPool",
        &json!({"AddressSpace": "bench", "Pool": pool, "SubPool": "", "Options": {}, "V6": false}),
    )
    .await;
    reply["PoolID"].as_str().unwrap().to_owned()
}

/// One RequestAddress and its ReleaseAddress.
async fn pair(sender: &mut Sender, pool_id: &str) {
    let address = allocate(sender, pool_id).await;
    post(
        sender,
        "/IpamDriver.ReleaseAddress",
        &json!({"PoolID": pool_id, "Address": address}),
    )
    .await;
}

/// Pairs per second with `workers` connections for `RUN_FOR`.
async fn throughput(socket: &Path, pool_id: &str, workers: usize) -> (f64, u64) {
    let deadline = Instant::now() + RUN_FOR;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let socket = socket.to_path_buf();
        let pool_id = pool_id.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut sender = connected(&socket).await;
            let mut done = 0u64;
            while Instant::now() < deadline {
                pair(&mut sender, &pool_id).await;
                done += 1;
            }
            done
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("worker");
    }
    (total as f64 / started.elapsed().as_secs_f64(), total)
}

/// Hold `count` addresses of the pool, allocated with 64 connections.
async fn fill(socket: &Path, pool_id: &str, count: usize) {
    let mut tasks = Vec::new();
    let per_worker = count / 64;
    for worker in 0..64 {
        let socket = socket.to_path_buf();
        let pool_id = pool_id.to_owned();
        let n = if worker == 0 {
            count - per_worker * 63
        } else {
            per_worker
        };
        tasks.push(tokio::spawn(async move {
            let mut sender = connected(&socket).await;
            for _ in 0..n {
                allocate(&mut sender, &pool_id).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("filler");
    }
}

/// Median latency of a 4 KiB write plus `sync_data` in `dir`: the floor under every
/// durable commit, and so the bound on what group commit can reach.
fn fsync_latency(dir: &Path) -> Duration {
    use std::io::Write;
    let mut file = std::fs::File::create(dir.join("fsync-probe")).expect("probe file");
    let mut samples: Vec<Duration> = (0..50)
        .map(|_| {
            let started = Instant::now();
            file.write_all(&[0u8; 4096]).expect("write");
            file.sync_data().expect("sync");
            started.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let fsync = fsync_latency(dir.path());
    println!(
        "fsync (4 KiB write + sync_data) median: {:.2} ms; one commit acknowledges at most \
         one allocation per connection, so 64 connections bound allocations at {:.0}/s",
        fsync.as_secs_f64() * 1e3,
        64.0 / fsync.as_secs_f64()
    );
    let plugin = start_plugin(env!("CARGO_BIN_EXE_kuryr"), dir.path());
    runtime.block_on(async {
        let socket = plugin.socket.clone();
        println!(
            "durable RequestAddress+ReleaseAddress pairs over the plugin socket ({}s each)",
            RUN_FOR.as_secs()
        );
        println!(
            "{:>12} {:>14} {:>14} {:>10}",
            "concurrency", "pairs/s", "requests/s", "pairs"
        );
        let pool_id = request_pool(&socket, "10.10.0.0/16").await;
        for workers in [1, 64] {
            let (rate, total) = throughput(&socket, &pool_id, workers).await;
            println!(
                "{workers:>12} {rate:>14.0} {:>14.0} {total:>10}",
                rate * 2.0
            );
        }

        println!("\npair cost as a /16 fills (concurrency 64)");
        println!(
            "{:>8} {:>14} {:>16}",
            "fill", "pairs/s", "us per pair (per conn)"
        );
        let usable = 65_534usize;
        let mut results = Vec::new();
        for (label, percent, base) in [("1%", 1usize, "10.20.0.0/16"), ("99%", 99, "10.30.0.0/16")]
        {
            let pool_id = request_pool(&socket, base).await;
            fill(&socket, &pool_id, usable * percent / 100).await;
            let (rate, _) = throughput(&socket, &pool_id, 64).await;
            println!("{label:>8} {rate:>14.0} {:>16.1}", 64.0 * 1e6 / rate);
            results.push(rate);
        }
        if let [low, high] = results[..] {
            println!("cost ratio 99% / 1%: {:.2} (target <= 2.0)", low / high);
        }
    });
}
