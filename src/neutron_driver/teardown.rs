//! Deletes that run after Docker has its answer.
//!
//! dockerd only logs what ReleaseAddress, ReleasePool and DeleteNetwork return and
//! carries on (remote API spec §7), so waiting for Neutron there buys nothing but
//! latency, and a failed delete returned to Docker is simply leaked: Docker never asks
//! again. Here the delete is first written to a journal (fsync, about a millisecond),
//! Docker gets its reply, and a background runner makes the Neutron calls, retrying
//! with backoff until they succeed, across plugin restarts (the journal is replayed at
//! start). So `docker rm` no longer waits on Neutron, and a delete that fails for a
//! passing reason (Neutron down, a 5xx) is retried instead of forgotten. DeleteNetwork
//! is the exception: it waits (boundedly) for its network's lane, see below.
//!
//! A refusal is not passing: Neutron answers 409 for a network still used by ports
//! kuryr does not own (another swarm node's containers, a VM) and 400 for a pool that
//! still has subnets (another host's). The object is kept, as kuryr-libnetwork's
//! refused delete keeps it, and the step counts as done: deleting it later, once
//! unused, could pull a network from under a swarm node that still has it.
//!
//! Jobs in one lane (a Neutron network) run in order, so a port is gone before its
//! network and the network before its subnet pool; lanes run side by side. Calls that
//! would collide with a pending delete (a new pool on the same CIDR, a port on an
//! address still held) wait for it first, and DeleteNetwork waits for its whole lane
//! (`wait_gone` on the Neutron network), so after `docker network rm` everyone but
//! dockerd already sees Neutron clean; only what fails or outlasts that wait is left
//! to the retries.
//!
//! Lanes share one budget of [`MAX_IN_FLIGHT`] DELETE requests, and a failed job
//! sleeps a jittered, growing delay: after an outage, or on replay at start, a
//! thousand journaled lanes trickle back instead of hitting Neutron at once.
//!
//! Never: decides what to delete (the callers do; the one judgement made here is
//! which ports on a refused network are kuryr's own leftovers, by `names.rs`), or
//! speaks to Docker.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};

use crate::Error;
use crate::neutron::{
    Client, Described, Kind, Network, NeutronError, Port, Query, Subnet, SubnetPool,
};

use super::names;
use crate::store::{Journal, StoreError};

/// The journal's file name inside `state_dir`.
pub const JOURNAL_FILE: &str = "neutron-teardown.redb";

/// How long a call waits for a pending delete it collides with.
pub const COLLISION_WAIT: Duration = Duration::from_secs(30);

/// DELETE requests in flight at once, over all lanes. A lifecycle needs one at a
/// time (its lane is sequential), so this only bites when many lanes are due
/// together (after an outage, on replay); 8 keeps a few Neutron API workers busy
/// without queueing hundreds of requests on them.
pub const MAX_IN_FLIGHT: usize = 8;

/// One idempotent Neutron delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Port(String),
    Subnet(String),
    /// The network; if Neutron refuses because ports are on it, kuryr's own leftover
    /// ports on this host (`names::is_leftover_port`) go first and it is tried again.
    Network(String),
    Pool(String),
    /// Every object of `kind` whose description is `marker` (`markers.rs`).
    Marked {
        kind: Kind,
        marker: String,
    },
}

impl Step {
    /// The object (or marker) the step is about, which `wait_gone` waits for.
    pub fn id(&self) -> &str {
        match self {
            Step::Port(id) | Step::Subnet(id) | Step::Network(id) | Step::Pool(id) => id,
            Step::Marked { marker, .. } => marker,
        }
    }
}

/// Steps run in order, in the lane of the Neutron network they are about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub lane: String,
    pub steps: Vec<Step>,
}

impl Job {
    pub fn new(lane: impl Into<String>, steps: Vec<Step>) -> Job {
        Job {
            lane: lane.into(),
            steps,
        }
    }

    fn mentions(&self, id: &str) -> bool {
        self.lane == id || self.steps.iter().any(|s| s.id() == id)
    }
}

/// What is still to be deleted, for `/Kuryr.Settle` and the logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub pending: usize,
    /// The last error of each job that has failed at least once.
    pub errors: Vec<String>,
}

struct Queued {
    key: u64,
    job: Job,
    attempts: u32,
    last_error: Option<String>,
}

pub struct Teardown {
    client: Client,
    /// This host's `binding:host_id`: only its leftover ports are ever cleared.
    host: String,
    journal: Journal<Job>,
    /// A lane is in the map exactly while its runner task lives.
    lanes: Mutex<HashMap<String, VecDeque<Queued>>>,
    changed: Notify,
    /// One permit per DELETE request in flight (`MAX_IN_FLIGHT`).
    permits: Semaphore,
}

impl Teardown {
    /// Opens the journal at `path` and resumes what it holds. Needs a tokio runtime.
    pub fn start(client: Client, path: &Path, host: &str) -> Result<Arc<Teardown>, StoreError> {
        Teardown::start_with(client, path, host, MAX_IN_FLIGHT)
    }

    /// `start` with another cap on DELETEs in flight (at least one).
    fn start_with(
        client: Client,
        path: &Path,
        host: &str,
        max_in_flight: usize,
    ) -> Result<Arc<Teardown>, StoreError> {
        let (journal, left) = Journal::open(path)?;
        let teardown = Arc::new(Teardown {
            client,
            host: host.to_string(),
            journal,
            lanes: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            permits: Semaphore::new(max_in_flight.max(1)),
        });
        if !left.is_empty() {
            tracing::info!(
                jobs = left.len(),
                "resuming Neutron deletes left by the last run"
            );
        }
        for (key, job) in left {
            teardown.enqueue(key, job);
        }
        Ok(teardown)
    }

    /// Records `job` durably and runs it in the background. If the journal cannot be
    /// written the job runs now instead, and its failure is the caller's.
    pub async fn submit(self: &Arc<Self>, job: Job) -> Result<(), Error> {
        if job.steps.is_empty() {
            return Ok(());
        }
        match self.journal.append(&job).await {
            Ok(key) => {
                self.enqueue(key, job);
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, "teardown journal unavailable; deleting synchronously");
                self.run(&job).await.map_err(Error::from)
            }
        }
    }

    /// Waits until no pending job mentions `id` (a lane or a step's object). Fails
    /// after `timeout` with the job's last error.
    pub async fn wait_gone(&self, id: &str, timeout: Duration) -> Result<(), Error> {
        self.wait(|job| job.mentions(id), timeout)
            .await
            .map_err(|last| {
                Error::Unsupported(format!(
                    "{id} is still being deleted from Neutron after {}s{}",
                    timeout.as_secs(),
                    last.map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default()
                ))
            })
    }

    /// Waits up to `timeout` for every pending job, then reports what is left.
    pub async fn settle(&self, timeout: Duration) -> Backlog {
        let _ = self.wait(|_| true, timeout).await;
        self.backlog()
    }

    /// Whether the journal still takes writes.
    pub async fn check_journal(&self) -> Result<(), StoreError> {
        self.journal.check_writable().await
    }

    pub fn backlog(&self) -> Backlog {
        let lanes = self.lanes();
        let jobs = lanes.values().flatten();
        Backlog {
            pending: jobs.clone().count(),
            errors: jobs.filter_map(|q| q.last_error.clone()).collect(),
        }
    }

    /// Whether some pending job mentions `id`.
    pub fn is_pending(&self, id: &str) -> bool {
        self.lanes().values().flatten().any(|q| q.job.mentions(id))
    }

    async fn wait(
        &self,
        matches: impl Fn(&Job) -> bool,
        timeout: Duration,
    ) -> Result<(), Option<String>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the check, so a change between the check and the
            // await still wakes us.
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            let last_error = {
                let lanes = self.lanes();
                let mut pending = lanes.values().flatten().filter(|q| matches(&q.job));
                match pending.next() {
                    None => return Ok(()),
                    Some(first) => first.last_error.clone(),
                }
            };
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(last_error);
            }
        }
    }

    fn enqueue(self: &Arc<Self>, key: u64, job: Job) {
        let lane = job.lane.clone();
        let mut lanes = self.lanes();
        let queue = lanes.entry(lane.clone()).or_default();
        let idle = queue.is_empty();
        queue.push_back(Queued {
            key,
            job,
            attempts: 0,
            last_error: None,
        });
        drop(lanes);
        if idle {
            let me = self.clone();
            tokio::spawn(async move { me.run_lane(lane).await });
        }
    }

    async fn run_lane(self: Arc<Self>, lane: String) {
        loop {
            let next = {
                let mut lanes = self.lanes();
                match lanes.get(&lane).and_then(|q| q.front()) {
                    Some(q) => (q.key, q.job.clone(), q.attempts),
                    None => {
                        lanes.remove(&lane);
                        return;
                    }
                }
            };
            let (key, job, attempts) = next;
            match self.run(&job).await {
                Ok(()) => {
                    if let Err(error) = self.journal.remove(key).await {
                        // Replayed after a restart: every step is idempotent.
                        tracing::warn!(%error, key, "teardown done but not removed from the journal");
                    }
                    if attempts > 0 {
                        tracing::info!(lane, attempts, "teardown succeeded after retrying");
                    }
                    if let Some(queue) = self.lanes().get_mut(&lane) {
                        queue.pop_front();
                    }
                }
                Err(error) => {
                    let delay = jittered(backoff(attempts));
                    tracing::warn!(lane, %error, retry_in = ?delay, "teardown failed; will retry");
                    if let Some(q) = self.lanes().get_mut(&lane).and_then(|q| q.front_mut()) {
                        q.attempts += 1;
                        q.last_error = Some(error.to_string());
                    }
                    self.changed.notify_waiters();
                    tokio::time::sleep(delay).await;
                }
            }
            self.changed.notify_waiters();
        }
    }

    /// Runs every step in order; a retry starts again from the first (each step is
    /// idempotent: already gone is success).
    async fn run(&self, job: &Job) -> Result<(), NeutronError> {
        for step in &job.steps {
            let result = match step {
                Step::Port(id) => self.delete(Kind::Ports, id).await,
                Step::Subnet(id) => self.delete(Kind::Subnets, id).await,
                Step::Network(id) => self.delete_network(id).await,
                Step::Pool(id) => self.delete(Kind::SubnetPools, id).await,
                Step::Marked { kind, marker } => self.delete_marked(*kind, marker).await,
            };
            match result {
                Err(e) if !e.is_transient() => {
                    tracing::warn!(?step, error = %e, "Neutron refuses the delete; kept");
                }
                result => result?,
            }
        }
        Ok(())
    }

    /// One DELETE; already gone is success.
    async fn delete(&self, kind: Kind, id: &str) -> Result<(), NeutronError> {
        // The permit is held for this one request only, never across a retry's
        // sleep. The semaphore is never closed, so `acquire` cannot fail; if it
        // ever did, deleting without a permit beats never deleting.
        let permit = self.permits.acquire().await.ok();
        let result = self.client.delete(kind, id).await;
        drop(permit);
        result
    }

    /// A network Neutron refuses to delete because ports are on it (409) is tried
    /// again once kuryr's own leftovers on this host are gone (a port whose create
    /// answer was lost before a crash, a port kuryr-libnetwork failed to delete), but
    /// only if nothing else is on it: another host's container or a VM keeps it.
    async fn delete_network(&self, id: &str) -> Result<(), NeutronError> {
        match self.delete(Kind::Networks, id).await {
            Err(refused) if refused.is_conflict() => {
                let ports: Vec<Port> = self.client.list(&Query::new().eq("network_id", id)).await?;
                let (leftovers, others): (Vec<Port>, Vec<Port>) = ports
                    .into_iter()
                    .filter(|p| !names::is_network_owned(&p.device_owner))
                    .partition(|p| names::is_leftover_port(p, &self.host));
                for port in &leftovers {
                    tracing::info!(network = id, port = %port.id, "deleting kuryr's leftover port");
                    self.delete(Kind::Ports, &port.id).await?;
                }
                if leftovers.is_empty() || !others.is_empty() {
                    return Err(refused);
                }
                self.delete(Kind::Networks, id).await
            }
            result => result,
        }
    }

    /// Deletes every object of `kind` that carries `marker` in its description. The
    /// description is checked here too: a Neutron that ignored the filter must not
    /// get everything deleted.
    async fn delete_marked(&self, kind: Kind, marker: &str) -> Result<(), NeutronError> {
        let ids = match kind {
            Kind::Networks => self.marked::<Network>(marker).await?,
            Kind::Subnets => self.marked::<Subnet>(marker).await?,
            Kind::SubnetPools => self.marked::<SubnetPool>(marker).await?,
            Kind::Ports => self.marked::<Port>(marker).await?,
            other => {
                tracing::warn!(?other, "kuryr marks no such objects; nothing to undo");
                Vec::new()
            }
        };
        for id in ids {
            tracing::info!(?kind, %id, marker, "deleting what a lost create made");
            self.delete(kind, &id).await?;
        }
        Ok(())
    }

    async fn marked<T: Described>(&self, marker: &str) -> Result<Vec<String>, NeutronError> {
        let query = Query::new()
            .eq("description", marker)
            .fields(&["id", "description"]);
        let found: Vec<T> = self.client.list(&query).await?;
        Ok(found
            .iter()
            .filter(|x| x.description() == marker)
            .map(|x| x.id().to_string())
            .collect())
    }

    fn lanes(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Queued>>> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// 0.5 s, doubling, at most a minute: Neutron may be down for long, and a retry is one
/// cheap request.
fn backoff(attempts: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempts.min(7))).min(Duration::from_secs(60))
}

/// A uniformly random delay in `[delay / 2, delay]` ("equal jitter"): retries of
/// lanes that failed together spread out, and none waits less than half its
/// backoff. The randomness is std's per-process hasher keys plus a counter, which
/// is plenty for spreading timers and needs no extra dependency.
fn jittered(delay: Duration) -> Duration {
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    let draw = RandomState::new().hash_one(DRAWS.fetch_add(1, Ordering::Relaxed));
    let half = delay / 2;
    let span = u64::try_from(half.as_micros()).unwrap_or(u64::MAX);
    half + Duration::from_micros(draw % span.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neutron::fake::{Fake, Script};
    use crate::neutron::{AuthMethod, ClientOptions};
    use serde_json::json;

    async fn client(fake: &Fake) -> Client {
        fake.state().no_auth = true;
        Client::new(ClientOptions::new(AuthMethod::None {
            endpoint: fake.url("/"),
        }))
        .unwrap()
    }

    fn deletes(fake: &Fake) -> Vec<String> {
        fake.state()
            .seen
            .iter()
            .filter(|s| s.method == "DELETE")
            .map(|s| s.path.clone())
            .collect()
    }

    fn network_then_pool() -> Job {
        Job::new(
            "n1",
            vec![Step::Network("n1".into()), Step::Pool("sp1".into())],
        )
    }

    async fn start(fake: &Fake, dir: &tempfile::TempDir) -> Arc<Teardown> {
        Teardown::start(client(fake).await, &dir.path().join(JOURNAL_FILE), "host-a").unwrap()
    }

    fn fail(path: &str, status: u16) -> Script {
        Script {
            method: "DELETE",
            path: format!("v2.0/{path}"),
            status,
            body: json!({"NeutronError": {"type": "Failed", "message": "refused"}}),
            request_id: None,
        }
    }

    fn port(fake: &Fake, id: &str, name: &str, host: &str) {
        fake.state()
            .items
            .entry("ports".into())
            .or_default()
            .insert(
                id.into(),
                json!({"id": id, "name": name, "network_id": "n1", "device_owner": "compute:kuryr",
                   "binding:host_id": host}),
            );
    }

    fn exists(fake: &Fake, coll: &str, id: &str) -> bool {
        fake.state()
            .items
            .get(coll)
            .is_some_and(|t| t.contains_key(id))
    }

    /// Network `n1` (with the ports the test put on it) deleted through a lane.
    async fn delete_network_n1(fake: &Fake) {
        fake.state()
            .items
            .entry("networks".into())
            .or_default()
            .insert("n1".into(), json!({"id": "n1"}));
        let dir = tempfile::tempdir().unwrap();
        let t = start(fake, &dir).await;
        t.submit(Job::new("n1", vec![Step::Network("n1".into())]))
            .await
            .unwrap();
        assert_eq!(t.settle(Duration::from_secs(5)).await.pending, 0);
    }

    /// A port left by a lost create answer (or a crash) would keep the network for
    /// ever: kuryr's own leftovers on this host go, then the network.
    #[tokio::test]
    async fn a_network_refused_for_kuryrs_leftover_ports_is_deleted_after_them() {
        let fake = Fake::start().await;
        port(&fake, "p-left", "kuryr-unbound-port", "host-a");
        port(&fake, "p-unbound", "kuryr-unbound-port", "");
        delete_network_n1(&fake).await;
        for (coll, id) in [
            ("ports", "p-left"),
            ("ports", "p-unbound"),
            ("networks", "n1"),
        ] {
            assert!(!exists(&fake, coll, id), "{id} left");
        }
    }

    /// Another host's kuryr port is a live container there, and a VM's port is the
    /// VM's: the network stays (refused, not retried), and so do they. Only this
    /// host's leftover goes.
    #[tokio::test]
    async fn a_network_others_use_keeps_their_ports() {
        let fake = Fake::start().await;
        port(&fake, "p-left", "kuryr-unbound-port", "host-a");
        port(&fake, "p-other-host", "kuryr-unbound-port", "host-b");
        port(&fake, "p-vm", "vm-port", "host-a");
        delete_network_n1(&fake).await;
        assert!(!exists(&fake, "ports", "p-left"));
        for (coll, id) in [
            ("ports", "p-other-host"),
            ("ports", "p-vm"),
            ("networks", "n1"),
        ] {
            assert!(exists(&fake, coll, id), "{id} must stay");
        }
    }

    #[tokio::test]
    async fn a_lane_runs_its_jobs_in_order_and_settles() {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let t = start(&fake, &dir).await;
        t.submit(Job::new("n1", vec![Step::Port("p1".into())]))
            .await
            .unwrap();
        t.submit(network_then_pool()).await.unwrap();
        assert_eq!(t.settle(Duration::from_secs(5)).await, Backlog::default());
        assert_eq!(
            deletes(&fake),
            ["v2.0/ports/p1", "v2.0/networks/n1", "v2.0/subnetpools/sp1"]
        );
        // Done jobs leave the journal.
        drop(t);
        let (_, left) = Journal::<Job>::open(&dir.path().join(JOURNAL_FILE)).unwrap();
        assert!(left.is_empty());
    }

    #[tokio::test]
    async fn what_others_still_use_is_kept_and_the_job_is_done() {
        let fake = Fake::start().await;
        fake.state().scripts.push(fail("networks/n1", 409));
        fake.state().scripts.push(fail("subnetpools/sp1", 400));
        let dir = tempfile::tempdir().unwrap();
        let t = start(&fake, &dir).await;
        t.submit(network_then_pool()).await.unwrap();
        assert_eq!(t.settle(Duration::from_secs(5)).await, Backlog::default());
        assert_eq!(
            deletes(&fake),
            ["v2.0/networks/n1", "v2.0/subnetpools/sp1"],
            "each tried once, not retried"
        );
    }

    #[tokio::test]
    async fn a_failing_delete_is_retried_and_waiters_see_its_error() {
        let fake = Fake::start().await;
        fake.state().scripts.push(fail("networks/n1", 503));
        let dir = tempfile::tempdir().unwrap();
        let t = start(&fake, &dir).await;
        t.submit(Job::new("n1", vec![Step::Network("n1".into())]))
            .await
            .unwrap();
        t.submit(Job::new("n2", vec![Step::Port("p2".into())]))
            .await
            .unwrap();
        // The other lane is not held up by the failing one.
        t.wait_gone("p2", Duration::from_secs(5)).await.unwrap();
        assert!(t.is_pending("n1"));
        let e = t
            .wait_gone("n1", Duration::from_millis(200))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("still being deleted") && e.contains("503"),
            "{e}"
        );
        assert_eq!(t.backlog().errors.len(), 1);
        // Neutron recovers; the next retry (after 0.5 s) succeeds.
        fake.state().scripts.clear();
        assert_eq!(t.settle(Duration::from_secs(5)).await, Backlog::default());
        let tries = deletes(&fake)
            .iter()
            .filter(|p| *p == "v2.0/networks/n1")
            .count();
        assert_eq!(tries, 2);
    }

    #[tokio::test]
    async fn jobs_left_by_a_crash_are_resumed_at_start() {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        {
            // As if the plugin died right after answering Docker.
            let (journal, _) = Journal::<Job>::open(&path).unwrap();
            journal
                .append(&Job::new("n1", vec![Step::Port("p1".into())]))
                .await
                .unwrap();
        }
        let t = Teardown::start(client(&fake).await, &path, "host-a").unwrap();
        assert_eq!(t.settle(Duration::from_secs(5)).await.pending, 0);
        assert_eq!(deletes(&fake), ["v2.0/ports/p1"]);
    }

    /// Review O4 / B8.16: lanes journaled while Neutron fails all retry, but never
    /// more than the cap of DELETEs reach Neutron at once, and all finish once it
    /// recovers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failing_lanes_retry_with_at_most_the_cap_in_flight() {
        const LANES: usize = 40;
        const CAP: usize = 4;
        let fake = Fake::start().await;
        fake.state().delay = Some(Duration::from_millis(20));
        for i in 0..LANES {
            fake.state()
                .scripts
                .push(fail(&format!("networks/n{i}"), 503));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let t = Teardown::start_with(client(&fake).await, &path, "host-a", CAP).unwrap();
        for i in 0..LANES {
            let id = format!("n{i}");
            t.submit(Job::new(id.clone(), vec![Step::Network(id)]))
                .await
                .unwrap();
        }
        // Neutron fails every lane at least once...
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while t.backlog().errors.len() < LANES {
            assert!(tokio::time::Instant::now() < deadline, "{:?}", t.backlog());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // ...then recovers, and every lane's retry goes through.
        fake.state().scripts.clear();
        assert_eq!(t.settle(Duration::from_secs(30)).await, Backlog::default());
        let peak = fake.state().peak_in_flight;
        assert!(
            (2..=CAP).contains(&peak),
            "{peak} DELETEs in flight at once (cap {CAP})"
        );
        let deletes = deletes(&fake);
        for i in 0..LANES {
            let path = format!("v2.0/networks/n{i}");
            let tries = deletes.iter().filter(|p| **p == path).count();
            assert!(tries >= 2, "{path} tried {tries} times");
        }
    }

    #[test]
    fn jitter_spreads_a_delay_over_its_upper_half() {
        let delay = Duration::from_secs(8);
        let draws: Vec<Duration> = (0..200).map(|_| jittered(delay)).collect();
        assert!(draws.iter().all(|d| *d >= delay / 2 && *d <= delay));
        let mut distinct = draws.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 150, "{} distinct of 200", distinct.len());
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn backoff_grows_to_a_minute() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(30), Duration::from_secs(60));
    }
}
