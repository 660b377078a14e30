//! The seam between the plugin server and the backends.
//!
//! `server` turns HTTP into calls on a `Driver`; a backend (`embedded`, later
//! `neutron`) implements it. Methods take and return the `api` wire types, so each
//! backend converts to its own domain types and the server stays two-line adapters.
//! Nothing here knows HTTP, and nothing here does I/O.

use crate::Error;
use crate::api::settle::{SettleRequest, SettleResponse};
use crate::api::{Empty, ipam, network};
use async_trait::async_trait;

#[async_trait]
pub trait Driver: Send + Sync + 'static {
    fn network_capabilities(&self) -> network::CapabilitiesResponse;
    fn ipam_capabilities(&self) -> ipam::CapabilitiesResponse;
    fn default_address_spaces(&self) -> ipam::DefaultAddressSpacesResponse;

    async fn request_pool(
        &self,
        req: ipam::RequestPoolRequest,
    ) -> Result<ipam::RequestPoolResponse, Error>;
    /// Idempotent: an unknown pool is success.
    async fn release_pool(&self, req: ipam::ReleasePoolRequest) -> Result<Empty, Error>;
    async fn request_address(
        &self,
        req: ipam::RequestAddressRequest,
    ) -> Result<ipam::RequestAddressResponse, Error>;
    /// Idempotent: an unknown pool or address is success.
    async fn release_address(&self, req: ipam::ReleaseAddressRequest) -> Result<Empty, Error>;

    async fn create_network(&self, req: network::CreateNetworkRequest) -> Result<Empty, Error>;
    /// Idempotent; dockerd ignores its errors, so it must try every step.
    async fn delete_network(&self, req: network::NetworkRequest) -> Result<Empty, Error>;
    async fn create_endpoint(
        &self,
        req: network::CreateEndpointRequest,
    ) -> Result<network::CreateEndpointResponse, Error>;
    /// Idempotent: an unknown endpoint is success.
    async fn delete_endpoint(&self, req: network::EndpointRequest) -> Result<Empty, Error>;
    async fn endpoint_oper_info(
        &self,
        req: network::EndpointRequest,
    ) -> Result<network::EndpointOperInfoResponse, Error>;
    async fn join(&self, req: network::JoinRequest) -> Result<network::JoinResponse, Error>;
    /// Idempotent: dockerd may send it twice, or for an endpoint that failed to join.
    async fn leave(&self, req: network::EndpointRequest) -> Result<Empty, Error>;
    async fn program_external_connectivity(
        &self,
        req: network::ProgramExternalConnectivityRequest,
    ) -> Result<Empty, Error>;
    async fn revoke_external_connectivity(
        &self,
        req: network::EndpointRequest,
    ) -> Result<Empty, Error>;

    /// `/Kuryr.Settle`: waits for work done after answering Docker, and reports what
    /// is left. Backends that finish everything before they answer have none.
    async fn settle(&self, _req: SettleRequest) -> Result<SettleResponse, Error> {
        Ok(SettleResponse::default())
    }

    /// Swarm node discovery; only global-connectivity drivers get it. Nothing to do for
    /// backends that do not build overlays.
    async fn discover(&self, _req: network::DiscoveryRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }

    /// Swarm managers only. The reply replaces the options every node receives, so the
    /// default echoes them: an empty reply would silently drop the user's `-o` options.
    async fn allocate_network(
        &self,
        req: network::AllocateNetworkRequest,
    ) -> Result<network::AllocateNetworkResponse, Error> {
        Ok(network::AllocateNetworkResponse {
            options: req.options,
        })
    }

    async fn free_network(&self, _req: network::NetworkRequest) -> Result<Empty, Error> {
        Ok(Empty {})
    }

    /// We never announce `GwAllocChecker`, but answering is cheaper than a 404 should a
    /// future dockerd ask anyway: reserve gateways for both families as usual.
    async fn gw_alloc_check(
        &self,
        _req: network::GwAllocCheckRequest,
    ) -> Result<network::GwAllocCheckResponse, Error> {
        Ok(network::GwAllocCheckResponse {
            skip_ipv4: false,
            skip_ipv6: false,
        })
    }
}
