//! The store's file and failure rules: private modes, no symlinks, quarantine of
//! records that no longer decode, and fail-stop after a failed commit.

use super::*;
use redb::{ReadableDatabase, TableDefinition};
use std::os::unix::fs::PermissionsExt;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn pool(cidr: &str) -> PoolRecord {
    PoolRecord {
        space: "s".into(),
        cidr: cidr.parse().unwrap(),
        range: None,
        options: Default::default(),
        allocated_for: None,
    }
}

/// The committer thread closes the database a moment after the last handle goes.
fn reopen(path: &Path) -> redb::Database {
    for _ in 0..100 {
        if let Ok(db) = redb::Database::open(path) {
            return db;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    redb::Database::open(path).unwrap()
}

#[test]
fn state_dir_is_0700_and_databases_0600_on_every_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A file an older version left world-readable.
    std::fs::write(state.join(DB_FILE), b"").unwrap();
    std::fs::set_permissions(state.join(DB_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (store, _) = Store::open(&state).unwrap();
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join(DB_FILE)), 0o600);
    drop(store);

    let journal = state.join("journal.redb");
    let (_journal, _) = Journal::<String>::open(&journal).unwrap();
    assert_eq!(mode(&journal), 0o600);
}

#[test]
fn a_database_path_that_is_a_symlink_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, b"precious").unwrap();
    std::os::unix::fs::symlink(&target, state.join(DB_FILE)).unwrap();
    let error = Store::open(&state).err().expect("refused");
    assert!(error.to_string().contains(DB_FILE), "{error}");
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
}

#[test]
fn an_undecodable_record_is_quarantined_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    const POOLS: TableDefinition<&str, &[u8]> = TableDefinition::new("pools");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut pools = txn.open_table(POOLS).unwrap();
            let good = serde_json::to_vec(&pool("10.0.0.0/24")).unwrap();
            pools.insert("good", good.as_slice()).unwrap();
            pools.insert("bad", b"{not json".as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let (store, snapshot) = Store::open(dir.path()).expect("a bad record does not stop start-up");
    assert_eq!(snapshot.pools.len(), 1);
    assert_eq!(snapshot.pools[0].0, "good");
    drop(store);

    let db = reopen(&path);
    let txn = db.begin_read().unwrap();
    let pools = txn.open_table(POOLS).unwrap();
    assert!(pools.get("bad").unwrap().is_none(), "moved out of pools");
    let quarantine = txn
        .open_table(TableDefinition::<&str, &[u8]>::new("quarantine"))
        .unwrap();
    assert_eq!(
        quarantine.get("pools/bad").unwrap().unwrap().value(),
        b"{not json"
    );
}

#[tokio::test]
async fn a_failed_commit_stops_every_later_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let (store, _) = Store::open_with_faults(dir.path(), faults.clone()).unwrap();
    let put = |id: &str| Op::PutPool {
        id: id.into(),
        record: pool("10.0.0.0/24"),
    };
    store.submit(vec![put("a")]).wait().await.unwrap();
    // Healthy: `failed` does not resolve.
    let healthy = tokio::time::timeout(std::time::Duration::from_millis(50), store.failed()).await;
    assert!(healthy.is_err());

    faults.fail_commits();
    let error = store
        .submit(vec![Op::DeletePool { id: "a".into() }])
        .wait()
        .await;
    assert!(
        matches!(error, Err(StoreError::CommitFailed(_))),
        "{error:?}"
    );
    let reason = tokio::time::timeout(std::time::Duration::from_secs(5), store.failed())
        .await
        .expect("the failure is published");
    assert!(reason.contains("injected"), "{reason}");
    // Nothing after it is acknowledged.
    let later = store.submit(vec![put("b")]).wait().await;
    assert!(matches!(later, Err(StoreError::Failed(_))), "{later:?}");
}

/// A swarm manager's AllocateNetwork binds a pool to its network; the binding is
/// stored with the pool (and read back), and binding a pool already gone is a no-op.
#[tokio::test]
async fn a_pool_binding_is_stored_with_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, _) = Store::open(dir.path()).unwrap();
        store
            .submit(vec![
                Op::PutPool {
                    id: "p".into(),
                    record: pool("10.0.0.0/24"),
                },
                Op::BindPool {
                    id: "p".into(),
                    network: "ycl3gcwqpg27k3c1rika55mvw".into(),
                },
                Op::BindPool {
                    id: "gone".into(),
                    network: "x".into(),
                },
            ])
            .wait()
            .await
            .unwrap();
    }
    // The committer closes the database a moment after the last handle goes.
    let mut snapshot = read_snapshot(dir.path());
    for _ in 0..100 {
        if snapshot.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        snapshot = read_snapshot(dir.path());
    }
    let snapshot = snapshot.unwrap();
    assert_eq!(snapshot.pools.len(), 1);
    assert_eq!(
        snapshot.pools[0].1.allocated_for.as_deref(),
        Some("ycl3gcwqpg27k3c1rika55mvw")
    );
}

/// An endpoint record written before kuryr published ports still decodes (with no
/// ports), and one without ports is written exactly as before.
#[test]
fn endpoint_records_without_published_ports_keep_their_encoding() {
    let old = r#"{"endpoint_id":"e","network_id":"n","host_ifname":"kvh","container_ifname":"kvc","mac":[2,0,0,0,0,1],"address":"10.1.0.5/24","address_ipv6":null}"#;
    let record: EndpointRecord = serde_json::from_str(old).unwrap();
    assert!(record.published.is_empty());
    assert_eq!(serde_json::to_string(&record).unwrap(), old);
    let with = EndpointRecord {
        published: vec![PublishedPort {
            proto: 6,
            host_ip: None,
            host_port: 8080,
            port: 80,
        }],
        ..record
    };
    let text = serde_json::to_string(&with).unwrap();
    assert!(
        text.ends_with(r#","published":[{"proto":6,"host_ip":null,"host_port":8080,"port":80}]}"#),
        "{text}"
    );
    assert_eq!(serde_json::from_str::<EndpointRecord>(&text).unwrap(), with);
}
