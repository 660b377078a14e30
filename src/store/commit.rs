//! The committer thread: group commit of submitted batches.
//!
//! redb is synchronous and allows one writer, so one dedicated OS thread owns all
//! writes. It blocks for the first batch, then takes every batch already queued, so the
//! number of fsyncs falls as load rises instead of the latency.
//!
//! A failed commit stops it for good: it publishes the reason on the `failed` watch and
//! refuses every later batch without writing. Going on would acknowledge changes on top
//! of a state whose last change (perhaps a delete already applied in memory) is not on
//! disk, and after an I/O error redb fails every write anyway (`PreviousIo`).

use super::{Faults, Op, StoreError, tables};
use redb::Database;
use tokio::sync::{mpsc, oneshot, watch};

pub(super) struct Batch {
    pub(super) ops: Vec<Op>,
    pub(super) done: oneshot::Sender<Result<(), StoreError>>,
}

/// An upper bound on one transaction, so a flood cannot hold every caller behind one
/// enormous commit.
const MAX_BATCHES_PER_COMMIT: usize = 4096;

pub(super) fn spawn(
    db: Database,
    faults: Faults,
    failed: watch::Sender<Option<String>>,
) -> Result<mpsc::UnboundedSender<Batch>, StoreError> {
    let (sender, receiver) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("kuryr-commit".into())
        .spawn(move || run(db, receiver, faults, failed))
        .map_err(|source| StoreError::Dir {
            path: "(commit thread)".into(),
            source,
        })?;
    Ok(sender)
}

fn run(
    db: Database,
    mut receiver: mpsc::UnboundedReceiver<Batch>,
    faults: Faults,
    failed: watch::Sender<Option<String>>,
) {
    let mut stopped: Option<String> = None;
    while let Some(first) = receiver.blocking_recv() {
        if let Some(reason) = &stopped {
            let _ = first.done.send(Err(StoreError::Failed(reason.clone())));
            continue;
        }
        let mut group = vec![first];
        while group.len() < MAX_BATCHES_PER_COMMIT {
            match receiver.try_recv() {
                Ok(batch) => group.push(batch),
                Err(_) => break,
            }
        }
        let result = if faults.failing() {
            Err(StoreError::Injected)
        } else {
            commit(&db, &group)
        };
        if let Err(error) = &result {
            let reason = error.to_string();
            tracing::error!(%reason, "state database commit failed; refusing all further writes");
            failed.send_replace(Some(reason.clone()));
            stopped = Some(reason);
        }
        for batch in group {
            // Every caller in the group shares the outcome; errors are not Clone, so
            // each gets the message.
            let reply = match &result {
                Ok(()) => Ok(()),
                Err(error) => Err(StoreError::CommitFailed(error.to_string())),
            };
            // The caller may have gone away (its connection closed); nothing to tell then.
            let _ = batch.done.send(reply);
        }
    }
}

fn commit(db: &Database, group: &[Batch]) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(|e| StoreError::db("begin", e))?;
    for batch in group {
        for op in &batch.ops {
            tables::apply(&txn, op)?;
        }
    }
    // Default durability is Immediate: commit returns after fsync.
    txn.commit().map_err(|e| StoreError::db("commit", e))
}
