//! The operator's commands against the real binary on the embedded backend:
//! `kuryr status` asking a running plugin, and reading its state dir once it is gone.

#[path = "support/client.rs"]
mod client;

use std::process::Command;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_kuryr");

fn status_json(config: &std::path::Path) -> Value {
    let out = Command::new(BIN)
        .args(["status", "--json", "--config-file"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kuryr status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn pool<'a>(status: &'a Value, cidr: &str) -> &'a Value {
    status["pools"]
        .as_array()
        .and_then(|pools| pools.iter().find(|p| p["cidr"] == cidr))
        .unwrap_or_else(|| panic!("no pool {cidr} in {status}"))
}

#[tokio::test]
async fn status_reports_pool_usage_from_the_plugin_then_from_its_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = client::start_plugin(BIN, dir.path());
    let config = dir.path().join("kuryr.conf");
    let mut sender = client::connect(&plugin.socket).await.unwrap();
    let granted = client::post_ok(
        &mut sender,
        "/IpamDriver.RequestPool",
        &json!({"AddressSpace": "LocalDefault", "Pool": "10.231.0.0/24", "SubPool": "",
                "Options": {}, "V6": false}),
    )
    .await;
    let pool_id = granted["PoolID"].as_str().unwrap().to_string();
    let fresh = status_json(&config);
    assert_eq!(pool(&fresh, "10.231.0.0/24")["used"], 0);
    for _ in 0..3 {
        client::allocate(&mut sender, &pool_id).await;
    }

    let live = status_json(&config);
    assert_eq!(live["source"], "plugin");
    assert_eq!(live["backend"], "embedded");
    assert!(live["uptime_secs"].is_u64(), "{live}");
    assert_eq!(
        live["listener"],
        format!("unix://{}", plugin.socket.display())
    );
    let p = pool(&live, "10.231.0.0/24");
    assert_eq!(p["pool_id"], pool_id.as_str());
    assert_eq!(
        (p["used"].as_u64(), p["free"].as_u64(), p["size"].as_u64()),
        (Some(3), Some(251), Some(254))
    );

    // The text form says the same, and the calls counted nothing twice.
    let text = Command::new(BIN)
        .args(["status", "--config-file"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("3 of 254 used, 251 free"), "{text}");

    // Gone (SIGKILL): the state dir tells the same, and says where it came from.
    drop(sender);
    drop(plugin);
    let stopped = status_json(&config);
    assert_eq!(stopped["source"], "state_dir");
    assert!(stopped.get("uptime_secs").is_none());
    assert_eq!(pool(&stopped, "10.231.0.0/24")["used"], 3);
    let text = Command::new(BIN)
        .args(["status", "--config-file"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("NOT RUNNING"));
}

// `kuryr doctor`, through the library with dockerd's discovery directories in a temp
// dir, so the test sees only its own plugin.

fn discovery(dir: &std::path::Path) -> kuryr::doctor::Discovery {
    kuryr::doctor::Discovery {
        socket_dir: dir.to_path_buf(),
        spec_dirs: vec![dir.join("etc"), dir.join("usr")],
    }
}

async fn doctor(config: &std::path::Path, dir: &std::path::Path) -> Vec<kuryr::doctor::Finding> {
    let loaded =
        kuryr::config::load(Some(config), &kuryr::config::ProcessEnv).map_err(|e| e.to_string());
    kuryr::doctor::run(loaded, &discovery(dir)).await
}

fn fails(findings: &[kuryr::doctor::Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.level == kuryr::doctor::Level::Fail)
        .map(|f| format!("{}: {}", f.check, f.detail))
        .collect()
}

#[tokio::test]
async fn doctor_passes_a_healthy_plugin_and_names_a_second_plugin_of_the_same_name() {
    let dir = tempfile::tempdir().unwrap();
    let _plugin = client::start_plugin(BIN, dir.path());
    let config = dir.path().join("kuryr.conf");
    let healthy = doctor(&config, dir.path()).await;
    assert!(fails(&healthy).is_empty(), "{:?}", fails(&healthy));
    let plugin = healthy.iter().find(|f| f.check == "plugin").unwrap();
    assert!(
        plugin.detail.contains("socket mode 600"),
        "{}",
        plugin.detail
    );

    // A kuryr-libnetwork spec file left for the same name: dockerd may take either.
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    let spec = dir.path().join("etc/kuryr.spec");
    std::fs::write(&spec, "http://127.0.0.1:23750\n").unwrap();
    let conflict = fails(&doctor(&config, dir.path()).await);
    assert_eq!(conflict.len(), 1, "{conflict:?}");
    assert!(
        conflict[0].starts_with("name conflicts")
            && conflict[0].contains(&spec.display().to_string()),
        "{conflict:?}"
    );
}

#[tokio::test]
async fn doctor_fails_naming_a_socket_directory_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let sockets = dir.path().join("plugins");
    std::fs::create_dir(&sockets).unwrap();
    // Root ignores mode bits, not a read-only mount; others are stopped by the mode.
    let root = nix::unistd::geteuid().is_root();
    if root {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs"])
            .arg(&sockets)
            .status()
            .unwrap();
        assert!(status.success(), "mount a read-only tmpfs");
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sockets, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let config = dir.path().join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nbackend = embedded\nkuryr_uri = unix://{}/kuryr.sock\nstate_dir = {}\nlock_file = {}\n",
            sockets.display(),
            dir.path().join("state").display(),
            dir.path().join("lock").display()
        ),
    )
    .unwrap();
    let findings = doctor(&config, &sockets).await;
    if root {
        let _ = Command::new("umount").arg(&sockets).status();
    }
    let fails = fails(&findings);
    assert!(
        fails.iter().any(|f| f.starts_with("socket directory")
            && f.contains(&sockets.display().to_string())
            && f.contains("not writable")),
        "{fails:?}"
    );
    let text = kuryr::doctor::render(&findings);
    assert!(text.contains("fix: "), "{text}");
}
