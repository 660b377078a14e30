//! Table layout of the state database and the code that reads and writes rows.
//!
//! Layout (keys → values):
//! - `pools`:     pool id → JSON `PoolRecord`
//! - `addresses`: (pool id, address as u128) → () — one row per allocated address
//! - `networks`:  Docker network id → JSON `NetworkRecord`
//! - `endpoints`: Docker endpoint id → JSON `EndpointRecord`
//! - `quarantine`: `table/key` → the bytes of a record that no longer decoded at start
//!
//! Allocations are rows, not a serialized allocator: an allocation is one small insert,
//! and the allocator's index is rebuilt from the rows at start-up.

use super::{EndpointRecord, NetworkRecord, Op, PoolRecord, Snapshot, StoreError};
use redb::{
    Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle, WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

const POOLS: TableDefinition<&str, &[u8]> = TableDefinition::new("pools");
const ADDRESSES: TableDefinition<(&str, u128), ()> = TableDefinition::new("addresses");
const NETWORKS: TableDefinition<&str, &[u8]> = TableDefinition::new("networks");
const ENDPOINTS: TableDefinition<&str, &[u8]> = TableDefinition::new("endpoints");
const QUARANTINE: TableDefinition<&str, &[u8]> = TableDefinition::new("quarantine");

/// A stored record that did not decode: where it was and what it held.
pub(super) struct BadRecord {
    table: TableDefinition<'static, &'static str, &'static [u8]>,
    key: String,
    bytes: Vec<u8>,
}

pub(super) fn create_all(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(|e| StoreError::db("begin", e))?;
    txn.open_table(POOLS)
        .map_err(|e| StoreError::db("open pools", e))?;
    txn.open_table(ADDRESSES)
        .map_err(|e| StoreError::db("open addresses", e))?;
    txn.open_table(NETWORKS)
        .map_err(|e| StoreError::db("open networks", e))?;
    txn.open_table(ENDPOINTS)
        .map_err(|e| StoreError::db("open endpoints", e))?;
    txn.commit().map_err(|e| StoreError::db("commit", e))
}

/// Everything stored, and the records that no longer decode (each logged here), which
/// the snapshot leaves out: one bad row must not keep the plugin from starting.
pub(super) fn read_all(db: &Database) -> Result<(Snapshot, Vec<BadRecord>), StoreError> {
    let txn = db.begin_read().map_err(|e| StoreError::db("begin", e))?;
    let mut snapshot = Snapshot::default();
    let mut bad = Vec::new();

    let pools = txn
        .open_table(POOLS)
        .map_err(|e| StoreError::db("open pools", e))?;
    for row in pools.iter().map_err(|e| StoreError::db("read pools", e))? {
        let (key, value) = row.map_err(|e| StoreError::db("read pools", e))?;
        if let Some(record) = decode_or_set_aside::<PoolRecord>(POOLS, &key, &value, &mut bad) {
            snapshot.pools.push((key.value().to_owned(), record));
        }
    }

    let addresses = txn
        .open_table(ADDRESSES)
        .map_err(|e| StoreError::db("open addresses", e))?;
    for row in addresses
        .iter()
        .map_err(|e| StoreError::db("read addresses", e))?
    {
        let (key, _) = row.map_err(|e| StoreError::db("read addresses", e))?;
        let (pool_id, address) = key.value();
        snapshot.addresses.push((pool_id.to_owned(), address));
    }

    let networks = txn
        .open_table(NETWORKS)
        .map_err(|e| StoreError::db("open networks", e))?;
    for row in networks
        .iter()
        .map_err(|e| StoreError::db("read networks", e))?
    {
        let (key, value) = row.map_err(|e| StoreError::db("read networks", e))?;
        if let Some(record) = decode_or_set_aside::<NetworkRecord>(NETWORKS, &key, &value, &mut bad)
        {
            snapshot.networks.push(record);
        }
    }

    let endpoints = txn
        .open_table(ENDPOINTS)
        .map_err(|e| StoreError::db("open endpoints", e))?;
    for row in endpoints
        .iter()
        .map_err(|e| StoreError::db("read endpoints", e))?
    {
        let (key, value) = row.map_err(|e| StoreError::db("read endpoints", e))?;
        if let Some(record) =
            decode_or_set_aside::<EndpointRecord>(ENDPOINTS, &key, &value, &mut bad)
        {
            snapshot.endpoints.push(record);
        }
    }
    Ok((snapshot, bad))
}

fn decode_or_set_aside<T: DeserializeOwned>(
    table: TableDefinition<'static, &'static str, &'static [u8]>,
    key: &redb::AccessGuard<'_, &'static str>,
    value: &redb::AccessGuard<'_, &'static [u8]>,
    bad: &mut Vec<BadRecord>,
) -> Option<T> {
    match decode(key.value(), value.value()) {
        Ok(record) => Some(record),
        Err(error) => {
            tracing::error!(
                table = table.name(),
                key = key.value(),
                %error,
                "stored record does not decode; left out and quarantined"
            );
            bad.push(BadRecord {
                table,
                key: key.value().to_owned(),
                bytes: value.value().to_vec(),
            });
            None
        }
    }
}

/// Move undecodable records to `quarantine` (kept for a human to look at, out of the
/// way of the next write under the same key) in one transaction.
pub(super) fn quarantine(db: &Database, bad: &[BadRecord]) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(|e| StoreError::db("begin", e))?;
    {
        let mut quarantine = txn
            .open_table(QUARANTINE)
            .map_err(|e| StoreError::db("open quarantine", e))?;
        for record in bad {
            let key = format!("{}/{}", record.table.name(), record.key);
            quarantine
                .insert(key.as_str(), record.bytes.as_slice())
                .map_err(|e| StoreError::db("quarantine", e))?;
        }
    }
    for record in bad {
        remove(&txn, record.table, &record.key)?;
    }
    txn.commit().map_err(|e| StoreError::db("commit", e))
}

/// Apply one op inside an open write transaction.
pub(super) fn apply(txn: &WriteTransaction, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::PutPool { id, record } => put_json(txn, POOLS, id, record),
        Op::BindPool { id, network } => {
            let stored = {
                let pools = txn
                    .open_table(POOLS)
                    .map_err(|e| StoreError::db("open pools", e))?;
                pools
                    .get(id.as_str())
                    .map_err(|e| StoreError::db("read pool", e))?
                    .map(|v| v.value().to_vec())
            };
            let Some(bytes) = stored else {
                return Ok(());
            };
            let mut record: PoolRecord =
                serde_json::from_slice(&bytes).map_err(|source| StoreError::Decode {
                    key: id.clone(),
                    source,
                })?;
            record.allocated_for = Some(network.clone());
            put_json(txn, POOLS, id, &record)
        }
        Op::DeletePool { id } => {
            let mut pools = txn
                .open_table(POOLS)
                .map_err(|e| StoreError::db("open pools", e))?;
            pools
                .remove(id.as_str())
                .map_err(|e| StoreError::db("delete pool", e))?;
            let mut addresses = txn
                .open_table(ADDRESSES)
                .map_err(|e| StoreError::db("open addresses", e))?;
            addresses
                .extract_from_if((id.as_str(), 0)..=(id.as_str(), u128::MAX), |_, _| true)
                .map_err(|e| StoreError::db("delete pool addresses", e))?
                .for_each(drop);
            Ok(())
        }
        Op::AddAddress { pool_id, address } => {
            let mut addresses = txn
                .open_table(ADDRESSES)
                .map_err(|e| StoreError::db("open addresses", e))?;
            addresses
                .insert((pool_id.as_str(), *address), ())
                .map_err(|e| StoreError::db("add address", e))?;
            Ok(())
        }
        Op::RemoveAddress { pool_id, address } => {
            let mut addresses = txn
                .open_table(ADDRESSES)
                .map_err(|e| StoreError::db("open addresses", e))?;
            addresses
                .remove((pool_id.as_str(), *address))
                .map_err(|e| StoreError::db("remove address", e))?;
            Ok(())
        }
        Op::PutNetwork(record) => put_json(txn, NETWORKS, &record.network_id, record),
        Op::DeleteNetwork { network_id } => remove(txn, NETWORKS, network_id),
        Op::PutEndpoint(record) => put_json(txn, ENDPOINTS, &record.endpoint_id, record),
        Op::DeleteEndpoint { endpoint_id } => remove(txn, ENDPOINTS, endpoint_id),
    }
}

fn put_json<T: Serialize>(
    txn: &WriteTransaction,
    table: TableDefinition<&str, &[u8]>,
    key: &str,
    record: &T,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(record).map_err(|source| StoreError::Decode {
        key: key.to_owned(),
        source,
    })?;
    let mut table = txn
        .open_table(table)
        .map_err(|e| StoreError::db("open table", e))?;
    table
        .insert(key, bytes.as_slice())
        .map_err(|e| StoreError::db("insert", e))?;
    Ok(())
}

fn remove(
    txn: &WriteTransaction,
    table: TableDefinition<&str, &[u8]>,
    key: &str,
) -> Result<(), StoreError> {
    let mut table = txn
        .open_table(table)
        .map_err(|e| StoreError::db("open table", e))?;
    table.remove(key).map_err(|e| StoreError::db("remove", e))?;
    Ok(())
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
        key: key.to_owned(),
        source,
    })
}
