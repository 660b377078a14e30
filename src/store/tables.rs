//! Table layout of the state database and the code that reads and writes rows.
//!
//! Layout (keys → values):
//! - `pools`:     pool id → JSON `PoolRecord`
//! - `addresses`: (pool id, address as u128) → () — one row per allocated address
//! - `networks`:  Docker network id → JSON `NetworkRecord`
//! - `endpoints`: Docker endpoint id → JSON `EndpointRecord`
//!
//! Allocations are rows, not a serialized allocator: an allocation is one small insert,
//! and the allocator's index is rebuilt from the rows at start-up.

use super::{EndpointRecord, NetworkRecord, Op, PoolRecord, Snapshot, StoreError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

const POOLS: TableDefinition<&str, &[u8]> = TableDefinition::new("pools");
const ADDRESSES: TableDefinition<(&str, u128), ()> = TableDefinition::new("addresses");
const NETWORKS: TableDefinition<&str, &[u8]> = TableDefinition::new("networks");
const ENDPOINTS: TableDefinition<&str, &[u8]> = TableDefinition::new("endpoints");

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

pub(super) fn read_all(db: &Database) -> Result<Snapshot, StoreError> {
    let txn = db.begin_read().map_err(|e| StoreError::db("begin", e))?;
    let mut snapshot = Snapshot::default();

    let pools = txn
        .open_table(POOLS)
        .map_err(|e| StoreError::db("open pools", e))?;
    for row in pools.iter().map_err(|e| StoreError::db("read pools", e))? {
        let (key, value) = row.map_err(|e| StoreError::db("read pools", e))?;
        let record: PoolRecord = decode(key.value(), value.value())?;
        snapshot.pools.push((key.value().to_owned(), record));
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
        snapshot
            .networks
            .push(decode::<NetworkRecord>(key.value(), value.value())?);
    }

    let endpoints = txn
        .open_table(ENDPOINTS)
        .map_err(|e| StoreError::db("open endpoints", e))?;
    for row in endpoints
        .iter()
        .map_err(|e| StoreError::db("read endpoints", e))?
    {
        let (key, value) = row.map_err(|e| StoreError::db("read endpoints", e))?;
        snapshot
            .endpoints
            .push(decode::<EndpointRecord>(key.value(), value.value())?);
    }
    Ok(snapshot)
}

/// Apply one op inside an open write transaction.
pub(super) fn apply(txn: &WriteTransaction, op: &Op) -> Result<(), StoreError> {
    match op {
        Op::PutPool { id, record } => put_json(txn, POOLS, id, record),
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
