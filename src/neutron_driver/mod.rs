//! The Neutron backend: Docker networks, pools, addresses and endpoints mapped onto
//! Neutron networks, subnet pools, subnets and ports, under kuryr-libnetwork's names
//! and tags (`names.rs`) so either implementation manages the other's objects.
//!
//! It differs from kuryr-libnetwork where that one is broken (B1–B18 of the
//! inventory; each fix is named where it is made) and in its round trips: ports are
//! pre-created and bound with the Docker MAC, tags are set in one request per object,
//! tag and lookup calls that would change nothing are skipped, and what cannot change
//! is remembered (`state.rs`), so a full lifecycle costs 11 Neutron requests where
//! kuryr-libnetwork makes 48. Deletes run after Docker's answer (`teardown.rs`).
//!
//! Never: touches an object it did not create or adopt (B6), speaks HTTP to Docker
//! (that is `server`'s), or plugs interfaces itself (that is `binding`'s).

mod activation;
mod addresses;
mod endpoints;
mod exposure;
mod leftovers;
mod locks;
mod lookup;
mod names;
mod nested;
#[cfg(test)]
mod nested_tests;
mod networks;
mod options;
mod pools;
mod port_pool;
mod settings;
mod state;
mod status;
mod teardown;
mod undo;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::Error;
use crate::binding::Binder;
use crate::driver::Driver;
use crate::model::{
    AddressRelease, AddressRequest, AddressSpaces, Backlog as Left, Connectivity, DriverOptions,
    EndpointRef, EndpointReply, EndpointSpec, JoinReply, JoinSpec, NetworkAllocation, NetworkId,
    NetworkSpec, OperInfo, PoolGrant, PoolId, PoolRequest, PoolUsage, Scope, Status,
};
use crate::neutron::Client;
use crate::store::StoreError;
use ipnet::IpNet;

pub use leftovers::{InUse, Leftover, Scan};
pub use settings::Settings;
pub use teardown::Backlog;
pub use undo::{PREFIX as MARKER_PREFIX, marker_host};

use locks::KeyedLocks;
use state::Cache;
use teardown::Teardown;

/// How recent a successful Neutron request must be for [`Driver::health`] to trust it
/// instead of asking Neutron again.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

pub struct NeutronDriver {
    client: Client,
    settings: Settings,
    binder: Arc<dyn Binder>,
    cache: Mutex<Cache>,
    locks: KeyedLocks,
    probed: OnceCell<Features>,
    teardown: Arc<Teardown>,
    /// Nested (VM) mode's hold on the VM port; `None` in the usual veth mode.
    nested: Option<nested::Nested>,
    /// `[vif_pool]`'s ports made ahead of time; `None` when off. Used only once the
    /// probe found Neutron keeping tags in port POST bodies (`port_pools()`).
    pools: Option<Arc<port_pool::PortPools>>,
}

/// What this Neutron can do beyond what kuryr needs, learned by `probe`.
#[derive(Clone, Copy, Debug, Default)]
struct Features {
    /// `tag-ports-during-bulk-creation`: a port's POST body may carry its tags
    /// (Neutron 29 drops them silently without it, and refuses tags in the POST of
    /// anything else; its `tag-creation` is `POST .../tags`, not tags in bodies).
    port_tags_on_create: bool,
}

impl NeutronDriver {
    /// Opens the teardown journal in `settings.state_dir` and resumes the deletes a
    /// previous run left in it. Needs a tokio runtime.
    pub fn new(
        client: Client,
        settings: Settings,
        binder: Arc<dyn Binder>,
    ) -> Result<NeutronDriver, StoreError> {
        undo::set_host(&settings.host);
        let journal = settings.state_dir.join(teardown::JOURNAL_FILE);
        let teardown = Teardown::start(client.clone(), &journal, &settings.host)?;
        let settings_nesting = settings.nesting.clone();
        let pools = match settings.port_pools {
            Some(sizes) => Some(port_pool::PortPools::open(
                sizes,
                &settings.host,
                client.clone(),
                teardown.clone(),
                &settings.state_dir,
            )?),
            None => None,
        };
        Ok(NeutronDriver {
            client,
            settings,
            binder,
            cache: Mutex::new(Cache::default()),
            locks: KeyedLocks::default(),
            probed: OnceCell::new(),
            teardown,
            nested: settings_nesting.map(nested::Nested::new),
            pools,
        })
    }

    /// Checks the extensions kuryr needs, once. Called at start-up to warm up, and
    /// again by the first call if Neutron was down then: the plugin starts before
    /// Neutron without failing (bugs 1587522, 1850936).
    pub async fn probe(&self) -> Result<(), Error> {
        self.probed
            .get_or_try_init(|| async {
                let aliases =
                    self.client
                        .extensions()
                        .await
                        .map_err(Error::Unreachable)?;
                let has = |a: &str| aliases.iter().any(|x| x == a);
                for needed in ["subnet_allocation", "standard-attr-tag"] {
                    if !has(needed) {
                        return Err(Error::Unsupported(format!(
                            "Neutron lacks the {needed} extension, which kuryr needs"
                        )));
                    }
                }
                let features = Features {
                    port_tags_on_create: has("tag-ports-during-bulk-creation"),
                };
                if self.pools.is_some() && !features.port_tags_on_create {
                    tracing::error!(
                        "[vif_pool] is enabled, but Neutron lacks the tag-ports-during-bulk-creation \
                         extension (ML2 extension_drivers = ...,tag_ports_during_bulk_creation): \
                         port pools stay off, each address gets a new port"
                    );
                }
                tracing::info!(?features, "neutron extensions checked");
                Ok(features)
            })
            .await
            .map(|_| ())
    }

    /// What the probe found; nothing extra until it has run.
    fn features(&self) -> Features {
        self.probed.get().copied().unwrap_or_default()
    }

    /// The port pools, when configured and this Neutron can keep them.
    fn port_pools(&self) -> Option<&Arc<port_pool::PortPools>> {
        self.pools
            .as_ref()
            .filter(|_| self.features().port_tags_on_create)
    }

    /// Waits up to `timeout` for the deletes running in the background (see
    /// `teardown.rs`) and reports what is left.
    pub async fn drain(&self, timeout: Duration) -> Backlog {
        self.teardown.settle(timeout).await
    }

    /// Ready pool ports per Neutron subnet id; empty without port pools.
    pub fn ready_pool_ports(&self) -> std::collections::HashMap<String, usize> {
        self.pools.as_ref().map(|p| p.ready()).unwrap_or_default()
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The deletes a stopped plugin still owes Neutron (its teardown journal in
/// `state_dir`), as stored: `{"key", "lane", "steps"}` each, in the order they run.
pub fn pending_deletes(state_dir: &std::path::Path) -> Result<Vec<serde_json::Value>, StoreError> {
    let path = state_dir.join(teardown::JOURNAL_FILE);
    let records = crate::store::Journal::<serde_json::Value>::read(&path)?;
    Ok(records
        .into_iter()
        .map(|(key, mut job)| {
            if let Some(fields) = job.as_object_mut() {
                fields.insert("key".into(), key.into());
            }
            job
        })
        .collect())
}

fn left(backlog: Backlog) -> Left {
    Left {
        pending: backlog.pending,
        errors: backlog.errors,
    }
}

#[async_trait]
impl Driver for NeutronDriver {
    fn name(&self) -> &'static str {
        "neutron"
    }

    fn scope(&self) -> Scope {
        self.settings.scope
    }

    fn requires_mac_address(&self) -> bool {
        // Ports are made at RequestAddress, so the MAC must be known by then. Not with
        // port pools: a pool port has Neutron's MAC, and Docker would otherwise send a
        // random one for every container, to be written on a bound port (two updates).
        // A user's --mac-address still reaches CreateEndpoint.
        self.settings.port_pools.is_none()
    }

    fn default_address_spaces(&self) -> AddressSpaces {
        AddressSpaces {
            local: self.settings.local_address_space.clone(),
            global: self.settings.global_address_space.clone(),
        }
    }

    async fn request_pool(&self, req: PoolRequest) -> Result<PoolGrant, Error> {
        self.probe().await?;
        pools::request(self, req).await
    }

    async fn release_pool(&self, pool_id: PoolId) -> Result<(), Error> {
        self.probe().await?;
        pools::release(self, &pool_id).await
    }

    async fn request_address(&self, req: AddressRequest) -> Result<IpNet, Error> {
        self.probe().await?;
        addresses::request(self, req).await
    }

    async fn release_address(&self, req: AddressRelease) -> Result<(), Error> {
        // An empty PoolID: a network driver supplied the address; nothing of ours.
        let Some(pool_id) = req.pool_id else {
            return Ok(());
        };
        self.probe().await?;
        addresses::release(self, &pool_id, req.address).await
    }

    async fn create_network(&self, spec: NetworkSpec) -> Result<(), Error> {
        self.probe().await?;
        networks::create(self, spec).await
    }

    async fn delete_network(&self, id: NetworkId) -> Result<(), Error> {
        self.probe().await?;
        if self.settings.scope == Scope::Global {
            // Swarm: a node drops its copy when its last task leaves, while the
            // swarm network (and other nodes' tasks on it) lives on. The manager's
            // FreeNetwork deletes the Neutron network.
            tracing::debug!(network = %id, "node copy of a swarm network removed; Neutron keeps it until FreeNetwork");
            return Ok(());
        }
        networks::delete(self, &id).await
    }

    /// Swarm managers (global scope): the Neutron network and subnets are made here,
    /// before the manager requests task and VIP addresses, which need the subnet
    /// (kuryr-libnetwork made them only at a node's CreateNetwork, so a swarm
    /// manager's RequestAddress failed). The reply echoes the options.
    async fn allocate_network(&self, req: NetworkAllocation) -> Result<DriverOptions, Error> {
        self.probe().await?;
        if self.settings.scope == Scope::Global {
            networks::create(self, networks::spec_of(&req)).await?;
        }
        Ok(req.options)
    }

    async fn free_network(&self, id: NetworkId) -> Result<(), Error> {
        self.probe().await?;
        if self.settings.scope != Scope::Global {
            return Ok(());
        }
        networks::delete(self, &id).await
    }

    async fn create_endpoint(&self, spec: EndpointSpec) -> Result<EndpointReply, Error> {
        self.probe().await?;
        endpoints::create(self, spec).await
    }

    async fn delete_endpoint(&self, ep: EndpointRef) -> Result<(), Error> {
        self.probe().await?;
        endpoints::delete(self, &ep.network_id, &ep.endpoint_id).await
    }

    async fn endpoint_oper_info(&self, ep: EndpointRef) -> Result<OperInfo, Error> {
        self.probe().await?;
        endpoints::oper_info(self, &ep.network_id, &ep.endpoint_id).await
    }

    async fn join(&self, req: JoinSpec) -> Result<JoinReply, Error> {
        self.probe().await?;
        endpoints::join(self, &req.network_id, &req.endpoint_id).await
    }

    async fn leave(&self, _ep: EndpointRef) -> Result<(), Error> {
        // The interface leaves with the sandbox; the port stays until DeleteEndpoint.
        Ok(())
    }

    async fn status(&self) -> Result<Status, Error> {
        Ok(self.status_now().await)
    }

    async fn settle(&self, timeout: Duration) -> Result<Left, Error> {
        Ok(left(self.drain(timeout).await))
    }

    fn backlog(&self) -> Left {
        left(self.teardown.backlog())
    }

    /// From the cache: the pools this plugin knows, with this host's addresses.
    fn pool_usage(&self) -> Option<Vec<PoolUsage>> {
        Some(self.pool_usage_now())
    }

    /// The teardown journal takes a write, and Neutron answered a request lately or
    /// answers one now (the extension list, as `probe` asks for).
    async fn health(&self) -> Result<(), Error> {
        self.teardown.check_journal().await?;
        if self.client.succeeded_within(HEALTHY_WITHIN) {
            return Ok(());
        }
        match self.client.extensions().await {
            Ok(_) => Ok(()),
            Err(error) => Err(Error::Unreachable(error)),
        }
    }

    async fn program_external_connectivity(&self, req: Connectivity) -> Result<(), Error> {
        if !self.settings.process_external_connectivity {
            return Ok(());
        }
        self.probe().await?;
        exposure::program(self, req).await
    }

    async fn revoke_external_connectivity(&self, ep: EndpointRef) -> Result<(), Error> {
        if !self.settings.process_external_connectivity {
            return Ok(());
        }
        self.probe().await?;
        exposure::revoke(self, &ep.network_id, &ep.endpoint_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::networks::tests::driver;
    use crate::driver::Driver;
    use crate::neutron::AuthMethod;
    use crate::neutron::fake::Fake;

    #[tokio::test]
    async fn healthy_while_neutron_answers_asking_only_when_it_has_not_lately() {
        let fake = Fake::start().await;
        fake.state().no_auth = true;
        let dir = tempfile::tempdir().unwrap();
        let endpoint = fake.url("/");
        let d = driver(&fake, dir.path(), AuthMethod::None { endpoint });
        d.health().await.unwrap();
        assert_eq!(d.client.request_count(), 1, "asked Neutron");
        d.health().await.unwrap();
        assert_eq!(d.client.request_count(), 1, "a success 0 s ago is recent");

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let dir = tempfile::tempdir().unwrap();
        let d = driver(
            &fake,
            dir.path(),
            AuthMethod::None {
                endpoint: endpoint.parse().unwrap(),
            },
        );
        let error = d.health().await.unwrap_err().to_string();
        assert!(error.starts_with("cannot reach Neutron"), "{error}");
    }
}
