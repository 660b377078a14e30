//! Undoing creates: through the teardown runner, so a rollback that fails for a
//! passing reason is journaled and retried instead of leaked, and by marker when the
//! create's answer was lost.
//!
//! A POST whose answer never arrives (a 5xx from a proxy after Neutron committed, a
//! timeout, a reset connection) may or may not have made the object, and without
//! its id nothing deletes it: an orphan port keeps its address and makes Neutron
//! refuse its network's delete, an orphan pool keeps its CIDR. So every network,
//! subnet, subnet pool and port kuryr creates carries a per-request token in its
//! `description`. Not a tag: Neutron 29 ignores tags in create bodies. Not the name:
//! names are kuryr-libnetwork's and must stay byte-for-byte.
//!
//! When the outcome is unknown, the caller's rollback hands the token to the
//! teardown runner (`Step::Marked`), which lists that kind by the token and deletes
//! whatever carries it, journaled and retried like any delete. The caller waits for
//! it, boundedly, so the error it answers means "nothing is left" to everyone who
//! looks at Neutron afterwards.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::neutron::{Kind, NeutronError};

use super::NeutronDriver;
use super::teardown::{Job, Step};

/// Every marker starts with this, so an operator reading a description knows whose it
/// is, and `kuryr gc` can tell kuryr's objects from others'.
pub const PREFIX: &str = "kuryr-request-";

/// How long a failed create waits for the rollback of what it may have made before
/// answering anyway (the rollback stays journaled and retried).
const UNDO_WAIT: Duration = Duration::from_secs(10);

/// The binding host markers name (`<token>@<host>`), so `kuryr gc` on one host never
/// takes another host's objects for its own leftovers. Set once by the driver.
static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn set_host(host: &str) {
    // Neutron keeps 255 characters of a description; a longer host name is left out.
    if host.len() <= 200 {
        let _ = HOST.set(host.to_string());
    }
}

/// The host a kuryr marker names, if `description` is one that names a host.
pub fn marker_host(description: &str) -> Option<&str> {
    description
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('@'))
        .map(|(_, host)| host)
}

/// A per-request token, unique across hosts and restarts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker(String);

impl Marker {
    pub fn new() -> Marker {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // std's hasher keys are random per process: two hosts starting in the same
        // nanosecond with the same pid still draw different tokens.
        let random = RandomState::new().hash_one((nanos, std::process::id(), count));
        match HOST.get() {
            Some(host) => Marker(format!("{PREFIX}{random:016x}{count:08x}@{host}")),
            None => Marker(format!("{PREFIX}{random:016x}{count:08x}")),
        }
    }

    /// The value for a create body's `description`.
    pub fn description(&self) -> Option<String> {
        Some(self.0.clone())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl NeutronDriver {
    /// Rolls back an object this call made: deleted in `lane` (journaled, retried),
    /// waited for boundedly so the call's error means "nothing is left".
    pub(super) async fn undo(&self, lane: &str, step: Step) {
        let id = step.id().to_string();
        if let Err(error) = self.teardown.submit(Job::new(lane, vec![step])).await {
            tracing::warn!(%id, %error, "rollback failed");
            return;
        }
        if let Err(error) = self.teardown.wait_gone(&id, UNDO_WAIT).await {
            tracing::warn!(%id, %error, "rollback still pending");
        }
    }

    /// After a create of `kind` failed with `error`: when Neutron may have done it
    /// anyway, delete what carries `marker`, in `lane` (the network it is on, so the
    /// network's own delete queues behind it), and wait for that boundedly.
    pub(super) async fn undo_marked(
        &self,
        kind: Kind,
        lane: &str,
        marker: &Marker,
        error: &NeutronError,
    ) {
        if !error.outcome_unknown() {
            return;
        }
        tracing::warn!(
            ?kind,
            marker = marker.as_str(),
            %error,
            "a create's answer was lost; deleting whatever it made"
        );
        let step = Step::Marked {
            kind,
            marker: marker.as_str().to_string(),
        };
        self.undo(lane, step).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::binding::RecordingBinder;
    use crate::config::{ProcessEnv, from_ini_str};
    use crate::driver::Driver;
    use crate::model::{
        AddressKind, AddressRequest, AddressSpace, DriverOptions, MacAddress, NetworkId,
        NetworkSpec, PoolId, PoolRequest, Subnet,
    };
    use crate::neutron::fake::Fake;
    use crate::neutron::{AuthMethod, Client, ClientOptions};
    use crate::neutron_driver::Settings;

    #[test]
    fn markers_are_distinct_and_recognisable() {
        let a = Marker::new();
        let b = Marker::new();
        assert_ne!(a, b);
        for m in [&a, &b] {
            assert!(m.as_str().starts_with(PREFIX));
            // Neutron's description holds 255 characters.
            assert!(m.as_str().len() <= 255);
            let token = m.as_str()[PREFIX.len()..]
                .split('@')
                .next()
                .unwrap_or_default();
            assert_eq!(token.len(), 24);
            assert!(token.bytes().all(|c| c.is_ascii_hexdigit()));
            // The host, once a driver has set it (other tests in this process may have).
            assert_eq!(marker_host(m.as_str()), HOST.get().map(String::as_str));
        }
        assert_eq!(marker_host("kuryr-request-00ff@node-1"), Some("node-1"));
        assert_eq!(marker_host("kuryr-request-00ff"), None);
        assert_eq!(marker_host("someone else's@text"), None);
    }

    async fn driver(fake: &Fake, dir: &std::path::Path) -> NeutronDriver {
        {
            let mut st = fake.state();
            st.no_auth = true;
            for alias in ["subnet_allocation", "standard-attr-tag"] {
                st.extensions.insert(alias.into());
            }
        }
        let text = format!(
            "[DEFAULT]\nstate_dir = {}\n[neutron]\nauth_type = none\nendpoint = {}\n",
            dir.display(),
            fake.url("/")
        );
        let loaded = from_ini_str(&text, "test", &ProcessEnv).unwrap();
        let client = Client::new(ClientOptions::new(AuthMethod::None {
            endpoint: fake.url("/"),
        }))
        .unwrap();
        let binder = Arc::new(RecordingBinder::new());
        NeutronDriver::new(client, Settings::from_config(&loaded.config), binder).unwrap()
    }

    fn space() -> AddressSpace {
        AddressSpace::parse("AddressSpace", "no_address_space").unwrap()
    }

    fn pool_request(cidr: &str) -> PoolRequest {
        PoolRequest {
            space: space(),
            pool: Some(cidr.parse().unwrap()),
            sub_pool: None,
            options: DriverOptions::default(),
            v6: false,
        }
    }

    fn items(fake: &Fake, collection: &str) -> usize {
        fake.state().items.get(collection).map_or(0, |t| t.len())
    }

    fn lose(fake: &Fake, method: &'static str, path: &str) {
        fake.state().lose_answer.push((method, path.to_string()));
    }

    /// RequestPool whose answer is lost: the call fails and the pool Neutron made
    /// anyway is found by its marker and deleted before the error is answered.
    #[tokio::test]
    async fn a_pool_whose_answer_is_lost_is_deleted() {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = driver(&fake, dir.path()).await;
        lose(&fake, "POST", "v2.0/subnetpools");
        let refused = d.request_pool(pool_request("10.9.0.0/24")).await;
        assert!(refused.is_err());
        assert_eq!(items(&fake, "subnetpools"), 0, "the orphan pool is gone");
        // And a retry works as if nothing had happened.
        d.request_pool(pool_request("10.9.0.0/24")).await.unwrap();
        assert_eq!(items(&fake, "subnetpools"), 1);
    }

    #[tokio::test]
    async fn a_network_and_a_port_whose_answers_are_lost_are_deleted() {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = driver(&fake, dir.path()).await;
        let grant = d.request_pool(pool_request("10.9.1.0/24")).await.unwrap();
        let spec = NetworkSpec {
            id: NetworkId::parse("NetworkID", &"ab".repeat(32)).unwrap(),
            ipv4: vec![Subnet {
                space: space(),
                pool: "10.9.1.0/24".parse().unwrap(),
                gateway: None,
                aux_addresses: Vec::new(),
            }],
            ipv6: Vec::new(),
            ipv4_enabled: true,
            ipv6_enabled: false,
            internal: false,
            options: DriverOptions::default(),
        };
        lose(&fake, "POST", "v2.0/networks");
        assert!(d.create_network(spec.clone()).await.is_err());
        assert_eq!(items(&fake, "networks"), 0, "the orphan network is gone");

        d.create_network(spec).await.unwrap();
        assert_eq!(items(&fake, "networks"), 1);
        lose(&fake, "POST", "v2.0/ports");
        let asked = AddressRequest {
            pool_id: PoolId::parse("PoolID", grant.pool_id.as_str()).unwrap(),
            address: None,
            kind: AddressKind::Endpoint,
            mac: Some("02:42:0a:09:01:05".parse::<MacAddress>().unwrap()),
            options: DriverOptions::default(),
        };
        assert!(d.request_address(asked).await.is_err());
        let seen: Vec<String> = fake
            .state()
            .seen
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect();
        assert_eq!(
            items(&fake, "ports"),
            0,
            "the orphan port is gone: {seen:#?} {:?}",
            fake.state().items.get("ports")
        );
    }

    /// A refused create (a 4xx) made nothing: no lookup is spent on it.
    #[tokio::test]
    async fn a_refused_create_looks_nothing_up() {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = driver(&fake, dir.path()).await;
        fake.state().scripts.push(crate::neutron::fake::Script {
            method: "POST",
            path: "v2.0/subnetpools".into(),
            status: 409,
            body: serde_json::json!({"NeutronError": {"message": "overlaps"}}),
            request_id: None,
        });
        assert!(d.request_pool(pool_request("10.9.2.0/24")).await.is_err());
        let seen = fake.state().seen.clone();
        assert!(
            seen.iter()
                .any(|s| s.method == "POST" && s.path == "v2.0/subnetpools"),
            "{seen:?}"
        );
        assert!(
            !seen.iter().any(|s| s.path.contains("description=")),
            "{seen:?}"
        );
    }

    /// A Neutron that ignores the description filter must not get everything of that
    /// kind deleted: only what carries the marker goes.
    #[tokio::test]
    async fn undo_by_marker_checks_the_description_itself() {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = driver(&fake, dir.path()).await;
        let marker = Marker::new();
        {
            let mut st = fake.state();
            let nets = st.items.entry("networks".into()).or_default();
            nets.insert(
                "net-ours".into(),
                serde_json::json!({"id": "net-ours", "description": marker.as_str()}),
            );
            nets.insert(
                "net-other".into(),
                serde_json::json!({"id": "net-other", "description": "a VM network"}),
            );
            let listed = serde_json::json!({"networks": [
                {"id": "net-ours", "description": marker.as_str()},
                {"id": "net-other", "description": "a VM network"},
            ]});
            st.list_hook = Some(Arc::new(move |_| listed.clone()));
        }
        let lost = crate::neutron::NeutronError::Api {
            method: "POST".into(),
            url: "x".into(),
            status: 502,
            message: "lost".into(),
            request_id: None,
        };
        d.undo_marked(Kind::Networks, marker.as_str(), &marker, &lost)
            .await;
        let nets = fake.state().items["networks"].clone();
        assert!(!nets.contains_key("net-ours"));
        assert!(nets.contains_key("net-other"), "not marked: kept");
    }
}
