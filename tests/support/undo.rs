//! Clean-up steps that run even when a test panics: each step is a future queued
//! while the test makes things; `run` awaits them in reverse order, and whatever is
//! still queued when the `Undo` is dropped (an assertion failed first) runs on a
//! runtime of its own in another thread, since `Drop` cannot await.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

type Step = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Default)]
pub struct Undo {
    steps: Mutex<Vec<Step>>,
}

impl Undo {
    pub fn new() -> Undo {
        Undo::default()
    }

    /// Queues `step` (a best-effort delete: it must not panic).
    pub fn push(&self, step: impl Future<Output = ()> + Send + 'static) {
        self.steps.lock().unwrap().push(Box::pin(step));
    }

    /// Runs every queued step now, newest first.
    pub async fn run(&self) {
        let steps = std::mem::take(&mut *self.steps.lock().unwrap());
        for step in steps.into_iter().rev() {
            step.await;
        }
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        let steps = std::mem::take(&mut *self.steps.lock().unwrap());
        if steps.is_empty() {
            return;
        }
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                for step in steps.into_iter().rev() {
                    step.await;
                }
            });
        })
        .join();
    }
}
