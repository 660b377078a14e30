//! Privileged tests of `HostBinder`'s vif_type "ovs" against a real Open
//! vSwitch: each test starts a private ovsdb-server and ovs-vswitchd (own
//! database, sockets, pidfiles and logs in a temp dir, both inside the test's
//! network namespace, userspace datapath since these kernels have no
//! openvswitch module), plugs ports with the binder pointed at that database,
//! reads the OVSDB records back with ovs-vsctl, and stops both daemons by
//! their pidfiles at the end, even on panic. A system OVS is never touched.
//! Ignored without `--features privileged-tests`; with it, they fail without
//! root or without Open vSwitch (package openvswitch-switch).

mod netns;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kuryr::binding::{
    BindError, Binder, BindingSettings, HostBinder, Vif, container_ifname, host_ifname,
};
use netns::{Ns, NsGuard, is_up, new_ns, require_root, run_in};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

const PORT: &str = "40889633-1612-4b47-8d68-f0d3b2c1a9e7";
const EP: &str = "70141a672af932c43b2003eed93789c18685b7a34998da4aafb7b984297a4901";
const MAC: &str = "fa:16:3e:aa:00:01";

fn vif(details: Value) -> Vif {
    Vif {
        port_id: PORT.into(),
        endpoint_id: EP.into(),
        network_id: "9e3a1c2b-5d4f-4a6b-8c7d-e0f1a2b3c4d5".into(),
        project_id: "b4d7e1f0a9c84e2b9d3f6a5c7e8b1d20".into(),
        mac: "FA:16:3E:AA:00:01".into(),
        mtu: Some(1450),
        vif_type: "ovs".into(),
        vif_details: details,
        vlan: None,
    }
}

// ---------------------------------------------------------------- private OVS

/// Fails the test unless it runs as root and Open vSwitch is installed.
fn require_ovs() {
    require_root();
    let found = ["ovs-vsctl", "ovsdb-tool", "ovsdb-server", "ovs-vswitchd"]
        .iter()
        .all(|tool| {
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    assert!(
        found,
        "binding OVS tests need Open vSwitch: apt-get install -y --no-install-recommends \
         openvswitch-switch"
    );
}

/// Owns the temp dir of a private ovsdb-server + ovs-vswitchd running in one
/// test namespace. Dropping it stops both by their pidfiles, then removes
/// the dir.
struct Daemons {
    dir: tempfile::TempDir,
}

/// Talks to one private OVS (by its directory); cheap to clone into the body.
#[derive(Clone)]
struct Ovs {
    dir: PathBuf,
}

const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";
const DAEMONS: [&str; 2] = ["ovs-vswitchd", "ovsdb-server"];

impl Daemons {
    fn start(ns: &Ns) -> (Daemons, Ovs) {
        let daemons = Daemons {
            dir: tempfile::Builder::new()
                .prefix("kuryr-ovs-")
                .tempdir()
                .unwrap(),
        };
        let ovs = Ovs {
            dir: daemons.dir.path().to_owned(),
        };
        let p = |name: &str| ovs.dir.join(name).display().to_string();
        ovs.run("ovsdb-tool", &["create", &p("conf.db"), SCHEMA]);
        ovs.run_in_ns(
            ns,
            "ovsdb-server",
            &[
                &p("conf.db"),
                &format!("--remote=punix:{}", p("db.sock")),
                &format!("--pidfile={}", p("ovsdb-server.pid")),
                &format!("--unixctl={}", p("ovsdb-server.ctl")),
                &format!("--log-file={}", p("ovsdb-server.log")),
                "--detach",
            ],
        );
        ovs.vsctl(&["--no-wait", "init"]);
        ovs.run_in_ns(
            ns,
            "ovs-vswitchd",
            &[
                &format!("unix:{}", p("db.sock")),
                &format!("--pidfile={}", p("ovs-vswitchd.pid")),
                &format!("--unixctl={}", p("ovs-vswitchd.ctl")),
                &format!("--log-file={}", p("ovs-vswitchd.log")),
                "--detach",
            ],
        );
        // As Neutron's agent would have made it; vswitchd creates its
        // internal port inside the namespace it runs in.
        ovs.vsctl(&[
            "--timeout=20",
            "add-br",
            "br-int",
            "--",
            "set",
            "bridge",
            "br-int",
            "datapath_type=netdev",
        ]);
        (daemons, ovs)
    }
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for daemon in DAEMONS {
            stop(&self.dir.path().join(format!("{daemon}.pid")), daemon);
        }
    }
}

impl Ovs {
    fn db(&self) -> String {
        format!("unix:{}", self.dir.join("db.sock").display())
    }

    fn settings(&self) -> BindingSettings {
        BindingSettings {
            ovsdb: Some(self.db()),
            ..BindingSettings::default()
        }
    }

    /// Keeps the tools' default paths (control sockets, logs) inside `dir`.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        for var in ["OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"] {
            command.env(var, &self.dir);
        }
        command
    }

    fn check(what: String, out: std::process::Output) -> String {
        assert!(
            out.status.success(),
            "{what}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.command(program).args(args).output().unwrap();
        Self::check(format!("{program} {}", args.join(" ")), out)
    }

    fn run_in_ns(&self, ns: &Ns, program: &str, args: &[&str]) {
        let out = self
            .command("ip")
            .args(["netns", "exec", &ns.0, program])
            .args(args)
            .output()
            .unwrap();
        Self::check(format!("{program} in {}", ns.0), out);
    }

    fn vsctl(&self, args: &[&str]) -> String {
        let db = format!("--db={}", self.db());
        let mut full = vec![db.as_str()];
        full.extend_from_slice(args);
        self.run("ovs-vsctl", &full)
    }

    /// The Interface record called `name` as {column: value}, or None.
    fn interface(&self, name: &str) -> Option<Value> {
        let text = self.vsctl(&[
            "--format=json",
            "--columns=name,external_ids,ofport",
            "find",
            "interface",
            &format!("name={name}"),
        ]);
        let table: Value = serde_json::from_str(&text).unwrap();
        let row = table["data"].as_array()?.first()?.as_array()?.clone();
        let headings = table["headings"].as_array()?.clone();
        let mut record = serde_json::Map::new();
        for (h, v) in headings.iter().zip(row) {
            record.insert(h.as_str()?.to_owned(), v);
        }
        Some(Value::Object(record))
    }

    /// `ovs-vsctl list interface <name>` with the columns the agent reads.
    fn list_interface(&self, name: &str) -> Value {
        let text = self.vsctl(&[
            "--format=json",
            "--columns=name,external_ids",
            "list",
            "interface",
            name,
        ]);
        serde_json::from_str(&text).unwrap()
    }

    fn ports(&self) -> Vec<String> {
        let mut ports: Vec<String> = self
            .vsctl(&["list-ports", "br-int"])
            .lines()
            .map(str::to_owned)
            .collect();
        ports.sort();
        ports
    }
}

/// OVSDB's `["map", [[k, v], ...]]` as a JSON object.
fn ovs_map(v: &Value) -> Value {
    assert_eq!(v[0], "map", "{v}");
    let mut map = serde_json::Map::new();
    for pair in v[1].as_array().unwrap() {
        map.insert(pair[0].as_str().unwrap().to_owned(), pair[1].clone());
    }
    Value::Object(map)
}

/// Stops the process named in `pidfile` if it still is `daemon` (a stale
/// pidfile must not kill a reused pid): SIGTERM, then SIGKILL after 5 s.
fn stop(pidfile: &Path, daemon: &str) {
    let Some(pid) = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return;
    };
    // /proc/<pid>/comm holds at most 15 characters of the name.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let comm = comm.trim();
    if comm.is_empty() || !daemon.starts_with(comm) {
        return;
    }
    // Gone, or a zombie waiting for its (new) parent to reap it.
    let dead = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit(") ").next().is_some_and(|r| r.starts_with('Z')))
            .unwrap_or(true)
    };
    let target = Pid::from_raw(pid);
    let _ = kill(target, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dead() {
        if Instant::now() > deadline {
            let _ = kill(target, Signal::SIGKILL);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh namespace with a private OVS in it; `body` runs there. The
/// daemons are stopped before the namespace goes, also on panic (drop order
/// during unwinding).
fn with_ovs<F, Fut>(body: F)
where
    F: FnOnce(Ns, Ovs) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    require_ovs();
    let ns: NsGuard = new_ns();
    let (daemons, ovs) = Daemons::start(&ns);
    run_in(&ns, move |ns| body(ns, ovs));
    drop(daemons);
    drop(ns);
}

fn assert_no_veth(ns: &Ns) {
    for name in [host_ifname(PORT), container_ifname(PORT)] {
        assert!(
            !ns.has_link(&name),
            "{name} left behind: {:?}",
            ns.link_names()
        );
    }
}

// ---------------------------------------------------------------- tests

#[test]
#[cfg_attr(
    not(feature = "privileged-tests"),
    ignore = "needs root and Open vSwitch"
)]
fn ovs_plug_writes_kuryrs_external_ids_and_unplug_removes_the_port() {
    with_ovs(|ns, ovs| async move {
        let b = HostBinder::new(ovs.settings()).unwrap();
        let v = vif(json!({"port_filter": true, "ovs_hybrid_plug": false}));
        let tap = host_ifname(PORT);
        b.bind(&v).await.unwrap();

        let listed = ovs.list_interface(&tap);
        assert_eq!(listed["data"][0][0], tap.as_str(), "{listed}");
        assert_eq!(
            ovs_map(&listed["data"][0][1]),
            json!({
                "attached-mac": MAC,
                "iface-id": PORT,
                "iface-status": "active",
                "owner": "kuryr",
                "vm-uuid": EP,
            })
        );
        assert_eq!(ovs.ports(), [tap.as_str()]);
        // ovs-vswitchd opened the tap (it runs in this namespace): really plugged.
        let ofport = ovs.interface(&tap).unwrap()["ofport"].as_i64().unwrap();
        assert!(ofport > 0, "ofport {ofport}");
        let host = ns.link(&tap).unwrap();
        assert!(is_up(&host));
        assert_eq!(host["mtu"], 1450);
        assert_eq!(ns.link(&container_ifname(PORT)).unwrap()["address"], MAC);

        // Again: still one port, same record.
        b.bind(&v).await.unwrap();
        assert_eq!(ovs.ports(), [tap.as_str()]);

        b.unbind(&v).await.unwrap();
        assert!(ovs.interface(&tap).is_none());
        assert!(ovs.ports().is_empty());
        assert_no_veth(&ns);
        b.unbind(&v).await.unwrap();
    });
}

#[test]
#[cfg_attr(
    not(feature = "privileged-tests"),
    ignore = "needs root and Open vSwitch"
)]
fn hybrid_plug_puts_the_tap_behind_a_qbr_bridge() {
    with_ovs(|ns, ovs| async move {
        let b = HostBinder::new(ovs.settings()).unwrap();
        let v = vif(json!({"port_filter": true, "ovs_hybrid_plug": true}));
        let (tap, qbr, qvb, qvo) = (
            host_ifname(PORT),
            "qbr40889633-16",
            "qvb40889633-16",
            "qvo40889633-16",
        );
        b.bind(&v).await.unwrap();

        assert_eq!(ovs.ports(), [qvo], "only qvo is in OVS");
        let record = ovs.interface(qvo).unwrap();
        assert_eq!(
            ovs_map(&record["external_ids"]),
            json!({
                "attached-mac": MAC,
                "iface-id": PORT,
                "iface-status": "active",
                "owner": "kuryr",
                "vm-id": EP,
            })
        );
        let bridge = ns.link(qbr).expect("qbr");
        assert_eq!(bridge["linkinfo"]["info_kind"], "bridge");
        assert!(is_up(&bridge));
        for port in [tap.as_str(), qvb] {
            let link = ns.link(port).unwrap();
            assert_eq!(link["master"], qbr, "{port}");
            assert!(is_up(&link), "{port}");
        }
        assert!(is_up(&ns.link(qvo).unwrap()));
        assert_eq!(ns.link(qvo).unwrap()["mtu"], 1450);

        b.bind(&v).await.unwrap();
        assert_eq!(ovs.ports(), [qvo]);

        b.unbind(&v).await.unwrap();
        assert!(ovs.ports().is_empty());
        for gone in [qbr, qvb, qvo] {
            assert!(!ns.has_link(gone), "{gone} left: {:?}", ns.link_names());
        }
        assert_no_veth(&ns);
    });
}

#[test]
#[cfg_attr(
    not(feature = "privileged-tests"),
    ignore = "needs root and Open vSwitch"
)]
fn ovs_failures_carry_ovs_vsctls_message_and_roll_back() {
    with_ovs(|ns, ovs| async move {
        let before = ns.link_names();
        let missing = HostBinder::new(BindingSettings {
            ovs_bridge: "br-missing".into(),
            ..ovs.settings()
        })
        .unwrap();
        for details in [json!({}), json!({"ovs_hybrid_plug": true})] {
            let err = missing.bind(&vif(details.clone())).await.unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(err, BindError::Command { .. })
                    && text.contains("ovs-vsctl: no bridge named br-missing"),
                "{details}: {text}"
            );
            assert_eq!(ns.link_names(), before, "{details}: all rolled back");
        }
        assert!(ovs.ports().is_empty());

        // Unbind with the database unreachable: reported with ovs-vsctl's
        // words, and the veth still goes.
        let good = HostBinder::new(ovs.settings()).unwrap();
        good.bind(&vif(json!({}))).await.unwrap();
        let nodb = HostBinder::new(BindingSettings {
            ovsdb: Some(format!("unix:{}", ovs.dir.join("nope.sock").display())),
            ..BindingSettings::default()
        })
        .unwrap();
        let err = nodb.unbind(&vif(json!({}))).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("unbinding port {PORT}: "))
                && text.contains("database connection failed"),
            "{text}"
        );
        assert_no_veth(&ns);
        // The stale OVS port goes with a later unbind that reaches OVS.
        good.unbind(&vif(json!({}))).await.unwrap();
        assert!(ovs.ports().is_empty());
    });
}
