//! The binary's start-up contract: listeners and spec files, refusals with clear
//! messages, and configuration errors reported all at once; and the completions and
//! man pages it prints.

#[path = "support/client.rs"]
mod client;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_kuryr");

fn run_with_config(dir: &std::path::Path, text: &str) -> std::process::Output {
    let config = dir.join("kuryr.conf");
    std::fs::write(&config, text).unwrap();
    Command::new(BIN)
        .args(["serve", "--config-file"])
        .arg(&config)
        .output()
        .unwrap()
}

/// `kuryr serve` on the embedded backend with its state and lock in `dir`, plus the
/// `[DEFAULT]` lines in `extra`.
fn serve_embedded(dir: &std::path::Path, extra: &str) -> std::process::Child {
    let config = dir.join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nbackend = embedded\nstate_dir = {}\nlock_file = {}\n{extra}",
            dir.join("state").display(),
            dir.join("kuryr.lock").display()
        ),
    )
    .unwrap();
    Command::new(BIN)
        .args(["serve", "--config-file"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A loopback port nothing listens on (now).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn tcp_listener_writes_a_spec_file_and_removes_it_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let spec_dir = dir.path().join("plugins");
    let mut child = serve_embedded(
        dir.path(),
        &format!(
            "kuryr_uri = http://127.0.0.1:{port}\nspec_dir = {}\n",
            spec_dir.display()
        ),
    );
    let spec = spec_dir.join("kuryr.spec");
    let mut reply = String::new();
    for _ in 0..200 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream
                .write_all(format!("POST /Plugin.Activate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes())
                .unwrap();
            stream.read_to_string(&mut reply).unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        reply.contains(r#"{"Implements":["NetworkDriver","IpamDriver"]}"#),
        "{reply}"
    );
    assert_eq!(
        std::fs::read_to_string(&spec).unwrap(),
        format!("http://127.0.0.1:{port}\n")
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!spec.exists(), "the spec file is removed at shutdown");
}

#[test]
fn a_second_plugin_on_a_live_socket_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = client::start_plugin(BIN, dir.path());
    let second = Command::new(BIN)
        .args(["serve", "--config-file"])
        .arg(dir.path().join("kuryr.conf"))
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    // The host lock is taken first: the message says what is in the way.
    assert!(stderr.contains("another kuryr is running"), "{stderr}");
}

#[test]
fn every_config_error_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_config(
        dir.path(),
        "[DEFAULT]\ncapability_scope = planet\nstate_dir = relative/dir\nkuryr_uri = ftp://x\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for key in ["capability_scope", "state_dir", "kuryr_uri"] {
        assert!(stderr.contains(key), "{key} missing from: {stderr}");
    }
}

/// The Neutron backend starts even when Neutron does not answer yet (dockerd may
/// start first), and a call then says clearly what is wrong instead of hanging.
#[test]
fn neutron_backend_starts_before_neutron_and_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // the listener is dropped: nothing answers there
    let port = free_port();
    let config = dir.path().join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nstate_dir = {}\nkuryr_uri = http://127.0.0.1:{port}\nspec_dir = {}\n\
             lock_file = {}/kuryr.lock\n[neutron]\nauth_type = none\nendpoint = http://127.0.0.1:{dead}\ntimeout = 2\n",
            dir.path().display(),
            dir.path().display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config-file"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let call = |path: &str, body: &str| -> Option<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).ok()?;
        Some(reply)
    };
    let mut activated = None;
    for _ in 0..200 {
        activated = call("/Plugin.Activate", "");
        if activated.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let activated = activated.expect("the plugin answers without Neutron");
    assert!(activated.contains("IpamDriver"), "{activated}");
    let reply = call(
        "/IpamDriver.RequestPool",
        r#"{"AddressSpace":"local","Pool":"10.9.0.0/24","SubPool":"","Options":{},"V6":false}"#,
    )
    .unwrap();
    assert!(reply.contains("cannot reach Neutron"), "{reply}");
    assert!(reply.contains(&format!("127.0.0.1:{dead}")), "{reply}");
    let _ = child.kill();
    let _ = child.wait();
}

/// `kuryr state` of a stopped Neutron-backed plugin lists the deletes it still owes
/// Neutron (its teardown journal), in the order they will run at the next start.
#[tokio::test]
async fn state_of_a_neutron_plugin_lists_the_deletes_it_owes() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join("state");
    let config = dir.path().join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nstate_dir = {}\n[neutron]\nauth_type = none\nendpoint = http://127.0.0.1:9\n",
            state_dir.display()
        ),
    )
    .unwrap();
    let state = || {
        let out = Command::new(BIN)
            .args(["state", "--config-file"])
            .arg(&config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(state(), serde_json::json!({"pending_neutron_deletes": []}));
    {
        let (journal, _) = kuryr::store::Journal::<serde_json::Value>::open(
            &state_dir.join("neutron-teardown.redb"),
        )
        .unwrap();
        for job in [
            serde_json::json!({"lane": "n1", "steps": [{"port": "p1"}]}),
            serde_json::json!({"lane": "n1", "steps": [{"network": "n1"}, {"pool": "sp1"}]}),
        ] {
            journal.append(&job).await.unwrap();
        }
    }
    let jobs = state()["pending_neutron_deletes"].clone();
    assert_eq!(jobs[0]["steps"], serde_json::json!([{"port": "p1"}]));
    assert_eq!(jobs[1]["steps"][1], serde_json::json!({"pool": "sp1"}));
    assert!(jobs[0]["key"].as_u64().unwrap() < jobs[1]["key"].as_u64().unwrap());
}

/// Start `kuryr serve` with `text` as its config under `umask 000`, the worst umask a
/// service manager could leave.
fn spawn_under_umask_000(config: &std::path::Path) -> std::process::Child {
    Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" serve --config-file \"$1\""])
        .arg(BIN)
        .arg(config)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn wait_for_socket(socket: &std::path::Path) {
    for _ in 0..400 {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("kuryr did not start");
}

fn activate_over(socket: &std::path::Path) -> String {
    let stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    exchange(stream, "POST /Plugin.Activate", "plugin.moby.localhost")
}

/// One HTTP/1.1 request (`METHOD PATH`, no body) and the whole raw reply.
fn exchange(mut stream: impl Read + Write, request: &str, host: &str) -> String {
    stream
        .write_all(
            format!("{request} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn socket_and_state_files_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("kuryr.sock");
    let state = dir.path().join("state");
    let config = dir.path().join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nbackend = embedded\nstate_dir = {}\nkuryr_uri = unix://{}\nlock_file = {}\n",
            state.display(),
            socket.display(),
            dir.path().join("kuryr.lock").display()
        ),
    )
    .unwrap();
    let _plugin = Killed(spawn_under_umask_000(&config));
    wait_for_socket(&socket);
    assert_eq!(mode(&socket), 0o600, "socket");
    assert_eq!(mode(&state), 0o700, "state_dir");
    assert_eq!(mode(&state.join("kuryr.redb")), 0o600, "database");
    assert!(activate_over(&socket).contains("IpamDriver"));
}

#[test]
fn socket_group_makes_the_socket_0660_and_group_owned() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("kuryr.sock");
    let gid = nix::unistd::getgid().as_raw();
    let config = dir.path().join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nbackend = embedded\nstate_dir = {}\nkuryr_uri = unix://{}\nlock_file = {}\nsocket_group = {gid}\n",
            dir.path().join("state").display(),
            socket.display(),
            dir.path().join("kuryr.lock").display()
        ),
    )
    .unwrap();
    let _plugin = Killed(spawn_under_umask_000(&config));
    wait_for_socket(&socket);
    assert_eq!(mode(&socket), 0o660);
    assert_eq!(std::fs::metadata(&socket).unwrap().gid(), gid);
}

#[test]
fn a_regular_file_at_the_socket_path_is_never_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuryr.conf.typo");
    std::fs::write(&path, "precious").unwrap();
    let out = run_with_config(
        dir.path(),
        &format!(
            "[DEFAULT]\nbackend = embedded\nstate_dir = {}\nkuryr_uri = unix://{}\nlock_file = {}\n",
            dir.path().join("state").display(),
            path.display(),
            dir.path().join("kuryr.lock").display()
        ),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a socket"), "{stderr}");
    assert!(stderr.contains("kuryr.conf.typo"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    assert!(
        !dir.path().join("state").exists(),
        "start-up stopped before the backend opened"
    );
}

/// A second plugin with its own `state_dir` on the same host stops at the host lock,
/// before its backend opens (whose reconcile would delete the first one's bridges,
/// veths and nft table), and the first keeps serving.
#[test]
fn a_second_daemon_with_another_state_dir_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = client::start_plugin(BIN, dir.path());
    let other_state = dir.path().join("other-state");
    let out = run_with_config(
        dir.path(),
        &format!(
            "[DEFAULT]\nbackend = embedded\nstate_dir = {}\nkuryr_uri = unix://{}\nlock_file = {}\n",
            other_state.display(),
            first.socket.display(),
            dir.path().join("kuryr.lock").display()
        ),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another kuryr is running"), "{stderr}");
    assert!(!other_state.exists(), "its backend never opened");
    assert!(activate_over(&first.socket).contains("IpamDriver"));
}

#[test]
fn metrics_listen_serves_metrics_and_health_and_no_plugin_call() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let socket = dir.path().join("kuryr.sock");
    let _plugin = Killed(serve_embedded(
        dir.path(),
        &format!(
            "kuryr_uri = unix://{}\nmetrics_listen = 127.0.0.1:{port}\n",
            socket.display()
        ),
    ));
    wait_for_socket(&socket);
    assert!(activate_over(&socket).contains("IpamDriver"));
    let host = format!("127.0.0.1:{port}");
    let over_tcp = |request: &str| {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        exchange(stream, request, &host)
    };
    let health = over_tcp("GET /healthz");
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("\r\n\r\nok\n"),
        "{health}"
    );
    let metrics = over_tcp("GET /metrics");
    assert!(
        metrics
            .contains("kuryr_plugin_requests_total{method=\"Plugin.Activate\",outcome=\"ok\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("backend=\"embedded\"} 1\n"), "{metrics}");
    let call = over_tcp("POST /Plugin.Activate");
    assert!(call.starts_with("HTTP/1.1 404"), "{call}");
    // The plugin's own socket serves them too.
    let stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    let metrics = exchange(stream, "GET /metrics", "plugin.moby.localhost");
    assert!(metrics.contains("kuryr_build_info{"), "{metrics}");
}

#[test]
fn a_remote_tcp_listener_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_config(dir.path(), "[DEFAULT]\nkuryr_uri = tcp://0.0.0.0:1\n");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("allow_remote_listen"), "{stderr}");
    let check = Command::new(BIN)
        .args(["check-config", "--config-file"])
        .arg(dir.path().join("kuryr.conf"))
        .output()
        .unwrap();
    assert!(!check.status.success());
}

/// dockerd (or systemd) may stop the plugin the moment its socket appears, before the
/// first call. The handlers are installed before the socket exists, so that SIGTERM
/// is a clean stop (exit 0, socket removed), never the default action's death.
#[test]
fn a_sigterm_as_soon_as_the_socket_exists_is_a_clean_stop() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("kuryr.sock");
        let mut child = serve_embedded(
            dir.path(),
            &format!("kuryr_uri = unix://{}\n", socket.display()),
        );
        let mut seen = false;
        for _ in 0..20_000 {
            if socket.exists() {
                seen = true;
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = child.wait().unwrap();
        assert!(seen, "round {round}: the socket never appeared");
        assert!(status.success(), "round {round}: {status}");
        assert!(!socket.exists(), "round {round}: the socket is removed");
    }
}

/// `check-config` runs the Neutron client's checks too, so a file it passes is not
/// then refused by `serve` (found by the node bootstrap's tests).
#[test]
fn check_config_refuses_what_serve_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kuryr.conf");
    std::fs::write(
        &config,
        "[DEFAULT]\nbackend = neutron\n[neutron]\nauth_type = password\nauth_url = http://127.0.0.1:5000/v3\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config-file"])
        .arg(&config)
        .env_remove("OS_USERNAME")
        .env_remove("OS_USER_ID")
        .env_remove("OS_CLOUD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("username"), "{stderr}");
}

/// `kuryr ARGS`'s stdout; the command must succeed.
fn stdout_of(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "kuryr {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_and_man_pages_name_every_subcommand() {
    // The subcommands as `--help` lists them, so a new one is checked without editing
    // this test.
    let help = stdout_of(&["--help"]);
    let subcommands: Vec<&str> = help
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    for known in ["serve", "state", "check-config", "completions", "man"] {
        assert!(subcommands.contains(&known), "{known} in {help}");
    }
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(&["completions", shell]);
        for subcommand in &subcommands {
            assert!(script.contains(subcommand), "{shell} lacks {subcommand}");
        }
        assert!(script.contains("config-file"), "{shell}: {script}");
    }
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH kuryr 1"), "{page}");
    for subcommand in &subcommands {
        let roff = subcommand.replace('-', "\\-");
        assert!(
            page.contains(&format!("kuryr\\-{roff}(1)")),
            "{subcommand}: {page}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let written = stdout_of(&["man", "--out-dir", pages.to_str().unwrap()]);
    assert!(written.is_empty(), "{written}");
    for subcommand in &subcommands {
        let page = std::fs::read_to_string(pages.join(format!("kuryr-{subcommand}.1"))).unwrap();
        assert!(
            page.contains(&format!(".TH kuryr-{subcommand} 1")),
            "{page}"
        );
    }
    let serve = std::fs::read_to_string(pages.join("kuryr-serve.1")).unwrap();
    assert!(serve.contains("\\-\\-config\\-file"), "{serve}");
}
