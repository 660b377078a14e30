//! The embedded backend: IPAM from the pure `ipam` core, persisted in the local
//! `store`, and Linux-bridge networking through `hostnet`. It needs no cloud and is the
//! default when no Neutron is configured.
//!
//! Every call follows the same discipline: validate first; change the in-memory state
//! and submit the matching store ops under one short lock (so store order equals memory
//! order); release the lock; await durability; on failure undo the in-memory change and
//! any host change. No lock is held across an `.await`.

mod endpoints;
mod firewall;
mod networks;
mod options;
mod pools;
mod ports;
mod reconcile;
mod state;
mod status;

use crate::Error;
use crate::driver::Driver;
use crate::hostnet::HostNet;
use crate::ipam::DefaultPool;
use crate::model::{
    AddressRelease, AddressRequest, AddressSpaces, Connectivity, DriverOptions, EndpointRef,
    EndpointReply, EndpointSpec, JoinReply, JoinSpec, NetworkAllocation, NetworkId, NetworkSpec,
    OperInfo, PoolGrant, PoolId, PoolRequest, PoolUsage, Scope, Status,
};
use crate::store::{Op, Snapshot, Store};
use async_trait::async_trait;
use ipnet::IpNet;
use state::State;
use std::sync::{Arc, Mutex, MutexGuard};

/// What the embedded backend needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `local` or `global`, returned by GetCapabilities.
    pub scope: Scope,
    pub local_address_space: String,
    pub global_address_space: String,
    /// Join's `DstPrefix` (`[binding] veth_dst_prefix`).
    pub veth_dst_prefix: String,
    pub default_pools: Vec<DefaultPool>,
}

pub struct Embedded {
    settings: Settings,
    /// A `std` mutex: no `.await` happens while it is held, and every critical section
    /// is a few map operations.
    state: Mutex<State>,
    store: Store,
    host: Arc<dyn HostNet>,
    /// Serialises firewall rebuilds, so that each one reads the network list after the
    /// previous one was applied and no update is lost to a race. Held across `.await`
    /// (the `nft` run), hence a tokio mutex.
    firewall: tokio::sync::Mutex<()>,
}

impl Embedded {
    /// Rebuild the in-memory state from `snapshot` and bring the host in line with it
    /// (bridges recreated after a reboot, orphaned interfaces removed).
    pub async fn start(
        settings: Settings,
        store: Store,
        snapshot: Snapshot,
        host: Arc<dyn HostNet>,
    ) -> Embedded {
        let state = State::from_snapshot(snapshot, settings.default_pools.clone());
        let backend = Embedded {
            settings,
            state: Mutex::new(state),
            store,
            host,
            firewall: tokio::sync::Mutex::new(()),
        };
        reconcile::run(&backend).await;
        backend
    }

    /// Rebuild kuryr's packet filter from the networks and endpoints in memory now.
    async fn sync_firewall(&self) -> Result<(), Error> {
        let _serialised = self.firewall.lock().await;
        let networks = firewall::rules(&self.lock());
        Ok(self.host.firewall(&networks).await?)
    }

    /// Rebuild the packet filter for a change already in memory and submitted to the
    /// store. If that fails, take the change back out (`undo` edits the state and
    /// returns the store ops that remove it), rebuild for the state without it, and
    /// return every error; the caller then undoes its host changes.
    async fn sync_firewall_or_undo(
        &self,
        undo: impl FnOnce(&mut State) -> Vec<Op>,
    ) -> Result<(), Error> {
        let Err(error) = self.sync_firewall().await else {
            return Ok(());
        };
        let pending = {
            let mut state = self.lock();
            let ops = undo(&mut state);
            self.store.submit(ops)
        };
        let mut errors = vec![error];
        if let Err(undo) = pending.wait().await {
            errors.push(undo.into());
        }
        if let Err(undo) = self.sync_firewall().await {
            errors.push(undo);
        }
        Err(Error::all(errors))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug in a few map operations; the
        // state is still consistent then, so keep serving rather than poisoning forever.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub use status::from_snapshot as status_from_snapshot;

#[async_trait]
impl Driver for Embedded {
    async fn status(&self) -> Result<Status, Error> {
        Ok(status::of(&self.lock()))
    }

    fn name(&self) -> &'static str {
        "embedded"
    }

    fn scope(&self) -> Scope {
        self.settings.scope
    }

    fn requires_mac_address(&self) -> bool {
        // The network driver picks MACs; state is persisted, so no replays either.
        false
    }

    fn default_address_spaces(&self) -> AddressSpaces {
        AddressSpaces {
            local: self.settings.local_address_space.clone(),
            global: self.settings.global_address_space.clone(),
        }
    }

    fn pool_usage(&self) -> Option<Vec<PoolUsage>> {
        let state = self.lock();
        let usage = state.ipam.pools().map(|(id, pool)| PoolUsage {
            pool_id: id.to_owned(),
            cidr: pool.cidr(),
            size: pool.usable_count(),
            used: pool.allocated_count(),
        });
        Some(usage.collect())
    }

    /// The store takes a write (an empty commit, fsynced).
    async fn health(&self) -> Result<(), Error> {
        Ok(self.store.check_writable().await?)
    }

    async fn request_pool(&self, req: PoolRequest) -> Result<PoolGrant, Error> {
        pools::request_pool(self, req).await
    }

    async fn release_pool(&self, pool_id: PoolId) -> Result<(), Error> {
        pools::release_pool(self, pool_id).await
    }

    async fn request_address(&self, req: AddressRequest) -> Result<IpNet, Error> {
        pools::request_address(self, req).await
    }

    async fn release_address(&self, req: AddressRelease) -> Result<(), Error> {
        pools::release_address(self, req).await
    }

    async fn create_network(&self, spec: NetworkSpec) -> Result<(), Error> {
        networks::create_network(self, spec).await
    }

    async fn delete_network(&self, id: NetworkId) -> Result<(), Error> {
        networks::delete_network(self, id).await
    }

    async fn create_endpoint(&self, spec: EndpointSpec) -> Result<EndpointReply, Error> {
        endpoints::create_endpoint(self, spec).await
    }

    async fn delete_endpoint(&self, ep: EndpointRef) -> Result<(), Error> {
        endpoints::delete_endpoint(self, ep).await
    }

    async fn endpoint_oper_info(&self, ep: EndpointRef) -> Result<OperInfo, Error> {
        Ok(endpoints::oper_info(self, &ep))
    }

    async fn join(&self, req: JoinSpec) -> Result<JoinReply, Error> {
        endpoints::join(self, &req)
    }

    async fn leave(&self, _ep: EndpointRef) -> Result<(), Error> {
        // The veth stays until DeleteEndpoint: at Leave its container end is still in
        // the container's namespace, and dockerd may send Leave twice.
        Ok(())
    }

    async fn program_external_connectivity(&self, req: Connectivity) -> Result<(), Error> {
        ports::program(self, req).await
    }

    async fn revoke_external_connectivity(&self, ep: EndpointRef) -> Result<(), Error> {
        ports::revoke(self, ep).await
    }

    async fn allocate_network(&self, req: NetworkAllocation) -> Result<DriverOptions, Error> {
        pools::allocate_network(self, &req).await?;
        // The reply replaces every node's options: echo them.
        Ok(req.options)
    }
}
