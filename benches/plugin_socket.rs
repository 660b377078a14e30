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

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tokio::net::UnixStream;

const RUN_FOR: Duration = Duration::from_secs(4);

struct Plugin {
    child: Child,
    socket: PathBuf,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_plugin(dir: &Path) -> Plugin {
    let socket = dir.join("kuryr.sock");
    let config = dir.join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nbackend = embedded\nstate_dir = {}\nkuryr_uri = unix://{}\nlog_level = warn\n",
            dir.join("state").display(),
            socket.display()
        ),
    )
    .expect("write config");
    // `Plugin::drop` kills and waits for it.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_kuryr"))
        .args(["serve", "--config-file"])
        .arg(&config)
        .spawn()
        .expect("start kuryr");
    for _ in 0..200 {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return Plugin { child, socket };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("kuryr did not start");
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(socket: &Path) -> Sender {
    let stream = UnixStream::connect(socket).await.expect("connect");
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    sender
}

async fn post(sender: &mut Sender, path: &str, body: &Value) -> Value {
    sender.ready().await.expect("connection ready");
    let request = hyper::Request::post(path)
        .header("Host", "plugin.moby.localhost")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
        .unwrap();
    let response = sender.send_request(request).await.expect("send");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(status.is_success(), "{path} {body} -> {status} {value}");
    value
}

async fn request_pool(socket: &Path, pool: &str) -> String {
    let mut sender = connect(socket).await;
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
    let reply = post(
        sender,
        "/IpamDriver.RequestAddress",
        &json!({"PoolID": pool_id, "Address": "", "Options": null}),
    )
    .await;
    let address = reply["Address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
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
            let mut sender = connect(&socket).await;
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
            let mut sender = connect(&socket).await;
            for _ in 0..n {
                post(
                    &mut sender,
                    "/IpamDriver.RequestAddress",
                    &json!({"PoolID": pool_id, "Address": "", "Options": null}),
                )
                .await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("filler");
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let plugin = start_plugin(dir.path());
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
        println!("{:>8} {:>14} {:>16}", "fill", "pairs/s", "us per pair");
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
