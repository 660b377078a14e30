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
//! Two failure rules. A record that no longer decodes is moved to the `quarantine`
//! table and logged, so one bad row cannot keep the plugin from starting. A commit that
//! fails is fatal: the caller's memory may already hold the change (a delete), and after
//! an I/O error redb refuses every later write (`PreviousIo`), so the committer stops
//! acknowledging anything and `Store::failed` resolves; the daemon then exits non-zero
//! and its service manager restarts it from what is on disk.
//!
//! Files are private: `state_dir` is 0700 on every start, databases are 0600 and are
//! never opened through a symlink.
//!
//! The store only writes and loads. It knows files, not HTTP, Docker or the kernel.

mod commit;
mod dump;
mod journal;
mod records;
mod tables;
#[cfg(test)]
mod tests;

pub use dump::to_json;
pub use journal::Journal;
pub use records::{
    EndpointRecord, NetworkRecord, Op, PoolRecord, PublishedPort, Snapshot, SubnetRecord,
};

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot, watch};

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
    #[error("state database stopped after an earlier failed commit ({0}); the plugin restarts")]
    Failed(String),
    #[error("injected fault")]
    Injected,
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
    /// `Some(reason)` once a commit has failed; set once by the committer.
    failed: watch::Receiver<Option<String>>,
}

/// A test seam: makes the committer's next commits fail as an I/O error would.
/// Built explicitly and passed to [`Store::open_with_faults`]; production code never
/// constructs one.
#[derive(Clone, Default)]
pub struct Faults(Arc<AtomicBool>);

impl Faults {
    /// Every commit from now on fails.
    pub fn fail_commits(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn failing(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
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
        Self::open_with_faults(state_dir, Faults::default())
    }

    /// [`Store::open`] with a fault seam, for tests of the failure paths.
    pub fn open_with_faults(
        state_dir: &Path,
        faults: Faults,
    ) -> Result<(Store, Snapshot), StoreError> {
        create_private_dir(state_dir)?;
        let path = state_dir.join(DB_FILE);
        let db = create_database(&path)?;
        tables::create_all(&db)?;
        let (snapshot, bad) = tables::read_all(&db)?;
        if !bad.is_empty() {
            tables::quarantine(&db, &bad)?;
        }
        let (failed_tx, failed) = watch::channel(None);
        let batches = commit::spawn(db, faults, failed_tx)?;
        Ok((Store { batches, failed }, snapshot))
    }

    /// Resolves, with the reason, once a commit has failed; from then on every submit
    /// fails and the process should exit so it restarts from disk. Never resolves
    /// while the store is healthy.
    pub async fn failed(&self) -> String {
        let mut failed = self.failed.clone();
        // The guard `wait_for` returns is not `Send`; take the value out at once.
        let reason = failed
            .wait_for(Option::is_some)
            .await
            .map(|reason| reason.clone().unwrap_or_default());
        match reason {
            Ok(reason) => reason,
            // The committer is gone without failing: it only ends when every handle
            // is dropped, which this one is not.
            Err(_) => std::future::pending().await,
        }
    }

    /// Commits an empty batch, written and fsynced like any other, to tell whether the
    /// database still takes writes. Its failure is a failed commit like any other:
    /// fatal (see the module doc), since the next real change would fail the same way.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        self.submit(Vec::new()).wait().await
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
    // Read-only here: bad records are skipped (and logged); the daemon quarantines
    // them at its next start.
    Ok(tables::read_all(&db)?.0)
}

/// Create `dir` if needed and make it 0700 on every start, whatever mode an older
/// version or the umask left: the databases and their names are the plugin's alone.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir_error = |source| StoreError::Dir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(dir_error)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(dir_error)
}

/// Open (or create) a database file 0600 without following a symlink, then let redb
/// take it over (as `Database::create` would, with its defaults).
fn create_database(path: &Path) -> Result<redb::Database, StoreError> {
    let open_error = |source: redb::Error| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = private_file(path).map_err(|e| open_error(e.into()))?;
    let backend = redb::backends::FileBackend::new(file).map_err(|e| open_error(e.into()))?;
    redb::Builder::new()
        .create_with_backend(backend)
        .map_err(|e| open_error(e.into()))
}

/// Read-write, created 0600, refusing a symlink (`O_NOFOLLOW` fails with `ELOOP`); an
/// existing file is made 0600 too.
pub fn private_file(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}
