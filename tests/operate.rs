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
