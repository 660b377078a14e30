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
mod locks;
mod lookup;
mod names;
mod networks;
mod options;
mod pools;
mod settings;
mod state;
mod teardown;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::Error;
use crate::api::settle::{MAX_TIMEOUT_SECS, SettleRequest, SettleResponse};
use crate::api::{Empty, ipam, network};
use crate::binding::Binder;
use crate::driver::Driver;
use crate::neutron::{Client, NeutronError};
use crate::store::StoreError;

pub use settings::Settings;
pub use teardown::Backlog;

use locks::KeyedLocks;
use state::Cache;
use teardown::Teardown;

pub struct NeutronDriver {
    client: Client,
    settings: Settings,
    binder: Arc<dyn Binder>,
    cache: Mutex<Cache>,
    locks: KeyedLocks,
    probed: OnceCell<()>,
    teardown: Arc<Teardown>,
}

impl NeutronDriver {
    /// Opens the teardown journal in `settings.state_dir` and resumes the deletes a
    /// previous run left in it. Needs a tokio runtime.
    pub fn new(
        client: Client,
        settings: Settings,
        binder: Arc<dyn Binder>,
    ) -> Result<NeutronDriver, StoreError> {
        let journal = settings.state_dir.join(teardown::JOURNAL_FILE);
        let teardown = Teardown::start(client.clone(), &journal)?;
        Ok(NeutronDriver {
            client,
            settings,
            binder,
            cache: Mutex::new(Cache::default()),
            locks: KeyedLocks::default(),
            probed: OnceCell::new(),
            teardown,
        })
    }

    /// Checks the extensions kuryr needs, once. Called at start-up to warm up, and
    /// again by the first call if Neutron was down then: the plugin starts before
    /// Neutron without failing (bugs 1587522, 1850936).
    pub async fn probe(&self) -> Result<(), Error> {
        self.probed
            .get_or_try_init(|| async {
                let aliases = self.client.extensions().await.map_err(|e| {
                    Error::Unsupported(format!("cannot reach Neutron to list its extensions: {e}"))
                })?;
                let has = |a: &str| aliases.iter().any(|x| x == a);
                for needed in ["subnet_allocation", "standard-attr-tag"] {
                    if !has(needed) {
                        return Err(Error::Unsupported(format!(
                            "Neutron lacks the {needed} extension, which kuryr needs"
                        )));
                    }
                }
                tracing::info!("neutron extensions checked");
                Ok(())
            })
            .await
            .copied()
    }

    /// Waits up to `timeout` for the deletes running in the background (see
    /// `teardown.rs`) and reports what is left.
    pub async fn drain(&self, timeout: Duration) -> Backlog {
        self.teardown.settle(timeout).await
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

impl From<NeutronError> for Error {
    fn from(e: NeutronError) -> Error {
        Error::Neutron(e)
    }
}

#[async_trait]
impl Driver for NeutronDriver {
    fn network_capabilities(&self) -> network::CapabilitiesResponse {
        network::CapabilitiesResponse {
            scope: self.settings.scope,
            connectivity_scope: self.settings.scope,
        }
    }

    fn ipam_capabilities(&self) -> ipam::CapabilitiesResponse {
        // Ports are made at RequestAddress, so the MAC must be known by then.
        ipam::CapabilitiesResponse {
            requires_mac_address: true,
            requires_request_replay: false,
        }
    }

    fn default_address_spaces(&self) -> ipam::DefaultAddressSpacesResponse {
        ipam::DefaultAddressSpacesResponse {
            local: self.settings.local_address_space.clone(),
            global: self.settings.global_address_space.clone(),
        }
    }

    async fn request_pool(
        &self,
        req: ipam::RequestPoolRequest,
    ) -> Result<ipam::RequestPoolResponse, Error> {
        self.probe().await?;
        pools::request(self, req).await
    }

    async fn release_pool(&self, req: ipam::ReleasePoolRequest) -> Result<Empty, Error> {
        self.probe().await?;
        pools::release(self, &req.pool_id).await?;
        Ok(Empty {})
    }

    async fn request_address(
        &self,
        req: ipam::RequestAddressRequest,
    ) -> Result<ipam::RequestAddressResponse, Error> {
        self.probe().await?;
        addresses::request(self, req).await
    }

    async fn release_address(&self, req: ipam::ReleaseAddressRequest) -> Result<Empty, Error> {
        self.probe().await?;
        if let Some(address) = req.address {
            addresses::release(self, &req.pool_id, address).await?;
        }
        Ok(Empty {})
    }

    async fn create_network(&self, req: network::CreateNetworkRequest) -> Result<Empty, Error> {
        self.probe().await?;
        networks::create(self, req).await?;
        Ok(Empty {})
    }

    async fn delete_network(&self, req: network::NetworkRequest) -> Result<Empty, Error> {
        self.probe().await?;
        networks::delete(self, &req.network_id).await?;
        Ok(Empty {})
    }

    async fn create_endpoint(
        &self,
        req: network::CreateEndpointRequest,
    ) -> Result<network::CreateEndpointResponse, Error> {
        self.probe().await?;
        endpoints::create(self, req).await
    }

    async fn delete_endpoint(&self, req: network::EndpointRequest) -> Result<Empty, Error> {
        self.probe().await?;
        endpoints::delete(self, &req.network_id, &req.endpoint_id).await?;
        Ok(Empty {})
    }

    async fn endpoint_oper_info(
        &self,
        req: network::EndpointRequest,
    ) -> Result<network::EndpointOperInfoResponse, Error> {
        self.probe().await?;
        endpoints::oper_info(self, &req.network_id, &req.endpoint_id).await
    }

    async fn join(&self, req: network::JoinRequest) -> Result<network::JoinResponse, Error> {
        self.probe().await?;
        endpoints::join(self, &req.network_id, &req.endpoint_id).await
    }

    async fn leave(&self, _req: network::EndpointRequest) -> Result<Empty, Error> {
        // The interface leaves with the sandbox; the port stays until DeleteEndpoint.
        Ok(Empty {})
    }

    async fn settle(&self, req: SettleRequest) -> Result<SettleResponse, Error> {
        if req.timeout > MAX_TIMEOUT_SECS {
            return Err(Error::BadRequest(format!(
                "Timeout {} is over the {MAX_TIMEOUT_SECS} s limit",
                req.timeout
            )));
        }
        let left = self.drain(Duration::from_secs(req.timeout)).await;
        Ok(SettleResponse {
            pending: left.pending,
            errors: left.errors,
        })
    }

    async fn program_external_connectivity(
        &self,
        req: network::ProgramExternalConnectivityRequest,
    ) -> Result<Empty, Error> {
        if !self.settings.process_external_connectivity {
            return Ok(Empty {});
        }
        self.probe().await?;
        exposure::program(self, req).await?;
        Ok(Empty {})
    }

    async fn revoke_external_connectivity(
        &self,
        req: network::EndpointRequest,
    ) -> Result<Empty, Error> {
        if !self.settings.process_external_connectivity {
            return Ok(Empty {});
        }
        self.probe().await?;
        exposure::revoke(self, &req.network_id, &req.endpoint_id).await?;
        Ok(Empty {})
    }
}
