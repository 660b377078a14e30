//! Durable state of the embedded backend, in a redb database under `state_dir`.
//!
//! Writes are group-committed: callers `submit` a batch of `Op`s and await it; one
//! committer thread drains every batch waiting, applies them in submission order in one
//! write transaction, commits with fsync (redb's `Durability::Immediate`), and only then
//! acknowledges them. So a reply is sent to Docker only after its change is on disk, and
//! many concurrent calls share one fsync. Submission order must match the order of the
//! in-memory changes it records; callers submit while holding the lock that orders them.
//!
//! `journal.rs` is the other durable structure here: an fsynced to-do list the
//! Neutron backend keeps its promised deletes in.
//!
//! The store only writes and loads. It knows files, not HTTP, Docker or the kernel.

mod commit;
mod dump;
mod journal;
mod records;
mod tables;

pub use dump::to_json;
pub use journal::Journal;
pub use records::{EndpointRecord, NetworkRecord, Op, PoolRecord, Snapshot, SubnetRecord};

use std::path::{Path, PathBuf};
use tokio::sync::{mpsc, oneshot};

/// The database file inside `state_dir`.
pub const DB_FILE: &str = "kuryr.redb";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::Error,
    },
    #[error("state database {op}: {source}")]
    Db {
        op: &'static str,
        #[source]
        source: redb::Error,
    },
    #[error("state record {key}: {source}")]
    Decode {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot create state directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state database commit failed: {0}")]
    CommitFailed(String),
    #[error("the state database's commit thread has stopped")]
    Closed,
}

impl StoreError {
    fn db(op: &'static str, source: impl Into<redb::Error>) -> Self {
        StoreError::Db {
            op,
            source: source.into(),
        }
    }
}

/// A handle to submit changes. Cheap to clone; the committer stops when all are dropped.
#[derive(Clone)]
pub struct Store {
    batches: mpsc::UnboundedSender<commit::Batch>,
}

/// A submitted batch; `wait` resolves once it is durable (or failed).
pub struct Pending(oneshot::Receiver<Result<(), StoreError>>);

impl Pending {
    pub async fn wait(self) -> Result<(), StoreError> {
        self.0.await.unwrap_or(Err(StoreError::Closed))
    }
}

impl Store {
    /// Open (or create) the database in `state_dir`, read everything in it, and start
    /// the committer thread.
    pub fn open(state_dir: &Path) -> Result<(Store, Snapshot), StoreError> {
        create_private_dir(state_dir)?;
        let path = state_dir.join(DB_FILE);
        let db = redb::Database::create(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source: source.into(),
        })?;
        tables::create_all(&db)?;
        let snapshot = tables::read_all(&db)?;
        let batches = commit::spawn(db)?;
        Ok((Store { batches }, snapshot))
    }

    /// Queue `ops` for the next commit. Never blocks.
    pub fn submit(&self, ops: Vec<Op>) -> Pending {
        let (done, wait) = oneshot::channel();
        // If the committer is gone the sender is dropped with the batch and `wait`
        // reports `Closed`.
        let _ = self.batches.send(commit::Batch { ops, done });
        Pending(wait)
    }
}

/// Read a database that no process has open, e.g. for `kuryr state`.
pub fn read_snapshot(state_dir: &Path) -> Result<Snapshot, StoreError> {
    let path = state_dir.join(DB_FILE);
    if !path.exists() {
        return Ok(Snapshot::default());
    }
    let db = redb::Database::open(&path).map_err(|source| StoreError::Open {
        path: path.clone(),
        source: source.into(),
    })?;
    tables::read_all(&db)
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Dir {
            path: dir.to_path_buf(),
            source,
        })
}
