//! The seam between the plugin server and the backends.
//!
//! `server` decodes each call into `model` values (checked once, at the edge) and calls
//! a `Driver`; a backend (`embedded`, `neutron_driver`) implements it. Methods take and
//! return model types only, so a backend never sees JSON, Docker's option keys or an
//! unchecked id. Nothing here knows HTTP, and nothing here does I/O.

use crate::Error;
use crate::model::{
    AddressRelease, AddressRequest, AddressSpaces, Backlog, Connectivity, Discovery, DriverOptions,
    EndpointRef, EndpointReply, EndpointSpec, GwAllocCheck, GwSkip, JoinReply, JoinSpec,
    NetworkAllocation, NetworkId, NetworkSpec, OperInfo, PoolGrant, PoolId, PoolRequest, PoolUsage,
    Scope, Status,
};
use async_trait::async_trait;
use ipnet::IpNet;
use std::time::Duration;

#[async_trait]
pub trait Driver: Send + Sync + 'static {
    /// The backend's name, for build info (`embedded`, `neutron`).
    fn name(&self) -> &'static str;
    /// `Scope` and `ConnectivityScope`.
    fn scope(&self) -> Scope;
    /// Whether RequestAddress needs the endpoint's MAC (`RequiresMACAddress`).
    fn requires_mac_address(&self) -> bool;
    fn default_address_spaces(&self) -> AddressSpaces;

    async fn request_pool(&self, req: PoolRequest) -> Result<PoolGrant, Error>;
    /// Idempotent: an unknown pool is success.
    async fn release_pool(&self, pool_id: PoolId) -> Result<(), Error>;
    /// The address in CIDR form with the pool's prefix length.
    async fn request_address(&self, req: AddressRequest) -> Result<IpNet, Error>;
    /// Idempotent: an unknown pool or address is success.
    async fn release_address(&self, req: AddressRelease) -> Result<(), Error>;

    async fn create_network(&self, spec: NetworkSpec) -> Result<(), Error>;
    /// Idempotent; dockerd ignores its errors, so it must try every step.
    async fn delete_network(&self, id: NetworkId) -> Result<(), Error>;
    async fn create_endpoint(&self, spec: EndpointSpec) -> Result<EndpointReply, Error>;
    /// Idempotent: an unknown endpoint is success.
    async fn delete_endpoint(&self, ep: EndpointRef) -> Result<(), Error>;
    async fn endpoint_oper_info(&self, ep: EndpointRef) -> Result<OperInfo, Error>;
    async fn join(&self, req: JoinSpec) -> Result<JoinReply, Error>;
    /// Idempotent: dockerd may send it twice, or for an endpoint that failed to join.
    async fn leave(&self, ep: EndpointRef) -> Result<(), Error>;
    async fn program_external_connectivity(&self, req: Connectivity) -> Result<(), Error>;
    async fn revoke_external_connectivity(&self, ep: EndpointRef) -> Result<(), Error>;

    /// `/Kuryr.Settle`: waits up to `timeout` for work done after answering Docker,
    /// and reports what is left. Backends that finish everything before they answer
    /// have none.
    async fn settle(&self, _timeout: Duration) -> Result<Backlog, Error> {
        Ok(Backlog::default())
    }

    /// `/Kuryr.Status`: what this backend holds now.
    async fn status(&self) -> Result<Status, Error>;

    /// Every pool with its size and use, read on each metrics scrape, so it must be
    /// cheap and must not block. `None`: the backend cannot say without asking
    /// another service.
    fn pool_usage(&self) -> Option<Vec<PoolUsage>> {
        None
    }

    /// What [`Driver::settle`] would wait for, as it is now, without waiting.
    fn backlog(&self) -> Backlog {
        Backlog::default()
    }

    /// Whether the backend can serve now: its state can be written and the services it
    /// depends on answer. The error says what is wrong. A backend with nothing to check
    /// is healthy.
    async fn health(&self) -> Result<(), Error> {
        Ok(())
    }

    /// Swarm node discovery; only global-connectivity drivers get it. Nothing to do for
    /// backends that do not build overlays.
    async fn discover(&self, _node: Discovery) -> Result<(), Error> {
        Ok(())
    }

    /// Swarm managers only. The reply replaces the options every node receives, so the
    /// default echoes them: an empty reply would silently drop the user's `-o` options.
    async fn allocate_network(&self, req: NetworkAllocation) -> Result<DriverOptions, Error> {
        Ok(req.options)
    }

    async fn free_network(&self, _id: NetworkId) -> Result<(), Error> {
        Ok(())
    }

    /// We never announce `GwAllocChecker`, but answering is cheaper than a 404 should a
    /// future dockerd ask anyway: reserve gateways for both families as usual.
    async fn gw_alloc_check(&self, _req: GwAllocCheck) -> Result<GwSkip, Error> {
        Ok(GwSkip::default())
    }
}
