//! Crash safety of the real binary: `kill -9` the plugin while 32 connections allocate,
//! restart it on the same state, and check that every address acknowledged before the
//! kill is still held and that no address is ever handed out twice.

#[path = "support/client.rs"]
mod client;

use client::{allocate, bare_ip, connect, post, post_ok, start_plugin};
use serde_json::json;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_kuryr");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let mut plugin = start_plugin(BIN, dir.path());
    let mut sender = connect(&plugin.socket).await.unwrap();
    let pool = post_ok(
        &mut sender,
        "/IpamDriver.RequestPool",
        &json!({"AddressSpace": "crash", "Pool": "10.60.0.0/20", "SubPool": "", "Options": {}, "V6": false}),
    )
    .await;
    let pool_id = pool["PoolID"].as_str().unwrap().to_owned();

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..32 {
        let socket = plugin.socket.clone();
        let pool_id = pool_id.clone();
        let acked = acked.clone();
        workers.push(tokio::spawn(async move {
            let Ok(mut sender) = connect(&socket).await else {
                return;
            };
            // Until the plugin dies under us: every 200 reply is an acknowledgement.
            while let Ok((status, reply)) = post(
                &mut sender,
                "/IpamDriver.RequestAddress",
                &json!({"PoolID": pool_id, "Address": "", "Options": null}),
            )
            .await
            {
                assert_eq!(status, 200, "{reply}");
                let address = bare_ip(&reply);
                acked.lock().unwrap().push(address);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    plugin.child.kill().unwrap(); // SIGKILL: no chance to flush or clean up
    plugin.child.wait().unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "the kill should land mid-stream: {} acked",
        acked.len()
    );
    let unique: HashSet<_> = acked.iter().collect();
    assert_eq!(
        unique.len(),
        acked.len(),
        "an address was handed out twice before the kill"
    );

    drop(plugin);
    let plugin = start_plugin(BIN, dir.path());
    let mut sender = connect(&plugin.socket).await.unwrap();
    for address in &acked {
        let (status, reply) = post(
            &mut sender,
            "/IpamDriver.RequestAddress",
            &json!({"PoolID": pool_id, "Address": address, "Options": null}),
        )
        .await
        .unwrap();
        assert_ne!(
            status, 200,
            "acknowledged {address} was lost in the crash: {reply}"
        );
        assert!(reply["Err"].as_str().unwrap().contains("in use"), "{reply}");
    }
    for _ in 0..200 {
        let address = allocate(&mut sender, &pool_id).await;
        assert!(
            !unique.contains(&address),
            "{address} handed out twice across the crash"
        );
    }
}
