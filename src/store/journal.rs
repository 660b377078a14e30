//! A durable to-do list: records appended with fsync, read back in order after a
//! restart, removed once done. The Neutron backend keeps the deletes it has promised
//! Docker here, so a crash between the reply and the delete loses nothing.
//!
//! Each call is one small redb write transaction (redb commits with fsync by
//! default); callers are async, so the blocking work runs on tokio's blocking pool.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{StoreError, create_database, create_private_dir};

const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");

/// Records with their keys, in append order.
pub type Records<T> = Vec<(u64, T)>;

pub struct Journal<T> {
    db: Arc<Database>,
    _records: PhantomData<fn() -> T>,
}

impl<T> Clone for Journal<T> {
    fn clone(&self) -> Self {
        Journal {
            db: self.db.clone(),
            _records: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Journal<T> {
    /// Opens (or creates) the journal at `path`, returning what is still in it in
    /// append order. A record that no longer decodes is dropped with a warning: it was
    /// written by another version and cannot be acted on.
    pub fn open(path: &Path) -> Result<(Journal<T>, Records<T>), StoreError> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        let db = create_database(path)?;
        let txn = db.begin_write().map_err(|e| StoreError::db("begin", e))?;
        txn.open_table(RECORDS)
            .map_err(|e| StoreError::db("open records", e))?;
        txn.commit().map_err(|e| StoreError::db("commit", e))?;
        let records = read_records(&db)?;
        Ok((
            Journal {
                db: Arc::new(db),
                _records: PhantomData,
            },
            records,
        ))
    }

    /// What a journal no process has open holds, for `kuryr state`; none when the
    /// file does not exist.
    pub fn read(path: &Path) -> Result<Records<T>, StoreError> {
        if !path.exists() {
            return Ok(Vec::new());
        }
        let db = Database::open(path).map_err(|source| StoreError::Open {
            path: PathBuf::from(path),
            source: source.into(),
        })?;
        read_records(&db)
    }

    /// Appends `record` durably and returns its key.
    pub async fn append(&self, record: &T) -> Result<u64, StoreError> {
        let bytes = serde_json::to_vec(record).map_err(|source| StoreError::Decode {
            key: "(new journal record)".into(),
            source,
        })?;
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(|e| StoreError::db("begin", e))?;
            let key = {
                let mut table = txn
                    .open_table(RECORDS)
                    .map_err(|e| StoreError::db("open records", e))?;
                let next = match table.last().map_err(|e| StoreError::db("read", e))? {
                    Some((last, _)) => last.value() + 1,
                    None => 0,
                };
                table
                    .insert(next, bytes.as_slice())
                    .map_err(|e| StoreError::db("append", e))?;
                next
            };
            txn.commit().map_err(|e| StoreError::db("commit", e))?;
            Ok(key)
        })
        .await
    }

    /// Removes the record `key`; removing one already gone is success.
    pub async fn remove(&self, key: u64) -> Result<(), StoreError> {
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(|e| StoreError::db("begin", e))?;
            txn.open_table(RECORDS)
                .map_err(|e| StoreError::db("open records", e))?
                .remove(key)
                .map_err(|e| StoreError::db("remove", e))?;
            txn.commit().map_err(|e| StoreError::db("commit", e))
        })
        .await
    }
    /// Commits an empty transaction, written and fsynced like any other, to tell
    /// whether the journal still takes writes.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(|e| StoreError::db("begin", e))?;
            txn.commit().map_err(|e| StoreError::db("commit", e))
        })
        .await
    }
}

fn read_records<T: DeserializeOwned>(db: &Database) -> Result<Records<T>, StoreError> {
    let txn = db.begin_read().map_err(|e| StoreError::db("begin", e))?;
    let table = txn
        .open_table(RECORDS)
        .map_err(|e| StoreError::db("open records", e))?;
    let mut records = Vec::new();
    for row in table.iter().map_err(|e| StoreError::db("read", e))? {
        let (key, value) = row.map_err(|e| StoreError::db("read", e))?;
        match serde_json::from_slice(value.value()) {
            Ok(record) => records.push((key.value(), record)),
            Err(error) => {
                tracing::warn!(key = key.value(), %error, "journal record dropped");
            }
        }
    }
    Ok(records)
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::CommitFailed(format!("journal task: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_survive_a_reopen_in_order_and_removals_stick() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.redb");
        {
            let (journal, old) = Journal::<String>::open(&path).unwrap();
            assert!(old.is_empty());
            let a = journal.append(&"a".to_string()).await.unwrap();
            let b = journal.append(&"b".to_string()).await.unwrap();
            journal.append(&"c".to_string()).await.unwrap();
            assert!(b > a);
            journal.remove(b).await.unwrap();
            journal.remove(b).await.unwrap();
        }
        let read = Journal::<String>::read(&path).unwrap();
        let (journal, old) = Journal::<String>::open(&path).unwrap();
        let values: Vec<&str> = old.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["a", "c"]);
        assert_eq!(read, old, "read sees what open does");
        assert!(
            Journal::<String>::read(&path).is_err(),
            "not while another holds it open"
        );
        assert!(
            Journal::<String>::read(&dir.path().join("none"))
                .unwrap()
                .is_empty()
        );
        // Keys keep growing after a reopen, so order is kept across restarts.
        let d = journal.append(&"d".to_string()).await.unwrap();
        assert!(old.iter().all(|(k, _)| *k < d));
    }

    #[tokio::test]
    async fn undecodable_records_are_dropped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.redb");
        {
            let (journal, _) = Journal::<String>::open(&path).unwrap();
            journal.append(&"kept".to_string()).await.unwrap();
        }
        {
            let (journal, old) = Journal::<u32>::open(&path).unwrap();
            assert!(old.is_empty(), "a string is not a u32");
            journal.append(&7).await.unwrap();
        }
        let (_, old) = Journal::<u32>::open(&path).unwrap();
        assert_eq!(old.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [7]);
    }
}
