//! Shared helpers of the privileged tests (`hostnet_netns.rs`, `firewall_netns.rs`,
//! `binding_netns.rs`, `binding_ovs.rs`, `nested_netns.rs`): each test gets its own
//! network namespace (`ip netns add kuryr-b-<pid>-<n>`), runs its body on a thread
//! that has entered it (so rtnetlink sockets and child processes live there, never in
//! the host namespace), and deletes it on the way out, even on panic. Those tests
//! are ignored without `--features privileged-tests`; with it, they fail loudly
//! without root.

#![allow(dead_code)]

use std::fs::File;
use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};

use nix::sched::{CloneFlags, setns};
use serde_json::Value;

/// A network namespace name plus `ip -n` helpers; cheap to clone into threads.
#[derive(Clone, Debug)]
pub struct Ns(pub String);

/// Owns a namespace created for one test and deletes it on drop.
pub struct NsGuard(pub Ns);

impl Drop for NsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.0.0])
            .status();
    }
}

impl std::ops::Deref for NsGuard {
    type Target = Ns;
    fn deref(&self) -> &Ns {
        &self.0
    }
}

static NEXT_NS: AtomicUsize = AtomicUsize::new(0);

/// Fails the test, saying what to do, unless it runs as root.
pub fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    // "Uid:\t<real>\t<effective>\t<saved>\t<fs>"
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .map(str::to_owned);
    assert_eq!(
        euid.as_deref(),
        Some("0"),
        "the privileged tests need root: run `cargo test --features privileged-tests` \
         as root (effective uid {})",
        euid.as_deref().unwrap_or("unknown")
    );
}

pub fn new_ns() -> NsGuard {
    let name = format!(
        "kuryr-b-{}-{}",
        std::process::id(),
        NEXT_NS.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new("ip")
        .args(["netns", "add", &name])
        .output()
        .expect("run `ip netns add` (is iproute2 installed?)");
    assert!(
        out.status.success(),
        "ip netns add {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    NsGuard(Ns(name))
}

/// Runs `f` on a new thread that has entered namespace `ns`.
pub fn spawn_in<T: Send + 'static>(
    ns: &Ns,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/run/netns/{}", ns.0);
    thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // Only this thread moves; the test harness and other tests stay put.
        setns(&file, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {path}: {e}"));
        f()
    })
}

pub fn join<T>(handle: JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Runs `body` on a current-thread runtime inside namespace `ns` (so a
/// `HostBinder` made in it manages that namespace, and the commands it spawns
/// run there).
pub fn run_in<F, Fut>(ns: &Ns, body: F)
where
    F: FnOnce(Ns) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let inner = ns.clone();
    join(spawn_in(ns, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(body(inner));
    }));
}

/// A fresh namespace for `body` (root only).
pub fn in_fresh_ns<F, Fut>(body: F)
where
    F: FnOnce(Ns) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    require_root();
    let guard = new_ns();
    run_in(&guard, body);
    drop(guard);
}

impl Ns {
    /// A veth pair made with `ip`, standing in for "some other link" (kernels without
    /// the dummy module are common in CI VMs).
    pub fn add_plain_veth(&self, name: &str, peer: &str) {
        self.ip(&["link", "add", name, "type", "veth", "peer", "name", peer]);
    }

    /// The `addr_info` entries of one link.
    pub fn addrs(&self, name: &str) -> Vec<Value> {
        let v = self.json(&["addr", "show", "dev", name]);
        v[0]["addr_info"].as_array().cloned().unwrap_or_default()
    }

    pub fn addr<'a>(addrs: &'a [Value], local: &str) -> Option<&'a Value> {
        addrs.iter().find(|a| a["local"] == local)
    }

    /// Runs `ip -n <ns> <args>`, panicking with its stderr on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.0)
            .args(args)
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip -n {} {}: {}",
            self.0,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["-j"];
        full.extend_from_slice(args);
        let text = self.ip(&full);
        if text.trim().is_empty() {
            return Value::Array(Vec::new());
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("ip -j {args:?}: {e}: {text}"))
    }

    /// `ip -d -j link show` of one link, or None if it does not exist.
    pub fn link(&self, name: &str) -> Option<Value> {
        let links = self.json(&["-d", "link", "show"]);
        links
            .as_array()?
            .iter()
            .find(|l| l["ifname"] == name)
            .cloned()
    }

    pub fn has_link(&self, name: &str) -> bool {
        self.link(name).is_some()
    }

    /// Names of all links, sorted.
    pub fn link_names(&self) -> Vec<String> {
        let links = self.json(&["link", "show"]);
        let mut names: Vec<String> = links
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| l["ifname"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

pub fn flags(link: &Value) -> Vec<&str> {
    link["flags"]
        .as_array()
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub fn is_up(link: &Value) -> bool {
    flags(link).contains(&"UP")
}
